"""Schedules (fixed, flexible, shift rosters) with their tolerances, what a schedule expects of a
person on a given date, and which assigned schedule applies to a person on that date.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

from timebot.domain.calendar import DayKind, ProductionCalendar
from timebot.domain.timezones import as_utc, local_day_bounds

__all__ = [
    "Assignment",
    "Expectation",
    "FixedSchedule",
    "FlexibleSchedule",
    "Schedule",
    "Scope",
    "Shift",
    "ShiftSchedule",
    "Tolerance",
    "WorkHours",
    "local_instant",
    "resolve_schedule",
]

_STANDARD_WEEK = frozenset(range(5))


def local_instant(d: date, t: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of wall time `t` on date `d` in `tz` (a skipped DST time reads with the
    offset in force before the transition, as PEP 495 does)."""
    return as_utc(datetime.combine(d, t, tzinfo=tz))


def _span(d: date, start: time, end: time, tz: ZoneInfo) -> tuple[datetime, datetime]:
    # An end at or before the start means the next day: night schedules cross midnight.
    end_date = d if end > start else d + timedelta(days=1)
    return local_instant(d, start, tz), local_instant(end_date, end, tz)


def _hours(delta: timedelta) -> float:
    return round(delta.total_seconds() / 3600, 2)


@dataclass(frozen=True, slots=True)
class Tolerance:
    """How far a day may stray before it is a violation (all in minutes, never negative).

    `forgotten_checkout_minutes` is how long after the expected end (or the local midnight, when
    no end is expected) a still-open day counts as a forgotten check-out.
    """

    late_start_minutes: int = 0
    early_leave_minutes: int = 0
    short_day_minutes: int = 0
    overtime_minutes: int = 0
    forgotten_checkout_minutes: int = 60

    def __post_init__(self) -> None:
        for name in self.__slots__:
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")


@dataclass(frozen=True, slots=True)
class Expectation:
    """What a schedule expects of one person on one date (None from `expected_for` = day off).

    Instants are UTC. `start`/`end` are set for fixed schedules and shifts, `core_start`/
    `core_end` for flexible ones with core hours. `minimum` is the time to be worked (breaks
    excluded); `shortened_by` is how much a pre-holiday day took off it; `norm_hours` is the
    production-calendar norm the day counts for in the timesheet.
    """

    local_date: date
    tz: ZoneInfo
    minimum: timedelta
    norm_hours: float
    tolerance: Tolerance = field(default_factory=Tolerance)
    start: datetime | None = None
    end: datetime | None = None
    core_start: datetime | None = None
    core_end: datetime | None = None
    shortened_by: timedelta = timedelta()
    schedule_kind: str = "fixed"

    @property
    def latest_start(self) -> datetime | None:
        """The last instant to arrive without being late (start or core start + tolerance)."""
        anchor = self.start or self.core_start
        if anchor is None:
            return None
        return anchor + timedelta(minutes=self.tolerance.late_start_minutes)

    @property
    def earliest_end(self) -> datetime | None:
        """The first instant to leave without leaving early (end or core end - tolerance)."""
        anchor = self.end or self.core_end
        if anchor is None:
            return None
        return anchor - timedelta(minutes=self.tolerance.early_leave_minutes)

    @property
    def end_of_day(self) -> datetime:
        """The next local midnight after the date began."""
        return local_day_bounds(self.local_date, self.tz)[1]

    @property
    def closes_at(self) -> datetime:
        """When the expected day is over: its end, else the later of core end and midnight."""
        if self.end is not None:
            return self.end
        if self.core_end is not None:
            return max(self.core_end, self.end_of_day)
        return self.end_of_day


@dataclass(frozen=True, slots=True)
class WorkHours:
    """One day's hours in a fixed schedule; an `end` at or before `start` is on the next day."""

    start: time
    end: time
    break_minutes: int = 0

    def __post_init__(self) -> None:
        if self.break_minutes < 0:
            raise ValueError("break_minutes must not be negative")


_DAYS_OFF = frozenset({DayKind.HOLIDAY, DayKind.TRANSFERRED_DAY_OFF})


def _calendar_day(
    d: date, calendar: ProductionCalendar | None, follow: bool, works_on: Collection[int]
) -> tuple[bool, timedelta]:
    """Whether the person works on `d`, and how much a shortened day takes off.

    Following the calendar, holidays and transferred days off are off and a working weekend
    is worked by whoever works the weekdays (it replaces one); otherwise the schedule's own
    weekdays decide, so a six-day week keeps its Saturdays.
    """
    if not follow or calendar is None:
        return d.weekday() in works_on, timedelta()
    kind = calendar.kind(d)
    if kind in _DAYS_OFF:
        return False, timedelta()
    works = d.weekday() in works_on or (
        kind is DayKind.WORKING_WEEKEND and bool(set(works_on) & _STANDARD_WEEK)
    )
    return works, timedelta(hours=calendar.cut_hours(d))


def _norm(
    d: date, calendar: ProductionCalendar | None, follow: bool, week_hours: float, own: float
) -> float:
    # The calendar's norm where the calendar has one; the schedule's own hours on a day the
    # calendar rests but the schedule works (a six-day week's Saturday) or when not following.
    if follow and calendar is not None and calendar.is_working(d):
        return calendar.norm_hours(d, week_hours)
    return own


@dataclass(frozen=True, slots=True)
class FixedSchedule:
    """Fixed hours per weekday; `week` holds Monday..Sunday, None for a day off.

    With `follow_calendar` holidays and transferred days off are days off, a working weekend is
    worked with the first working weekday's hours, and a shortened day ends earlier.
    """

    week: tuple[WorkHours | None, ...]
    tolerance: Tolerance = field(default_factory=Tolerance)
    week_hours: float = 40
    follow_calendar: bool = True

    def __post_init__(self) -> None:
        if len(self.week) != 7:
            raise ValueError("a fixed schedule needs seven days, Monday to Sunday")

    @classmethod
    def weekdays(
        cls,
        start: time,
        end: time,
        break_minutes: int = 0,
        *,
        days: Iterable[int] = _STANDARD_WEEK,
        tolerance: Tolerance | None = None,
        week_hours: float = 40,
        follow_calendar: bool = True,
    ) -> FixedSchedule:
        """The same hours on each of `days` (Monday = 0), days off otherwise."""
        chosen = set(days)
        hours = WorkHours(start, end, break_minutes)
        return cls(
            week=tuple(hours if i in chosen else None for i in range(7)),
            tolerance=tolerance or Tolerance(),
            week_hours=week_hours,
            follow_calendar=follow_calendar,
        )

    def expected_for(
        self, d: date, tz: ZoneInfo, calendar: ProductionCalendar | None = None
    ) -> Expectation | None:
        """What this schedule expects on `d` in zone `tz`, or None on a day off."""
        works_on = [i for i, hours in enumerate(self.week) if hours is not None]
        works, cut = _calendar_day(d, calendar, self.follow_calendar, works_on)
        if not works:
            return None
        hours = self.week[d.weekday()] or self.week[works_on[0]]
        assert hours is not None  # works_on only lists days with hours
        start, end = _span(d, hours.start, hours.end, tz)
        pause = timedelta(minutes=hours.break_minutes)
        cut = min(cut, max(end - start - pause, timedelta()))
        end -= cut
        minimum = max(end - start - pause, timedelta())
        norm = _norm(d, calendar, self.follow_calendar, self.week_hours, _hours(minimum))
        return Expectation(
            local_date=d,
            tz=tz,
            minimum=minimum,
            norm_hours=norm,
            tolerance=self.tolerance,
            start=start,
            end=end,
            shortened_by=cut,
            schedule_kind="fixed",
        )


@dataclass(frozen=True, slots=True)
class FlexibleSchedule:
    """A minimum of hours per working day, optionally with core hours everyone must be present.

    Lateness and early leaving are measured against the core hours; without them only the
    worked time counts.
    """

    minimum_hours: float
    core_start: time | None = None
    core_end: time | None = None
    workdays: frozenset[int] = _STANDARD_WEEK
    tolerance: Tolerance = field(default_factory=Tolerance)
    week_hours: float = 40
    follow_calendar: bool = True

    def __post_init__(self) -> None:
        if (self.core_start is None) != (self.core_end is None):
            raise ValueError("core hours need both a start and an end")
        if not 0 < self.minimum_hours <= 24:
            raise ValueError("minimum_hours must be within (0, 24]")
        object.__setattr__(self, "workdays", frozenset(self.workdays))

    def expected_for(
        self, d: date, tz: ZoneInfo, calendar: ProductionCalendar | None = None
    ) -> Expectation | None:
        """What this schedule expects on `d` in zone `tz`, or None on a day off."""
        works, cut = _calendar_day(d, calendar, self.follow_calendar, self.workdays)
        if not works:
            return None
        full = timedelta(hours=self.minimum_hours)
        cut = min(cut, full)
        core_start = core_end = None
        if self.core_start is not None and self.core_end is not None:
            core_start, core_end = _span(d, self.core_start, self.core_end, tz)
        norm = _norm(d, calendar, self.follow_calendar, self.week_hours, _hours(full - cut))
        return Expectation(
            local_date=d,
            tz=tz,
            minimum=full - cut,
            norm_hours=norm,
            tolerance=self.tolerance,
            core_start=core_start,
            core_end=core_end,
            shortened_by=cut,
            schedule_kind="flexible",
        )


@dataclass(frozen=True, slots=True)
class Shift:
    """One rostered shift starting on local date `on`; an `end` at or before `start` falls on
    the next day (a night shift belongs to the date it starts on)."""

    on: date
    start: time
    end: time
    break_minutes: int = 0

    def __post_init__(self) -> None:
        if self.break_minutes < 0:
            raise ValueError("break_minutes must not be negative")


@dataclass(frozen=True, slots=True)
class ShiftSchedule:
    """A roster of dated shifts, at most one per start date. Days without a shift are off.

    The roster is the whole truth: holidays and shortened days are whatever it says (shift
    work is accounted over a period, not by the weekday calendar).
    """

    shifts: tuple[Shift, ...]
    tolerance: Tolerance = field(default_factory=Tolerance)
    _by_date: Mapping[date, Shift] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "shifts", tuple(sorted(self.shifts, key=lambda s: s.on)))
        by_date: dict[date, Shift] = {}
        for shift in self.shifts:
            if shift.on in by_date:
                raise ValueError(f"two shifts start on {shift.on.isoformat()}")
            by_date[shift.on] = shift
        object.__setattr__(self, "_by_date", by_date)

    def expected_for(
        self, d: date, tz: ZoneInfo, calendar: ProductionCalendar | None = None
    ) -> Expectation | None:
        """The shift starting on `d` in zone `tz`, or None when none is rostered."""
        shift = self._by_date.get(d)
        if shift is None:
            return None
        start, end = _span(d, shift.start, shift.end, tz)
        minimum = max(end - start - timedelta(minutes=shift.break_minutes), timedelta())
        return Expectation(
            local_date=d,
            tz=tz,
            minimum=minimum,
            norm_hours=_hours(minimum),
            tolerance=self.tolerance,
            start=start,
            end=end,
            schedule_kind="shift",
        )


Schedule = FixedSchedule | FlexibleSchedule | ShiftSchedule

# --- Assignment ----------------------------------------------------------------------------------


class Scope(StrEnum):
    """Whom an assignment covers, from the least to the most specific."""

    PORTAL = "portal"
    DEPARTMENT = "department"
    EMPLOYEE = "employee"


_SPECIFICITY = {Scope.PORTAL: 0, Scope.DEPARTMENT: 1, Scope.EMPLOYEE: 2}

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Assignment(Generic[T]):
    """A schedule (or its id: any payload) assigned to a scope from `valid_from` on.

    `target` is the employee or department id (compared as text, as Bitrix24 sends ids as
    strings); it is ignored for the portal scope.
    """

    scope: Scope
    valid_from: date
    schedule: T
    target: str | int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "scope", Scope(self.scope))
        if self.scope is not Scope.PORTAL and self.target is None:
            raise ValueError(f"a {self.scope} assignment needs a target id")


def resolve_schedule(
    assignments: Iterable[Assignment[T]],
    employee_id: str | int,
    department_ids: Iterable[str | int],
    on: date,
) -> Assignment[T] | None:
    """The assignment in force for a person on `on`, or None.

    The most specific scope wins (employee over department over portal); within a scope the
    latest `valid_from` not after `on` wins. Between departments with the same `valid_from`,
    the one listed first in `department_ids` wins (pass the main department first); between
    exact duplicates, the one given last.
    """
    person = str(employee_id)
    departments = {str(d): rank for rank, d in reversed(list(enumerate(department_ids)))}
    best: Assignment[T] | None = None
    best_key: tuple[int, date, int, int] | None = None
    for order, assignment in enumerate(assignments):
        if assignment.valid_from > on:
            continue
        target = None if assignment.target is None else str(assignment.target)
        department_rank = 0
        if assignment.scope is Scope.EMPLOYEE:
            if target != person:
                continue
        elif assignment.scope is Scope.DEPARTMENT:
            if target not in departments:
                continue
            department_rank = -departments[target]
        key = (_SPECIFICITY[assignment.scope], assignment.valid_from, department_rank, order)
        if best_key is None or key > best_key:
            best, best_key = assignment, key
    return best
