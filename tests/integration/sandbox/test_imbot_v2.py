"""Chatbots 2.0 over real HTTP, through the incoming webhook (botToken) and OAuth (client id)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.integration.sandbox.conftest import Receiver, Sandbox
from tests.integration.sandbox.phpform import sample_json

TOKEN = "timebot-bot-token"


def call(box: Sandbox, method: str, **params: Any) -> httpx.Response:
    return httpx.post(box.rest(method), json=params)


def register(box: Sandbox, code: str = "timebot", **fields: Any) -> dict[str, Any]:
    body = {"code": code, "properties": {"name": "Таймбот", "workPosition": "Учёт времени"}}
    r = call(box, "imbot.v2.Bot.register", botToken=TOKEN, fields=body | fields)
    assert r.status_code == 200, r.text
    return r.json()["result"]  # type: ignore[no-any-return]


def events(box: Sandbox, bot_id: int, **params: Any) -> dict[str, Any]:
    r = call(box, "imbot.v2.Event.get", botId=bot_id, botToken=TOKEN, **params)
    assert r.status_code == 200, r.text
    return r.json()["result"]  # type: ignore[no-any-return]


def test_register_returns_bot_and_users_in_the_documented_shape(sandbox: Sandbox) -> None:
    result = register(sandbox)
    documented_bot = {
        "id",
        "code",
        "type",
        "isHidden",
        "isSupportOpenline",
        "isReactionsEnabled",
        "backgroundId",
        "language",
        "moduleId",
        "appId",
        "eventMode",
        "countMessage",
        "countCommand",
        "countChat",
        "countUser",
    }
    assert set(result["bot"]) == documented_bot
    assert result["bot"]["code"] == "timebot"
    assert result["bot"]["eventMode"] == "fetch"
    user = result["users"][0]
    assert user["id"] == result["bot"]["id"]
    assert (user["name"], user["workPosition"], user["bot"], user["type"]) == (
        "Таймбот",
        "Учёт времени",
        True,
        "bot",
    )
    assert set(sample_json("ONIMBOTV2MESSAGEADD_data_fetch_docs.json")["user"]) <= set(user)


def test_webhook_calls_need_a_bot_token(sandbox: Sandbox) -> None:
    r = call(sandbox, "imbot.v2.Bot.register", fields={"code": "x", "properties": {"name": "X"}})
    assert r.status_code == 400
    assert r.json()["error"] == "BOT_TOKEN_NOT_SPECIFIED"
    bot_id = register(sandbox)["bot"]["id"]
    r = call(sandbox, "imbot.v2.Event.get", botId=bot_id)
    assert r.json()["error"] == "BOT_TOKEN_NOT_SPECIFIED"


def test_bot_token_may_also_sit_inside_fields_on_register(sandbox: Sandbox) -> None:
    fields = {"code": "inside", "botToken": TOKEN, "properties": {"name": "B"}}
    r = call(sandbox, "imbot.v2.Bot.register", fields=fields)
    assert r.status_code == 200


def test_register_is_idempotent_per_code_and_codes_belong_to_one_owner(sandbox: Sandbox) -> None:
    first = register(sandbox)
    again = register(sandbox, properties={"name": "Другое имя"})
    assert again["bot"]["id"] == first["bot"]["id"]
    assert again["users"][0]["name"] == "Таймбот"  # not updated
    r = httpx.post(
        sandbox.rest("imbot.v2.Bot.register"),
        json={"botToken": "another", "fields": {"code": "timebot", "properties": {"name": "X"}}},
    )
    assert r.json()["error"] == "BOT_CODE_ALREADY_TAKEN"


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"properties": {"name": "X"}}, "BOT_CODE_REQUIRED"),
        ({"code": "x"}, "BOT_PROPERTIES_REQUIRED"),
        ({"code": "x", "properties": {"name": "X"}, "type": "robot"}, "BOT_INVALID_TYPE"),
        ({"code": "x", "properties": {"name": "X"}, "eventMode": "push"}, "BOT_INVALID_EVENT_MODE"),
        (
            {"code": "x", "properties": {"name": "X"}, "eventMode": "webhook"},
            "BOT_WEBHOOK_URL_REQUIRED",
        ),
        (
            {
                "code": "x",
                "properties": {"name": "X"},
                "eventMode": "webhook",
                "webhookUrl": "ftp://x",
            },
            "BOT_INVALID_CALLBACK",
        ),
    ],
)
def test_register_validates_fields(sandbox: Sandbox, fields: dict[str, Any], error: str) -> None:
    r = call(sandbox, "imbot.v2.Bot.register", botToken=TOKEN, fields=fields)
    assert r.status_code == 400
    assert r.json()["error"] == error


def test_another_token_cannot_use_the_bot(sandbox: Sandbox) -> None:
    bot_id = register(sandbox)["bot"]["id"]
    r = httpx.post(
        sandbox.rest("imbot.v2.Chat.Message.send"),
        json={"botId": bot_id, "botToken": "intruder", "dialogId": "3", "fields": {"message": "x"}},
    )
    assert r.status_code == 403
    assert r.json()["error"] == "BOT_OWNERSHIP_ERROR"
    missing = call(sandbox, "imbot.v2.Bot.update", botId=99999, botToken=TOKEN, fields={})
    assert missing.json()["error"] == "BOT_NOT_FOUND"
    no_id = call(sandbox, "imbot.v2.Bot.update", botToken=TOKEN, fields={})
    assert no_id.json()["error"] == "BOT_ID_REQUIRED"


def test_oauth_bots_belong_to_the_application(sandbox: Sandbox, receiver: Receiver) -> None:
    installed = asyncio.run(sandbox.portal.install_app(receiver.url("/install")))
    auth = installed.access_token
    r = httpx.post(
        sandbox.oauth("imbot.v2.Bot.register"),
        json={"auth": auth, "fields": {"code": "app_bot", "properties": {"name": "App"}}},
    )
    assert r.status_code == 200, r.text
    bot = r.json()["result"]["bot"]
    assert bot["appId"] == sandbox.portal.config.client_id
    listed = httpx.post(sandbox.oauth("imbot.v2.Bot.list"), json={"auth": auth}).json()["result"]
    assert [b["id"] for b in listed["bots"]] == [bot["id"]]
    sent = httpx.post(
        sandbox.oauth("imbot.v2.Chat.Message.send"),
        json={"auth": auth, "botId": bot["id"], "dialogId": "5", "fields": {"message": "Привет"}},
    )
    assert sent.status_code == 200
    assert set(sent.json()["result"]) == {"id", "uuidMap"}
    by_webhook = call(sandbox, "imbot.v2.Bot.get", botId=bot["id"], botToken=TOKEN)
    assert by_webhook.json()["error"] == "BOT_OWNERSHIP_ERROR"


def test_list_update_and_unregister(sandbox: Sandbox) -> None:
    first = register(sandbox, "one")["bot"]["id"]
    second = register(sandbox, "two", type="supervisor")["bot"]["id"]
    page = call(sandbox, "imbot.v2.Bot.list", botToken=TOKEN, limit=1).json()["result"]
    assert [b["id"] for b in page["bots"]] == [first]
    assert page["hasNextPage"] is True
    supervisors = call(sandbox, "imbot.v2.Bot.list", botToken=TOKEN, filter={"type": "supervisor"})
    assert [b["id"] for b in supervisors.json()["result"]["bots"]] == [second]
    updated = call(
        sandbox,
        "imbot.v2.Bot.update",
        botId=first,
        botToken=TOKEN,
        fields={"properties": {"name": "Новое имя"}, "isHidden": True},
    ).json()["result"]
    assert updated["bot"]["isHidden"] is True
    assert updated["users"][0]["name"] == "Новое имя"
    gone = call(sandbox, "imbot.v2.Bot.unregister", botId=first, botToken=TOKEN)
    assert gone.json()["result"] is True
    assert call(sandbox, "imbot.v2.Bot.get", botId=first, botToken=TOKEN).json()["error"] == (
        "BOT_NOT_FOUND"
    )


def test_send_update_and_delete_messages(sandbox: Sandbox) -> None:
    bot_id = register(sandbox)["bot"]["id"]
    keyboard = [{"TEXT": "Пришёл", "COMMAND": "checkin", "BG_COLOR_TOKEN": "primary"}]
    sent = call(
        sandbox,
        "imbot.v2.Chat.Message.send",
        botId=bot_id,
        botToken=TOKEN,
        dialogId="3",
        fields={
            "message": "[b]Доброе утро[/b]",
            "keyboard": keyboard,
            "attach": [{"MESSAGE": "x"}],
        },
    ).json()["result"]
    [message] = sandbox.portal.messages("3")
    assert message.id == sent["id"]
    assert message.author_id == bot_id
    assert message.keyboard == keyboard
    stats = httpx.get(f"{sandbox.base_url}/sandbox/control").json()["stats"]
    assert stats["messages_by_bot"] == {str(bot_id): 1}
    updated = call(
        sandbox,
        "imbot.v2.Chat.Message.update",
        botId=bot_id,
        botToken=TOKEN,
        messageId=sent["id"],
        fields={"message": "Обновлено", "keyboard": "N"},
    )
    assert updated.json()["result"] == {"result": True}
    [message] = sandbox.portal.messages("3")
    assert (message.text, message.keyboard) == ("Обновлено", None)
    deleted = call(
        sandbox, "imbot.v2.Chat.Message.delete", botId=bot_id, botToken=TOKEN, messageId=sent["id"]
    )
    assert deleted.json()["result"] is True
    assert sandbox.portal.messages("3")[0].deleted is True
    again = call(
        sandbox,
        "imbot.v2.Chat.Message.update",
        botId=bot_id,
        botToken=TOKEN,
        messageId=sent["id"],
        fields={"message": "x"},
    )
    assert (again.status_code, again.json()["error"]) == (403, "ACCESS_DENIED")


def test_empty_messages_and_foreign_chats_are_refused(
    sandbox_factory: Callable[..., Sandbox],
) -> None:
    box = sandbox_factory(auto_join_group_chats=False)
    bot_id = register(box)["bot"]["id"]
    empty = call(
        box,
        "imbot.v2.Chat.Message.send",
        botId=bot_id,
        botToken=TOKEN,
        dialogId="3",
        fields={"message": "  "},
    )
    assert empty.json()["error"] == "EMPTY_MESSAGE"
    outside = call(
        box,
        "imbot.v2.Chat.Message.send",
        botId=bot_id,
        botToken=TOKEN,
        dialogId="chat1",
        fields={"message": "hi"},
    )
    assert (outside.status_code, outside.json()["error"]) == (403, "ACCESS_DENIED")


def test_long_messages_are_truncated(sandbox: Sandbox) -> None:
    bot_id = register(sandbox)["bot"]["id"]
    call(
        sandbox,
        "imbot.v2.Chat.Message.send",
        botId=bot_id,
        botToken=TOKEN,
        dialogId="3",
        fields={"message": "я" * 20_010},
    )
    text = sandbox.portal.messages("3")[0].text
    assert text == "я" * 20_000 + " (...)"


def test_commands_register_answer_and_unregister(sandbox: Sandbox) -> None:
    bot_id = register(sandbox)["bot"]["id"]
    created = call(
        sandbox,
        "imbot.v2.Command.register",
        botId=bot_id,
        botToken=TOKEN,
        fields={"command": "checkin", "title": {"ru": "Пришёл", "en": "Check in"}},
    ).json()["result"]["command"]
    assert created == {
        "id": created["id"],
        "botId": bot_id,
        "command": "/checkin",
        "common": False,
        "hidden": False,
        "extranetSupport": False,
    }
    legacy = call(
        sandbox,
        "imbot.v2.Command.register",
        botId=bot_id,
        botToken=TOKEN,
        command="checkin",
        title={"en": "x"},
    )
    assert legacy.json()["result"]["command"]["id"] == created["id"]
    untitled = call(
        sandbox, "imbot.v2.Command.register", botId=bot_id, botToken=TOKEN, fields={"command": "x"}
    )
    assert untitled.json()["error"] == "COMMAND_TITLE_REQUIRED"
    assert (
        call(sandbox, "imbot.v2.Command.register", botId=bot_id, botToken=TOKEN, fields={}).json()[
            "error"
        ]
        == "COMMAND_REQUIRED"
    )
    hidden = call(
        sandbox,
        "imbot.v2.Command.register",
        botId=bot_id,
        botToken=TOKEN,
        fields={"command": "secret", "hidden": "Y"},
    )
    assert hidden.json()["result"]["command"]["hidden"] is True
    gone = call(
        sandbox,
        "imbot.v2.Command.unregister",
        botId=bot_id,
        botToken=TOKEN,
        commandId=hidden.json()["result"]["command"]["id"],
    )
    assert gone.json()["result"] is True
    missing = call(
        sandbox, "imbot.v2.Command.unregister", botId=bot_id, botToken=TOKEN, commandId=424242
    )
    assert missing.json()["error"] == "COMMAND_NOT_FOUND"


def test_fetch_mode_events_stay_until_acknowledged_by_offset(sandbox: Sandbox) -> None:
    bot_id = register(sandbox)["bot"]["id"]
    joins = events(sandbox, bot_id)
    assert [e["type"] for e in joins["events"]] == ["ONIMBOTV2JOINCHAT", "ONIMBOTV2JOINCHAT"]
    offset = joins["nextOffset"]
    message_id = asyncio.run(sandbox.portal.user_says(3, str(bot_id), "Привет, бот"))
    batch = events(sandbox, bot_id, offset=offset)
    [event] = batch["events"]
    assert event["type"] == "ONIMBOTV2MESSAGEADD"
    assert event["eventId"] >= offset
    assert batch["nextOffset"] == event["eventId"] + 1
    assert batch["hasMore"] is False
    data = event["data"]
    assert data["message"]["id"] == message_id
    assert data["message"]["text"] == "Привет, бот"
    assert data["chat"]["dialogId"] == "3"
    assert data["user"]["id"] == 3
    assert data["language"] == "ru"
    assert data["bot"]["id"] == bot_id
    # not acknowledged yet: the same event comes again
    assert [e["eventId"] for e in events(sandbox, bot_id, offset=offset)["events"]] == [
        event["eventId"]
    ]
    acked = events(sandbox, bot_id, offset=batch["nextOffset"])
    assert acked["events"] == []
    assert acked["nextOffset"] == batch["nextOffset"]


def test_event_get_pages_with_limit_and_has_more(sandbox: Sandbox) -> None:
    bot_id = register(sandbox)["bot"]["id"]
    offset = events(sandbox, bot_id)["nextOffset"]
    for n in range(3):
        asyncio.run(sandbox.portal.user_says(4, str(bot_id), f"сообщение {n}"))
    page = events(sandbox, bot_id, offset=offset, limit=2)
    assert len(page["events"]) == 2
    assert page["hasMore"] is True
    rest = events(sandbox, bot_id, offset=page["nextOffset"], limit=2)
    assert [e["data"]["message"]["text"] for e in rest["events"]] == ["сообщение 2"]
    assert rest["hasMore"] is False


def _documented_types(sample: dict[str, Any], ours: dict[str, Any]) -> None:
    for key, value in sample.items():
        assert key in ours, key
        # entities.md types dates like lastActivityDate as "string|false"
        if value is not None and not isinstance(value, dict | list) and ours[key] is not False:
            assert type(ours[key]) is type(value), key


def test_fetch_event_data_matches_the_documented_objects(sandbox: Sandbox) -> None:
    bot_id = register(sandbox)["bot"]["id"]
    offset = events(sandbox, bot_id)["nextOffset"]
    asyncio.run(sandbox.portal.user_says(2, "chat1", f"[USER={bot_id}]Таймбот[/USER] пришёл"))
    [event] = events(sandbox, bot_id, offset=offset)["events"]
    sample = sample_json("ONIMBOTV2MESSAGEADD_data_fetch_docs.json")
    assert set(sample) <= set(event["data"])
    for part in ("bot", "message", "chat", "user"):
        _documented_types(sample[part], event["data"][part])
    chat = event["data"]["chat"]
    assert (chat["dialogId"], chat["type"], chat["name"]) == ("chat1", "chat", "Общий чат")


def test_group_chats_reach_a_plain_bot_only_when_mentioned(sandbox: Sandbox) -> None:
    bot_id = register(sandbox)["bot"]["id"]
    watcher = register(sandbox, "watcher", type="supervisor")["bot"]["id"]
    offset = events(sandbox, watcher)["nextOffset"]
    plain_offset = events(sandbox, bot_id)["nextOffset"]
    asyncio.run(sandbox.portal.user_says(2, "chat1", "всем привет"))
    asyncio.run(sandbox.portal.user_says(2, "chat1", f"[user={bot_id}]Таймбот[/user], отметь меня"))
    plain = events(sandbox, bot_id, offset=plain_offset)["events"]
    assert [e["data"]["message"]["text"] for e in plain] == [
        f"[user={bot_id}]Таймбот[/user], отметь меня"
    ]
    seen = events(sandbox, watcher, offset=offset)["events"]
    assert len(seen) == 2


def test_typed_commands_and_keyboard_presses_arrive_as_commandadd(sandbox: Sandbox) -> None:
    bot_id = register(sandbox)["bot"]["id"]
    command = call(
        sandbox,
        "imbot.v2.Command.register",
        botId=bot_id,
        botToken=TOKEN,
        fields={"command": "checkin", "title": {"ru": "Пришёл"}},
    )
    command_id = command.json()["result"]["command"]["id"]
    offset = events(sandbox, bot_id)["nextOffset"]
    typed_id = asyncio.run(sandbox.portal.user_says(3, str(bot_id), "/checkin офис"))
    keyboard = [{"TEXT": "Пришёл", "COMMAND": "checkin", "COMMAND_PARAMS": "button", "BLOCK": "Y"}]
    sent = call(
        sandbox,
        "imbot.v2.Chat.Message.send",
        botId=bot_id,
        botToken=TOKEN,
        dialogId="3",
        fields={"message": "Отметиться?", "keyboard": keyboard},
    ).json()["result"]
    pressed = asyncio.run(sandbox.portal.user_presses(3, str(bot_id), "checkin"))
    assert pressed == sent["id"]
    typed, press = events(sandbox, bot_id, offset=offset)["events"]
    assert typed["type"] == press["type"] == "ONIMBOTV2COMMANDADD"
    assert typed["data"]["command"] == {
        "id": command_id,
        "command": "/checkin",
        "params": "офис",
        "context": "textarea",
    }
    assert typed["data"]["message"]["id"] == typed_id
    assert press["data"]["command"]["context"] == "keyboard"
    assert press["data"]["command"]["params"] == "button"
    assert press["data"]["message"]["id"] == sent["id"]
    assert press["data"]["user"]["id"] == 3
    assert sandbox.portal.messages("3")[-1].keyboard[0]["DISABLED"] == "Y"  # type: ignore[index]
    answered = call(
        sandbox,
        "imbot.v2.Command.answer",
        botId=bot_id,
        botToken=TOKEN,
        commandId=command_id,
        messageId=typed_id,
        dialogId="3",
        fields={"message": "Отмечено"},
    )
    assert answered.json()["result"] == {"result": True}
    assert sandbox.portal.messages("3")[-1].text == "Отмечено"


def test_unregistered_button_commands_raise_no_event(sandbox: Sandbox) -> None:
    bot_id = register(sandbox)["bot"]["id"]
    offset = events(sandbox, bot_id)["nextOffset"]
    call(
        sandbox,
        "imbot.v2.Chat.Message.send",
        botId=bot_id,
        botToken=TOKEN,
        dialogId="3",
        fields={"message": "?", "keyboard": [{"TEXT": "Да", "COMMAND": "yes"}]},
    )
    asyncio.run(sandbox.portal.user_presses(3, str(bot_id), "yes"))
    assert events(sandbox, bot_id, offset=offset)["events"] == []


def test_first_open_of_a_private_dialog_sends_joinchat_once(sandbox: Sandbox) -> None:
    bot_id = register(sandbox)["bot"]["id"]
    offset = events(sandbox, bot_id)["nextOffset"]
    asyncio.run(sandbox.portal.user_opens(7, str(bot_id)))
    asyncio.run(sandbox.portal.user_opens(7, str(bot_id)))
    [join] = events(sandbox, bot_id, offset=offset)["events"]
    assert join["type"] == "ONIMBOTV2JOINCHAT"
    assert join["data"]["dialogId"] == "7"
    assert join["data"]["user"]["id"] == 7


def test_edits_and_deletes_by_users_reach_the_bot(sandbox: Sandbox) -> None:
    bot_id = register(sandbox)["bot"]["id"]
    offset = events(sandbox, bot_id)["nextOffset"]
    message_id = asyncio.run(sandbox.portal.user_says(3, str(bot_id), "опечтка"))
    asyncio.run(sandbox.portal.user_edits(3, message_id, "опечатка"))
    asyncio.run(sandbox.portal.user_deletes(3, message_id))
    kinds = [
        (e["type"], e["data"].get("messageId"))
        for e in events(sandbox, bot_id, offset=offset)["events"]
    ]
    assert kinds == [
        ("ONIMBOTV2MESSAGEADD", None),
        ("ONIMBOTV2MESSAGEUPDATE", None),
        ("ONIMBOTV2MESSAGEDELETE", message_id),
    ]


def test_input_action_needs_a_dialog_the_bot_is_in(sandbox_factory: Callable[..., Sandbox]) -> None:
    box = sandbox_factory(auto_join_group_chats=False)
    bot_id = register(box)["bot"]["id"]
    typing = call(
        box,
        "imbot.v2.Chat.InputAction.notify",
        botId=bot_id,
        botToken=TOKEN,
        dialogId="3",
        statusMessageCode="IMBOT_AGENT_ACTION_THINKING",
        duration=5,
    )
    assert typing.json()["result"] is True
    outside = call(
        box, "imbot.v2.Chat.InputAction.notify", botId=bot_id, botToken=TOKEN, dialogId="chat2"
    )
    assert outside.json()["error"] == "ACCESS_DENIED"
