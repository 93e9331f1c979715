"""Event parsing: every documented sample becomes the right typed event, in JSON and in the PHP form
Bitrix24 actually sends; broken payloads are refused with a reason."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from timebot.bitrix import (
    AppInstalled,
    AppUninstalled,
    BotCommandReceived,
    BotDeleted,
    BotJoinedChat,
    BotMessageAdded,
    BotMessageUpdated,
    MalformedEvent,
    UnknownEvent,
    build_query,
    parse_event,
    parse_fetched_event,
    parse_form,
    verify_application_token,
)

from .sample_files import SAMPLES, sample_json, sample_text


def as_wire_form(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as Bitrix24 POSTs it (http_build_query) and we read it back (parse_form)."""
    return parse_form(build_query(payload))


def both_shapes(name: str) -> list[dict[str, Any]]:
    payload = sample_json(name)
    return [payload, as_wire_form(payload)]


def fetched(data_sample: str, event_type: str, event_id: int = 1001) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "type": event_type,
        "date": "2025-01-15T10:30:00+01:00",
        "data": sample_json(data_sample),
    }


def v2_webhook(event: str, data: dict[str, Any]) -> dict[str, Any]:
    """A v2 webhook envelope (docs' structure) around fetch-mode `data`, with the webhook bot."""
    envelope = sample_json("ONIMBOTV2_webhook_envelope_docs.json")
    envelope["event"] = event
    envelope["auth"] = {
        "domain": "some-domain.bitrix24.com",
        "application_token": "831c76b092f9f135d9b6b36c3a720757",
    }
    envelope["data"] = {**data, "bot": sample_json("ONIMBOTV2_webhook_bot_docs.json")["bot"]}
    return envelope


# --- every sample -----------------------------------------------------------------------------


def test_every_sample_file_is_covered_by_a_test() -> None:
    covered = {
        "APP_FRAME_DEFAULT_open_docs.txt",  # test_frame.py
        "README.md",
        "ONAPPINSTALL_DERIVED.form.txt",
        "ONAPPINSTALL_docs.json",
        "ONAPPUNINSTALL_docs.json",
        "ONCRMCONTACTADD_raw_form_b24phpsdk.txt",
        "ONIMBOTDELETE_docs.json",
        "ONIMBOTJOINCHAT_group_docs.json",
        "ONIMBOTJOINCHAT_personal_docs.json",
        "ONIMBOTMESSAGEADD_group_docs.json",
        "ONIMBOTMESSAGEADD_personal_DERIVED.form.txt",
        "ONIMBOTMESSAGEADD_personal_docs.json",
        "ONIMBOTMESSAGEUPDATE_group_docs.json",
        "ONIMBOTV2COMMANDADD_data_fetch_docs.json",
        "ONIMBOTV2DELETE_data_fetch_docs.json",
        "ONIMBOTV2JOINCHAT_data_fetch_docs.json",
        "ONIMBOTV2MESSAGEADD_data_fetch_docs.json",
        "ONIMBOTV2_webhook_bot_docs.json",
        "ONIMBOTV2_webhook_envelope_docs.json",
        "ONIMCOMMANDADD_group_docs.json",
        "ONIMCOMMANDADD_keyboard_DERIVED.json",
        "ONIMCOMMANDADD_personal_DERIVED.form.txt",
        "ONIMCOMMANDADD_personal_docs.json",
    }
    assert {p.name for p in SAMPLES.iterdir()} == covered


def test_app_install_form_becomes_app_installed_with_tokens() -> None:
    event = parse_event(parse_form(sample_text("ONAPPINSTALL_DERIVED.form.txt")))
    assert isinstance(event, AppInstalled)
    assert event.member_id == "a223c6b3710f85df22e9377d6c4f7553"
    assert event.auth.refresh_token == "4s386p3q0tr8dy89xvmt96234v3dljg8"
    assert event.auth.application_token == "51856fefc120afa4b628cc82d3935cce"
    assert event.auth.client_endpoint == "https://some-domain.bitrix24.com/rest/"
    assert event.auth.expires_in == 3600
    assert event.auth.scope == ("imbot",)
    assert (event.language, event.version) == ("de", "1.0.0")
    assert event.ts == datetime(2023, 10, 5, 17, 30, tzinfo=UTC)


def test_app_install_json_and_form_give_the_same_event() -> None:
    from_json = parse_event(sample_json("ONAPPINSTALL_docs.json"))
    from_form = parse_event(parse_form(sample_text("ONAPPINSTALL_DERIVED.form.txt")))
    assert from_json == from_form


@pytest.mark.parametrize("payload", both_shapes("ONAPPUNINSTALL_docs.json"))
def test_app_uninstall_carries_the_clean_flag_and_application_token(
    payload: dict[str, Any],
) -> None:
    event = parse_event(payload)
    assert isinstance(event, AppUninstalled)
    assert event.clean is True
    assert event.language == "en"
    assert event.auth.application_token == "51856fefc120afa4b628cc82d3935cce"
    assert event.auth.access_token == ""


def test_an_event_timebot_does_not_handle_is_unknown_but_attributed() -> None:
    event = parse_event(parse_form(sample_text("ONCRMCONTACTADD_raw_form_b24phpsdk.txt")))
    assert isinstance(event, UnknownEvent)
    assert event.event_name == "ONCRMCONTACTADD"
    assert event.member_id == "010b6886ebc205e43ae65000ee00addb"
    assert event.data == {"FIELDS": {"ID": "134806"}}


@pytest.mark.parametrize(
    "payload",
    [
        *both_shapes("ONIMBOTMESSAGEADD_personal_docs.json"),
        parse_form(sample_text("ONIMBOTMESSAGEADD_personal_DERIVED.form.txt")),
    ],
)
def test_v1_personal_message_is_a_private_message_to_the_bot(payload: dict[str, Any]) -> None:
    event = parse_event(payload)
    assert isinstance(event, BotMessageAdded)
    assert event.generation == "v1"
    assert (event.bot_id, event.bot_code) == (567, "BOT1")
    assert (event.dialog_id, event.chat_id, event.chat_type) == ("27", 1407, "private")
    assert (event.message_id, event.author_id, event.text) == (84331, 27, "Hello")
    assert event.language == "en"
    assert event.user.id == 27
    assert (event.user.first_name, event.user.last_name) == ("Svetlana", "Ivanova")
    assert event.mentions_bot is False
    assert event.member_id == "bac1cd5c8940947a75e0d71b1a84e348"
    # The user's tokens are in auth; the bot's own tokens are kept apart.
    assert event.auth.user_id == 27
    assert event.bot_auth is not None
    assert event.bot_auth.user_id == 567
    assert event.bot_auth.access_token == "a98b9d690000071b0000084400000237f0f107589d1e"


@pytest.mark.parametrize("payload", both_shapes("ONIMBOTMESSAGEADD_group_docs.json"))
def test_v1_group_message_mentioning_the_bot_is_flagged(payload: dict[str, Any]) -> None:
    event = parse_event(payload)
    assert isinstance(event, BotMessageAdded)
    assert (event.dialog_id, event.chat_id, event.chat_type) == ("chat1157", 1157, "group")
    assert event.mentions_bot is True
    assert event.text == ", how to set up the left menu"


def test_v1_group_message_without_mention_is_not_flagged() -> None:
    payload = sample_json("ONIMBOTMESSAGEADD_group_docs.json")
    del payload["data"]["PARAMS"]["MENTIONED_LIST"]
    payload["data"]["PARAMS"]["MESSAGE_ORIGINAL"] = "[USER=12]Ann[/USER] see this"
    event = parse_event(as_wire_form(payload))
    assert isinstance(event, BotMessageAdded)
    assert event.mentions_bot is False


def test_v1_group_message_with_only_a_bb_mention_is_flagged() -> None:
    payload = sample_json("ONIMBOTMESSAGEADD_group_docs.json")
    del payload["data"]["PARAMS"]["MENTIONED_LIST"]
    event = parse_event(payload)
    assert isinstance(event, BotMessageAdded)
    assert event.mentions_bot is True


@pytest.mark.parametrize("payload", both_shapes("ONIMBOTMESSAGEUPDATE_group_docs.json"))
def test_v1_message_update_without_user_block_falls_back_to_the_author(
    payload: dict[str, Any],
) -> None:
    event = parse_event(payload)
    assert isinstance(event, BotMessageUpdated)
    assert (event.message_id, event.author_id, event.user.id) == (84537, 27, 27)
    assert event.text == "create a task list"
    assert event.mentions_bot is True
    assert event.bot_id == 571


@pytest.mark.parametrize(
    "payload",
    [
        *both_shapes("ONIMCOMMANDADD_personal_docs.json"),
        parse_form(sample_text("ONIMCOMMANDADD_personal_DERIVED.form.txt")),
    ],
)
def test_v1_typed_command_in_a_private_chat(payload: dict[str, Any]) -> None:
    event = parse_event(payload)
    assert isinstance(event, BotCommandReceived)
    assert (event.command, event.params, event.context) == ("echo", "test", "textarea")
    assert (event.command_id, event.message_id, event.bot_id) == (103, 33899, 1291)
    assert (event.dialog_id, event.chat_type) == ("1269", "private")
    assert event.user.name == "John Smith"
    assert event.member_id == "d897063e1ce7c5eb9f04b9751eef5915"
    assert event.bot_auth is not None
    assert event.bot_auth.user_id == 1291


@pytest.mark.parametrize("payload", both_shapes("ONIMCOMMANDADD_group_docs.json"))
def test_v1_typed_command_in_a_group_chat(payload: dict[str, Any]) -> None:
    event = parse_event(payload)
    assert isinstance(event, BotCommandReceived)
    assert (event.dialog_id, event.chat_id, event.chat_type) == ("chat2725", 2725, "group")
    assert (event.command_id, event.message_id) == (99, 33871)


@pytest.mark.parametrize("payload", both_shapes("ONIMCOMMANDADD_keyboard_DERIVED.json"))
def test_v1_keyboard_press_arrives_as_a_keyboard_command(payload: dict[str, Any]) -> None:
    event = parse_event(payload)
    assert isinstance(event, BotCommandReceived)
    assert (event.command, event.params, event.context) == ("checkin", "office=2", "keyboard")
    assert event.message_id == 33900
    assert event.user.id == 1269


@pytest.mark.parametrize("payload", both_shapes("ONIMBOTJOINCHAT_personal_docs.json"))
def test_v1_join_of_a_private_dialog(payload: dict[str, Any]) -> None:
    event = parse_event(payload)
    assert isinstance(event, BotJoinedChat)
    assert (event.dialog_id, event.chat_id, event.chat_type) == ("27", None, "private")
    assert (event.user.id, event.language, event.bot_id) == (27, "de", 571)


@pytest.mark.parametrize("payload", both_shapes("ONIMBOTJOINCHAT_group_docs.json"))
def test_v1_join_of_a_group_chat(payload: dict[str, Any]) -> None:
    event = parse_event(payload)
    assert isinstance(event, BotJoinedChat)
    assert (event.dialog_id, event.chat_id, event.chat_type) == ("chat1157", 1157, "group")


@pytest.mark.parametrize("payload", both_shapes("ONIMBOTDELETE_docs.json"))
def test_v1_bot_deletion(payload: dict[str, Any]) -> None:
    event = parse_event(payload)
    assert isinstance(event, BotDeleted)
    assert (event.generation, event.bot_id, event.bot_code) == ("v1", 567, "BOT")


# --- v2: fetch mode and webhook mode ----------------------------------------------------------


def test_v2_fetched_message_is_a_group_message_addressed_to_the_bot() -> None:
    item = fetched("ONIMBOTV2MESSAGEADD_data_fetch_docs.json", "ONIMBOTV2MESSAGEADD")
    event = parse_fetched_event(item, member_id="portal-1")
    assert isinstance(event, BotMessageAdded)
    assert event.generation == "v2"
    assert (event.bot_id, event.bot_code) == (456, "support_bot")
    assert (event.dialog_id, event.chat_id, event.chat_type) == ("chat5", 5, "group")
    assert (event.message_id, event.author_id, event.text) == (789, 1, "Hello bot!")
    assert event.user.departments == (1,)
    assert event.user.work_position == "Developer"
    assert event.mentions_bot is True
    assert event.member_id == "portal-1"
    assert event.dedupe_key == "portal-1:v2fetch:456:1001"
    assert event.ts == datetime(2025, 1, 15, 9, 30, tzinfo=UTC)


def test_v2_fetched_message_of_a_supervisor_bot_needs_a_real_mention() -> None:
    item = fetched("ONIMBOTV2MESSAGEADD_data_fetch_docs.json", "ONIMBOTV2MESSAGEADD")
    item["data"]["bot"]["type"] = "supervisor"
    event = parse_fetched_event(item, member_id="p")
    assert isinstance(event, BotMessageAdded)
    assert event.mentions_bot is False
    item["data"]["message"]["text"] = "[USER=456]Bot[/USER] hi"
    event = parse_fetched_event(item, member_id="p")
    assert isinstance(event, BotMessageAdded)
    assert event.mentions_bot is True


def test_v2_fetched_private_message() -> None:
    item = fetched("ONIMBOTV2MESSAGEADD_data_fetch_docs.json", "ONIMBOTV2MESSAGEADD")
    item["data"]["chat"].update(id=9, dialogId="1", type="private", messageType="P")
    event = parse_fetched_event(item, member_id="p")
    assert isinstance(event, BotMessageAdded)
    assert (event.dialog_id, event.chat_type, event.mentions_bot) == ("1", "private", False)


def test_v2_fetched_command_is_stripped_of_its_slash() -> None:
    item = fetched("ONIMBOTV2COMMANDADD_data_fetch_docs.json", "ONIMBOTV2COMMANDADD", 1002)
    event = parse_fetched_event(item, member_id="p")
    assert isinstance(event, BotCommandReceived)
    assert (event.command, event.params, event.context) == ("help", "topic", "textarea")
    assert (event.command_id, event.message_id, event.dialog_id) == (78, 790, "chat5")


def test_v2_fetched_join_and_delete() -> None:
    join = parse_fetched_event(
        fetched("ONIMBOTV2JOINCHAT_data_fetch_docs.json", "ONIMBOTV2JOINCHAT"), member_id="p"
    )
    assert isinstance(join, BotJoinedChat)
    assert (join.dialog_id, join.chat_id, join.user.id) == ("chat5", 5, 1)
    gone = parse_fetched_event(
        fetched("ONIMBOTV2DELETE_data_fetch_docs.json", "ONIMBOTV2DELETE"), member_id="p"
    )
    assert isinstance(gone, BotDeleted)
    assert (gone.generation, gone.bot_id) == ("v2", 456)


def test_v2_fetched_events_outside_timebots_set_are_unknown() -> None:
    item = {"eventId": 7, "type": "ONIMBOTV2REACTIONCHANGE", "data": {"bot": {"id": 456}}}
    event = parse_fetched_event(item, member_id="p")
    assert isinstance(event, UnknownEvent)
    assert event.dedupe_key == "p:v2fetch:456:7"


def test_v2_webhook_envelope_sample_has_only_placeholders_and_is_refused() -> None:
    with pytest.raises(MalformedEvent) as caught:
        parse_event(sample_json("ONIMBOTV2_webhook_envelope_docs.json"))
    assert "member_id" in caught.value.reason


def test_v2_webhook_form_takes_the_portal_from_the_bot_auth() -> None:
    data = sample_json("ONIMBOTV2MESSAGEADD_data_fetch_docs.json")
    event = parse_event(as_wire_form(v2_webhook("ONIMBOTV2MESSAGEADD", data)))
    assert isinstance(event, BotMessageAdded)
    assert event.member_id == "bac1cd5c8940947a75e0d71b1a84e348"
    # The request's proof is the top-level application token; the bot's tokens stay apart.
    assert event.auth.application_token == "831c76b092f9f135d9b6b36c3a720757"
    assert event.auth.access_token == ""
    assert event.bot_auth is not None
    assert event.bot_auth.access_token.startswith("0b02a069")
    assert (event.message_id, event.chat_id, event.user.departments) == (789, 5, (1,))
    assert event.user.is_bot is False
    assert event.ts == datetime.fromtimestamp(1772093963, UTC)


def test_v2_webhook_command_from_a_keyboard() -> None:
    data = sample_json("ONIMBOTV2COMMANDADD_data_fetch_docs.json")
    data["command"]["context"] = "keyboard"
    event = parse_event(as_wire_form(v2_webhook("ONIMBOTV2COMMANDADD", data)))
    assert isinstance(event, BotCommandReceived)
    assert event.context == "keyboard"


def test_v2_webhook_without_any_member_id_can_use_the_deployments_own() -> None:
    data = sample_json("ONIMBOTV2MESSAGEADD_data_fetch_docs.json")
    envelope = v2_webhook("ONIMBOTV2MESSAGEADD", data)
    del envelope["data"]["bot"]["auth"]["member_id"]
    with pytest.raises(MalformedEvent):
        parse_event(envelope)
    event = parse_event(envelope, default_member_id="single-portal")
    assert event.member_id == "single-portal"


# --- dedupe keys ------------------------------------------------------------------------------


def test_the_same_delivery_twice_has_the_same_dedupe_key() -> None:
    for name in (
        "ONIMBOTMESSAGEADD_personal_docs.json",
        "ONIMCOMMANDADD_keyboard_DERIVED.json",
        "ONIMBOTJOINCHAT_group_docs.json",
        "ONAPPINSTALL_docs.json",
    ):
        first, second = both_shapes(name)
        assert parse_event(first).dedupe_key == parse_event(second).dedupe_key


def test_a_new_message_has_a_new_dedupe_key() -> None:
    payload = sample_json("ONIMBOTMESSAGEADD_personal_docs.json")
    other = copy.deepcopy(payload)
    other["data"]["PARAMS"]["MESSAGE_ID"] = "84332"
    assert parse_event(payload).dedupe_key != parse_event(other).dedupe_key


def test_an_edit_to_new_text_is_not_a_duplicate_of_the_previous_edit() -> None:
    payload = sample_json("ONIMBOTMESSAGEUPDATE_group_docs.json")
    edited = copy.deepcopy(payload)
    edited["data"]["PARAMS"]["MESSAGE"] = "create two task lists"
    assert parse_event(payload).dedupe_key != parse_event(edited).dedupe_key


def test_pressing_the_same_button_again_later_is_a_new_event() -> None:
    payload = sample_json("ONIMCOMMANDADD_keyboard_DERIVED.json")
    again = copy.deepcopy(payload)
    again["ts"] = str(int(payload["ts"]) + 30)
    assert parse_event(payload).dedupe_key != parse_event(again).dedupe_key


def test_a_typed_command_redelivered_later_is_still_a_duplicate() -> None:
    payload = sample_json("ONIMCOMMANDADD_personal_docs.json")
    later = copy.deepcopy(payload)
    later["ts"] = str(int(payload["ts"]) + 30)
    assert parse_event(payload).dedupe_key == parse_event(later).dedupe_key


def test_dedupe_keys_are_scoped_to_the_portal() -> None:
    payload = sample_json("ONIMBOTMESSAGEADD_personal_docs.json")
    other = copy.deepcopy(payload)
    other["auth"]["member_id"] = "another-portal"
    assert parse_event(payload).dedupe_key != parse_event(other).dedupe_key


# --- tolerance of shape -----------------------------------------------------------------------


def test_camel_case_json_keys_and_integers_are_understood() -> None:
    payload = {
        "event": "onImBotMessageAdd",
        "data": {
            "bot": {"567": {"botId": 567, "botCode": "BOT1"}},
            "params": {
                "message": "hi",
                "messageType": "P",
                "dialogId": "27",
                "toChatId": 1407,
                "authorId": 27,
                "messageId": 5,
            },
            "user": {"id": 27, "name": "S", "firstName": "S", "lastName": "I"},
        },
        "ts": 1771928985,
        "auth": {"memberId": "m1", "applicationToken": "t"},
    }
    event = parse_event(payload)
    assert isinstance(event, BotMessageAdded)
    assert (event.event_name, event.bot_id, event.message_id, event.user.last_name) == (
        "ONIMBOTMESSAGEADD",
        567,
        5,
        "I",
    )
    assert event.bot_auth is None
    assert event.auth.application_token == "t"


# --- malformed payloads -----------------------------------------------------------------------


def _without(payload: dict[str, Any], *path: str) -> dict[str, Any]:
    broken = copy.deepcopy(payload)
    node = broken
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return broken


@pytest.mark.parametrize(
    ("sample", "path", "reason"),
    [
        ("ONIMBOTMESSAGEADD_personal_docs.json", ("event",), "missing event"),
        ("ONIMBOTMESSAGEADD_personal_docs.json", ("auth", "member_id"), "member_id"),
        ("ONIMBOTMESSAGEADD_personal_docs.json", ("data", "BOT"), "data[BOT]"),
        ("ONIMBOTMESSAGEADD_personal_docs.json", ("data", "PARAMS", "MESSAGE_ID"), "MESSAGE_ID"),
        ("ONIMBOTMESSAGEADD_personal_docs.json", ("data", "PARAMS"), "PARAMS"),
        ("ONIMCOMMANDADD_personal_docs.json", ("data", "COMMAND"), "data[COMMAND]"),
        ("ONIMCOMMANDADD_personal_docs.json", ("data", "PARAMS", "DIALOG_ID"), "DIALOG_ID"),
        ("ONIMBOTDELETE_docs.json", ("data", "BOT_ID"), "BOT_ID"),
        ("ONAPPINSTALL_docs.json", ("auth", "refresh_token"), "refresh_token"),
        ("ONAPPINSTALL_docs.json", ("auth", "application_token"), "application_token"),
        ("ONAPPUNINSTALL_docs.json", ("auth", "application_token"), "application_token"),
        ("ONCRMCONTACTADD_raw_form_b24phpsdk.txt", ("auth", "member_id"), "member_id"),
    ],
)
def test_missing_required_parts_are_refused_with_a_reason(
    sample: str, path: tuple[str, ...], reason: str
) -> None:
    payload = sample_json(sample) if sample.endswith(".json") else parse_form(sample_text(sample))
    for shape in (payload, as_wire_form(payload)):
        with pytest.raises(MalformedEvent) as caught:
            parse_event(_without(shape, *path))
        assert reason in caught.value.reason


def test_v1_command_entry_without_command_name_is_refused() -> None:
    payload = sample_json("ONIMCOMMANDADD_personal_docs.json")
    payload["data"]["COMMAND"]["103"]["COMMAND"] = "/"
    with pytest.raises(MalformedEvent, match="COMMAND"):
        parse_event(payload)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda item: item.pop("eventId"), "eventId"),
        (lambda item: item.pop("type"), "event type"),
        (lambda item: item.pop("data"), "data"),
        (lambda item: item["data"].pop("message"), "data[message]"),
        (lambda item: item["data"]["bot"].pop("id"), "data[bot][id]"),
        (lambda item: item["data"]["message"].pop("id"), "data[message][id]"),
        (lambda item: item["data"].pop("chat"), "dialogId"),
    ],
)
def test_malformed_fetched_items_are_refused(mutate: Any, reason: str) -> None:
    item = fetched("ONIMBOTV2MESSAGEADD_data_fetch_docs.json", "ONIMBOTV2MESSAGEADD")
    mutate(item)
    with pytest.raises(MalformedEvent) as caught:
        parse_fetched_event(item, member_id="p")
    assert reason in caught.value.reason


def test_fetched_items_need_a_member_id() -> None:
    item = fetched("ONIMBOTV2MESSAGEADD_data_fetch_docs.json", "ONIMBOTV2MESSAGEADD")
    with pytest.raises(MalformedEvent, match="member_id"):
        parse_fetched_event(item, member_id="")


def test_v2_command_without_command_block_is_refused() -> None:
    item = fetched("ONIMBOTV2COMMANDADD_data_fetch_docs.json", "ONIMBOTV2COMMANDADD")
    del item["data"]["command"]
    with pytest.raises(MalformedEvent, match=r"data\[command\]"):
        parse_fetched_event(item, member_id="p")


def test_a_body_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(MalformedEvent):
        parse_event(["event", "ONAPPINSTALL"])  # type: ignore[arg-type]


# --- verification -----------------------------------------------------------------------------


def test_application_token_verification_is_exact_and_never_matches_empty() -> None:
    assert verify_application_token(
        "51856fefc120afa4b628cc82d3935cce", "51856fefc120afa4b628cc82d3935cce"
    )
    assert not verify_application_token(
        "51856fefc120afa4b628cc82d3935cce", "51856fefc120afa4b628cc82d3935cc"
    )
    assert not verify_application_token("", "")
    assert not verify_application_token("abc", "")
    assert not verify_application_token("", "abc")
    assert verify_application_token("токен", "токен")
