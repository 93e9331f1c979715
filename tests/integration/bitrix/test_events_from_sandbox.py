"""Events the sandbox portal pushes or queues, read by timebot's parser, and replies built by
timebot's message builders accepted by the portal: both generations, both delivery modes."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import httpx

from timebot.bitrix import (
    BitrixClient,
    BotCommandReceived,
    BotDeleted,
    BotJoinedChat,
    BotMessageAdded,
    BotMessageUpdated,
    Keyboard,
    PortalAuth,
    RateLimiter,
    answer_command_params,
    bold,
    parse_app_frame,
    parse_event,
    parse_fetched_event,
    parse_form,
    send_message_params,
    verify_application_token,
)
from timebot.sandbox import Portal

from .conftest import Recorder, StartSandbox

BOT_TOKEN = "timebot-events"


def fast_sandbox(start_sandbox: StartSandbox) -> Portal:
    return start_sandbox(rate=1000.0, burst=1000)


def client_for(http: httpx.AsyncClient) -> BitrixClient:
    return BitrixClient(http, RateLimiter())


async def test_fetch_mode_events_parse_and_keyboard_replies_round_trip(
    start_sandbox: StartSandbox, http: httpx.AsyncClient
) -> None:
    portal = fast_sandbox(start_sandbox)
    client = client_for(http)
    auth = PortalAuth.webhook(portal.member_id, portal.webhook_url())
    register = await client.call(
        auth,
        "imbot.v2.Bot.register",
        {"botToken": BOT_TOKEN, "fields": {"code": "tb", "properties": {"name": "Таймбот"}}},
    )
    bot_id = int(register.result["bot"]["id"])
    await client.call(
        auth,
        "imbot.v2.Command.register",
        {
            "botId": bot_id,
            "botToken": BOT_TOKEN,
            "fields": {"command": "checkin", "title": {"ru": "Пришёл"}},
        },
    )
    poll = {"botId": bot_id, "botToken": BOT_TOKEN}
    offset = (await client.call(auth, "imbot.v2.Event.get", poll)).result["nextOffset"]

    await portal.user_opens(3, str(bot_id))
    said = await portal.user_says(3, str(bot_id), "Привет")
    keyboard = Keyboard().command("Пришёл", "checkin", "office=1", color="primary", block=True)
    method, params = send_message_params(
        "v2", bot_id, "3", bold("Отметиться?"), keyboard, bot_token=BOT_TOKEN
    )
    sent = await client.call(auth, method, params)
    pressed = await portal.user_presses(3, str(bot_id), "checkin")
    assert pressed == sent.result["id"]
    await portal.user_edits(3, said, "Привет!")

    batch = await client.call(auth, "imbot.v2.Event.get", {**poll, "offset": offset})
    events = [
        parse_fetched_event(item, member_id=portal.member_id) for item in batch.result["events"]
    ]
    join, message, press, edit = events
    assert isinstance(join, BotJoinedChat)
    assert (join.dialog_id, join.chat_type, join.user.id) == ("3", "private", 3)
    assert isinstance(message, BotMessageAdded)
    assert (message.message_id, message.text, message.chat_type) == (said, "Привет", "private")
    assert message.user.departments == (2,)
    assert isinstance(press, BotCommandReceived)
    assert (press.command, press.params, press.context) == ("checkin", "office=1", "keyboard")
    assert press.message_id == sent.result["id"]
    assert isinstance(edit, BotMessageUpdated)
    assert edit.text == "Привет!"
    assert len({e.dedupe_key for e in events}) == 4

    method, params = answer_command_params(
        "v2",
        bot_id,
        press.command_id,
        press.message_id,
        press.dialog_id,
        "Отмечено",
        bot_token=BOT_TOKEN,
    )
    await client.call(auth, method, params)
    assert portal.messages("3", bot_id=bot_id)[-1].text == "Отмечено"
    button = portal.messages("3", bot_id=bot_id)[-2].keyboard[0]  # type: ignore[index]
    assert (button["COMMAND"], button["BG_COLOR_TOKEN"]) == ("checkin", "primary")


async def test_v2_webhook_forms_parse_and_verify_against_the_install_token(
    start_sandbox: StartSandbox, recorder: Recorder, http: httpx.AsyncClient
) -> None:
    portal = fast_sandbox(start_sandbox)
    installed = await portal.install_app(recorder.url("/install"))
    auth = PortalAuth.oauth(portal.member_id, portal.client_endpoint, installed.access_token)
    client = client_for(http)
    fields = {
        "code": "hook",
        "properties": {"name": "Таймбот"},
        "eventMode": "webhook",
        "webhookUrl": recorder.url("/bot"),
    }
    bot_id = int(
        (await client.call(auth, "imbot.v2.Bot.register", {"fields": fields})).result["bot"]["id"]
    )
    await portal.flush()
    message_id = await portal.user_says(3, str(bot_id), "[b]Привет[/b]")
    await portal.user_says(3, "chat1", f"[USER={bot_id}]Таймбот[/USER] на месте")
    await client.call(auth, "imbot.v2.Bot.unregister", {"botId": bot_id})
    await portal.flush()

    parsed = [parse_event(parse_form(body)) for body in recorder.received("/bot")]
    for event in parsed:
        assert event.member_id == portal.member_id
        assert verify_application_token(installed.application_token, event.auth.application_token)
    private = next(e for e in parsed if isinstance(e, BotMessageAdded) and e.chat_type == "private")
    assert (private.message_id, private.text) == (message_id, "[b]Привет[/b]")
    assert private.bot_auth is not None
    assert private.bot_auth.access_token
    group = next(e for e in parsed if isinstance(e, BotMessageAdded) and e.chat_type == "group")
    assert (group.dialog_id, group.mentions_bot) == ("chat1", True)
    assert isinstance(parsed[-1], BotDeleted)
    assert parsed[-1].bot_id == bot_id


async def test_v1_events_parse_and_v1_replies_are_accepted(
    start_sandbox: StartSandbox, recorder: Recorder, http: httpx.AsyncClient
) -> None:
    portal = fast_sandbox(start_sandbox)
    installed = await portal.install_app(recorder.url("/install"))
    auth = PortalAuth.oauth(portal.member_id, portal.client_endpoint, installed.access_token)
    client = client_for(http)
    bot_id = int(
        (
            await client.call(
                auth,
                "imbot.register",
                {
                    "CODE": "BOT1",
                    "TYPE": "B",
                    "PROPERTIES": {"NAME": "Таймбот"},
                    "EVENT_MESSAGE_ADD": recorder.url("/v1/message"),
                    "EVENT_WELCOME_MESSAGE": recorder.url("/v1/welcome"),
                    "EVENT_BOT_DELETE": recorder.url("/v1/delete"),
                },
            )
        ).result
    )
    command_id = int(
        (
            await client.call(
                auth,
                "imbot.command.register",
                {
                    "BOT_ID": bot_id,
                    "COMMAND": "checkin",
                    "EVENT_COMMAND_ADD": recorder.url("/v1/command"),
                    "LANG": [{"LANGUAGE_ID": "ru", "TITLE": "Пришёл", "PARAMS": ""}],
                },
            )
        ).result
    )
    await portal.flush()
    joins = [parse_event(parse_form(b)) for b in recorder.received("/v1/welcome")]
    assert {j.dialog_id for j in joins if isinstance(j, BotJoinedChat)} == {"chat1", "chat2"}

    said = await portal.user_says(3, str(bot_id), "Привет")
    (body,) = recorder.received("/v1/message")
    message = parse_event(parse_form(body))
    assert isinstance(message, BotMessageAdded)
    assert (message.generation, message.message_id, message.dialog_id) == ("v1", said, "3")
    assert message.bot_auth is not None
    assert message.bot_auth.user_id == bot_id

    method, params = send_message_params(
        "v1", bot_id, message.dialog_id, "Отметиться?", Keyboard().command("Пришёл", "checkin")
    )
    reply = await client.call(auth, method, params)
    await portal.user_presses(3, str(bot_id), "checkin")
    (body,) = recorder.received("/v1/command")
    press = parse_event(parse_form(body))
    assert isinstance(press, BotCommandReceived)
    assert (press.command_id, press.context, press.message_id) == (
        command_id,
        "keyboard",
        reply.result,
    )
    method, params = answer_command_params(
        "v1", bot_id, press.command_id, press.message_id, press.dialog_id, "Отмечено"
    )
    await client.call(auth, method, params)
    assert portal.messages("3")[-1].text == "Отмечено"


async def test_the_app_frame_request_gives_working_credentials(
    start_sandbox: StartSandbox, recorder: Recorder, http: httpx.AsyncClient
) -> None:
    portal = fast_sandbox(start_sandbox)
    await portal.install_app(recorder.url("/install"))
    portal.configure_app(handler_url=recorder.url("/app"))
    url, form = portal.app_frame(5)
    frame = parse_app_frame(form, dict(parse_qsl(urlsplit(url).query)))
    assert frame.member_id == portal.member_id
    assert frame.client_endpoint == portal.client_endpoint
    auth = PortalAuth.oauth(frame.member_id, frame.client_endpoint, frame.access_token)
    me = await client_for(http).call(auth, "user.current")
    assert me.result["ID"] == "5"
