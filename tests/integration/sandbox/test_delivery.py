"""Events pushed to handler URLs: PHP-style form bodies in the v2 and v1 shapes of the docs."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.integration.sandbox.conftest import Receiver, Sandbox
from tests.integration.sandbox.phpform import (
    generic,
    key_paths,
    parse_form,
    php_wire,
    sample_json,
)
from timebot.sandbox import InstallResult

FORM = "application/x-www-form-urlencoded"


def install(box: Sandbox, receiver: Receiver) -> InstallResult:
    return asyncio.run(box.portal.install_app(receiver.url("/install")))


def oauth(box: Sandbox, token: str, method: str, **params: Any) -> dict[str, Any]:
    r = httpx.post(box.oauth(method), json={"auth": token, **params})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def pushed(receiver: Receiver, path: str) -> list[dict[str, Any]]:
    for request in receiver.requests:
        if request.path == path:
            assert request.content_type.startswith(FORM)
    return [parse_form(body) for body in receiver.bodies(path)]


def test_v2_webhook_events_arrive_as_php_forms_in_the_documented_shape(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    installed = install(sandbox, receiver)
    fields = {
        "code": "hook_bot",
        "properties": {"name": "Таймбот"},
        "eventMode": "webhook",
        "webhookUrl": receiver.url("/bot"),
    }
    bot_id = oauth(sandbox, installed.access_token, "imbot.v2.Bot.register", fields=fields)[
        "result"
    ]["bot"]["id"]
    asyncio.run(sandbox.portal.flush())
    joins = pushed(receiver, "/bot")
    assert [j["event"] for j in joins] == ["ONIMBOTV2JOINCHAT", "ONIMBOTV2JOINCHAT"]
    message_id = asyncio.run(sandbox.portal.user_says(3, str(bot_id), "Привет"))
    event = pushed(receiver, "/bot")[-1]
    assert event["event"] == "ONIMBOTV2MESSAGEADD"
    envelope = php_wire(sample_json("ONIMBOTV2_webhook_envelope_docs.json"))
    assert key_paths(envelope) - {("ts",)} <= key_paths(event)
    fetch = php_wire(sample_json("ONIMBOTV2MESSAGEADD_data_fetch_docs.json"))
    for part in ("message", "chat", "user", "language"):
        assert key_paths(fetch[part]) <= key_paths(event["data"][part]), part
    assert event["auth"]["application_token"] == installed.application_token
    assert event["auth"]["member_id"] == sandbox.portal.member_id
    assert event["auth"]["user_id"] == "3"
    assert event["data"]["bot"]["id"] == str(bot_id)
    assert event["data"]["message"]["id"] == str(message_id)
    assert event["data"]["message"]["isSystem"] == "0"  # booleans travel as "1"/"0"
    assert event["data"]["message"]["forward"] == ""  # null travels as ""
    assert event["data"]["user"]["departments"] == {"0": "2"}
    bot_token = event["data"]["bot"]["auth"]["access_token"]
    me = oauth(sandbox, bot_token, "user.current")["result"]
    assert me["ID"] == str(bot_id)


def test_v2_webhook_command_events_carry_the_keyboard_context(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    installed = install(sandbox, receiver)
    token = installed.access_token
    fields = {
        "code": "b",
        "properties": {"name": "B"},
        "eventMode": "webhook",
        "webhookUrl": receiver.url("/bot"),
    }
    bot_id = oauth(sandbox, token, "imbot.v2.Bot.register", fields=fields)["result"]["bot"]["id"]
    oauth(
        sandbox,
        token,
        "imbot.v2.Command.register",
        botId=bot_id,
        fields={"command": "break", "title": {"ru": "Перерыв"}},
    )
    oauth(
        sandbox,
        token,
        "imbot.v2.Chat.Message.send",
        botId=bot_id,
        dialogId="4",
        fields={"message": "?", "keyboard": [{"TEXT": "Перерыв", "COMMAND": "break"}]},
    )
    asyncio.run(sandbox.portal.user_presses(4, str(bot_id), "break"))
    event = pushed(receiver, "/bot")[-1]
    assert event["event"] == "ONIMBOTV2COMMANDADD"
    assert event["data"]["command"]["command"] == "/break"
    assert event["data"]["command"]["context"] == "keyboard"
    assert event["data"]["message"]["params"]["KEYBOARD"]["BUTTONS"]["0"]["COMMAND"] == "break"


async def test_webhook_created_bots_get_their_own_application_token(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    # Helpers are awaitable from the test's own loop while the sandbox serves from its thread.
    fields = {
        "code": "wh",
        "properties": {"name": "W"},
        "eventMode": "webhook",
        "webhookUrl": receiver.url("/wh"),
    }
    async with httpx.AsyncClient() as http:
        r = await http.post(
            sandbox.rest("imbot.v2.Bot.register"), json={"botToken": "t", "fields": fields}
        )
    bot_id = r.json()["result"]["bot"]["id"]
    await sandbox.portal.user_says(5, str(bot_id), "hi")
    event = pushed(receiver, "/wh")[-1]
    bot = next(b for b in sandbox.portal.bots() if b.id == bot_id)
    assert event["auth"]["application_token"] == bot.application_token
    assert "access_token" not in event["auth"]


V1_HANDLERS = {
    "EVENT_MESSAGE_ADD": "/v1/message",
    "EVENT_WELCOME_MESSAGE": "/v1/welcome",
    "EVENT_BOT_DELETE": "/v1/delete",
}


def test_v1_bots_get_v1_events_shaped_like_the_samples(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    installed = install(sandbox, receiver)
    token = installed.access_token
    handlers = {k: receiver.url(v) for k, v in V1_HANDLERS.items()}
    bot_id = oauth(
        sandbox,
        token,
        "imbot.register",
        CODE="BOT1",
        TYPE="B",
        PROPERTIES={"NAME": "Таймбот", "WORK_POSITION": "бот"},
        **handlers,
    )["result"]
    assert isinstance(bot_id, int)
    asyncio.run(sandbox.portal.flush())
    welcome = pushed(receiver, "/v1/welcome")
    assert {w["data"]["PARAMS"]["DIALOG_ID"] for w in welcome} == {"chat1", "chat2"}
    asyncio.run(sandbox.portal.user_says(3, str(bot_id), "Hello"))
    event = pushed(receiver, "/v1/message")[-1]
    sample = php_wire(sample_json("ONIMBOTMESSAGEADD_personal_docs.json"))
    ids = {"567": "<bot>"}
    ours = generic(key_paths(event), {str(bot_id): "<bot>"})
    assert generic(key_paths(sample), ids) <= ours
    assert event["data"]["PARAMS"]["DIALOG_ID"] == "3"
    assert event["data"]["PARAMS"]["TO_USER_ID"] == str(bot_id)
    assert event["data"]["BOT"][str(bot_id)]["AUTH"]["user_id"] == str(bot_id)
    assert event["auth"]["application_token"] == installed.application_token
    answer_id = oauth(
        sandbox,
        token,
        "imbot.message.add",
        BOT_ID=bot_id,
        DIALOG_ID="3",
        MESSAGE="Ответ",
        KEYBOARD=[{"TEXT": "Пришёл", "COMMAND": "checkin"}],
    )["result"]
    assert isinstance(answer_id, int)
    assert (
        oauth(
            sandbox,
            token,
            "imbot.message.update",
            BOT_ID=bot_id,
            MESSAGE_ID=answer_id,
            MESSAGE="Ответ 2",
        )["result"]
        is True
    )
    command_id = oauth(
        sandbox,
        token,
        "imbot.command.register",
        BOT_ID=bot_id,
        COMMAND="checkin",
        EVENT_COMMAND_ADD=receiver.url("/v1/command"),
        LANG=[{"LANGUAGE_ID": "ru", "TITLE": "Пришёл", "PARAMS": ""}],
    )["result"]
    asyncio.run(sandbox.portal.user_presses(3, str(bot_id), "checkin"))
    command = pushed(receiver, "/v1/command")[-1]
    assert command["event"] == "ONIMCOMMANDADD"
    item = command["data"]["COMMAND"][str(command_id)]
    assert item["COMMAND_CONTEXT"] == "KEYBOARD"
    assert item["MESSAGE_ID"] == str(answer_id)
    sample = php_wire(sample_json("ONIMCOMMANDADD_personal_docs.json"))
    assert generic(key_paths(sample), {"103": "<cmd>"}) <= generic(
        key_paths(command), {str(command_id): "<cmd>"}
    )
    reply = oauth(
        sandbox,
        token,
        "imbot.command.answer",
        COMMAND_ID=command_id,
        MESSAGE_ID=answer_id,
        MESSAGE="Отмечено",
    )["result"]
    assert sandbox.portal.messages("3")[-1].id == reply
    assert oauth(sandbox, token, "imbot.unregister", BOT_ID=bot_id)["result"] is True
    asyncio.run(sandbox.portal.flush())
    [deleted] = pushed(receiver, "/v1/delete")
    assert deleted["event"] == "ONIMBOTDELETE"
    assert deleted["data"] == {"BOT_ID": str(bot_id), "BOT_CODE": "BOT1"}


def test_v1_register_validates_handlers_and_client_id(sandbox: Sandbox) -> None:
    r = httpx.post(sandbox.rest("imbot.register"), json={"CODE": "x", "PROPERTIES": {"NAME": "X"}})
    assert r.json()["error"] == "ACCESS_DENIED"
    r = httpx.post(
        sandbox.rest("imbot.register"),
        json={"CODE": "x", "CLIENT_ID": "c", "PROPERTIES": {"NAME": "X"}},
    )
    assert r.json()["error"] == "EVENT_MESSAGE_ADD_ERROR"
    r = httpx.post(
        sandbox.rest("imbot.register"),
        json={
            "CLIENT_ID": "c",
            "EVENT_HANDLER": "https://example.com/h",
            "PROPERTIES": {"NAME": "X"},
        },
    )
    assert r.json()["error"] == "CODE_ERROR"


def test_failed_pushes_are_recorded_and_not_retried(sandbox: Sandbox, receiver: Receiver) -> None:
    receiver.status = 500
    fields = {
        "code": "wh",
        "properties": {"name": "W"},
        "eventMode": "webhook",
        "webhookUrl": receiver.url("/down"),
    }
    r = httpx.post(sandbox.rest("imbot.v2.Bot.register"), json={"botToken": "t", "fields": fields})
    bot_id = r.json()["result"]["bot"]["id"]
    asyncio.run(sandbox.portal.flush())
    before = len(receiver.bodies("/down"))
    asyncio.run(sandbox.portal.user_says(5, str(bot_id), "hi"))
    assert len(receiver.bodies("/down")) == before + 1
    record = sandbox.portal.deliveries[-1]
    assert (record.status, record.error) == (500, "HTTP 500")
    stats = httpx.get(f"{sandbox.base_url}/sandbox/control").json()["stats"]
    assert stats["events_failed"] >= 1
