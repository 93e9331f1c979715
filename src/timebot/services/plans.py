"""Work plans: which schedule applies to whom on which date, turned into domain expectations.

A schedule row keeps its rules as JSON (`Schedule.definition`), written by the admin UI and the
API; this module is the one reader of that format:

- fixed:    {"week": [{"start": "09:00", "end": "18:00", "break": 60} | null, ... x7],
             "week_hours": 40, "follow_calendar": true}
- flexible: {"minimum_hours": 8, "core_start": "11:00", "core_end": "16:00",
             "workdays": [0, 1, 2, 3, 4], "week_hours": 40, "follow_calendar": true}
- shift:    {"break": 30}  (the roster itself is the `shifts` table; a shift row's own
            `break_minutes` overrides the break of its schedule)

Tolerances: `late_tolerance_min` / `early_tolerance_min` columns, the rest under "tolerance".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from timebot.domain.calendar import ProductionCalendar
from timebot.domain.schedules import (
    Assignment,
    Expectation,
    FixedSchedule,
    FlexibleSchedule,
    Scope,
    Shift,
    ShiftSchedule,
    Tolerance,
    WorkHours,
    resolve_schedule,
)
from timebot.domain.schedules import Schedule as DomainSchedule
from timebot.domain.timezones import local_day_bounds
from timebot.storage import UnitOfWork
from timebot.storage.repositories.plans import PlanRepository
from timebot.storage.tables import Schedule

__all__ = [
    "DEFAULT_DEFINITION",
    "WorkPlan",
    "load_plan",
    "load_plans",
    "parse_definition",
    "roster_of",
    "schedule_break",
    "shift_breaks",
]

# Used when nothing is assigned: a standard Russian office week.
DEFAULT_DEFINITION: dict[str, Any] = {
    "week": [{"start": "09:00", "end": "18:00", "break": 60}] * 5 + [None, None],
    "week_hours": 40,
    "follow_calendar": True,
}
DEFAULT_LATE_TOLERANCE = 10
DEFAULT_EARLY_TOLERANCE = 10


def _time(value: Any, what: str) -> time:
    try:
        return time.fromisoformat(str(value))
    except ValueError as exc:
        raise ValueError(f"{what}: not a time of day: {value!r}") from exc


def _tolerance(definition: Mapping[str, Any], late: int, early: int) -> Tolerance:
    extra = definition.get("tolerance") or {}
    return Tolerance(
        late_start_minutes=late,
        early_leave_minutes=early,
        # Minutes of slack before a short day or overtime is reported: a digest that flags five
        # extra minutes teaches managers to ignore it.
        short_day_minutes=int(extra.get("short_day_minutes", 15)),
        overtime_minutes=int(extra.get("overtime_minutes", 30)),
        forgotten_checkout_minutes=int(extra.get("forgotten_checkout_minutes", 60)),
    )


def parse_definition(
    kind: str,
    definition: Mapping[str, Any],
    *,
    late: int = 0,
    early: int = 0,
    roster: Sequence[Shift] = (),
) -> DomainSchedule:
    """A domain schedule from a stored definition; ValueError with the reason when invalid."""
    tolerance = _tolerance(definition, late, early)
    if kind == "fixed":
        week = definition.get("week")
        if not isinstance(week, list) or len(week) != 7:
            raise ValueError("a fixed schedule needs seven days, Monday to Sunday")
        days: list[WorkHours | None] = []
        for i, day in enumerate(week):
            if day is None:
                days.append(None)
                continue
            days.append(
                WorkHours(
                    _time(day.get("start"), f"day {i + 1} start"),
                    _time(day.get("end"), f"day {i + 1} end"),
                    int(day.get("break", 0)),
                )
            )
        if not any(days):
            raise ValueError("a fixed schedule needs at least one working day")
        return FixedSchedule(
            week=tuple(days),
            tolerance=tolerance,
            week_hours=float(definition.get("week_hours", 40)),
            follow_calendar=bool(definition.get("follow_calendar", True)),
        )
    if kind == "flexible":
        core_start, core_end = definition.get("core_start"), definition.get("core_end")
        return FlexibleSchedule(
            minimum_hours=float(definition.get("minimum_hours", 8)),
            core_start=_time(core_start, "core start") if core_start else None,
            core_end=_time(core_end, "core end") if core_end else None,
            workdays=frozenset(int(d) for d in definition.get("workdays", range(5))),
            tolerance=tolerance,
            week_hours=float(definition.get("week_hours", 40)),
            follow_calendar=bool(definition.get("follow_calendar", True)),
        )
    if kind == "shift":
        return ShiftSchedule(shifts=tuple(roster), tolerance=tolerance)
    raise ValueError(f"unknown schedule kind {kind!r}")


DEFAULT_SCHEDULE = parse_definition(
    "fixed", DEFAULT_DEFINITION, late=DEFAULT_LATE_TOLERANCE, early=DEFAULT_EARLY_TOLERANCE
)


@dataclass(frozen=True)
class WorkPlan:
    """What is expected of one person: their assignments resolved per date, plus the calendar."""

    employee_id: int
    department_ids: tuple[int, ...]
    assignments: tuple[Assignment[Schedule], ...]
    calendar: ProductionCalendar | None
    roster: tuple[Shift, ...] = ()
    default: DomainSchedule = DEFAULT_SCHEDULE
    _cache: dict[date, DomainSchedule] = field(default_factory=dict, compare=False, repr=False)

    def schedule_on(self, d: date) -> DomainSchedule:
        chosen = resolve_schedule(self.assignments, self.employee_id, self.department_ids, d)
        if chosen is None:
            return self.default
        row = chosen.schedule
        return parse_definition(
            row.kind,
            row.definition or {},
            late=row.late_tolerance_min,
            early=row.early_tolerance_min,
            roster=self.roster,
        )

    def expected(self, d: date, tz: ZoneInfo) -> Expectation | None:
        """What the plan expects on local date `d`, None on a day off."""
        try:
            return self.schedule_on(d).expected_for(d, tz, self.calendar)
        except ValueError:
            # A broken stored definition must not break check-ins: fall back to the default.
            return self.default.expected_for(d, tz, self.calendar)


def _scope(scope: str) -> Scope:
    return Scope(scope) if scope in Scope.__members__.values() else Scope.PORTAL


async def load_plan(
    uow: UnitOfWork,
    *,
    portal_id: int,
    employee_id: int,
    department_ids: Sequence[int],
    tz: ZoneInfo,
    start: date,
    end: date,
    calendar: ProductionCalendar | None,
) -> WorkPlan:
    """Read what the plan for one person needs for local dates [start, end]."""
    plans = PlanRepository(uow.session)
    rows = await plans.assignments(portal_id)
    assignments = tuple(
        Assignment(_scope(a.scope), a.valid_from, s, target=a.target_id)
        for a, s in rows
        if a.scope == "portal" or a.target_id is not None
    )
    window_start = local_day_bounds(start, tz)[0] - timedelta(days=1)
    window_end = local_day_bounds(end, tz)[1] + timedelta(days=1)
    shift_rows = await plans.shifts(employee_id, start=window_start, end=window_end)
    breaks = await shift_breaks(plans, (s for _, s in rows), shift_rows)
    return WorkPlan(
        employee_id=employee_id,
        department_ids=tuple(department_ids),
        assignments=assignments,
        calendar=calendar,
        roster=roster_of(shift_rows, tz, breaks),
    )


def schedule_break(definition: Mapping[str, Any] | None) -> int:
    """The break per shift a shift schedule's definition sets (0 when unset or unreadable)."""
    try:
        return max(0, int((definition or {}).get("break", 0)))
    except (TypeError, ValueError):
        return 0


async def shift_breaks(
    plans: PlanRepository, known: Iterable[Schedule], shift_rows: Iterable[Any]
) -> dict[int, int]:
    """The break of every schedule the shift rows belong to, by schedule id: read from the
    `known` schedule rows, and from the database for the rest (a shift can belong to a schedule
    that is no longer assigned or active)."""
    breaks = {s.id: schedule_break(s.definition) for s in known if s.kind == "shift"}
    missing = {
        r.schedule_id
        for r in shift_rows
        if r.break_minutes is None and r.schedule_id is not None and r.schedule_id not in breaks
    }
    if missing:
        for schedule_id, definition in (await plans.definitions(missing)).items():
            breaks[schedule_id] = schedule_break(definition)
    return breaks


def roster_of(rows: Sequence[Any], tz: ZoneInfo, breaks: Mapping[int, int]) -> tuple[Shift, ...]:
    """Shift rows (UTC instants) as a roster of local shifts, one per start date. Each shift's
    break is its row's own `break_minutes`, else its schedule's (`breaks`, by schedule id),
    else none."""
    shifts: dict[date, Shift] = {}
    for row in rows:
        starts: datetime = row.starts_at.astimezone(tz)
        if starts.date() in shifts:
            continue
        ends: datetime = row.ends_at.astimezone(tz)
        own: int | None = row.break_minutes
        pause = own if own is not None else breaks.get(row.schedule_id, 0)
        shifts[starts.date()] = Shift(starts.date(), starts.time(), ends.time(), max(pause, 0))
    return tuple(shifts.values())


async def load_plans(
    uow: UnitOfWork,
    *,
    portal_id: int,
    people: Sequence[tuple[int, Sequence[int], ZoneInfo]],
    start: date,
    end: date,
    calendar: ProductionCalendar | None,
) -> dict[int, WorkPlan]:
    """Plans for many people at once, keyed by employee id: `people` holds (employee id,
    department ids, zone). The portal's assignments are read once and shared; shift rosters are
    personal, so they are read per person only when the portal uses shift schedules."""
    if not people:
        return {}

    async def load(employee_id: int, departments: Sequence[int], tz: ZoneInfo) -> WorkPlan:
        return await load_plan(
            uow,
            portal_id=portal_id,
            employee_id=employee_id,
            department_ids=departments,
            tz=tz,
            start=start,
            end=end,
            calendar=calendar,
        )

    first = people[0]
    base = await load(*first)
    plans = {first[0]: base}
    with_shifts = any(a.schedule.kind == "shift" for a in base.assignments)
    for employee_id, departments, tz in people[1:]:
        if with_shifts:
            plans[employee_id] = await load(employee_id, departments, tz)
        else:
            plans[employee_id] = replace(
                base,
                employee_id=employee_id,
                department_ids=tuple(departments),
                roster=(),
                _cache={},
            )
    return plans
