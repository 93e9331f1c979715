"""The web chat's page and JSON API: employees, dialogs, sending, pressing, polling changes."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.integration.sandbox.conftest import Sandbox

TOKEN = "t"


def register(box: Sandbox) -> int:
    r = httpx.post(
        box.rest("imbot.v2.Bot.register"),
        json={"botToken": TOKEN, "fields": {"code": "tb", "properties": {"name": "Таймбот"}}},
    )
    return int(r.json()["result"]["bot"]["id"])


def api(box: Sandbox, action: str, **body: Any) -> httpx.Response:
    return httpx.post(f"{box.base_url}/sandbox/api/{action}", json=body)


def queue(box: Sandbox, bot_id: int) -> list[dict[str, Any]]:
    r = httpx.post(box.rest("imbot.v2.Event.get"), json={"botId": bot_id, "botToken": TOKEN})
    return r.json()["result"]["events"]  # type: ignore[no-any-return]


def test_the_page_and_its_assets_are_served_without_any_cdn(sandbox: Sandbox) -> None:
    redirect = httpx.get(f"{sandbox.base_url}/sandbox")
    assert redirect.status_code == 307
    page = httpx.get(f"{sandbox.base_url}/sandbox/")
    assert page.status_code == 200
    assert 'src="static/chat.js"' in page.text
    assert "Сотрудник" in page.text
    assert "Employee" in page.text
    assert not re.search(r'(src|href)="(https?:)?//', page.text)  # nothing from the network
    for asset in ("chat.js", "chat.css"):
        r = httpx.get(f"{sandbox.base_url}/sandbox/static/{asset}")
        assert r.status_code == 200
        assert "@import" not in r.text
        assert "url(" not in r.text


def test_state_lists_employees_bots_and_the_users_group_chats(sandbox: Sandbox) -> None:
    bot_id = register(sandbox)
    state = httpx.get(f"{sandbox.base_url}/sandbox/api/state?user=9").json()
    assert len(state["users"]) == 11
    assert {u["timeZone"] for u in state["users"]} == {"Europe/Moscow", "Asia/Yekaterinburg"}
    dialogs = {d["dialogId"]: d for d in state["dialogs"]}
    assert set(dialogs) == {str(bot_id), "chat1"}  # user 9 is not in the sales chat
    assert any(m["isBot"] and m["id"] == bot_id for m in dialogs["chat1"]["members"])


def test_sending_pressing_and_opening_raise_bot_events(sandbox: Sandbox) -> None:
    bot_id = register(sandbox)
    httpx.post(
        sandbox.rest("imbot.v2.Command.register"),
        json={
            "botId": bot_id,
            "botToken": TOKEN,
            "fields": {"command": "checkin", "title": {"ru": "Пришёл"}},
        },
    )
    before = len(queue(sandbox, bot_id))
    assert api(sandbox, "open", user=3, dialog=str(bot_id), wait=True).json() == {"ok": True}
    sent = api(sandbox, "send", user=3, dialog=str(bot_id), text="Привет", wait=True).json()
    assert sent["ok"] is True
    keyboard = [
        {"TEXT": "Подробнее", "LINK": "https://example.com"},
        {"TEXT": "Пришёл", "COMMAND": "checkin"},
    ]
    message = httpx.post(
        sandbox.rest("imbot.v2.Chat.Message.send"),
        json={
            "botId": bot_id,
            "botToken": TOKEN,
            "dialogId": "3",
            "fields": {"message": "Отметиться?", "keyboard": keyboard},
        },
    ).json()["result"]
    link = api(sandbox, "press", user=3, dialog=str(bot_id), messageId=message["id"], index=0)
    assert link.status_code == 400  # LINK buttons open in the browser, they send nothing
    pressed = api(
        sandbox, "press", user=3, dialog=str(bot_id), messageId=message["id"], index=1, wait=True
    )
    assert pressed.json() == {"ok": True}
    types = [e["type"] for e in queue(sandbox, bot_id)[before:]]
    assert types == ["ONIMBOTV2JOINCHAT", "ONIMBOTV2MESSAGEADD", "ONIMBOTV2COMMANDADD"]


def test_polling_returns_only_changes_since_a_revision(sandbox: Sandbox) -> None:
    bot_id = register(sandbox)
    url = f"{sandbox.base_url}/sandbox/api/messages"
    api(sandbox, "send", user=3, dialog=str(bot_id), text="Первое", wait=True)
    sent = httpx.post(
        sandbox.rest("imbot.v2.Chat.Message.send"),
        json={
            "botId": bot_id,
            "botToken": TOKEN,
            "dialogId": "3",
            "fields": {
                "message": "[b]Ответ[/b]",
                "attach": {
                    "COLOR_TOKEN": "primary",
                    "BLOCKS": [{"GRID": [{"NAME": "Пришёл", "VALUE": "09:05", "DISPLAY": "ROW"}]}],
                },
            },
        },
    ).json()["result"]
    first = httpx.get(url, params={"user": 3, "dialog": str(bot_id), "since": 0}).json()
    assert [m["text"] for m in first["messages"]] == ["Первое", "[b]Ответ[/b]"]
    reply = first["messages"][1]
    assert (reply["isBot"], reply["own"]) == (True, False)
    assert reply["attach"]["meta"] == {"COLOR_TOKEN": "primary"}
    assert reply["attach"]["blocks"][0]["GRID"][0]["VALUE"] == "09:05"
    assert (
        httpx.get(
            url, params={"user": 3, "dialog": str(bot_id), "since": first["revision"]}
        ).json()["messages"]
        == []
    )
    httpx.post(
        sandbox.rest("imbot.v2.Chat.Message.update"),
        json={
            "botId": bot_id,
            "botToken": TOKEN,
            "messageId": sent["id"],
            "fields": {"message": "Исправлено"},
        },
    )
    changed = httpx.get(
        url, params={"user": 3, "dialog": str(bot_id), "since": first["revision"]}
    ).json()
    assert [m["text"] for m in changed["messages"]] == ["Исправлено"]
    httpx.post(
        sandbox.rest("imbot.v2.Chat.Message.delete"),
        json={"botId": bot_id, "botToken": TOKEN, "messageId": sent["id"]},
    )
    deleted = httpx.get(
        url, params={"user": 3, "dialog": str(bot_id), "since": changed["revision"]}
    ).json()
    assert [(m["id"], m["deleted"]) for m in deleted["messages"]] == [(sent["id"], True)]


def test_other_peoples_dialogs_stay_private(sandbox: Sandbox) -> None:
    bot_id = register(sandbox)
    api(sandbox, "send", user=3, dialog=str(bot_id), text="секрет", wait=True)
    url = f"{sandbox.base_url}/sandbox/api/messages"
    assert httpx.get(url, params={"user": 4, "dialog": str(bot_id)}).json()["messages"] == []
    assert httpx.get(url, params={"user": 9, "dialog": "chat2"}).json()["messages"] == []
    refused = api(sandbox, "send", user=9, dialog="chat2", text="x")
    assert refused.status_code == 403
    assert api(sandbox, "send", user=999, dialog="chat1", text="x").status_code == 400
