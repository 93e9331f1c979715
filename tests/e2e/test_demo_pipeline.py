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


async def outbox_rows(database_url: str) -> int:
    from sqlalchemy import func, select

    from timebot.storage import Database
    from timebot.storage.tables import OutboxMessage

    db = Database.from_url(database_url)
    try:
        async with db.unit_of_work() as uow:
            return int(await uow.session.scalar(select(func.count(OutboxMessage.id))) or 0)
    finally:
        await db.dispose()


async def test_a_replayed_event_has_one_effect_and_clean_uninstall_erases_the_portal(
    database_url: str,
) -> None:
    from timebot.storage import Database
    from timebot.storage.tables import Portal

    port = free_port()
    demo, _ = build_demo(host="127.0.0.1", port=port, database_url=database_url)
    portal = demo.sandbox_app.state.portal
    with serve_asgi(demo, port=port):
        bot = (await wait_for(lambda: portal.bots(), within=30))[0]
        await portal.user_says(4, str(bot.id), "помощь")
        await wait_for(lambda: bot_texts(portal, 4))
        before = await outbox_rows(database_url)
        # Deliver the very same pushed body again, as a retrying portal would.
        pushed = [d for d in portal.deliveries if d.event == "ONIMBOTV2MESSAGEADD"][-1]
        async with httpx.AsyncClient() as http:
            again = await http.post(
                pushed.url,
                content=pushed.body,
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
        assert again.status_code == 200
        assert again.json()["result"] == "duplicate"
        assert await outbox_rows(database_url) == before

        record = await portal.uninstall_app(clean=True)
        assert record.status == 200, record
    db = Database.from_url(database_url)
    try:
        async with db.unit_of_work() as uow:
            assert await uow.portals.by_member_id(portal.member_id) is None
            from sqlalchemy import func, select

            assert await uow.session.scalar(select(func.count(Portal.id))) == 0
    finally:
        await db.dispose()
