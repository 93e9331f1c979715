"""The whole path over real HTTP: sandbox installs the app, a person writes, the bot answers.

Runs the `timebot demo` composition (one server: timebot + sandbox portal) in both event modes:
webhook (the sandbox POSTs PHP-style forms to /bitrix/events) and fetch (the worker polls
imbot.v2.Event.get). Nothing is faked: real SQLite/PostgreSQL, real HTTP, real worker loops.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.support.servers import free_port, serve_asgi
from timebot.demo import build_demo


async def wait_for(predicate: Callable[[], Any], within: float = 20.0) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


def bot_texts(portal: Any, user_id: int) -> list[str]:
    bot_ids = {b.id for b in portal.bots()}
    return [m.text for m in portal.messages(str(user_id)) if m.author_id in bot_ids]


@pytest.mark.parametrize("event_mode", ["webhook", "fetch"])
async def test_a_person_gets_help_from_the_bot(database_url: str, event_mode: str) -> None:
    port = free_port()
    demo, _ = build_demo(
        host="127.0.0.1", port=port, database_url=database_url, event_mode=event_mode
    )
    portal = demo.sandbox_app.state.portal
    with serve_asgi(demo, port=port) as base:
        bots = await wait_for(lambda: portal.bots(), within=30)
        bot = bots[0]
        assert bot.event_mode == event_mode
        await portal.user_opens(2, str(bot.id))
        welcome = await wait_for(lambda: bot_texts(portal, 2))
        assert "timebot" in welcome[0]
        await portal.user_says(2, str(bot.id), "помощь")
        texts = await wait_for(lambda: [t for t in bot_texts(portal, 2) if "/checkin" in t])
        assert "Что я умею" in texts[0]
        async with httpx.AsyncClient(base_url=base) as http:
            assert (await http.get("/health")).status_code == 200


async def test_forged_and_unknown_events_are_refused_over_http(sqlite_url: str) -> None:
    port = free_port()
    demo, _ = build_demo(host="127.0.0.1", port=port, database_url=sqlite_url)
    portal = demo.sandbox_app.state.portal
    with serve_asgi(demo, port=port) as base:
        await wait_for(lambda: portal.bots(), within=30)
        form = {
            "event": "ONIMBOTV2MESSAGEADD",
            "data[bot][id]": "1",
            "data[message][id]": "77",
            "data[message][text]": "помощь",
            "data[message][authorId]": "2",
            "data[chat][id]": "5",
            "data[chat][dialogId]": "2",
            "data[chat][type]": "private",
            "data[user][id]": "2",
            "auth[member_id]": portal.member_id,
            "auth[application_token]": "forged-token",
        }
        async with httpx.AsyncClient(base_url=base) as http:
            forged = await http.post("/bitrix/events", data=form)
            assert forged.status_code == 403
            unknown = await http.post("/bitrix/events", data={**form, "auth[member_id]": "nobody"})
            assert unknown.status_code == 401
            malformed = await http.post(
                "/bitrix/events",
                content=b"{not json",
                headers={"content-type": "application/json"},
            )
            assert malformed.status_code == 400
            assert "JSON" in malformed.json()["detail"]
