"""Statistics and violations over a period: the one path behind the REST API's statistics and
violations and the admin reports page.

One pass per portal whatever the head count: the employees' zones, the plans (shared where
equal), ONE query for the standing marks around the period and, for violations, one for the
marks with a presence verdict and one for the accepted explanations. Days are each person's
local dates; the same rules as the weekly statistics (work, norm, lateness) and the daily
digest (violations, excused by accepted explanations).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from timebot.domain.calendar import ProductionCalendar
from timebot.domain.violations import Violation, ViolationKind, find_violations
from timebot.domain.workday import assemble
from timebot.services.digest import ACCEPTED, excuses_from, location_findings
from timebot.services.timesheet import department_ids_of, load_people, load_plans, marks_window
from timebot.services.tracking import DaySummary
from timebot.services.weekly import summaries_from
from timebot.storage import UnitOfWork
from timebot.storage.repositories.explanations import ExplanationRepository
from timebot.storage.repositories.reporting import ReportingRepository
from timebot.storage.tables import Employee, Portal

__all__ = [
    "PeopleTotals",
    "PersonPeriod",
    "department_totals",
    "gather_period",
    "is_day_worked",
]

_DAY = timedelta(days=1)
_MINUTE = timedelta(minutes=1)


def is_day_worked(day: DaySummary) -> bool:
    """Whether a date counts as a day worked: some work on it, in the whole minutes that every
    report shows (`worked_minutes > 0`, the timesheet's rule too). A check-in without work
    (a check-in cancelled within a minute, or checked out at the same instant) is not a day
    worked; it is not an absence either (see `PersonPeriod.absent_days`)."""
    return day.worked >= _MINUTE


@dataclass(frozen=True, slots=True)
class PersonPeriod:
    """One person's days over the period, with their violations when asked for (excused ones
    included, marked)."""

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
    def difference(self) -> timedelta:
        """Worked against the norm of the whole period (the API's balance is to date)."""
        return self.worked - self.norm

    @property
    def days_worked(self) -> int:
        """Dates with some work on them (`is_day_worked`)."""
        return sum(1 for d in self.days if is_day_worked(d))

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
        """Planned days already past without a check-in (the `absent` violation's rule)."""
        return sum(
            1
            for d in self.days
            if d.norm is not None and d.first_in is None and d.local_date < self.today
        )

    @property
    def open_days(self) -> int:
        return sum(1 for d in self.days if d.is_open)

    @property
    def unexcused(self) -> tuple[Violation, ...]:
        """The violations no accepted explanation excuses."""
        return tuple(v for v in self.violations if not v.excused)

    @property
    def by_kind(self) -> dict[ViolationKind, int]:
        """How many unexcused violations of each kind, in the order they first occur."""
        return dict(Counter(v.kind for v in self.unexcused))


@dataclass(frozen=True, slots=True)
class PeopleTotals:
    """Sums over a group of people for local dates [first, last]: a department's direct
    members (the API), or the people a reports page lists."""

    first: date
    last: date
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
    def days_worked(self) -> int:
        return sum(p.days_worked for p in self.people)

    @property
    def late_days(self) -> int:
        return sum(p.late_days for p in self.people)

    @property
    def absent_days(self) -> int:
        return sum(p.absent_days for p in self.people)

    @property
    def violations(self) -> int:
        """Violations no accepted explanation excuses."""
        return sum(len(p.unexcused) for p in self.people)


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
    departed_if_marked: bool = False,
) -> list[PersonPeriod]:
    """Each employee's local dates [first, last] as day summaries (and violations, with their
    presence findings and accepted explanations), in the order given. `calendar` is the
    portal's production calendar (None: plain weekdays). `departed_if_marked`: people who
    have left (not `active`) are left out unless they have marks around the period.

    The marks read reach from the start of the day before `first` to the end of the day after
    `last` and 12 hours more, in every zone of the people: a night shift, or a day closed the
    next afternoon, ends where it really ended rather than counting on to `now`."""
    if not employees:
        return []
    if last < first:
        raise ValueError("the period ends before it starts")
    people = await load_people(uow, portal, employees)
    around_first, around_last = first - _DAY, last + _DAY
    since, until = marks_window({p.tz for p in people.values()}, around_first, around_last, now)
    reports = ReportingRepository(uow.session)
    marks = await reports.standing_marks_by_employee(
        portal.id, since=since, until=until, employee_ids=[e.id for e in employees]
    )
    if departed_if_marked:
        employees = [e for e in employees if e.active or e.id in marks]
    ids = [e.id for e in employees]
    book = await load_plans(
        uow,
        portal.id,
        [people[i] for i in ids],
        start=around_first,
        end=around_last,
        calendar=calendar,
    )
    located = (
        await reports.located_marks(portal.id, since=since, until=until, employee_ids=ids)
        if with_violations and ids
        else {}
    )
    accepted = (
        await ExplanationRepository(uow.session).by_employee(
            portal.id, first=first, last=last, status=ACCEPTED
        )
        if with_violations and ids
        else {}
    )
    dates = _dates(around_first, around_last)
    found: list[PersonPeriod] = []
    for e in employees:
        person = people[e.id]
        work_days = assemble(marks.get(e.id, []), person.tz, now=now).days
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
                    locations=location_findings(located.get(e.id, [])),
                    excuses=excuses_from(accepted.get(e.id, [])),
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
    people: Iterable[PersonPeriod], department_ids: Iterable[int], *, first: date, last: date
) -> dict[int, PeopleTotals]:
    """Totals per department (Bitrix ids, in the order given) over their direct members."""
    everyone = list(people)
    return {
        d: PeopleTotals(first, last, tuple(p for p in everyone if d in p.department_ids))
        for d in department_ids
    }
