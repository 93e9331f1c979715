"""Reply builders: BB-code that cannot be injected, keyboards, attachments and the REST parameters
of sending, updating and answering in both bot API generations."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from timebot.bitrix import (
    BB,
    Attach,
    GridRow,
    Keyboard,
    answer_command_params,
    bb,
    bold,
    br,
    escape,
    italic,
    join,
    send_command,
    send_message_params,
    timestamp,
    update_message_params,
    url,
    user_mention,
)
from timebot.bitrix.messages import template_id

# --- BB-code ----------------------------------------------------------------------------------


def test_user_text_cannot_open_tags_or_mentions() -> None:
    evil = "Ann[/b][url=https://evil.example]click[/url][USER=1]boss[/USER]"
    safe = escape(evil)
    assert "[/b]" not in safe
    assert "[url=" not in safe
    assert "[USER=" not in safe
    # The reader still sees the same characters (a zero-width space is invisible).
    assert safe.replace("\u200b", "") == evil


def test_user_text_cannot_fake_a_quote() -> None:
    assert escape(">>quoted\n  >>again").replace("\u200b", "|") == ">|>quoted\n  >|>again"


def test_helpers_escape_plain_text_but_nest_markup() -> None:
    assert bold("a[i]b") == "[b]a[\u200bi]b[/b]"
    assert bold(italic("x")) == "[b][i]x[/i][/b]"
    assert isinstance(bold("x"), BB)


def test_composing_a_message_escapes_only_the_plain_parts() -> None:
    name = "[b]Eve"
    message = bb(
        "Привет, ",
        bold(name),
        "!",
        br(),
        "Ваше время: ",
        timestamp(datetime(2026, 3, 2, 6, 5, tzinfo=UTC)),
    )
    assert message == (
        "Привет, [b][\u200bb]Eve[/b]![br]"
        "Ваше время: [timestamp=1772431500 format=SHORT_TIME_FORMAT]"
    )
    assert join(", ", ["[a]", bold("b")]) == "[\u200ba], [b]b[/b]"


def test_mentions_and_links() -> None:
    assert user_mention(27, "Svetlana [Boss]") == "[user=27]Svetlana [\u200bBoss][/user]"
    assert (
        url("https://example.com/a b]c", "site") == "[url=https://example.com/a%20b%5Dc]site[/url]"
    )
    assert (
        url("/company/personal/user/1/")
        == "[url=/company/personal/user/1/]/company/personal/user/1/[/url]"
    )
    assert send_command("help", "Помощь") == "[send=/help]Помощь[/send]"
    with pytest.raises(ValueError, match="http"):
        url("javascript:alert(1)")
    with pytest.raises(ValueError, match="user id"):
        user_mention(0, "x")
    with pytest.raises(ValueError, match="command"):
        send_command("a]b", "x")


def test_timestamps_need_an_aware_time_and_a_format_name() -> None:
    moscow = timezone(timedelta(hours=3))
    assert timestamp(datetime(2026, 3, 2, 9, 5, tzinfo=moscow), "FORMAT_DATETIME") == (
        "[timestamp=1772431500 format=FORMAT_DATETIME]"
    )
    with pytest.raises(ValueError, match="aware"):
        timestamp(datetime(2026, 3, 2, 9, 5))  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="format"):
        timestamp(datetime(2026, 3, 2, tzinfo=UTC), "x] [b")


# --- keyboards --------------------------------------------------------------------------------


def test_a_keyboard_with_commands_links_and_rows() -> None:
    keyboard = (
        Keyboard()
        .command("Пришёл", "/checkin", "office=2", color="primary", block=True)
        .command("Перерыв", "break")
        .newline()
        .link("Отметиться на карте", "https://timebot.example/checkin/abc", display="LINE")
        .action("Скопировать", "COPY", "код 123")
    )
    assert keyboard.to_wire(bot_id=456) == {
        "BOT_ID": 456,
        "BUTTONS": [
            {
                "TEXT": "Пришёл",
                "COMMAND": "checkin",
                "COMMAND_PARAMS": "office=2",
                "BLOCK": "Y",
                "BG_COLOR_TOKEN": "primary",
            },
            {"TEXT": "Перерыв", "COMMAND": "break", "BLOCK": "N"},
            {"TYPE": "NEWLINE"},
            {
                "TEXT": "Отметиться на карте",
                "LINK": "https://timebot.example/checkin/abc",
                "DISPLAY": "LINE",
            },
            {"TEXT": "Скопировать", "ACTION": "COPY", "ACTION_VALUE": "код 123"},
        ],
    }


def test_keyboards_are_immutable_values() -> None:
    empty = Keyboard()
    one = empty.command("A", "a")
    assert not empty
    assert one
    assert len(empty.buttons) == 0


def test_bad_buttons_are_refused() -> None:
    with pytest.raises(ValueError, match="command"):
        Keyboard().command("A", "two words")
    with pytest.raises(ValueError, match="http"):
        Keyboard().link("A", "javascript:alert(1)")
    with pytest.raises(ValueError, match="text"):
        Keyboard().link("", "https://a.example")


# --- attachments ------------------------------------------------------------------------------


def test_an_attachment_with_a_name_value_grid_and_other_blocks() -> None:
    attach = (
        Attach(color="primary")
        .message(bold("Итоги недели"))
        .grid([("Пришёл", "09:02"), ("Ушёл", "[b]18:00")])
        .grid([GridRow("Опоздания", "2", display="BLOCK", width=100, color="alert")])
        .delimiter()
        .link("https://timebot.example/r/1", "Отчёт", description="XLSX")
        .image("https://timebot.example/c.png", width=800, height=400)
    )
    assert attach.to_wire() == {
        "COLOR_TOKEN": "primary",
        "BLOCKS": [
            {"MESSAGE": "[b]Итоги недели[/b]"},
            {
                "GRID": [
                    {"NAME": "Пришёл", "VALUE": "09:02", "DISPLAY": "ROW"},
                    {"NAME": "Ушёл", "VALUE": "[\u200bb]18:00", "DISPLAY": "ROW"},
                ]
            },
            {
                "GRID": [
                    {
                        "NAME": "Опоздания",
                        "VALUE": "2",
                        "DISPLAY": "BLOCK",
                        "WIDTH": 100,
                        "COLOR_TOKEN": "alert",
                    }
                ]
            },
            {"DELIMITER": {"SIZE": 200, "COLOR": "#c6c6c6"}},
            {"LINK": {"LINK": "https://timebot.example/r/1", "NAME": "Отчёт", "DESC": "XLSX"}},
            {"IMAGE": [{"LINK": "https://timebot.example/c.png", "WIDTH": 800, "HEIGHT": 400}]},
        ],
    }


def test_attachments_refuse_bad_input_and_oversize() -> None:
    with pytest.raises(ValueError, match="colour"):
        Attach(hex_color="red")
    with pytest.raises(ValueError, match="block"):
        Attach().to_wire()
    with pytest.raises(ValueError, match="row"):
        Attach().grid([])
    with pytest.raises(ValueError, match="60000"):
        Attach().message("x" * 60_001).to_wire()


# --- REST parameters --------------------------------------------------------------------------


def test_v2_send_puts_content_under_fields_with_camel_case_keys() -> None:
    keyboard = Keyboard().command("Пришёл", "checkin")
    attach = Attach().message("hi")
    method, params = send_message_params(
        "v2", 456, "chat5", "Hello", keyboard, attach, bot_token="tok", message_id_key="outbox-17"
    )
    assert method == "imbot.v2.Chat.Message.send"
    assert params == {
        "botId": 456,
        "dialogId": "chat5",
        "botToken": "tok",
        "fields": {
            "message": "Hello",
            "keyboard": {
                "BOT_ID": 456,
                "BUTTONS": [{"TEXT": "Пришёл", "COMMAND": "checkin", "BLOCK": "N"}],
            },
            "attach": {"BLOCKS": [{"MESSAGE": "hi"}]},
            "system": False,
            "urlPreview": True,
            "templateId": template_id("outbox-17"),
        },
    }
    json.dumps(params)  # the client sends it as JSON


def test_the_same_idempotency_key_always_gives_the_same_template_id() -> None:
    assert template_id("outbox-17") == template_id("outbox-17") != template_id("outbox-18")
    uuid_key = "796c45aa-70e5-45aa-930c-c7fb32710c62"
    assert template_id(uuid_key.upper()) == uuid_key


def test_v1_send_uses_upper_case_keys_and_client_id() -> None:
    method, params = send_message_params(
        "v1",
        567,
        "27",
        "Hello",
        Keyboard().link("Open", "https://a.example"),
        client_id="cid",
        system=True,
    )
    assert method == "imbot.message.add"
    assert params == {
        "BOT_ID": 567,
        "DIALOG_ID": "27",
        "MESSAGE": "Hello",
        "KEYBOARD": {"BOT_ID": 567, "BUTTONS": [{"TEXT": "Open", "LINK": "https://a.example"}]},
        "SYSTEM": "Y",
        "URL_PREVIEW": "Y",
        "CLIENT_ID": "cid",
    }


def test_a_message_needs_text_or_an_attachment() -> None:
    with pytest.raises(ValueError, match="text"):
        send_message_params("v2", 1, "chat5", "")
    _method, params = send_message_params("v2", 1, "chat5", "", attach=Attach().message("a"))
    assert params["fields"]["message"] == ""
    with pytest.raises(ValueError, match="generation"):
        send_message_params("v3", 1, "1", "x")  # type: ignore[arg-type]


def test_update_keeps_text_unless_given_and_can_remove_the_keyboard() -> None:
    method, params = update_message_params("v2", 456, 789, remove_keyboard=True, bot_token="tok")
    assert method == "imbot.v2.Chat.Message.update"
    assert params == {
        "botId": 456,
        "messageId": 789,
        "fields": {"keyboard": "N"},
        "botToken": "tok",
    }
    method, params = update_message_params("v1", 567, 789, "Новый текст", client_id="cid")
    assert method == "imbot.message.update"
    assert params == {
        "BOT_ID": 567,
        "MESSAGE_ID": 789,
        "MESSAGE": "Новый текст",
        "CLIENT_ID": "cid",
    }
    with pytest.raises(ValueError, match="delete"):
        update_message_params("v1", 567, 789, "")
    with pytest.raises(ValueError, match="nothing"):
        update_message_params("v2", 456, 789)


def test_command_answers_in_both_generations() -> None:
    method, params = answer_command_params("v2", 456, 78, 790, "chat5", "Готово")
    assert method == "imbot.v2.Command.answer"
    assert params == {
        "botId": 456,
        "commandId": 78,
        "messageId": 790,
        "dialogId": "chat5",
        "fields": {"message": "Готово", "system": False, "urlPreview": True},
    }
    method, params = answer_command_params("v1", 1291, 103, 33899, "1269", "Готово", client_id="c")
    assert method == "imbot.command.answer"
    assert params == {
        "COMMAND_ID": 103,
        "MESSAGE_ID": 33899,
        "MESSAGE": "Готово",
        "SYSTEM": "N",
        "URL_PREVIEW": "Y",
        "CLIENT_ID": "c",
    }
