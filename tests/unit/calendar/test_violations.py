"""Violations of fixed, flexible and shift schedules in several zones, at their tolerance edges."""

from __future__ import annotations

from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from timebot.domain.schedules import (
    Expectation,
    FixedSchedule,
    FlexibleSchedule,
    Schedule,
    Shift,
    ShiftSchedule,
    Tolerance,
)
from timebot.domain.violations import (
    Excuse,
    LocationFinding,
    Violation,
    ViolationKind,
    explain,
    find_violations,
)
from timebot.domain.workday import WorkDay
from timebot.reports.production_calendar import calendar_for

from .helpers import MOSCOW, NEW_YORK, at, day_marks, work_days

K = ViolationKind
RU = calendar_for("RU", 2025)
ZONES = pytest.mark.parametrize("tz", [MOSCOW, NEW_YORK], ids=str)
TUESDAY = date(2025, 7, 8)
LUNCH = (("13:00", "14:00"),)

FIXED = FixedSchedule.weekdays(
    time(9),
    time(18),
    60,
    tolerance=Tolerance(
        late_start_minutes=15, early_leave_minutes=10, short_day_minutes=15, overtime_minutes=30
    ),
)


def plan(schedule: Schedule, tz: ZoneInfo, *days: date) -> dict[date, Expectation | None]:
    return {d: schedule.expected_for(d, tz, RU) for d in days}


def check(
    schedule: Schedule,
    tz: ZoneInfo,
    days: list[WorkDay],
    *dates: date,
    **options: object,
) -> list[Violation]:
    return find_violations(days, plan(schedule, tz, *dates), tz=tz, calendar=RU, **options)  # type: ignore[arg-type]


def kinds(found: list[Violation]) -> list[tuple[ViolationKind, int]]:
    return [(v.kind, v.minutes) for v in found]


# --- Fixed schedule ----------------------------------------------------------------------------


@ZONES
@pytest.mark.parametrize("arrival", ["09:00", "09:15", "09:15:59"])
def test_arriving_up_to_the_tolerance_minute_is_not_late(tz: ZoneInfo, arrival: str) -> None:
    days = work_days(tz, day_marks(TUESDAY, tz, arrival, "18:15", breaks=LUNCH))
    assert K.LATE_START not in [v.kind for v in check(FIXED, tz, days, TUESDAY)]


@ZONES
def test_one_minute_past_the_tolerance_is_late(tz: ZoneInfo) -> None:
    days = work_days(tz, day_marks(TUESDAY, tz, "09:16", "18:16", breaks=LUNCH))
    (late,) = check(FIXED, tz, days, TUESDAY)
    assert (late.kind, late.minutes, late.local_date) == (K.LATE_START, 16, TUESDAY)
    assert late.actual == at(TUESDAY, "09:16", tz)
    assert late.actual is not None
    assert late.actual.tzinfo == tz
    assert late.allowed == at(TUESDAY, "09:15", tz)
    assert late.expected == at(TUESDAY, "09:00", tz)
    assert explain(late) == "пришёл в 09:16, допуск до 09:15"
    assert explain(late, "en") == "arrived at 09:16, tolerance until 09:15"


@ZONES
def test_leaving_at_the_tolerance_minute_is_not_early_and_a_minute_before_is(
    tz: ZoneInfo,
) -> None:
    on_time = work_days(tz, day_marks(TUESDAY, tz, "08:45", "17:50", breaks=LUNCH))
    assert check(FIXED, tz, on_time, TUESDAY) == []
    early = work_days(tz, day_marks(TUESDAY, tz, "08:45", "17:49:30", breaks=LUNCH))
    (leave,) = check(FIXED, tz, early, TUESDAY)
    assert (leave.kind, leave.minutes) == (K.EARLY_LEAVE, 11)
    assert explain(leave) == "ушёл в 17:49, допуск с 17:50"
    assert explain(leave, "en") == "left at 17:49, tolerance from 17:50"


@ZONES
def test_a_short_day_is_reported_past_its_tolerance(tz: ZoneInfo) -> None:
    # 8 h expected, 15 min tolerance: 7:45 is fine, 7:44 is short by 16 minutes.
    fine = work_days(tz, day_marks(TUESDAY, tz, "09:00", "17:45", breaks=LUNCH))
    assert K.SHORT_DAY not in [v.kind for v in check(FIXED, tz, fine, TUESDAY)]
    short = work_days(tz, day_marks(TUESDAY, tz, "09:00", "18:00", breaks=(("13:00", "14:16"),)))
    (found,) = check(FIXED, tz, short, TUESDAY)
    assert (found.kind, found.minutes) == (K.SHORT_DAY, 16)
    assert explain(found) == "отработано 7:44 из 8:00"
    assert explain(found, "en") == "worked 7:44 of 8:00"


@ZONES
def test_overtime_is_reported_past_its_tolerance(tz: ZoneInfo) -> None:
    fine = work_days(tz, day_marks(TUESDAY, tz, "09:00", "18:30", breaks=LUNCH))
    assert check(FIXED, tz, fine, TUESDAY) == []
    over = work_days(tz, day_marks(TUESDAY, tz, "09:00", "18:31", breaks=LUNCH))
    (found,) = check(FIXED, tz, over, TUESDAY)
    assert (found.kind, found.minutes) == (K.OVERTIME, 31)
    assert explain(found) == "переработка 0:31: отработано 8:31 из 8:00"


@ZONES
def test_several_work_days_on_one_date_count_together(tz: ZoneInfo) -> None:
    days = work_days(
        tz,
        day_marks(TUESDAY, tz, "09:05", "12:00"),
        day_marks(TUESDAY, tz, "14:00", "18:00", first_id=10),
    )
    # 2:55 + 4:00 worked of 8:00; the first arrival is on time, the last departure too.
    assert kinds(check(FIXED, tz, days, TUESDAY)) == [(K.SHORT_DAY, 65)]


@ZONES
def test_absence_is_reported_once_the_working_day_is_over(tz: ZoneInfo) -> None:
    during = at(TUESDAY, "17:59", tz)
    assert check(FIXED, tz, [], TUESDAY, now=during) == []
    (absent,) = check(FIXED, tz, [], TUESDAY, now=at(TUESDAY, "18:00", tz))
    assert (absent.kind, absent.minutes) == (K.ABSENT, 480)
    assert explain(absent) == "не отметился в рабочий день"
    assert explain(absent, "en") == "no check-in on a working day"


def test_no_absence_on_weekends_holidays_and_transferred_days_off() -> None:
    days_off = (date(2025, 7, 5), date(2025, 6, 12), date(2025, 6, 13))
    assert check(FIXED, MOSCOW, [], *days_off) == []


def test_work_on_a_holiday_or_weekend_is_overtime_labelled_with_the_day() -> None:
    holiday, saturday = date(2025, 6, 12), date(2025, 7, 5)
    days = work_days(
        MOSCOW,
        day_marks(holiday, MOSCOW, "10:00", "14:00"),
        day_marks(saturday, MOSCOW, "10:00", "11:30", first_id=10),
    )
    first, second = check(FIXED, MOSCOW, days, holiday, saturday)
    assert (first.kind, first.minutes, first.day_kind) == (K.OVERTIME, 240, "holiday")
    assert explain(first) == "работа в праздничный день: 4:00"
    assert explain(second, "en") == "worked on a weekend: 1:30"


@ZONES
def test_a_shortened_day_expects_an_hour_less(tz: ZoneInfo) -> None:
    march_7 = date(2025, 3, 7)
    fine = work_days(tz, day_marks(march_7, tz, "09:00", "17:00", breaks=LUNCH))
    assert check(FIXED, tz, fine, march_7) == []
    early = work_days(tz, day_marks(march_7, tz, "09:00", "16:49", breaks=LUNCH))
    assert kinds(check(FIXED, tz, early, march_7)) == [(K.EARLY_LEAVE, 11)]


@ZONES
def test_an_open_day_is_a_forgotten_checkout_an_hour_after_the_end(tz: ZoneInfo) -> None:
    days = work_days(tz, day_marks(TUESDAY, tz, "09:00", None))
    assert check(FIXED, tz, days, TUESDAY, now=at(TUESDAY, "18:59", tz)) == []
    (forgot,) = check(FIXED, tz, days, TUESDAY, now=at(TUESDAY, "19:00", tz))
    assert (forgot.kind, forgot.minutes) == (K.FORGOTTEN_CHECKOUT, 60)
    assert explain(forgot) == "не отметил уход, день открыт с 09:00"
    assert explain(forgot, "en") == "no check-out, day open since 09:00"


@ZONES
def test_an_automatic_close_is_reported_and_judges_nothing_else(tz: ZoneInfo) -> None:
    marks = day_marks(TUESDAY, tz, "09:00", "23:00", breaks=LUNCH, provisional_end=True)
    (closed,) = check(FIXED, tz, work_days(tz, marks), TUESDAY)
    # 14:00 was the last confirmed mark: nine hours counted without proof, no overtime claimed.
    assert (closed.kind, closed.minutes) == (K.PROVISIONAL_CLOSE, 540)
    assert explain(closed) == "день закрыт автоматически в 23:00"
    assert explain(closed, "en") == "day closed automatically at 23:00"


@ZONES
def test_location_findings_become_violations_of_the_day_of_their_mark(tz: ZoneInfo) -> None:
    marks = day_marks(TUESDAY, tz, "09:02", "18:00", breaks=LUNCH, first_id=100)
    findings = [
        LocationFinding(
            K.OUTSIDE_GEOFENCE, at(TUESDAY, "09:02", tz), mark_id=100, distance_m=1250.4
        ),
        LocationFinding(K.SUSPICIOUS_LOCATION, at(TUESDAY, "18:00", tz), detail="точность 3 км"),
    ]
    outside, suspicious = check(FIXED, tz, work_days(tz, marks), TUESDAY, locations=findings)
    assert (outside.kind, outside.minutes, outside.local_date) == (K.OUTSIDE_GEOFENCE, 0, TUESDAY)
    assert explain(outside) == "отметка в 09:02 вне зоны офиса (1250 м)"
    assert explain(outside, "en") == "mark at 09:02 outside the office zone (1250 m)"
    assert explain(suspicious) == "подозрительное местоположение в 18:00: точность 3 км"
    with pytest.raises(ValueError, match="location"):
        LocationFinding(K.LATE_START, at(TUESDAY, "09:00", tz))


# --- Excuses -----------------------------------------------------------------------------------


def test_an_absence_range_excuses_every_violation_in_it_and_keeps_them() -> None:
    week = [TUESDAY + timedelta(days=i) for i in range(3)]
    vacation = Excuse(week[0], week[1], "отпуск")
    found = check(FIXED, MOSCOW, [], *week, excuses=[vacation])
    assert [(v.local_date, v.kind, v.excused) for v in found] == [
        (week[0], K.ABSENT, True),
        (week[1], K.ABSENT, True),
        (week[2], K.ABSENT, False),
    ]
    assert found[0].excused_by == "отпуск"
    assert explain(found[0]) == "не отметился в рабочий день — уважительная причина: отпуск"
    assert explain(found[0], "en") == "no check-in on a working day — excused: отпуск"


def test_an_approved_explanation_excuses_only_its_kind() -> None:
    days = work_days(MOSCOW, day_marks(TUESDAY, MOSCOW, "09:30", "17:00", breaks=LUNCH))
    note = Excuse(TUESDAY, TUESDAY, "пробка", kinds=frozenset({K.LATE_START}))
    found = check(FIXED, MOSCOW, days, TUESDAY, excuses=[note])
    assert [(v.kind, v.excused) for v in found] == [
        (K.LATE_START, True),
        (K.EARLY_LEAVE, False),
        (K.SHORT_DAY, False),
    ]
    with pytest.raises(ValueError, match="end before"):
        Excuse(TUESDAY, TUESDAY - timedelta(days=1), "x")


# --- Flexible schedule -------------------------------------------------------------------------

CORE = FlexibleSchedule(
    8,
    time(10),
    time(16),
    tolerance=Tolerance(late_start_minutes=5, early_leave_minutes=5, overtime_minutes=60),
)


@ZONES
def test_flexible_lateness_is_measured_against_core_hours(tz: ZoneInfo) -> None:
    fine = work_days(tz, day_marks(TUESDAY, tz, "10:05", "19:05", breaks=LUNCH))
    assert check(CORE, tz, fine, TUESDAY) == []
    late = work_days(tz, day_marks(TUESDAY, tz, "10:06", "19:06", breaks=LUNCH))
    (found,) = check(CORE, tz, late, TUESDAY)
    assert (found.kind, found.minutes) == (K.LATE_START, 6)
    assert explain(found) == "пришёл в 10:06, допуск до 10:05"


@ZONES
def test_flexible_early_leave_is_measured_against_core_end(tz: ZoneInfo) -> None:
    fine = work_days(tz, day_marks(TUESDAY, tz, "07:00", "15:55"))
    assert check(CORE, tz, fine, TUESDAY) == []
    early = work_days(tz, day_marks(TUESDAY, tz, "07:00", "15:54"))
    assert kinds(check(CORE, tz, early, TUESDAY)) == [(K.EARLY_LEAVE, 6)]


@ZONES
def test_flexible_hours_without_core_only_count_time(tz: ZoneInfo) -> None:
    free = FlexibleSchedule(6)
    late_but_enough = work_days(tz, day_marks(TUESDAY, tz, "14:00", "20:00"))
    assert check(free, tz, late_but_enough, TUESDAY) == []
    short = work_days(tz, day_marks(TUESDAY, tz, "14:00", "19:59"))
    assert kinds(check(free, tz, short, TUESDAY)) == [(K.SHORT_DAY, 1)]
    # Absent only once the local day is over.
    assert check(free, tz, [], TUESDAY, now=at(TUESDAY, "23:59", tz)) == []
    assert kinds(check(free, tz, [], TUESDAY, now=at(TUESDAY + timedelta(1), "00:00", tz))) == [
        (K.ABSENT, 360)
    ]


# --- Shift schedule ----------------------------------------------------------------------------

NIGHT = date(2025, 1, 10)
ROSTER = ShiftSchedule(
    (
        Shift(NIGHT, time(22), time(6), 30),
        Shift(date(2025, 1, 12), time(0), time(8)),
    ),
    tolerance=Tolerance(late_start_minutes=10, overtime_minutes=15),
)
SHIFT_DATES = (NIGHT, date(2025, 1, 11), date(2025, 1, 12))


@ZONES
def test_a_night_shift_across_midnight_is_judged_on_its_start_date(tz: ZoneInfo) -> None:
    on_time = work_days(tz, day_marks(NIGHT, tz, "21:50", "06:00", breaks=(("02:00", "02:30"),)))
    assert check(ROSTER, tz, on_time, NIGHT) == []
    late = work_days(tz, day_marks(NIGHT, tz, "22:11", "06:11", breaks=(("02:00", "02:30"),)))
    (found,) = check(ROSTER, tz, late, NIGHT)
    assert (found.kind, found.minutes, found.local_date) == (K.LATE_START, 11, NIGHT)
    assert explain(found) == "пришёл в 22:11, допуск до 22:10"


@ZONES
def test_arriving_after_midnight_for_a_night_shift_is_late_not_absent(tz: ZoneInfo) -> None:
    after_midnight = day_marks(NIGHT + timedelta(days=1), tz, "00:05", "06:00")
    found = check(ROSTER, tz, work_days(tz, after_midnight), *SHIFT_DATES)
    assert [(v.kind, v.minutes, v.local_date) for v in found] == [
        (K.LATE_START, 125, NIGHT),
        (K.SHORT_DAY, 95, NIGHT),  # 5:55 worked of 7:30
        (K.ABSENT, 480, date(2025, 1, 12)),
    ]


@ZONES
def test_arriving_before_midnight_for_a_midnight_shift_counts_for_the_shift(tz: ZoneInfo) -> None:
    early = day_marks(date(2025, 1, 11), tz, "23:55", "08:00")
    found = check(ROSTER, tz, work_days(tz, early), *SHIFT_DATES, now=at(NIGHT, "12:00", tz))
    # Not overtime on the day off of 11 January, not absence on 12 January.
    assert found == []


@ZONES
def test_leaving_a_night_shift_a_minute_early_is_early_leave(tz: ZoneInfo) -> None:
    days = work_days(tz, day_marks(NIGHT, tz, "22:00", "05:59", breaks=(("02:00", "02:30"),)))
    assert kinds(check(ROSTER, tz, days, NIGHT)) == [(K.EARLY_LEAVE, 1), (K.SHORT_DAY, 1)]


@ZONES
def test_an_open_night_shift_is_forgotten_an_hour_after_its_morning_end(tz: ZoneInfo) -> None:
    days = work_days(tz, day_marks(NIGHT, tz, "22:00", None))
    morning = NIGHT + timedelta(days=1)
    assert check(ROSTER, tz, days, NIGHT, now=at(morning, "06:59", tz)) == []
    (forgot,) = check(ROSTER, tz, days, NIGHT, now=at(morning, "07:00", tz))
    assert (forgot.kind, forgot.local_date) == (K.FORGOTTEN_CHECKOUT, NIGHT)


def test_an_open_day_on_a_day_off_is_forgotten_an_hour_after_midnight() -> None:
    saturday = date(2025, 7, 5)
    days = work_days(MOSCOW, day_marks(saturday, MOSCOW, "10:00", None))
    sunday = saturday + timedelta(days=1)
    assert check(FIXED, MOSCOW, days, saturday, now=at(sunday, "00:59", MOSCOW)) == []
    (forgot,) = check(FIXED, MOSCOW, days, saturday, now=at(sunday, "01:00", MOSCOW))
    assert (forgot.kind, forgot.minutes) == (K.FORGOTTEN_CHECKOUT, 60)


def test_violations_come_sorted_by_date_then_kind() -> None:
    days = work_days(
        MOSCOW,
        day_marks(TUESDAY, MOSCOW, "09:40", "17:00", breaks=LUNCH),
        day_marks(TUESDAY + timedelta(days=1), MOSCOW, "09:20", "18:00", first_id=10),
    )
    found = check(FIXED, MOSCOW, days, TUESDAY, TUESDAY + timedelta(days=1))
    assert [(v.local_date.day, v.kind) for v in found] == [
        (8, K.LATE_START),
        (8, K.EARLY_LEAVE),
        (8, K.SHORT_DAY),
        (9, K.LATE_START),
        (9, K.OVERTIME),
    ]


def test_work_on_a_day_the_schedule_leaves_free_is_labelled_a_scheduled_day_off() -> None:
    four_days = FixedSchedule.weekdays(time(9), time(18), 60, days=range(4))
    friday = date(2025, 7, 11)
    days = work_days(MOSCOW, day_marks(friday, MOSCOW, "10:00", "12:00"))
    (found,) = check(four_days, MOSCOW, days, friday)
    assert (found.kind, found.day_kind) == (K.OVERTIME, "day_off")
    assert explain(found) == "работа в выходной по графику: 2:00"
