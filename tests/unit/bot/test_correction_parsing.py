"""Correction requests in plain words: the action, the time, the day and the reason."""

from __future__ import annotations

from datetime import time

import pytest

from timebot.bot.corrections import ParsedCorrection, parse_correction
from timebot.bot.i18n import TEXTS
from timebot.bot.router import strip_mentions
from timebot.domain.marks import MarkKind

IN, OUT = MarkKind.CHECK_IN, MarkKind.CHECK_OUT
BREAK, BACK = MarkKind.BREAK_START, MarkKind.BREAK_END


@pytest.mark.parametrize(
    ("text", "kind", "at", "days_ago", "reason"),
    [
        ("ушёл в 18:05", OUT, time(18, 5), None, ""),
        ("ушла в 18:05, забыла отметиться", OUT, time(18, 5), None, "забыла отметиться"),
        ("пришёл в 9:00 — был у клиента", IN, time(9), None, "был у клиента"),
        ("вчера ушёл в 19:10 забыл", OUT, time(19, 10), 1, "забыл"),
        ("на обед в 13:00", BREAK, time(13), None, ""),
        ("Ушёл на обед в 13:00", BREAK, time(13), None, ""),
        ("вернулся в 14:00", BACK, time(14), None, ""),
        (
            "вернулась с обеда в 14.20: очередь в столовой",
            BACK,
            time(14, 20),
            None,
            "очередь в столовой",
        ),
        ("out at 18:05, forgot", OUT, time(18, 5), None, "forgot"),
        ("in at 9:00 because I was at a client", IN, time(9), None, "I was at a client"),
        ("in at 8:00 because of the client", IN, time(8), None, "because of the client"),
        ("yesterday out at 18:30", OUT, time(18, 30), 1, ""),
        ("left at 18:05 — forgot to check out", OUT, time(18, 5), None, "forgot to check out"),
        # H.MM, a filler word, the day after the verb, the reason in brackets.
        ("Я ушла вчера в 18.10 (забыла отметиться).", OUT, time(18, 10), 1, "забыла отметиться"),
        # The day right after the time; the reason before the action.
        ("ушла в 18:10 вчера, забыла", OUT, time(18, 10), 1, "забыла"),
        ("забыла отметиться, ушла в 18:10", OUT, time(18, 10), None, "забыла отметиться"),
        ("позавчера пришла в 8:45, так как: был созвон", IN, time(8, 45), 2, "был созвон"),
        ("сегодня пришёл в офис в 9:30", IN, time(9, 30), 0, ""),
        # A bare hour after "в"/"at"; no preposition needs minutes.
        ("ушел в 18", OUT, time(18), None, ""),
        ("ушла в 6 вечера, забыла", OUT, time(18), None, "забыла"),
        ("пришёл в 8 утра", IN, time(8), None, ""),
        ("вернулся в 2 часа дня", BACK, time(14), None, ""),
        ("out at 6.30pm - forgot", OUT, time(18, 30), None, "forgot"),
        ("in 9am, train was late", IN, time(9), None, "train was late"),
        ("ушёл в 12 ночи, забыл", OUT, time(0), None, "забыл"),
        ("ушла в 18:00 через проходную", OUT, time(18), None, "через проходную"),
        ("ушёл 18:05 забыл", OUT, time(18, 5), None, "забыл"),
        # A mention of the bot (group chats) is not part of the request.
        ("[USER=5]timebot[/USER] ушла в 18:10, забыла", OUT, time(18, 10), None, "забыла"),
    ],
)
def test_phrases_become_requests(
    text: str, kind: MarkKind, at: time, days_ago: int | None, reason: str
) -> None:
    assert parse_correction(strip_mentions(text)) == ParsedCorrection(kind, at, days_ago, reason)


@pytest.mark.parametrize(
    "text",
    [
        "пришла",  # a plain check-in: tracking's business
        "ушёл",
        "в 18:05",  # no action
        "встреча в 15:00",  # not a mark
        "ушёл в 25:00",  # no such time
        "ушёл в 18:75",
        "ушёл в 18:05:30",  # seconds are not a time we read
        "ушёл в 18 вечера",
        "ушёл 18",  # a bare number without "в" is not a time
        "статус в 18:00",  # status is not a mark
        "",
    ],
)
def test_other_messages_are_not_requests(text: str) -> None:
    assert parse_correction(text) is None


def test_a_later_time_is_tried_when_the_first_has_no_action() -> None:
    parsed = parse_correction("в 17:50 была планёрка, ушла в 18:10")
    # "в 17:50" has nothing before it; "…, ушла в 18:10" does, the earlier part is the reason.
    assert parsed == ParsedCorrection(OUT, time(18, 10), None, "в 17:50 была планёрка")


def test_every_correction_text_has_both_languages() -> None:
    keys = [
        k for k in TEXTS if k.startswith("correction_") or k in ("button_approve", "button_reject")
    ]
    assert len(keys) > 30
    for key in keys:
        assert set(TEXTS[key]) == {"ru", "en"}, key
        assert TEXTS[key]["ru"], key
        assert TEXTS[key]["en"], key
