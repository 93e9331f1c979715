"""What fixed, flexible and shift schedules expect of a day, and which assignment applies."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from timebot.domain.schedules import (
    Assignment,
    FixedSchedule,
    FlexibleSchedule,
    Scope,
    Shift,
    ShiftSchedule,
    Tolerance,
    WorkHours,
    resolve_schedule,
)
from timebot.reports.production_calendar import calendar_for

from .helpers import MOSCOW, NEW_YORK, VLADIVOSTOK, at

RU = calendar_for("RU", [2024, 2025, 2026])
NINE_TO_SIX = FixedSchedule.weekdays(time(9), time(18), 60, tolerance=Tolerance(15, 10))


@pytest.mark.parametrize("tz", [MOSCOW, NEW_YORK, VLADIVOSTOK], ids=str)
def test_a_fixed_day_expects_local_start_and_end_as_utc_instants(tz: ZoneInfo) -> None:
    d = date(2025, 7, 8)
    expected = NINE_TO_SIX.expected_for(d, tz, RU)
    assert expected is not None
    assert expected.start == at(d, "09:00", tz).astimezone(UTC)
    assert expected.end == at(d, "18:00", tz).astimezone(UTC)
    assert expected.start.tzinfo is UTC
    assert expected.minimum == timedelta(hours=8)
    assert expected.norm_hours == 8
    assert expected.latest_start == at(d, "09:15", tz)
    assert expected.earliest_end == at(d, "17:50", tz)
    assert expected.schedule_kind == "fixed"


def test_weekends_and_holidays_are_days_off_for_a_fixed_schedule() -> None:
    assert NINE_TO_SIX.expected_for(date(2025, 7, 5), MOSCOW, RU) is None  # Saturday
    assert NINE_TO_SIX.expected_for(date(2025, 6, 12), MOSCOW, RU) is None  # Russia Day
    assert NINE_TO_SIX.expected_for(date(2025, 6, 13), MOSCOW, RU) is None  # transferred


def test_a_working_saturday_is_worked_with_weekday_hours() -> None:
    expected = NINE_TO_SIX.expected_for(date(2025, 11, 1), MOSCOW, RU)
    assert expected is not None
    # 1 November 2025 is also a pre-holiday day: an hour shorter.
    assert expected.end == at(date(2025, 11, 1), "17:00", MOSCOW)
    assert expected.minimum == timedelta(hours=7)
    assert expected.shortened_by == timedelta(hours=1)


def test_a_shortened_day_ends_an_hour_earlier() -> None:
    d = date(2025, 3, 7)
    expected = NINE_TO_SIX.expected_for(d, MOSCOW, RU)
    assert expected is not None
    assert expected.end == at(d, "17:00", MOSCOW)
    assert (expected.minimum, expected.norm_hours) == (timedelta(hours=7), 7)


def test_a_schedule_that_ignores_the_calendar_works_on_holidays() -> None:
    shop = FixedSchedule.weekdays(time(10), time(22), 60, days=range(7), follow_calendar=False)
    expected = shop.expected_for(date(2025, 6, 12), MOSCOW, RU)
    assert expected is not None
    assert expected.minimum == timedelta(hours=11)
    assert expected.norm_hours == 11


def test_a_part_time_week_has_its_own_days_and_norm() -> None:
    schedule = FixedSchedule(
        week=(WorkHours(time(9), time(16), 30), None, WorkHours(time(9), time(16), 30))
        + (None,) * 4,
        week_hours=24,
    )
    assert schedule.expected_for(date(2025, 7, 8), MOSCOW, RU) is None  # Tuesday
    wednesday = schedule.expected_for(date(2025, 7, 9), MOSCOW, RU)
    assert wednesday is not None
    assert (wednesday.minimum, wednesday.norm_hours) == (timedelta(hours=6, minutes=30), 4.8)
    with pytest.raises(ValueError, match="seven days"):
        FixedSchedule(week=(None,) * 6)


def test_a_fixed_night_schedule_ends_the_next_morning_across_a_dst_change() -> None:
    night = FixedSchedule.weekdays(time(22), time(6), days=range(7), follow_calendar=False)
    d = date(2025, 3, 8)  # New York moves clocks forward on the night to 9 March
    expected = night.expected_for(d, NEW_YORK, None)
    assert expected is not None
    assert expected.end == at(date(2025, 3, 9), "06:00", NEW_YORK)
    assert expected.minimum == timedelta(hours=7)


def test_a_flexible_day_expects_hours_and_core_time() -> None:
    schedule = FlexibleSchedule(8, time(11), time(16), tolerance=Tolerance(late_start_minutes=5))
    d = date(2025, 7, 8)
    expected = schedule.expected_for(d, NEW_YORK, RU)
    assert expected is not None
    assert (expected.start, expected.end) == (None, None)
    assert expected.core_start == at(d, "11:00", NEW_YORK)
    assert expected.latest_start == at(d, "11:05", NEW_YORK)
    assert expected.minimum == timedelta(hours=8)
    assert expected.closes_at == datetime(2025, 7, 9, tzinfo=NEW_YORK)
    assert schedule.expected_for(date(2025, 3, 7), MOSCOW, RU).minimum == timedelta(hours=7)  # type: ignore[union-attr]
    assert schedule.expected_for(date(2025, 7, 5), MOSCOW, RU) is None
    with pytest.raises(ValueError, match="core hours"):
        FlexibleSchedule(8, core_start=time(10))


def test_a_flexible_day_without_core_has_no_late_start() -> None:
    expected = FlexibleSchedule(6).expected_for(date(2025, 7, 8), MOSCOW, RU)
    assert expected is not None
    assert expected.latest_start is None
    assert expected.earliest_end is None


@pytest.mark.parametrize("tz", [MOSCOW, NEW_YORK], ids=str)
def test_a_night_shift_belongs_to_the_date_it_starts(tz: ZoneInfo) -> None:
    roster = ShiftSchedule(
        (
            Shift(date(2025, 1, 10), time(22), time(6), 30),
            Shift(date(2025, 1, 12), time(8), time(20), 60),
        )
    )
    night = roster.expected_for(date(2025, 1, 10), tz, RU)
    assert night is not None
    assert night.start == at(date(2025, 1, 10), "22:00", tz)
    assert night.end == at(date(2025, 1, 11), "06:00", tz)
    assert (night.minimum, night.norm_hours) == (timedelta(hours=7, minutes=30), 7.5)
    assert roster.expected_for(date(2025, 1, 11), tz, RU) is None
    # The roster, not the calendar, decides: a Sunday shift is expected.
    assert roster.expected_for(date(2025, 1, 12), tz, RU) is not None


def test_a_roster_refuses_two_shifts_on_one_date() -> None:
    with pytest.raises(ValueError, match="two shifts"):
        ShiftSchedule((Shift(date(2025, 1, 10), time(8), time(20)),) * 2)


def test_a_day_long_shift_lasts_twenty_four_hours() -> None:
    roster = ShiftSchedule((Shift(date(2025, 1, 10), time(8), time(8)),))
    expected = roster.expected_for(date(2025, 1, 10), MOSCOW, None)
    assert expected is not None
    assert expected.minimum == timedelta(hours=24)


def test_tolerances_cannot_be_negative() -> None:
    with pytest.raises(ValueError, match="late_start_minutes"):
        Tolerance(late_start_minutes=-1)


# --- Assignment resolution ---------------------------------------------------------------------

PORTAL = Assignment(Scope.PORTAL, date(2025, 1, 1), "portal-default")
PORTAL_NEW = Assignment(Scope.PORTAL, date(2025, 5, 1), "portal-summer")
SALES = Assignment(Scope.DEPARTMENT, date(2025, 3, 1), "sales", target="7")
SUPPORT = Assignment(Scope.DEPARTMENT, date(2025, 3, 1), "support", target=9)
PERSONAL = Assignment(Scope.EMPLOYEE, date(2025, 6, 1), "personal", target=42)
LATER = Assignment(Scope.EMPLOYEE, date(2025, 9, 1), "personal-autumn", target="42")
ALL = [PORTAL, PORTAL_NEW, SALES, SUPPORT, PERSONAL, LATER]


def chosen(on: date, employee: str | int = 42, departments: tuple[str | int, ...] = (7,)) -> str:
    found = resolve_schedule(ALL, employee, departments, on)
    return "none" if found is None else found.schedule


def test_the_most_specific_scope_in_force_wins() -> None:
    assert chosen(date(2025, 2, 1)) == "portal-default"
    assert chosen(date(2025, 4, 1)) == "sales"
    assert chosen(date(2025, 5, 15)) == "sales"  # a newer portal default does not beat a dept
    assert chosen(date(2025, 6, 1)) == "personal"
    assert chosen(date(2025, 9, 1)) == "personal-autumn"


def test_within_a_scope_the_latest_valid_from_not_after_the_date_wins() -> None:
    assert chosen(date(2025, 4, 30), employee=1, departments=()) == "portal-default"
    assert chosen(date(2025, 5, 1), employee=1, departments=()) == "portal-summer"
    assert chosen(date(2025, 8, 31)) == "personal"


def test_nothing_applies_before_the_first_assignment() -> None:
    assert chosen(date(2024, 12, 31)) == "none"


def test_other_peoples_and_departments_assignments_do_not_apply() -> None:
    assert chosen(date(2025, 7, 1), employee=5, departments=(3,)) == "portal-summer"


def test_the_first_listed_department_wins_a_tie() -> None:
    assert chosen(date(2025, 4, 1), employee=5, departments=("9", 7)) == "support"
    assert chosen(date(2025, 4, 1), employee=5, departments=(7, 9)) == "sales"


def test_a_scoped_assignment_needs_a_target() -> None:
    with pytest.raises(ValueError, match="target"):
        Assignment(Scope.EMPLOYEE, date(2025, 1, 1), "x")


def test_a_six_day_week_keeps_its_saturdays_but_not_holidays() -> None:
    six = FixedSchedule.weekdays(time(9), time(15), days=range(6), week_hours=36)
    saturday = six.expected_for(date(2025, 7, 5), MOSCOW, RU)
    assert saturday is not None
    assert (saturday.minimum, saturday.norm_hours) == (timedelta(hours=6), 6)
    assert six.expected_for(date(2025, 6, 12), MOSCOW, RU) is None
    assert six.expected_for(date(2025, 7, 6), MOSCOW, RU) is None
