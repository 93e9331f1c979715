"""The timesheet grid against the rules written out day by day: for random work, absences,
schedule plans and "today", every cell, total, code count and norm is what the plain reading
of the rules gives (the builder shares plans and cells across lines to be fast)."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from timebot.domain.schedules import Expectation
from timebot.domain.timesheet import TimesheetBuilder, TimesheetCell, TimesheetCode
from timebot.reports.production_calendar import calendar_for

RU = calendar_for("RU", 2025)
YEAR, MONTH = 2025, 3  # a pre-holiday shortened day (7 March) and a holiday (8 March)
DAYS = RU.month_days(YEAR, MONTH)
MSK = ZoneInfo("Europe/Moscow")
ABSENCES = [TimesheetCode.VACATION, TimesheetCode.SICK, TimesheetCode.BUSINESS_TRIP]


@dataclass
class Person:
    work: list[tuple[int, int, int]]  # (day index, minutes, night minutes)
    absences: list[tuple[int, int, TimesheetCode]]
    plan: dict[int, float | None]  # day index -> norm hours, None for a day off by schedule
    week_hours: float | None


people = st.builds(
    Person,
    work=st.lists(
        st.tuples(st.integers(0, len(DAYS) - 1), st.integers(-5, 900), st.integers(0, 60)),
        max_size=40,
    ),
    absences=st.lists(
        st.tuples(st.integers(0, len(DAYS) - 1), st.integers(0, 6), st.sampled_from(ABSENCES)),
        max_size=2,
    ),
    plan=st.dictionaries(
        st.integers(0, len(DAYS) - 1),
        st.none() | st.sampled_from([8.0, 7.0, 7.5, 12.0]),
        max_size=6,
    )
    | st.just({}),
    week_hours=st.none() | st.sampled_from([40.0, 36.0, 24.0]),
)


def expectation(i: int, norm: float) -> Expectation:
    return Expectation(DAYS[i], MSK, timedelta(hours=norm), norm)


def reference_cells(
    person: Person, week_hours: float, today: date | None
) -> tuple[list[TimesheetCell], float, int, int, int, int]:
    """Day by day: worked time (Я on planned days, РВ on days off), an absence, НН for a
    planned day gone by, В for a day off, nothing for a planned day ahead."""
    worked = [0] * len(DAYS)
    night = [0] * len(DAYS)
    for i, minutes, night_minutes in person.work:
        worked[i] += minutes
        night[i] += night_minutes
    absence: list[TimesheetCode | None] = [None] * len(DAYS)
    for i, length, code in person.absences:
        for j in range(i, min(i + length, len(DAYS) - 1) + 1):
            absence[j] = code
    cells, norm, days_worked, total, total_night, off_work = [], 0.0, 0, 0, 0, 0
    for i, d in enumerate(DAYS):
        if i in person.plan:
            day_plan = person.plan[i]
            planned, day_norm = day_plan is not None, day_plan or 0.0
        else:
            planned, day_norm = RU.is_working(d), RU.norm_hours(d, week_hours)
        if planned:
            norm += day_norm
        code: TimesheetCode | None
        if worked[i] > 0:
            code = TimesheetCode.PRESENT if planned else TimesheetCode.DAY_OFF_WORK
            days_worked, total, total_night = (
                days_worked + 1,
                total + worked[i],
                total_night + night[i],
            )
            off_work += 0 if planned else worked[i]
            cells.append(TimesheetCell(code, worked[i], night[i]))
            continue
        if absence[i] is not None:
            code = absence[i]
        elif planned:
            code = TimesheetCode.UNEXPLAINED if today is None or d < today else None
        else:
            code = TimesheetCode.DAY_OFF
        cells.append(TimesheetCell(code, worked[i], 0))
    return cells, round(norm, 2), days_worked, total, total_night, off_work


@settings(max_examples=150)
@given(
    crowd=st.lists(people, min_size=1, max_size=6),
    today=st.none() | st.sampled_from(DAYS),
    copies=st.integers(1, 3),
)
def test_every_line_reads_as_the_rules_say(
    crowd: list[Person], today: date | None, copies: int
) -> None:
    builder = TimesheetBuilder(YEAR, MONTH, RU, today=today)
    keys: list[Hashable] = []
    for n, person in enumerate(crowd * copies):  # copies share plans and cells
        key = (n, "person")
        keys.append(key)
        builder.add_employee(key, week_hours=person.week_hours)
        for i, minutes, night_minutes in person.work:
            builder.add_work(key, DAYS[i], minutes, night_minutes)
        for i, length, code in person.absences:
            builder.add_absence(key, DAYS[i], DAYS[i] + timedelta(days=length), code)
        builder.add_expectations(
            key,
            {
                DAYS[i]: None if norm is None else expectation(i, norm)
                for i, norm in person.plan.items()
            },
        )
    sheet = builder.build()
    assert [line.employee_id for line in sheet.lines] == keys
    for line, person in zip(sheet.lines, crowd * copies, strict=True):
        cells, norm, days_worked, minutes, night, off_work = reference_cells(
            person, person.week_hours or 40, today
        )
        assert list(line.cells) == cells
        assert (line.norm_hours, line.days_worked, line.minutes_worked) == (
            norm,
            days_worked,
            minutes,
        )
        assert (line.night_minutes, line.day_off_work_minutes) == (night, off_work)
        counted: dict[TimesheetCode, int] = {}
        for cell in cells:
            if cell.code is not None:
                counted[cell.code] = counted.get(cell.code, 0) + 1
        assert line.codes == counted
        assert list(line.codes) == list(counted)  # in order of first appearance
