"""Assembling marks into work days: night shifts, DST, zones, breaks, open days, bad data."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from timebot.domain.marks import Mark, MarkKind, WorkState
from timebot.domain.workday import (
    Interval,
    WorkDay,
    assemble,
    assemble_work_days,
    day_length,
)

BERLIN = ZoneInfo("Europe/Berlin")
MOSCOW = ZoneInfo("Europe/Moscow")
YEKATERINBURG = ZoneInfo("Asia/Yekaterinburg")
IN, OUT = MarkKind.CHECK_IN, MarkKind.CHECK_OUT
PAUSE, BACK = MarkKind.BREAK_START, MarkKind.BREAK_END
H = timedelta(hours=1)


def local(tz: ZoneInfo, year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=tz)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def only_day(marks: list[Mark], tz: ZoneInfo, now: datetime | None = None) -> WorkDay:
    (day,) = assemble_work_days(marks, tz, now=now)
    return day


def test_a_night_shift_belongs_to_the_date_it_started_and_lasts_8_hours() -> None:
    day = only_day(
        [Mark(IN, local(MOSCOW, 2025, 1, 15, 22)), Mark(OUT, local(MOSCOW, 2025, 1, 16, 6))],
        MOSCOW,
    )
    assert day.local_date == date(2025, 1, 15)
    assert day.worked == 8 * H
    assert day.on_break == timedelta(0)
    assert not day.is_open
    assert day.ended_at == utc(2025, 1, 16, 3)


def test_a_night_shift_over_the_spring_forward_is_one_hour_shorter_on_the_wall() -> None:
    day = only_day(
        [Mark(IN, local(BERLIN, 2025, 3, 29, 22)), Mark(OUT, local(BERLIN, 2025, 3, 30, 6))],
        BERLIN,
    )
    assert day.local_date == date(2025, 3, 29)
    assert day.worked == 7 * H


@pytest.mark.parametrize(
    ("day_of_change", "hours"), [(date(2025, 3, 30), 23), (date(2025, 10, 26), 25)]
)
def test_a_shift_from_midnight_to_midnight_on_a_dst_day_lasts_as_long_as_the_day(
    day_of_change: date, hours: int
) -> None:
    start = datetime.combine(day_of_change, datetime.min.time(), tzinfo=BERLIN)
    end = datetime.combine(day_of_change + timedelta(days=1), datetime.min.time(), tzinfo=BERLIN)
    day = only_day([Mark(IN, start), Mark(OUT, end)], BERLIN)
    assert day.local_date == day_of_change
    assert day.worked == hours * H == day_length(day_of_change, BERLIN)


def test_employees_in_different_zones_get_different_dates_for_the_same_instants() -> None:
    marks = [Mark(IN, utc(2025, 1, 15, 20, 30)), Mark(OUT, utc(2025, 1, 16, 4, 30))]
    in_moscow = only_day(marks, MOSCOW)  # 23:30 → 07:30 local
    in_yekaterinburg = only_day(marks, YEKATERINBURG)  # 01:30 → 09:30 local, next date
    assert in_moscow.local_date == date(2025, 1, 15)
    assert in_yekaterinburg.local_date == date(2025, 1, 16)
    assert in_moscow.worked == in_yekaterinburg.worked == 8 * H


def test_a_day_with_a_lunch_break_counts_work_and_break_apart() -> None:
    t = utc(2025, 1, 15, 6)
    day = only_day(
        [Mark(IN, t), Mark(PAUSE, t + 4 * H), Mark(BACK, t + 5 * H), Mark(OUT, t + 9 * H)],
        MOSCOW,
    )
    assert day.breaks == (Interval(t + 4 * H, t + 5 * H),)
    assert (day.worked, day.on_break) == (8 * H, H)
    assert day.work_intervals == (Interval(t, t + 4 * H), Interval(t + 5 * H, t + 9 * H))
    assert day.span == Interval(t, t + 9 * H)


def test_checking_out_during_a_break_ends_the_break_there() -> None:
    t = utc(2025, 1, 15, 6)
    result = assemble([Mark(IN, t), Mark(PAUSE, t + 3 * H), Mark(OUT, t + 4 * H)], MOSCOW)
    (day,) = result.days
    assert day.breaks == (Interval(t + 3 * H, t + 4 * H),)
    assert (day.worked, day.on_break) == (3 * H, H)
    assert day.ended_at == t + 4 * H
    assert result.state is WorkState.OFF
    assert result.ignored == ()


def test_an_open_day_counts_up_to_now_including_the_running_break() -> None:
    t = utc(2025, 1, 15, 6)
    now = t + 3 * H + timedelta(minutes=30)
    result = assemble([Mark(IN, t), Mark(PAUSE, t + 3 * H)], MOSCOW, now=now)
    (day,) = result.days
    assert day.is_open
    assert day.ended_at is None
    assert day.counted_until == now
    assert (day.worked, day.on_break) == (3 * H, timedelta(minutes=30))
    assert day.breaks == (Interval(t + 3 * H, now),)
    assert result.state is WorkState.ON_BREAK


def test_an_open_day_without_now_counts_up_to_its_last_mark() -> None:
    t = utc(2025, 1, 15, 6)
    day = only_day([Mark(IN, t), Mark(PAUSE, t + 2 * H), Mark(BACK, t + 3 * H)], MOSCOW)
    assert day.is_open
    assert (day.worked, day.on_break) == (2 * H, H)
    assert day.counted_until == t + 3 * H


def test_a_now_before_the_last_mark_never_makes_time_negative() -> None:
    t = utc(2025, 1, 15, 6)
    day = only_day([Mark(IN, t), Mark(PAUSE, t + 2 * H)], MOSCOW, now=t - H)
    assert (day.worked, day.on_break) == (2 * H, timedelta(0))
    assert day.counted_until == t + 2 * H


def test_now_does_not_change_closed_days() -> None:
    t = utc(2025, 1, 15, 6)
    marks = [Mark(IN, t), Mark(OUT, t + 8 * H)]
    assert assemble_work_days(marks, MOSCOW, now=t + 100 * H) == assemble_work_days(marks, MOSCOW)


def test_a_repeated_check_in_is_ignored_and_reported_on_its_day() -> None:
    t = utc(2025, 1, 15, 6)
    duplicate = Mark(IN, t + H, id=2)
    result = assemble([Mark(IN, t, id=1), duplicate, Mark(OUT, t + 8 * H, id=3)], MOSCOW)
    (day,) = result.days
    assert day.started_at == t
    assert day.worked == 8 * H
    assert day.ignored == (duplicate,)
    assert [m.id for m in day.marks] == [1, 3]
    assert result.ignored == (duplicate,)


def test_marks_outside_any_day_are_ignored_and_reported_by_the_assembly() -> None:
    t = utc(2025, 1, 15, 6)
    stray = [Mark(OUT, t - H), Mark(BACK, t + 9 * H), Mark(PAUSE, t + 10 * H)]
    result = assemble([stray[0], Mark(IN, t), Mark(OUT, t + 8 * H), *stray[1:]], MOSCOW)
    (day,) = result.days
    assert day.ignored == ()
    assert result.ignored == tuple(stray)
    assert result.state is WorkState.OFF


def test_a_forgotten_check_out_keeps_the_day_open_across_the_next_check_in() -> None:
    # Policy: the next morning's check-in is illegal (a day is open), so it is ignored and the
    # first day runs until the check-out; callers flag the ignored mark for correction.
    monday = utc(2025, 1, 13, 6)
    tuesday_in = Mark(IN, monday + 24 * H)
    result = assemble([Mark(IN, monday), tuesday_in, Mark(OUT, monday + 33 * H)], MOSCOW)
    (day,) = result.days
    assert day.local_date == date(2025, 1, 13)
    assert day.worked == 33 * H
    assert day.ignored == (tuesday_in,)


def test_several_days_come_out_in_order_and_only_the_last_can_be_open() -> None:
    t = utc(2025, 1, 13, 6)
    marks = [Mark(IN, t + d * 24 * H) for d in range(3)] + [
        Mark(OUT, t + d * 24 * H + 8 * H) for d in range(2)
    ]
    days = assemble_work_days(marks, MOSCOW, now=t + 50 * H)
    assert [d.local_date for d in days] == [date(2025, 1, 13), date(2025, 1, 14), date(2025, 1, 15)]
    assert [d.is_open for d in days] == [False, False, True]
    assert [d.worked for d in days] == [8 * H, 8 * H, 2 * H]


def test_a_day_is_provisional_when_any_of_its_marks_is() -> None:
    t = utc(2025, 1, 15, 6)
    days = assemble_work_days(
        [
            Mark(IN, t),
            Mark(OUT, t + 8 * H),
            Mark(IN, t + 24 * H, provisional=True),
            Mark(OUT, t + 32 * H),
        ],
        MOSCOW,
    )
    assert [d.provisional for d in days] == [False, True]


def test_no_marks_make_no_days() -> None:
    result = assemble([], BERLIN, now=utc(2025, 1, 1))
    assert result.days == ()
    assert result.ignored == ()
    assert result.state is WorkState.OFF


def test_an_interval_cannot_end_before_it_starts() -> None:
    assert Interval(utc(2025, 1, 1, 9), utc(2025, 1, 1, 10)).duration == H
    with pytest.raises(ValueError, match="ends before"):
        Interval(utc(2025, 1, 1, 10), utc(2025, 1, 1, 9))


def test_an_inconsistent_work_day_cannot_be_built() -> None:
    t = utc(2025, 1, 15, 6)
    good = only_day([Mark(IN, t), Mark(PAUSE, t + H), Mark(OUT, t + 2 * H)], MOSCOW)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"is_open": True}, "is_open"),
        ({"worked": -H, "ended_at": t}, "negative"),
        ({"worked": 2 * H}, "ended_at - started_at"),
        ({"breaks": ()}, "total of breaks"),
        ({"breaks": (Interval(t - H, t),)}, "ordered"),
    ]
    for broken, message in cases:
        with pytest.raises(ValueError, match=message):
            dataclasses.replace(good, **broken)
    assert dataclasses.replace(good) == good
