"""Statistics and violations over a period, for the REST API (and any report that wants them).

One pass per portal whatever the head count: the employees, their zones, the plans (shared
where equal), ONE query for the marks of the period and, for violations, the explanations.
Days are each person's local dates; the same rules as the weekly statistics (work, norm,
lateness) and the daily digest (violations, excused by accepted explanations).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from timebot.domain.calendar import ProductionCalendar
from timebot.domain.violations import Violation, find_violations
from timebot.domain.workday import assemble
from timebot.services.digest import excuses_from, location_findings
from timebot.services.timesheet import department_ids_of, load_people, load_plans, marks_window
from timebot.services.tracking import OPEN_DAY_LOOKBACK, DaySummary, to_domain
from timebot.services.weekly import summaries_from
from timebot.storage import UnitOfWork
from timebot.storage.repositories.api import ApiRepository
from timebot.storage.tables import Employee, Portal

__all__ = [
    "DepartmentTotals",
    "PersonPeriod",
    "department_totals",
    "gather_period",
]

_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class PersonPeriod:
    """One person's days over the period, with their violations when asked for."""

    employee_id: int
    user_id: int
    name: str
    department_ids: tuple[int, ...]  # Bitrix department ids
    tz: ZoneInfo
    today: date  # the person's local date at the time of the report
    days: tuple[DaySummary, ...]
    violations: tuple[Violation, ...] = ()

    @property
    def worked(self) -> timedelta:
        return sum((d.worked for d in self.days), timedelta())

    @property
    def on_break(self) -> timedelta:
        return sum((d.on_break for d in self.days), timedelta())

    @property
    def norm(self) -> timedelta:
        """The planned time of every day of the period (future days too)."""
        return sum((d.norm for d in self.days if d.norm is not None), timedelta())

    @property
    def norm_to_date(self) -> timedelta:
        """The planned time of the period's days up to and including today."""
        return sum(
            (d.norm for d in self.days if d.norm is not None and d.local_date <= self.today),
            timedelta(),
        )

    @property
    def days_worked(self) -> int:
        return sum(1 for d in self.days if d.first_in is not None)

    @property
    def planned_days(self) -> int:
        return sum(1 for d in self.days if d.norm is not None)

    @property
    def late_days(self) -> int:
        return sum(1 for d in self.days if d.late_by is not None)

    @property
    def late(self) -> timedelta:
        return sum((d.late_by for d in self.days if d.late_by is not None), timedelta())

    @property
    def absent_days(self) -> int:
        """Planned days already past without any work."""
        return sum(
            1
            for d in self.days
            if d.norm is not None and d.first_in is None and d.local_date < self.today
        )

    @property
    def open_days(self) -> int:
        return sum(1 for d in self.days if d.is_open)


@dataclass(frozen=True, slots=True)
class DepartmentTotals:
    """The sums over the people of one department (direct members)."""

    department_id: int  # Bitrix department id
    people: tuple[PersonPeriod, ...]

    @property
    def worked(self) -> timedelta:
        return sum((p.worked for p in self.people), timedelta())

    @property
    def norm(self) -> timedelta:
        return sum((p.norm for p in self.people), timedelta())

    @property
    def norm_to_date(self) -> timedelta:
        return sum((p.norm_to_date for p in self.people), timedelta())

    @property
    def late_days(self) -> int:
        return sum(p.late_days for p in self.people)

    @property
    def absent_days(self) -> int:
        return sum(p.absent_days for p in self.people)

    @property
    def days_worked(self) -> int:
        return sum(p.days_worked for p in self.people)

    @property
    def violations(self) -> int:
        """Violations no accepted explanation excuses."""
        return sum(1 for p in self.people for v in p.violations if not v.excused)


def _dates(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


async def gather_period(
    uow: UnitOfWork,
    portal: Portal,
    employees: Sequence[Employee],
    *,
    first: date,
    last: date,
    now: datetime,
    calendar: ProductionCalendar | None,
    with_violations: bool = False,
) -> list[PersonPeriod]:
    """Each employee's local dates [first, last] as day summaries (and violations), in the
    order given. `calendar` is the portal's production calendar (None: plain weekdays)."""
    if not employees:
        return []
    if last < first:
        raise ValueError("the period ends before it starts")
    people = await load_people(uow, portal, employees)
    around_first, around_last = first - _DAY, last + _DAY
    book = await load_plans(
        uow,
        portal.id,
        list(people.values()),
        start=around_first,
        end=around_last,
        calendar=calendar,
    )
    since, until = marks_window({p.tz for p in people.values()}, around_first, last, now)
    rows = await ApiRepository(uow.session).standing_mark_rows(
        portal.id, [e.id for e in employees], since=since - OPEN_DAY_LOOKBACK, until=until
    )
    explanations = (
        await ApiRepository(uow.session).explanations(portal.id, first=first, last=last)
        if with_violations
        else {}
    )
    dates = _dates(around_first, around_last)
    found: list[PersonPeriod] = []
    for e in employees:
        person = people[e.id]
        marks = rows.get(e.id, [])
        work_days = assemble([to_domain(r) for r in marks], person.tz, now=now).days
        days = summaries_from(work_days, e.id, person.tz, book, first=first, last=last)
        violations: tuple[Violation, ...] = ()
        if with_violations:
            expectations = {d: book.expected(e.id, d, person.tz) for d in dates}
            violations = tuple(
                v
                for v in find_violations(
                    work_days,
                    expectations,
                    tz=person.tz,
                    now=now,
                    calendar=calendar,
                    locations=location_findings(marks),
                    excuses=excuses_from(explanations.get(e.id, [])),
                )
                if first <= v.local_date <= last
            )
        found.append(
            PersonPeriod(
                employee_id=e.id,
                user_id=e.bitrix_user_id,
                name=e.name or f"#{e.bitrix_user_id}",
                department_ids=department_ids_of(e),
                tz=person.tz,
                today=now.astimezone(person.tz).date(),
                days=tuple(days),
                violations=violations,
            )
        )
    return found


def department_totals(
    people: Iterable[PersonPeriod], department_ids: Iterable[int]
) -> list[DepartmentTotals]:
    """Totals per department (Bitrix ids, in the order given) over their direct members."""
    everyone = list(people)
    return [
        DepartmentTotals(d, tuple(p for p in everyone if d in p.department_ids))
        for d in department_ids
    ]
