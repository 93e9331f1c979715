"""The monthly timesheet of a portal or one department, gathered in a fixed number of queries.

Whatever the head count, the reads are: the employees, the departments, the schedule
assignments, the planned shifts, the office zones (two queries) and ONE query for every
standing mark of the month, read as one compact track per person and reduced to per-day
totals by `domain.tally` (no `Mark` or `WorkDay` object for an ordinary day). Plans are shared:
a person's expectation for a date is computed once per (zone, departments) group unless an
assignment or a shift roster is their own. The grid itself is
`domain.timesheet.TimesheetBuilder`; rendering is `reports.timesheet`.

The helpers `load_people`, `load_plans`, `PlanBook` and `group_marks` serve the weekly
statistics (`services.weekly`) too.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol, cast
from zoneinfo import ZoneInfo

from timebot.domain.calendar import ProductionCalendar
from timebot.domain.marks import Mark, MarkKind
from timebot.domain.schedules import Assignment, Expectation, Scope
from timebot.domain.tally import DayTotal, LocalDays, tally, to_micros
from timebot.domain.timesheet import (
    Timesheet,
    TimesheetBuilder,
    TimesheetLine,
)
from timebot.domain.timezones import local_day_bounds, resolve_zone
from timebot.domain.workday import WorkDay
from timebot.services.plans import WorkPlan, roster_of, shift_breaks
from timebot.services.tracking import Person
from timebot.storage import UnitOfWork
from timebot.storage.repositories.reporting import MarkFact, ReportingRepository
from timebot.storage.tables import Department, Portal, Schedule

__all__ = [
    "NO_DEPARTMENT",
    "MonthTimesheet",
    "PlanBook",
    "TimesheetPerson",
    "TimesheetSection",
    "department_ids_of",
    "gather_timesheet",
    "group_marks",
    "late_by",
    "load_people",
    "load_plans",
    "month_bounds",
    "organisation_name",
]

NO_DEPARTMENT = "Без подразделения"
MINUTE = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class TimesheetPerson:
    """Who a timesheet line belongs to."""

    employee_id: int
    user_id: int  # Bitrix24 user id (the personnel number column)
    name: str
    department_ids: tuple[int, ...]
    late_days: int  # days of the month begun after the schedule's start + tolerance
    active: bool = True


@dataclass(frozen=True, slots=True)
class TimesheetSection:
    """One department's sheet: its people's lines, in name order."""

    department_id: int | None  # Bitrix department id; None for people without one
    name: str
    timesheet: Timesheet


@dataclass(frozen=True, slots=True)
class MonthTimesheet:
    """A month's timesheet of a portal (or one department), split by department."""

    portal_id: int
    organisation: str
    year: int
    month: int
    working_days: int  # by the production calendar, for a standard five-day week
    calendar_norm_hours: float  # the month's norm for a 40-hour week
    days_off: frozenset[date]  # the calendar's weekends, holidays and transferred days off
    shortened: frozenset[date]  # pre-holiday days, an hour shorter
    sections: tuple[TimesheetSection, ...]
    people: Mapping[int, TimesheetPerson]
    generated_at: datetime

    @property
    def lines(self) -> int:
        """Person lines over all sections (a person in two departments counts twice)."""
        return sum(len(s.timesheet.lines) for s in self.sections)


class EmployeeLike(Protocol):
    """What reports read of an employee: the ORM row or `ReportingRepository.employees`."""

    @property
    def id(self) -> int: ...
    @property
    def bitrix_user_id(self) -> int: ...
    @property
    def timezone(self) -> str | None: ...
    @property
    def department_ids(self) -> list[Any]: ...
    @property
    def all_offices(self) -> bool: ...


def department_ids_of(employee: EmployeeLike) -> tuple[int, ...]:
    """The employee's Bitrix department ids as ints (older syncs stored digit strings)."""
    ids: list[int] = []
    for raw in employee.department_ids or []:
        if isinstance(raw, bool):
            continue
        if isinstance(raw, int) or (isinstance(raw, str) and raw.strip().isdigit()):
            ids.append(int(raw))
    return tuple(ids)


def organisation_name(portal: Portal) -> str:
    """The company name set for the portal, else its domain."""
    name = (portal.settings or {}).get("company_name")
    return str(name) if name else portal.domain


def month_bounds(year: int, month: int) -> tuple[date, date]:
    """The first and the last date of the month."""
    first = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    return first, following - timedelta(days=1)


# --- People, plans and marks in bulk ------------------------------------------------------------


async def load_people(
    uow: UnitOfWork, portal: Portal, employees: Sequence[EmployeeLike]
) -> dict[int, Person]:
    """`bot.people.person_for` for many employees in two queries: each person's zone is their
    own, else their offices' when all agree, else the portal's."""
    reports = ReportingRepository(uow.session)
    offices = await reports.office_zones(portal.id)
    restricted = [e.id for e in employees if not e.all_offices]
    links = await reports.office_links(restricted) if restricted else {}
    everywhere = set(offices.values())
    people: dict[int, Person] = {}
    for e in employees:
        if e.all_offices:
            zones = everywhere
        else:
            zones = {offices[o] for o in links.get(e.id, set()) if o in offices}
        office_tz = next(iter(zones)) if len(zones) == 1 else None
        people[e.id] = Person(
            portal_id=portal.id,
            employee_id=e.id,
            user_id=e.bitrix_user_id,
            tz=resolve_zone(e.timezone, office_tz, portal.timezone),
            department_ids=department_ids_of(e),
        )
    return people


def _scope(scope: str) -> Scope:
    return Scope(scope) if scope in Scope.__members__.values() else Scope.PORTAL


async def load_plans(
    uow: UnitOfWork,
    portal_id: int,
    people: Iterable[Person],
    *,
    start: date,
    end: date,
    calendar: ProductionCalendar | None,
) -> PlanBook:
    """Work plans for many people over local dates [start, end]: the assignments and the
    shifts are read once for the portal (as `services.plans.load_plan` reads them per person)."""
    rows = await uow.plans.assignments(portal_id)
    assignments: tuple[Assignment[Schedule], ...] = tuple(
        Assignment(_scope(a.scope), a.valid_from, s, target=a.target_id)
        for a, s in rows
        if a.scope == "portal" or a.target_id is not None
    )
    # Two days of margin cover every zone's local dates (UTC-12 .. UTC+14).
    window_start = local_day_bounds(start, ZoneInfo("UTC"))[0] - timedelta(days=2)
    window_end = local_day_bounds(end, ZoneInfo("UTC"))[1] + timedelta(days=2)
    shifts = await ReportingRepository(uow.session).shifts(
        portal_id, start=window_start, end=window_end
    )
    breaks = await shift_breaks(
        uow.plans, (s for _, s in rows), (r for found in shifts.values() for r in found)
    )
    personal = {
        str(a.target) for a in assignments if a.scope is Scope.EMPLOYEE and a.target is not None
    }
    plans: dict[int, WorkPlan] = {}
    for person in people:
        roster = roster_of(shifts.get(person.employee_id, ()), person.tz, breaks)
        plans[person.employee_id] = WorkPlan(
            employee_id=person.employee_id,
            department_ids=person.department_ids,
            assignments=assignments,
            calendar=calendar,
            roster=roster,
        )
    return PlanBook(plans, personal)


class PlanBook:
    """Plans of many people with their expectations computed once per group of equals.

    Two people share every expectation when they share the zone and the departments, and
    neither has an assignment or a shift roster of their own.
    """

    def __init__(self, plans: Mapping[int, WorkPlan], personal: set[str]) -> None:
        self.plans = plans
        self._personal = personal
        self._cache: dict[tuple[Hashable, date], Expectation | None] = {}
        self._months: dict[tuple[Hashable, tuple[date, ...]], dict[date, Expectation | None]] = {}

    def __getitem__(self, employee_id: int) -> WorkPlan:
        return self.plans[employee_id]

    def _group(self, plan: WorkPlan, tz: ZoneInfo) -> Hashable:
        if plan.roster or str(plan.employee_id) in self._personal:
            return ("own", plan.employee_id, tz.key)
        return (tz.key, plan.department_ids)

    def expected(self, employee_id: int, d: date, tz: ZoneInfo) -> Expectation | None:
        """What the person's plan expects on local date `d` (None on a day off)."""
        plan = self.plans[employee_id]
        key = (self._group(plan, tz), d)
        if key in self._cache:
            return self._cache[key]
        found = self._cache[key] = plan.expected(d, tz)
        return found

    def month(
        self, employee_id: int, days: Sequence[date], tz: ZoneInfo
    ) -> Mapping[date, Expectation | None]:
        """`expected` for every date of `days`, computed (and the mapping built) once per group;
        callers must not change it."""
        plan = self.plans[employee_id]
        key = (self._group(plan, tz), tuple(days))
        found = self._months.get(key)
        if found is None:
            found = self._months[key] = {d: self.expected(employee_id, d, tz) for d in days}
        return found


def group_marks(rows: Iterable[MarkFact]) -> dict[int, list[Mark]]:
    """Domain marks by employee, in the rows' order."""
    found: dict[int, list[Mark]] = {}
    kinds = {k.value: k for k in MarkKind}
    current: int | None = None
    bucket: list[Mark] = []
    for mark_id, employee_id, kind, at, provisional in rows:
        if employee_id != current:  # rows come by employee: one dict look-up per run
            current = employee_id
            bucket = found.setdefault(employee_id, [])
        bucket.append(Mark(kinds[kind], at, mark_id, provisional))
    return found


def late_by(day: WorkDay, expectation: Expectation | None) -> timedelta | None:
    """How late `day` began against the expectation (past the tolerance), else None; the same
    rule as `services.tracking.summarize_days`."""
    if expectation is None:
        return None
    latest = expectation.latest_start
    if latest is None or day.started_at <= latest:
        return None
    anchor = expectation.start or expectation.core_start
    return day.started_at - anchor if anchor else None


def marks_window(
    zones: Iterable[ZoneInfo], first: date, last: date, now: datetime
) -> tuple[datetime, datetime]:
    """The UTC span holding every day begun on local dates [first, last] in any of `zones`
    (plus 12 hours for a night shift ending the morning after), never past `now`."""
    tzs = set(zones) or {ZoneInfo("UTC")}
    since = min(local_day_bounds(first, tz)[0] for tz in tzs)
    until = max(local_day_bounds(last, tz)[1] for tz in tzs) + timedelta(hours=12)
    return since, min(until, now + timedelta(seconds=1))


class _LatestStarts:
    """Each plan's last instants to arrive without being late (`late_by`'s rule), in µs by
    date, worked out once per shared month plan."""

    _NEVER = 1 << 62

    def __init__(self) -> None:
        # Keyed by identity: `PlanBook.month` shares one mapping per group of equals (kept
        # here too, so an id is never reused while cached).
        self._found: dict[int, tuple[Mapping[date, Expectation | None], dict[date, int]]] = {}

    def of(self, plan: Mapping[date, Expectation | None]) -> dict[date, int]:
        found = self._found.get(id(plan))
        if found is None:
            starts: dict[date, int] = {}
            for d, expectation in plan.items():
                latest = None if expectation is None else expectation.latest_start
                if latest is not None:
                    starts[d] = to_micros(latest)
            found = self._found[id(plan)] = (plan, starts)
        return found[1]

    def late_days(self, plan: Mapping[date, Expectation | None], totals: list[DayTotal]) -> int:
        """Dates of the plan with a work day begun after its latest start."""
        starts, never = self.of(plan), self._NEVER
        return len({d for d, started, _, _ in totals if started > starts.get(d, never)})


# --- The timesheet -------------------------------------------------------------------------------


def _sort_key(person: TimesheetPerson) -> tuple[str, int]:
    return person.name.casefold(), person.user_id


async def gather_timesheet(
    uow: UnitOfWork,
    portal: Portal,
    *,
    year: int,
    month: int,
    calendar: ProductionCalendar | None,
    now: datetime,
    department_id: int | None = None,
    week_hours: float = 40,
) -> MonthTimesheet:
    """The month's timesheet of `portal` (every department), or of one Bitrix department.

    Active employees are listed, and those no longer active who have marks in the month.
    `calendar` is the portal's production calendar (`bot.people.portal_calendar`); None
    means plain weekdays without holidays.
    """
    first, last = month_bounds(year, month)
    if calendar is None:
        calendar = ProductionCalendar.build(
            str((portal.settings or {}).get("country") or "XX"), [year], {}
        )
    reports = ReportingRepository(uow.session)
    all_employees = await reports.employees(portal.id)
    if department_id is not None:
        all_employees = [e for e in all_employees if department_id in department_ids_of(e)]
    people = await load_people(uow, portal, all_employees)
    since, until = marks_window({p.tz for p in people.values()}, first, last, now)
    tracks = await reports.standing_mark_tracks(
        portal.id,
        since=since,
        until=until,
        employee_ids=None if department_id is None else [e.id for e in all_employees],
    )
    employees = [e for e in all_employees if e.active or e.id in tracks]
    book = await load_plans(
        uow,
        portal.id,
        [people[e.id] for e in employees],
        start=first,
        end=last,
        calendar=calendar,
    )

    today = now.astimezone(resolve_zone(None, None, portal.timezone)).date()
    builder = TimesheetBuilder(year, month, calendar, today=today, week_hours=week_hours)
    days = calendar.month_days(year, month)
    now_us = to_micros(now)
    zones: dict[ZoneInfo, LocalDays] = {}
    latest = _LatestStarts()
    listed: dict[int, TimesheetPerson] = {}
    for e in employees:
        person = people[e.id]
        builder.add_employee(e.id)
        plan = book.month(e.id, days, person.tz)
        builder.add_expectations(e.id, plan)
        late = 0
        track = tracks.get(e.id)
        if track is not None:
            local = zones.get(person.tz)
            if local is None:
                local = zones[person.tz] = LocalDays(person.tz, since, until)
            totals = tally(track, local, now=now_us)
            builder.add_day_totals(e.id, totals)
            late = latest.late_days(plan, totals)
        listed[e.id] = TimesheetPerson(
            employee_id=e.id,
            user_id=e.bitrix_user_id,
            name=e.name or f"#{e.bitrix_user_id}",
            department_ids=person.department_ids,
            late_days=late,
            active=e.active,
        )
    sheet = builder.build()
    departments = {d.bitrix_id: d for d in await uow.departments.all(portal.id)}
    sections = _sections(sheet, listed, departments, department_id)
    summary = calendar.month_summary(year, month, week_hours)
    return MonthTimesheet(
        portal_id=portal.id,
        organisation=organisation_name(portal),
        year=year,
        month=month,
        working_days=summary.working_days,
        calendar_norm_hours=sheet.calendar_norm_hours,
        days_off=frozenset(d for d in days if not calendar.is_working(d)),
        shortened=frozenset(d for d in days if calendar.is_shortened(d)),
        sections=sections,
        people=listed,
        generated_at=now,
    )


def _department_name(department_id: int, departments: Mapping[int, Department]) -> str:
    found = departments.get(department_id)
    return found.name if found is not None and found.name else f"Подразделение {department_id}"


def _sections(
    sheet: Timesheet,
    people: Mapping[int, TimesheetPerson],
    departments: Mapping[int, Department],
    only: int | None,
) -> tuple[TimesheetSection, ...]:
    """Lines split by department (a person in two departments is on both sheets), sheets in
    name order, people without a department last."""
    by_department: dict[int | None, list[TimesheetLine]] = {}
    for line in sheet.lines:
        person = people[cast(int, line.employee_id)]
        targets: Sequence[int | None] = (
            [only] if only is not None else (person.department_ids or [None])
        )
        for target in targets:
            by_department.setdefault(target, []).append(line)
    if only is not None:
        by_department.setdefault(only, [])

    def order(item: tuple[int | None, list[TimesheetLine]]) -> tuple[int, str, int]:
        key, _ = item
        if key is None:
            return 1, "", 0
        return 0, _department_name(key, departments).casefold(), key

    sections: list[TimesheetSection] = []
    for key, lines in sorted(by_department.items(), key=order):
        lines.sort(key=lambda line: _sort_key(people[cast(int, line.employee_id)]))
        name = NO_DEPARTMENT if key is None else _department_name(key, departments)
        sections.append(
            TimesheetSection(
                department_id=key,
                name=name,
                timesheet=Timesheet(
                    sheet.year, sheet.month, sheet.days, tuple(lines), sheet.calendar_norm_hours
                ),
            )
        )
    return tuple(sections)
