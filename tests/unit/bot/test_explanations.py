"""Explain & approve: button parameters read back, and the texts the person and the manager see."""

from __future__ import annotations

import string
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from timebot.bot.explanations import (
    TEXTS,
    card_keyboard,
    day_words,
    facts,
    quick_keyboard,
    subject,
    text,
)
from timebot.bot.router import Router
from timebot.domain.violations import Violation, ViolationKind
from timebot.reports.digest import explain_params
from timebot.services.digest import DigestLine
from timebot.services.explanations import (
    QUICK_REASONS,
    ExplainTarget,
    parse_explain_params,
    parse_id,
    parse_reason_params,
)

MSK = ZoneInfo("Europe/Moscow")
MONDAY = date(2026, 11, 23)


def late(actual: str = "09:40", allowed: str = "09:10") -> Violation:
    def at(hhmm: str) -> datetime:
        h, m = map(int, hhmm.split(":"))
        return datetime(2026, 11, 23, h, m, tzinfo=MSK)

    return Violation(
        ViolationKind.LATE_START,
        MONDAY,
        40,
        actual=at(actual),
        expected=at("09:00"),
        allowed=at(allowed),
    )


# --- Parameters ----------------------------------------------------------------------------------


def test_explain_params_read_back_what_the_digest_button_carries() -> None:
    line = DigestLine(17, 3, "Мария Иванова", late())
    params = explain_params(line)
    assert params == "17:2026-11-23:late_start"
    assert parse_explain_params(params) == ExplainTarget(17, MONDAY, ViolationKind.LATE_START)
    for kind in ViolationKind:
        assert parse_explain_params(f"5:2026-01-31:{kind.value}") == ExplainTarget(
            5, date(2026, 1, 31), kind
        )
    assert parse_explain_params(" 5 : 2026-01-31 : ABSENT ") == ExplainTarget(
        5, date(2026, 1, 31), ViolationKind.ABSENT
    )


@pytest.mark.parametrize(
    "params",
    [
        "",
        "17",
        "17:2026-11-23",
        "17:2026-11-23:late_start:x",
        "x:2026-11-23:late_start",
        "0:2026-11-23:late_start",
        "-3:2026-11-23:late_start",
        "17:2026-13-01:late_start",
        "17:23.11.2026:late_start",
        "17:2026-11-23:napping",
    ],
)
def test_malformed_explain_params_are_refused(params: str) -> None:
    assert parse_explain_params(params) is None


def test_reason_params() -> None:
    assert QUICK_REASONS == ("traffic", "sick", "remote", "client", "agreed", "other")
    for code in QUICK_REASONS:
        assert parse_reason_params(f"42:{code}") == (42, code)
    assert parse_reason_params(" 42 : Traffic ") == (42, "traffic")
    for bad in ("", "42", "42:", ":traffic", "x:traffic", "42:bored", "0:sick", "42 sick"):
        assert parse_reason_params(bad) is None, bad


def test_ids() -> None:
    assert [parse_id(p) for p in ("7", " #7 ", "№12", "0", "", "7a", "-1", "7 8")] == [
        7,
        7,
        12,
        None,
        None,
        None,
        None,
        None,
    ]


# --- Texts ---------------------------------------------------------------------------------------


def test_every_text_has_both_languages_with_the_same_fields() -> None:
    formatter = string.Formatter()
    for key, variants in TEXTS.items():
        assert set(variants) == {"ru", "en"}, key
        fields = [
            {name for _, name, _, _ in formatter.parse(variants[lang]) if name}
            for lang in ("ru", "en")
        ]
        assert fields[0] == fields[1], key


def test_the_person_reads_the_violation_addressed_to_them() -> None:
    v = late()
    assert subject(v.kind, MONDAY, v, "ru", you=True) == (
        "опоздание 23.11 (пришли в 09:40, допуск до 09:10)"
    )
    assert subject(v.kind, MONDAY, v, "en", you=True) == (
        "late start 23 Nov (you arrived at 09:40, tolerance until 09:10)"
    )
    # The manager reads the digest's words.
    assert subject(v.kind, MONDAY, v, "ru") == "опоздание 23.11 (пришёл в 09:40, допуск до 09:10)"
    # Without the record (the marks changed since): the kind and the date.
    assert subject("absent", date(2026, 3, 2), None, "ru") == "отсутствие 02.03"
    assert subject("absent", date(2026, 3, 2), None, "en") == "absence 2 Mar"
    assert day_words(date(2026, 12, 31), "en") == "31 Dec"


def test_facts_of_other_kinds_come_from_the_digest() -> None:
    short = Violation(
        ViolationKind.SHORT_DAY,
        MONDAY,
        50,
        worked=timedelta(hours=7, minutes=10),
        required=timedelta(hours=8),
    )
    assert facts(short, "ru", you=True) == "отработано 7:10 из 8:00"
    absent = Violation(ViolationKind.ABSENT, MONDAY, 480, required=timedelta(hours=8))
    assert facts(absent, "ru", you=True) == "нет отметок в рабочий день"
    assert facts(absent, "ru", you=False) == "не отметился в рабочий день"


def test_the_question_and_its_quick_answers() -> None:
    question = text("ask", "ru", who="[user=2]Игорь Петров[/user]", subject="опоздание 23.11")
    assert question.startswith("❓ Руководитель ([user=2]Игорь Петров[/user]) просит объяснить:")
    buttons = [b for b in quick_keyboard(9, "ru").buttons if not b.newline]
    assert [(b.text, b.command, b.command_params) for b in buttons] == [
        ("Пробки/транспорт", "reason", "9:traffic"),
        ("Болел(а)", "reason", "9:sick"),
        ("Работал(а) удалённо", "reason", "9:remote"),
        ("Был(а) у клиента/на встрече", "reason", "9:client"),
        ("Согласовано с руководителем", "reason", "9:agreed"),
        ("Другое…", "reason", "9:other"),
    ]
    english = [b.text for b in quick_keyboard(9, "en").buttons if not b.newline]
    assert english[0] == "Traffic/transport"
    assert english[-1] == "Other…"
    rows = sum(1 for b in quick_keyboard(9, "ru").buttons if b.newline) + 1
    assert rows == 3  # two answers a row
    # Every button's parameters read back as what was meant.
    assert [parse_reason_params(b.command_params or "") for b in buttons] == [
        (9, code) for code in QUICK_REASONS
    ]


def test_the_card_and_its_decision_buttons() -> None:
    card = text("card", "en", id=9, who="Maria", subject="late start 23 Nov", reason="Traffic")
    assert card == "💬 [b]Explanation #9[/b][br]Maria: late start 23 Nov.[br]Reason: Traffic"
    buttons = card_keyboard(9, "ru").buttons
    assert [(b.text, b.command, b.command_params) for b in buttons] == [
        ("Принять", "accept", "9"),
        ("Не принимать", "decline", "9"),
    ]


def test_user_text_cannot_open_a_tag() -> None:
    v = late()
    words = subject(v.kind, MONDAY, v, "ru")
    assert "[" not in words.replace("[\u200b", "")


def test_the_router_answers_exactly_the_registered_commands() -> None:
    from timebot.bot.app import build_dispatcher
    from timebot.bot.explanations import router
    from timebot.gateway.install import COMMANDS

    assert isinstance(router, Router)
    assert set(router.commands) == {"explain", "reason", "accept", "decline"}
    assert set(router.commands) <= set(COMMANDS)
    assert len(router.pendings) == 1
    names = [r.name for r in build_dispatcher().routers]
    assert names.index("explanations") == names.index("corrections") + 1
