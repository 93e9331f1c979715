"""The roster of a shift schedule: who follows the schedule on which days, their planned shifts
in each person's local time, and the checks a new or changed shift must pass.

Shifts are stored as UTC instants; they are entered and shown in the person's own zone — the
zone the bot computes their plan in (`bot.people.person_for`), so 22:00 typed here is the 22:00
the bot expects. A shift belongs to the local date it starts on; an end at or before the start
falls on the next day. The plan keeps one shift per person and start date
(`domain.schedules.ShiftSchedule`), so a second one on the same date, or one overlapping another
of the person's shifts, is refused. A shift may have a break of its own; without one it has its
schedule's (as `services.plans.roster_of` reads it).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import select

from timebot.bot.people import person_for
from timebot.domain.schedules import Assignment, Scope, local_instant, resolve_schedule
from timebot.services.plans import schedule_break
from timebot.services.tracking import Person
from timebot.storage import UnitOfWork
from timebot.storage.tables import Employee, Portal, Schedule, Shift
from timebot.web.admin.scope import employee_visible, managed_bitrix_ids
from timebot.web.admin.session import AdminSession

__all__ = [
    "FIRST_DAY",
    "LAST_DAY",
    "MAX_BREAK",
    "MAX_PERIOD_DAYS",
    "PERIODS",
    "LocalShift",
    "Period",
    "Problem",
    "Roster",
    "check_shifts",
    "day_text",
    "in_range",
    "load_roster",
    "monday_of",
    "period_of",
]

PERIODS: Final = ("week", "2weeks", "month")
MAX_PERIOD_DAYS: Final = 62
# Dates a roster accepts: far enough either way, and clear of `date.max` arithmetic.
FIRST_DAY: Final = date(2000, 1, 1)
LAST_DAY: Final = date(2099, 12, 31)
_SCOPES: Final = frozenset(s.value for s in Scope)
# A shift's own break, in minutes (the `shifts.break_minutes` check constraint).
MAX_BREAK: Final = 720


def monday_of(d: date) -> date:
    return d - timedelta(days=d.weekday())


def in_range(d: date) -> bool:
    return FIRST_DAY <= d <= LAST_DAY


def day_text(d: date) -> str:
    """A date as people here write it (in messages)."""
    return d.strftime("%d.%m.%Y")


@dataclass(frozen=True, slots=True)
class Period:
    """The dates a roster page shows: a week, two weeks (the default: this week and the next)
    or a calendar month."""

    kind: str
    first: date

    @property
    def last(self) -> date:
        if self.kind == "month":
            return self.first.replace(day=calendar.monthrange(self.first.year, self.first.month)[1])
        return self.first + timedelta(days=13 if self.kind == "2weeks" else 6)

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]

    @property
    def previous(self) -> date:
        if self.kind == "month":
            return (self.first - timedelta(days=1)).replace(day=1)
        return self.first - timedelta(days=7)

    @property
    def following(self) -> date:
        if self.kind == "month":
            return self.last + timedelta(days=1)
        return self.first + timedelta(days=7)


def period_of(kind: str, start: str, today: date) -> Period:
    """The period a page asks for (`kind`, any date in it as text); unknown values fall back to
    the default, two weeks from this Monday."""
    if kind not in PERIODS:
        kind = "2weeks"
    try:
        anchor = date.fromisoformat(start) if start else today
    except ValueError:
        anchor = today
    anchor = min(max(anchor, FIRST_DAY), LAST_DAY)
    if kind == "month":
        return Period(kind, anchor.replace(day=1))
    return Period(kind, monday_of(anchor))


@dataclass(frozen=True, slots=True)
class LocalShift:
    """A shift in its person's local time: starts on `on` at `start`, ends at `end` (the next
    day when `end` is at or before `start`); `break_minutes` is its own break (None: the
    schedule's)."""

    employee_id: int
    on: date
    start: time
    end: time
    id: int | None = None
    schedule_id: int | None = None
    break_minutes: int | None = None

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    @property
    def label(self) -> str:
        return f"{self.start.strftime('%H:%M')}–{self.end.strftime('%H:%M')}"

    def span(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """UTC instants of the start and the end (as `domain.schedules` computes them)."""
        end_day = self.on + timedelta(days=1) if self.crosses_midnight else self.on
        return local_instant(self.on, self.start, tz), local_instant(end_day, self.end, tz)

    def describe(self) -> str:
        return f"{day_text(self.on)} {self.label}"

    @classmethod
    def of(cls, row: Shift, tz: ZoneInfo) -> LocalShift:
        return cls.between(
            row.employee_id,
            row.starts_at,
            row.ends_at,
            tz,
            row.id,
            row.schedule_id,
            row.break_minutes,
        )

    @classmethod
    def between(
        cls,
        employee_id: int,
        starts_at: datetime,
        ends_at: datetime,
        tz: ZoneInfo,
        shift_id: int | None = None,
        schedule_id: int | None = None,
        break_minutes: int | None = None,
    ) -> LocalShift:
        """The shift stored as the UTC instants [starts_at, ends_at), seen in zone `tz`."""
        starts, ends = starts_at.astimezone(tz), ends_at.astimezone(tz)
        return cls(
            employee_id,
            starts.date(),
            starts.time(),
            ends.time(),
            shift_id,
            schedule_id,
            break_minutes,
        )


def _departments(employee: Employee) -> tuple[int, ...]:
    # Read as `bot.people.person_for` reads them (order kept: the first department wins a tie).
    return tuple(int(d) for d in (employee.department_ids or []) if str(d).isdigit())


@dataclass
class Roster:
    """A shift schedule with the portal's assignments and the people the session may see.

    A person's zone costs a query (`person_for`), so `people` is filled only for those a page
    or a change needs (`load_people`); who follows the schedule needs no zone."""

    portal: Portal
    schedule: Schedule
    assignments: tuple[Assignment[Schedule], ...]
    employees: dict[int, Employee]
    # The break of each of the portal's shift schedules, by id.
    breaks: dict[int, int] = field(default_factory=dict)
    people: dict[int, Person] = field(default_factory=dict)
    _follows: dict[tuple[int, date], bool] = field(default_factory=dict)

    async def load_people(self, uow: UnitOfWork, employee_ids: Iterable[int]) -> None:
        """Resolve the zones of these people (the session's visible ones only)."""
        for employee_id in sorted(set(employee_ids)):
            employee = self.employees.get(employee_id)
            if employee is not None and employee_id not in self.people:
                self.people[employee_id] = await person_for(uow, self.portal, employee)

    def tz(self, employee_id: int) -> ZoneInfo:
        """The person's zone (after `load_people`)."""
        return self.people[employee_id].tz

    def follows(self, employee_id: int, day: date) -> bool:
        """Whether this schedule is the one in force for the person on `day` (the bot applies
        a roster only then)."""
        key = (employee_id, day)
        if key not in self._follows:
            employee = self.employees.get(employee_id)
            chosen = (
                resolve_schedule(self.assignments, employee_id, _departments(employee), day)
                if employee is not None and self.schedule.active
                else None
            )
            self._follows[key] = chosen is not None and chosen.schedule.id == self.schedule.id
        return self._follows[key]

    def members(self, days: Sequence[date], with_shifts: Iterable[int] = ()) -> list[Employee]:
        """People following the schedule on one of `days`, or with shifts listed there, by
        name."""
        ids = {e for e in self.employees if any(self.follows(e, d) for d in days)}
        ids.update(e for e in with_shifts if e in self.employees)
        return sorted((self.employees[e] for e in ids), key=lambda e: (e.name.casefold(), e.id))

    def break_of(self, shift: LocalShift) -> int:
        """The break the plan gives `shift` (as `services.plans.roster_of` does): its own,
        else its schedule's, else none."""
        if shift.break_minutes is not None:
            return shift.break_minutes
        if shift.schedule_id == self.schedule.id:
            return schedule_break(self.schedule.definition)
        return self.breaks.get(shift.schedule_id, 0) if shift.schedule_id is not None else 0

    def name(self, employee_id: int) -> str:
        employee = self.employees.get(employee_id)
        return employee.name if employee is not None else f"#{employee_id}"

    async def shifts(
        self, uow: UnitOfWork, employee_ids: Iterable[int] | None, first: date, last: date
    ) -> list[LocalShift]:
        """Shifts starting on local dates [first, last] of the people (None: everyone the
        session sees), in time order."""
        # Wide enough for any zone's local dates; trimmed to [first, last] below.
        start = datetime.combine(first, time(0), tzinfo=UTC) - timedelta(days=2)
        end = datetime.combine(last, time(0), tzinfo=UTC) + timedelta(days=3)
        # Plain columns, not ORM rows: a month of a large roster is thousands of shifts.
        query = select(
            Shift.id,
            Shift.employee_id,
            Shift.starts_at,
            Shift.ends_at,
            Shift.schedule_id,
            Shift.break_minutes,
        ).where(Shift.portal_id == self.portal.id, Shift.starts_at < end, Shift.ends_at > start)
        if employee_ids is not None:
            ids = sorted(set(employee_ids) & set(self.employees))
            if not ids:
                return []
            query = query.where(Shift.employee_id.in_(ids))
        result = await uow.session.execute(query.order_by(Shift.starts_at, Shift.id))
        rows = [row for row in result.all() if row.employee_id in self.employees]
        await self.load_people(uow, {row.employee_id for row in rows})
        found = [
            LocalShift.between(
                row.employee_id,
                row.starts_at,
                row.ends_at,
                self.tz(row.employee_id),
                row.id,
                row.schedule_id,
                row.break_minutes,
            )
            for row in rows
        ]
        return [s for s in found if first <= s.on <= last]


def _assignments(rows: Sequence[tuple[Any, Schedule]]) -> tuple[Assignment[Schedule], ...]:
    # The same reading as `services.plans.load_plan`, so the roster agrees with the bot.
    return tuple(
        Assignment(
            Scope(a.scope) if a.scope in _SCOPES else Scope.PORTAL,
            a.valid_from,
            s,
            target=a.target_id,
        )
        for a, s in rows
        if a.scope == "portal" or a.target_id is not None
    )


async def load_roster(uow: UnitOfWork, session: AdminSession, schedule: Schedule) -> Roster:
    """The roster context of `schedule` (already checked to be the session's portal's)."""
    portal = await uow.portals.get(session.portal_id)
    assert portal is not None  # the session's portal exists (current_session checked it)
    assignments = _assignments(await uow.plans.assignments(session.portal_id))
    managed = await managed_bitrix_ids(uow, session)
    employees = {
        e.id: e
        for e in await uow.employees.active(session.portal_id)
        if employee_visible(e, session, managed)
    }
    found = await uow.session.execute(
        select(Schedule.id, Schedule.definition).where(
            Schedule.portal_id == session.portal_id, Schedule.kind == "shift"
        )
    )
    breaks = {int(i): schedule_break(d) for i, d in found.all()}
    return Roster(portal, schedule, assignments, employees, breaks)


@dataclass(frozen=True, slots=True)
class Problem:
    """Why shift number `index` of a batch is refused: an i18n key and its values."""

    index: int
    key: str
    values: dict[str, str]


def _overlaps(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


async def check_shifts(
    uow: UnitOfWork,
    roster: Roster,
    planned: Sequence[LocalShift],
    *,
    replacing: Iterable[int] = (),
) -> list[Problem]:
    """Problems with storing `planned` (new or changed shifts) next to the stored ones, minus
    the stored shifts with ids in `replacing` (the one being changed, or those a bulk entry
    replaces). Each planned shift gets at most one problem. Locks the people's rows: call it
    in the transaction that then writes the shifts."""
    problems: dict[int, Problem] = {}

    def refuse(i: int, key: str, **values: str) -> None:
        problems.setdefault(i, Problem(i, key, values))

    spans: dict[int, tuple[datetime, datetime]] = {}
    await roster.load_people(uow, (s.employee_id for s in planned))
    for i, shift in enumerate(planned):
        if shift.employee_id not in roster.employees:
            refuse(i, "roster.unknown_person")
            continue
        name = roster.name(shift.employee_id)
        if not roster.follows(shift.employee_id, shift.on):
            refuse(i, "roster.not_on_schedule", name=name, day=day_text(shift.on))
            continue
        starts, ends = shift.span(roster.tz(shift.employee_id))
        if ends <= starts:
            refuse(i, "roster.too_short", name=name, day=day_text(shift.on))
            continue
        spans[i] = (starts, ends)
    if not spans:
        return sorted(problems.values(), key=lambda p: p.index)

    skip = set(replacing)
    by_person: dict[int, list[int]] = {}
    for i in spans:
        by_person.setdefault(planned[i].employee_id, []).append(i)
    for employee_id, indexes in sorted(by_person.items()):
        # Two administrators planning the same person at once: the second waits here and
        # then sees the first one's shift (ids in order, so batches cannot deadlock).
        await uow.employees.lock(employee_id)
        tz = roster.tz(employee_id)
        name = roster.name(employee_id)
        low = min(spans[i][0] for i in indexes) - timedelta(days=2)
        high = max(spans[i][1] for i in indexes) + timedelta(days=2)
        rows = await uow.session.scalars(
            select(Shift).where(
                Shift.portal_id == roster.portal.id,
                Shift.employee_id == employee_id,
                Shift.starts_at < high,
                Shift.ends_at > low,
            )
        )
        # The stored shifts that stay, then the batch itself in order: each one is checked
        # against everything before it.
        taken: list[tuple[LocalShift, tuple[datetime, datetime]]] = [
            (LocalShift.of(row, tz), (row.starts_at, row.ends_at))
            for row in rows
            if row.id not in skip
        ]
        for i in sorted(indexes):
            shift = planned[i]
            for other, other_span in taken:
                if _overlaps(spans[i], other_span):
                    day, other_text = day_text(shift.on), other.describe()
                    refuse(i, "roster.overlap", name=name, day=day, other=other_text)
                    break
                if other.on == shift.on:
                    refuse(i, "roster.same_day", name=name, day=day_text(shift.on))
                    break
            else:
                taken.append((shift, spans[i]))
    return sorted(problems.values(), key=lambda p: p.index)
