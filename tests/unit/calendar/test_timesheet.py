"""The monthly timesheet grid: T-13 codes per day, totals and norms, built from rows in one pass."""

from __future__ import annotations

from datetime import date, time, timedelta

from timebot.domain.schedules import Shift, ShiftSchedule
from timebot.domain.timesheet import (
    NUMERIC_CODES,
    TimesheetBuilder,
    TimesheetCode,
    build_timesheet,
    night_minutes,
)
from timebot.reports.production_calendar import calendar_for

from .helpers import MOSCOW, NEW_YORK, day_marks, work_days

C = TimesheetCode
RU = calendar_for("RU", 2025)
MAY = RU.month_days(2025, 5)  # 18 working days, 144 hours for 40 h, 129.6 for 36 h


def working_days_of_may() -> list[date]:
    return [d for d in MAY if RU.is_working(d)]


def test_a_full_month_of_work_is_all_presence_and_days_off() -> None:
    sheet = build_timesheet(2025, 5, RU, [("anna", d, 8 * 60) for d in working_days_of_may()])
    (line,) = sheet.lines
    assert sheet.days == tuple(MAY)
    assert [c.code for c in line.cells[:12]] == [
        C.DAY_OFF,  # 1 May, holiday
        C.DAY_OFF,  # 2 May, transferred day off
        C.DAY_OFF,
        C.DAY_OFF,
        C.PRESENT,
        C.PRESENT,
        C.PRESENT,
        C.DAY_OFF,  # 8 May, transferred day off
        C.DAY_OFF,
        C.DAY_OFF,
        C.DAY_OFF,
        C.PRESENT,
    ]
    assert (line.days_worked, line.hours_worked, line.norm_hours) == (18, 144, 144)
    assert line.codes == {C.PRESENT: 18, C.DAY_OFF: 13}
    assert sheet.calendar_norm_hours == 144
    assert line.cells[4].hours == 8


def test_vacation_unexplained_absence_and_weekend_work_get_their_codes() -> None:
    builder = TimesheetBuilder(2025, 5, RU, today=date(2025, 5, 29))
    for d in working_days_of_may():
        if d >= date(2025, 5, 29):
            break
        if not date(2025, 5, 12) <= d <= date(2025, 5, 16) and d != date(2025, 5, 6):
            builder.add_work("boris", d, timedelta(hours=8))
    builder.add_absence("boris", date(2025, 5, 10), date(2025, 5, 18), C.VACATION)
    builder.add_work("boris", date(2025, 5, 24), 5 * 60 + 30)  # a Saturday
    sheet = builder.build()
    (line,) = sheet.lines
    cell = {d.day: c for d, c in zip(sheet.days, line.cells, strict=True)}
    assert cell[6].code is C.UNEXPLAINED  # a working day without work or reason
    assert cell[10].code is C.VACATION  # vacation days count calendar days, weekends too
    assert cell[16].code is C.VACATION
    assert cell[24].code is C.DAY_OFF_WORK
    assert cell[24].minutes == 330
    assert cell[28].code is C.PRESENT
    assert cell[29].code is None
    assert cell[30].code is None
    assert cell[31].code is C.DAY_OFF
    assert line.codes[C.VACATION] == 9
    assert line.codes[C.UNEXPLAINED] == 1
    assert line.day_off_work_minutes == 330
    # 18 working days minus 5 vacation, 1 unexplained and 2 not yet worked, plus a Saturday.
    assert line.days_worked == 11
    assert line.minutes_worked == 10 * 8 * 60 + 330
    assert NUMERIC_CODES[C.VACATION] == "09"
    assert NUMERIC_CODES[C.UNEXPLAINED] == "30"


def test_each_person_gets_the_norm_of_their_week() -> None:
    builder = TimesheetBuilder(2025, 3, RU)
    builder.add_employee("full")
    builder.add_employee("short", week_hours=36)
    builder.add_employee("half", week_hours=24)
    sheet = builder.build()
    assert [line.norm_hours for line in sheet.lines] == [167, 150.2, 99.8]
    assert all(line.codes[C.UNEXPLAINED] == 21 for line in sheet.lines)


def test_a_shift_roster_replaces_the_calendar_plan() -> None:
    roster = ShiftSchedule(
        (
            Shift(date(2025, 5, 1), time(8), time(20), 60),  # a holiday shift by the roster
            Shift(date(2025, 5, 3), time(20), time(8), 60),
        )
    )
    builder = TimesheetBuilder(2025, 5, RU)
    for d in MAY:
        builder.add_expectation("guard", d, roster.expected_for(d, MOSCOW, RU))
    builder.add_work("guard", date(2025, 5, 1), 11 * 60)
    (line,) = builder.build().lines
    assert line.cells[0].code is C.PRESENT  # planned, so not "work on a day off"
    assert line.cells[2].code is C.UNEXPLAINED
    assert line.cells[4].code is C.DAY_OFF  # a working Monday the roster leaves free
    assert line.norm_hours == 22
    assert line.codes == {C.PRESENT: 1, C.UNEXPLAINED: 1, C.DAY_OFF: 29}


def test_rows_outside_the_month_are_ignored_but_the_person_is_listed() -> None:
    builder = TimesheetBuilder(2025, 5, RU)
    builder.add_work("vera", date(2025, 6, 2), 480)
    builder.add_expectation("vera", date(2025, 4, 30), None)
    builder.add_absence("vera", date(2025, 4, 20), date(2025, 5, 2), C.SICK)
    (line,) = builder.build().lines
    assert line.minutes_worked == 0
    assert [c.code for c in line.cells[:3]] == [C.SICK, C.SICK, C.DAY_OFF]


def test_several_rows_of_one_day_add_up() -> None:
    day = date(2025, 5, 5)
    sheet = build_timesheet(2025, 5, RU, [("gleb", day, 200), ("gleb", day, 280)])
    assert sheet.lines[0].cells[4].minutes == 480


def test_night_minutes_count_work_between_22_and_6_local_without_breaks() -> None:
    for tz in (MOSCOW, NEW_YORK):
        (night,) = work_days(
            tz, day_marks(date(2025, 1, 10), tz, "20:00", "07:00", breaks=(("02:00", "03:00"),))
        )
        assert night_minutes(night, tz) == 7 * 60
    (day,) = work_days(MOSCOW, day_marks(date(2025, 1, 10), MOSCOW, "09:00", "18:00"))
    assert night_minutes(day, MOSCOW) == 0


def test_work_days_feed_hours_and_night_time_into_the_grid() -> None:
    builder = TimesheetBuilder(2025, 5, RU)
    (night,) = work_days(MOSCOW, day_marks(date(2025, 5, 5), MOSCOW, "21:00", "06:00"))
    builder.add_work_day("dina", night, MOSCOW)
    cell = builder.build().lines[0].cells[4]
    assert (cell.code, cell.minutes, cell.night_minutes) == (C.PRESENT, 540, 480)


def test_ten_thousand_people_are_built_from_rows_in_one_pass() -> None:
    days = working_days_of_may()
    rows = [(n, d, 480) for n in range(10_000) for d in days]
    sheet = build_timesheet(2025, 5, RU, rows)
    assert len(sheet.lines) == 10_000
    assert sum(line.minutes_worked for line in sheet.lines) == len(rows) * 480
    assert {line.norm_hours for line in sheet.lines} == {144}
