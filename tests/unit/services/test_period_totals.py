"""A person's period and the sums over a group (`services.api_reports`): what counts as a day
worked, an absence, an unexcused violation, and which people a department's totals take."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from timebot.domain.violations import Violation, ViolationKind
from timebot.services.api_reports import (
    PeopleTotals,
    PersonPeriod,
    department_totals,
    is_day_worked,
)
from timebot.services.tracking import DaySummary

FIRST, LAST = date(2026, 11, 9), date(2026, 11, 13)
HOUR = timedelta(hours=1)


def day(
    n: int, worked: timedelta | None, *, norm: timedelta | None = 8 * HOUR, open_: bool = False
) -> DaySummary:
    """The 9 + n-th of November; `worked` None: no check-in that day."""
    at = datetime(2026, 11, 9 + n, 6, tzinfo=UTC)
    return DaySummary(
        local_date=FIRST + timedelta(days=n),
        worked=worked or timedelta(),
        on_break=timedelta(),
        norm=norm,
        first_in=None if worked is None else at,
        last_out=None if worked is None or open_ else at + worked,
        late_by=None,
        is_open=open_,
        provisional=False,
    )


def person(
    employee_id: int,
    days: tuple[DaySummary, ...],
    *,
    departments: tuple[int, ...] = (2,),
    violations: tuple[Violation, ...] = (),
) -> PersonPeriod:
    return PersonPeriod(
        employee_id=employee_id,
        user_id=employee_id,
        name=f"User {employee_id}",
        department_ids=departments,
        tz=ZoneInfo("Europe/Moscow"),
        today=date(2026, 11, 12),
        days=days,
        violations=violations,
    )


def test_a_day_worked_has_at_least_one_whole_minute_of_work() -> None:
    assert not is_day_worked(day(0, timedelta()))  # in and out at the same instant
    assert not is_day_worked(day(0, timedelta(seconds=40)))  # a check-in cancelled at once
    assert not is_day_worked(day(0, timedelta(seconds=59, microseconds=999_999)))
    assert is_day_worked(day(0, timedelta(minutes=1)))
    assert not is_day_worked(day(0, None))


def test_a_check_in_without_work_is_neither_a_day_worked_nor_an_absence() -> None:
    p = person(
        1,
        (
            day(0, 8 * HOUR),
            day(1, timedelta(seconds=40)),  # checked in, no work
            day(2, None),  # no check-in: absent
            day(3, 3 * HOUR, open_=True),  # today, at work
            day(4, None),  # tomorrow: not absent yet
        ),
    )
    assert (p.days_worked, p.absent_days, p.open_days, p.planned_days) == (2, 1, 1, 5)
    assert p.worked == 11 * HOUR + timedelta(seconds=40)
    assert (p.norm, p.norm_to_date) == (40 * HOUR, 32 * HOUR)
    assert p.difference == p.worked - 40 * HOUR


def test_unexcused_violations_are_counted_by_kind_in_order() -> None:
    late = Violation(ViolationKind.LATE_START, FIRST, 10)
    absent = Violation(ViolationKind.ABSENT, FIRST + timedelta(days=2), 480)
    excused = Violation(ViolationKind.LATE_START, FIRST + timedelta(days=1), 5, excused_by="врач")
    p = person(1, (day(0, 8 * HOUR),), violations=(late, excused, absent, late))
    assert p.unexcused == (late, absent, late)
    assert list(p.by_kind.items()) == [(ViolationKind.LATE_START, 2), (ViolationKind.ABSENT, 1)]


def test_totals_sum_over_the_group_and_departments_take_direct_members() -> None:
    late = Violation(ViolationKind.LATE_START, FIRST, 10)
    excused = Violation(ViolationKind.ABSENT, FIRST, 480, excused_by="отпуск")
    sales = person(1, (day(0, 8 * HOUR), day(1, timedelta())), violations=(late, excused))
    both = person(2, (day(0, 4 * HOUR), day(2, None)), departments=(2, 3))
    backend = person(3, (day(0, None),), departments=(4,))
    group = PeopleTotals(FIRST, LAST, (sales, both, backend))
    assert (group.worked, group.norm, group.days_worked, group.absent_days) == (
        12 * HOUR,
        40 * HOUR,
        2,
        2,
    )
    assert (group.violations, group.late_days, group.norm_to_date) == (1, 0, 40 * HOUR)
    totals = department_totals([sales, both, backend], [3, 2, 9], first=FIRST, last=LAST)
    assert list(totals) == [3, 2, 9]
    assert [p.employee_id for p in totals[2].people] == [1, 2]
    assert [p.employee_id for p in totals[3].people] == [2]
    assert totals[9].people == ()
    assert (totals[2].first, totals[2].last, totals[2].days_worked) == (FIRST, LAST, 2)
