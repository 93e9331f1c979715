"""Each shift's break: its own row's, else its schedule's, else none (`services.plans`), and
the break written in a bulk roster line (`web.admin.roster_bulk`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from timebot.domain.schedules import ShiftSchedule
from timebot.services.plans import roster_of, schedule_break
from timebot.web.admin.roster_bulk import parse_lines

MSK = ZoneInfo("Europe/Moscow")
DAY, NIGHT = 1, 2  # schedule ids: a day-shift schedule (30 min) and a night one (60 min)
BREAKS = {DAY: 30, NIGHT: 60}


@dataclass
class Row:
    """What `roster_of` reads of a `shifts` row."""

    starts_at: datetime
    ends_at: datetime
    schedule_id: int | None
    break_minutes: int | None = None


def row(d: date, start: int, hours: int, schedule_id: int | None, own: int | None = None) -> Row:
    starts = datetime.combine(d, time(start), tzinfo=MSK).astimezone(UTC)
    return Row(starts, starts + timedelta(hours=hours), schedule_id, own)


def test_each_shift_gets_its_own_break_else_its_schedules_else_none() -> None:
    rows = [
        row(date(2026, 3, 2), 8, 12, DAY),  # the day schedule's 30
        row(date(2026, 3, 3), 20, 12, NIGHT),  # the night schedule's 60
        row(date(2026, 3, 4), 8, 4, DAY, own=0),  # a 4-hour shift without a break
        row(date(2026, 3, 5), 8, 16, NIGHT, own=90),  # a double shift with 90
        row(date(2026, 3, 6), 8, 8, None),  # its schedule was deleted: no break
        row(date(2026, 3, 7), 8, 8, 99),  # a schedule not in the map: no break
    ]
    roster = roster_of(rows, MSK, BREAKS)
    assert [(s.on.day, s.start, s.end, s.break_minutes) for s in roster] == [
        (2, time(8), time(20), 30),
        (3, time(20), time(8), 60),
        (4, time(8), time(12), 0),
        (5, time(8), time(0), 90),
        (6, time(8), time(16), 0),
        (7, time(8), time(16), 0),
    ]


def test_the_first_shift_of_a_date_keeps_its_break() -> None:
    first = row(date(2026, 3, 2), 8, 4, DAY, own=15)
    second = row(date(2026, 3, 2), 14, 4, NIGHT)
    (only,) = roster_of([first, second], MSK, BREAKS)
    assert (only.start, only.break_minutes) == (time(8), 15)


def test_the_norm_of_a_shift_is_its_length_less_its_own_break() -> None:
    rows = [row(date(2026, 3, 2), 8, 12, DAY), row(date(2026, 3, 3), 8, 12, DAY, own=90)]
    schedule = ShiftSchedule(roster_of(rows, MSK, BREAKS))
    plain = schedule.expected_for(date(2026, 3, 2), MSK)
    longer = schedule.expected_for(date(2026, 3, 3), MSK)
    assert plain is not None
    assert longer is not None
    assert plain.minimum == timedelta(hours=11, minutes=30)
    assert longer.minimum == timedelta(hours=10, minutes=30)


@pytest.mark.parametrize(
    ("definition", "minutes"),
    [({"break": 45}, 45), ({}, 0), (None, 0), ({"break": "x"}, 0), ({"break": -5}, 0)],
)
def test_a_schedules_break_reads_safely(definition: dict[str, object] | None, minutes: int) -> None:
    assert schedule_break(definition) == minutes


def test_bulk_lines_carry_an_optional_break_in_parentheses() -> None:
    lines, errors = parse_lines(
        "2026-03-02 08:00-20:00 (90) Иван Петров\n"
        "2026-03-03 08:00-12:00 (0 мин)\n"
        "2026-03-04 22:00-06:00 7\n"  # a bare number is still a Bitrix24 user id
        "2026-03-05,08:00,12:00,(15 min),ivan@example.com\n"
        "2026-03-06;08:00-20:00;(45)\n"
    )
    assert errors == []
    assert [(line.day.day, line.break_minutes, line.who) for line in lines] == [
        (2, 90, "Иван Петров"),
        (3, 0, ""),
        (4, None, "7"),
        (5, 15, "ivan@example.com"),
        (6, 45, ""),
    ]


def test_a_bad_break_in_a_bulk_line_names_the_value() -> None:
    lines, errors = parse_lines(
        "2026-03-02 08:00-20:00 (abc) 7\n2026-03-03 08:00-20:00 (721)\n2026-03-04 08:00-20:00 (-5)"
    )
    assert lines == []
    assert [(e.number, e.key, e.values["value"]) for e in errors] == [
        (1, "roster.line_break", "(abc)"),
        (2, "roster.line_break", "(721)"),
        (3, "roster.line_break", "(-5)"),
    ]
