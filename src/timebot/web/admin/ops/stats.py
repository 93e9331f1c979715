"""Statistics of a period for the reports page: per person worked time against the norm, late
days and violations (excused ones left out), read in a fixed number of queries.

The pieces are the timesheet's and the digest's own: `services.timesheet` loads people, plans
and standing marks in bulk, `services.weekly.summaries_from` turns work days into day summaries
(worked, norm, lateness), `domain.violations.find_violations` with the digest's location
findings and accepted explanations finds the violations.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select

from timebot.domain.calendar import ProductionCalendar
from timebot.domain.violations import ViolationKind, find_violations
from timebot.domain.workday import assemble
from timebot.services.digest import excuses_from, location_findings
from timebot.services.timesheet import (
    department_ids_of,
    group_marks,
    load_people,
    load_plans,
    marks_window,
)
from timebot.services.weekly import summaries_from
from timebot.storage import UnitOfWork
from timebot.storage.repositories.explanations import ExplanationRepository
from timebot.storage.repositories.reporting import ReportingRepository
from timebot.storage.tables import Employee, Mark, Portal

__all__ = ["MAX_PERIOD_DAYS", "PeriodStats", "PersonStats", "period_stats"]

# A longer period is refused by the page (a year of a big portal is a timesheet job).
MAX_PERIOD_DAYS = 93


@dataclass(frozen=True, slots=True)
class PersonStats:
    employee_id: int
    user_id: int
    name: str
    departments: tuple[str, ...]
    worked: timedelta
    norm: timedelta
    days_worked: int
    late_days: int
    violations: int  # not excused
    by_kind: Mapping[ViolationKind, int] = field(default_factory=dict)

    @property
    def difference(self) -> timedelta:
        return self.worked - self.norm


@dataclass(frozen=True, slots=True)
class PeriodStats:
    first: date
    last: date
    people: tuple[PersonStats, ...]

    @property
    def worked(self) -> timedelta:
        return sum((p.worked for p in self.people), timedelta())

    @property
    def norm(self) -> timedelta:
        return sum((p.norm for p in self.people), timedelta())

    @property
    def late_days(self) -> int:
        return sum(p.late_days for p in self.people)

    @property
    def violations(self) -> int:
        return sum(p.violations for p in self.people)


@dataclass(frozen=True, slots=True)
class _LocatedMark:
    """What `services.digest.location_findings` reads of a mark."""

    id: int
    at: datetime
    location_verdict: str | None
    distance_m: float | None
    flags: list[object]


async def _located_marks(
    uow: UnitOfWork, portal_id: int, employee_ids: Sequence[int], since: datetime, until: datetime
) -> dict[int, list[_LocatedMark]]:
    """Standing marks with a presence verdict in [since, until), by employee."""
    newer = select(Mark.supersedes_mark_id).where(Mark.supersedes_mark_id.is_not(None))
    query = select(
        Mark.id, Mark.employee_id, Mark.at, Mark.location_verdict, Mark.distance_m, Mark.flags
    ).where(
        Mark.portal_id == portal_id,
        Mark.at >= since,
        Mark.at < until,
        Mark.location_verdict.is_not(None),
        Mark.id.not_in(newer),
    )
    wanted = set(employee_ids)
    found: dict[int, list[_LocatedMark]] = {}
    for mid, eid, at, verdict, distance, flags in (await uow.session.execute(query)).all():
        if eid in wanted:
            found.setdefault(eid, []).append(
                _LocatedMark(mid, at, verdict, distance, list(flags or []))
            )
    return found


async def period_stats(
    uow: UnitOfWork,
    portal: Portal,
    *,
    first: date,
    last: date,
    departments: frozenset[int] | None,
    department_names: Mapping[int, str],
    calendar: ProductionCalendar | None,
    now: datetime,
) -> PeriodStats:
    """Statistics of local dates [first, last] for the people in `departments` (Bitrix ids;
    None: everyone). Active people are listed, and people who left but have marks then."""
    employees: list[Employee] = await uow.employees.all(portal.id)
    if departments is not None:
        employees = [e for e in employees if set(department_ids_of(e)) & departments]
    people = await load_people(uow, portal, employees)
    # The neighbouring dates too: a night shift or an early arrival belongs to the right date.
    start, end = first - timedelta(days=1), last + timedelta(days=1)
    since, until = marks_window({p.tz for p in people.values()}, start, end, now)
    ids = [e.id for e in employees]
    marks = group_marks(
        await ReportingRepository(uow.session).standing_marks(
            portal.id, since=since, until=until, employee_ids=ids
        )
    )
    located = await _located_marks(uow, portal.id, ids, since, until)
    accepted = await ExplanationRepository(uow.session).by_employee(
        portal.id, first=first, last=last, status="accepted"
    )
    listed = [e for e in employees if e.active or e.id in marks]
    book = await load_plans(
        uow, portal.id, [people[e.id] for e in listed], start=start, end=end, calendar=calendar
    )
    dates = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    out: list[PersonStats] = []
    for e in listed:
        person = people[e.id]
        days = assemble(marks.get(e.id, []), person.tz, now=now).days
        summary = summaries_from(days, e.id, person.tz, book, first=first, last=last)
        found = find_violations(
            days,
            {d: book.expected(e.id, d, person.tz) for d in dates},
            tz=person.tz,
            now=now,
            calendar=calendar,
            locations=location_findings(located.get(e.id, [])),
            excuses=excuses_from(accepted.get(e.id, [])),
        )
        counted = [v for v in found if first <= v.local_date <= last and not v.excused]
        out.append(
            PersonStats(
                employee_id=e.id,
                user_id=e.bitrix_user_id,
                name=e.name or f"#{e.bitrix_user_id}",
                departments=tuple(department_names.get(d, str(d)) for d in department_ids_of(e)),
                worked=sum((d.worked for d in summary), timedelta()),
                norm=sum((d.norm for d in summary if d.norm is not None), timedelta()),
                days_worked=sum(1 for d in summary if d.worked > timedelta()),
                late_days=sum(1 for d in summary if d.late_by is not None),
                violations=len(counted),
                by_kind=dict(Counter(v.kind for v in counted)),
            )
        )
    out.sort(key=lambda p: (p.name.casefold(), p.user_id))
    return PeriodStats(first, last, tuple(out))
