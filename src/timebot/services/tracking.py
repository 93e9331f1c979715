"""Keeping time: record check-in / break / back / check-out marks and describe a person's day.

Every action is checked against the work-day state machine before it is written, so an
impossible action (a second check-in, a check-out while off) records nothing and comes back as a
`Refused` with the reason and the current day, for a friendly answer. The mark's time is always
the server's clock; what the person claims ("I came at 9:00") goes to `claimed_at` and to
corrections, never into `at`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from timebot.domain.marks import Mark, MarkKind, WorkState
from timebot.domain.schedules import Expectation
from timebot.domain.timezones import local_day_bounds
from timebot.domain.workday import (
    IllegalTransition,
    Refusal,
    WorkDay,
    allowed_actions,
    assemble,
    next_state,
)
from timebot.services.plans import WorkPlan
from timebot.storage import UnitOfWork
from timebot.storage.repositories.marks import MarkRepository
from timebot.storage.repositories.people import EmployeeRepository
from timebot.storage.tables import Mark as MarkRow

__all__ = [
    "DaySummary",
    "DayView",
    "Person",
    "Recorded",
    "Refused",
    "day_view",
    "record_mark",
    "summarize_days",
    "to_domain",
    "view_of",
    "week_start",
]

# How far back an open work day is looked for (a forgotten check-out is closed long before).
OPEN_DAY_LOOKBACK = timedelta(days=3)


@dataclass(frozen=True, slots=True)
class Person:
    """Who is acting: the employee row's essentials, with the zone their day is computed in."""

    portal_id: int
    employee_id: int
    user_id: int  # Bitrix24 user id
    tz: ZoneInfo
    department_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class DayView:
    """A person's day as the chat shows it."""

    now: datetime
    tz: ZoneInfo
    state: WorkState
    day: WorkDay | None  # the open day, or the latest day that started today
    expectation: Expectation | None  # for that day's date (today when there is no day)
    allowed: tuple[MarkKind, ...] = field(default=())

    @property
    def worked(self) -> timedelta:
        return self.day.worked if self.day else timedelta()

    @property
    def on_break(self) -> timedelta:
        return self.day.on_break if self.day else timedelta()

    @property
    def late_by(self) -> timedelta | None:
        """How late the day began past the tolerance, None when on time or unknown."""
        if self.day is None or self.expectation is None:
            return None
        latest = self.expectation.latest_start
        if latest is None or self.day.started_at <= latest:
            return None
        anchor = self.expectation.start or self.expectation.core_start
        assert anchor is not None
        return self.day.started_at - anchor

    @property
    def remaining(self) -> timedelta | None:
        """Work time left to the day's minimum (None with no expectation)."""
        if self.expectation is None:
            return None
        return max(self.expectation.minimum - self.worked, timedelta())

    @property
    def norm_done_at(self) -> datetime | None:
        """When the minimum will be worked if the person keeps working from now."""
        remaining = self.remaining
        if remaining is None or self.state is not WorkState.WORKING:
            return None
        return self.now + remaining


@dataclass(frozen=True, slots=True)
class Recorded:
    kind: MarkKind
    mark_id: int
    at: datetime
    view: DayView


@dataclass(frozen=True, slots=True)
class Refused:
    kind: MarkKind
    reason: Refusal
    view: DayView


@dataclass(frozen=True, slots=True)
class DaySummary:
    """One local date in a week table."""

    local_date: date
    worked: timedelta
    on_break: timedelta
    norm: timedelta | None  # None on a day off
    first_in: datetime | None
    last_out: datetime | None
    late_by: timedelta | None
    is_open: bool
    provisional: bool


def to_domain(row: MarkRow) -> Mark:
    return Mark(kind=MarkKind(row.kind), at=row.at, id=row.id, provisional=row.provisional)


async def _recent_marks(uow: UnitOfWork, person: Person, now: datetime) -> list[MarkRow]:
    """Standing marks from the earlier of the last check-in and today's local midnight."""
    marks = MarkRepository(uow.session)
    today_start = local_day_bounds(now.astimezone(person.tz).date(), person.tz)[0]
    since = today_start
    last_in = await marks.last_check_in(person.employee_id, before=now)
    if last_in is not None and now - last_in.at <= OPEN_DAY_LOOKBACK:
        since = min(since, last_in.at)
    return await marks.standing(person.employee_id, since=since, until=now + timedelta(seconds=1))


def view_of(rows: Sequence[MarkRow], person: Person, plan: WorkPlan, now: datetime) -> DayView:
    """The person's day from their recent standing marks (as `_recent_marks` reads them)."""
    assembly = assemble([to_domain(r) for r in rows], person.tz, now=now)
    today = now.astimezone(person.tz).date()
    day = None
    if assembly.days:
        last = assembly.days[-1]
        ended_today = (
            last.ended_at is not None and last.ended_at.astimezone(person.tz).date() == today
        )
        if last.is_open or last.local_date == today or ended_today:
            day = last  # a night shift closed this morning is still "today's" answer
    on = day.local_date if day else today
    return DayView(
        now=now,
        tz=person.tz,
        state=assembly.state,
        day=day,
        expectation=plan.expected(on, person.tz),
        allowed=allowed_actions(assembly.state),
    )


async def day_view(uow: UnitOfWork, person: Person, *, plan: WorkPlan, now: datetime) -> DayView:
    """The person's current state and today's (or the open) day."""
    return view_of(await _recent_marks(uow, person, now), person, plan, now)


async def record_mark(
    uow: UnitOfWork,
    person: Person,
    kind: MarkKind,
    *,
    plan: WorkPlan,
    now: datetime,
    source: str = "chat",
    claimed_at: datetime | None = None,
    provisional: bool = False,
    location: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
    at: datetime | None = None,
    flags: Sequence[str] = (),
    supersedes_mark_id: int | None = None,
    correction_id: int | None = None,
) -> Recorded | Refused:
    """Write one mark if the person's state allows it (inside the caller's transaction).

    `at` (default `now`) back-dates the mark for a stated time ("left at 18:00" from a reminder
    or an approved correction); it must lie between the person's last mark and `now`, else
    ValueError. The person's state is judged at `now`.
    """
    when = now if at is None else at
    # One writer per person at a time (a tap racing the auto-close job): lock their row.
    await EmployeeRepository(uow.session).lock(person.employee_id)
    rows = await _recent_marks(uow, person, now)
    before = view_of(rows, person, plan, now)
    if when > now:
        raise ValueError("a mark cannot be in the future")
    if rows and when < rows[-1].at and supersedes_mark_id is None:
        raise ValueError("a back-dated mark cannot precede the last mark")
    try:
        next_state(before.state, kind)
    except IllegalTransition as refused:
        return Refused(kind, refused.reason, before)
    location = location or {}
    row = MarkRow(
        portal_id=person.portal_id,
        employee_id=person.employee_id,
        kind=kind.value,
        at=when,
        claimed_at=claimed_at,
        recorded_at=now,
        source=source,
        location_verdict=location.get("verdict"),
        zone_id=location.get("zone_id"),
        distance_m=location.get("distance_m"),
        flags=[*location.get("flags", ()), *flags],
        provisional=provisional,
        idempotency_key=idempotency_key,
        supersedes_mark_id=supersedes_mark_id,
        correction_id=correction_id,
    )
    MarkRepository(uow.session).add(row)
    await uow.flush()
    after = view_of([*rows, row], person, plan, now)
    return Recorded(kind, row.id, when, after)


def week_start(d: date) -> date:
    """The Monday of `d`'s week."""
    return d - timedelta(days=d.weekday())


async def summarize_days(
    uow: UnitOfWork, person: Person, *, plan: WorkPlan, first: date, last: date, now: datetime
) -> list[DaySummary]:
    """One summary per local date in [first, last] (worked, norm, lateness, first in / last out)."""
    start = local_day_bounds(first, person.tz)[0]
    end = min(
        local_day_bounds(last, person.tz)[1] + timedelta(hours=12), now + timedelta(seconds=1)
    )
    rows = await MarkRepository(uow.session).standing(person.employee_id, since=start, until=end)
    days = assemble([to_domain(r) for r in rows], person.tz, now=now).days
    by_date: dict[date, list[WorkDay]] = {}
    for day in days:
        by_date.setdefault(day.local_date, []).append(day)
    out = []
    d = first
    while d <= last:
        found = by_date.get(d, [])
        expectation = plan.expected(d, person.tz)
        first_in = found[0].started_at if found else None
        late = None
        if (
            first_in
            and expectation
            and expectation.latest_start
            and first_in > expectation.latest_start
        ):
            anchor = expectation.start or expectation.core_start
            late = first_in - anchor if anchor else None
        out.append(
            DaySummary(
                local_date=d,
                worked=sum((w.worked for w in found), timedelta()),
                on_break=sum((w.on_break for w in found), timedelta()),
                norm=expectation.minimum if expectation else None,
                first_in=first_in,
                last_out=found[-1].ended_at if found else None,
                late_by=late,
                is_open=any(w.is_open for w in found),
                provisional=any(w.provisional for w in found),
            )
        )
        d += timedelta(days=1)
    return out
