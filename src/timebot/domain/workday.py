"""The work day: the state machine over marks, and assembly of marks into work days.

All durations are differences of UTC instants, so 23- and 25-hour DST days come out right;
the zone only decides which local date a day belongs to (the date on which it started).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from operator import attrgetter
from zoneinfo import ZoneInfo

from timebot.domain.marks import Mark, MarkKind, WorkState
from timebot.domain.timezones import as_utc, day_length, local_day_bounds, resolve_zone

__all__ = [
    "Assembly",
    "IllegalTransition",
    "Interval",
    "Refusal",
    "WorkDay",
    "allowed_actions",
    "assemble",
    "assemble_work_days",
    "day_length",
    "local_day_bounds",
    "next_state",
    "resolve_zone",
    "state_of",
]


# --- State machine -----------------------------------------------------------------------------


class Refusal(StrEnum):
    """Why an action is impossible in a state (machine-readable, for replies and API errors)."""

    ALREADY_WORKING = "already_working"  # check-in while a work day is open (working or on break)
    NOT_WORKING = "not_working"  # break start while off
    ALREADY_ON_BREAK = "already_on_break"  # break start while on break
    NOT_ON_BREAK = "not_on_break"  # break end while not on break
    ALREADY_OFF = "already_off"  # check-out with no open work day


_S, _K, _R = WorkState, MarkKind, Refusal

# Every (state, action) pair, so the table is the whole specification: a state, or why not.
_TRANSITIONS: Mapping[tuple[WorkState, MarkKind], WorkState | Refusal] = {
    (_S.OFF, _K.CHECK_IN): _S.WORKING,
    (_S.OFF, _K.BREAK_START): _R.NOT_WORKING,
    (_S.OFF, _K.BREAK_END): _R.NOT_ON_BREAK,
    (_S.OFF, _K.CHECK_OUT): _R.ALREADY_OFF,
    (_S.WORKING, _K.CHECK_IN): _R.ALREADY_WORKING,
    (_S.WORKING, _K.BREAK_START): _S.ON_BREAK,
    (_S.WORKING, _K.BREAK_END): _R.NOT_ON_BREAK,
    (_S.WORKING, _K.CHECK_OUT): _S.OFF,
    (_S.ON_BREAK, _K.CHECK_IN): _R.ALREADY_WORKING,
    (_S.ON_BREAK, _K.BREAK_START): _R.ALREADY_ON_BREAK,
    (_S.ON_BREAK, _K.BREAK_END): _S.WORKING,
    (_S.ON_BREAK, _K.CHECK_OUT): _S.OFF,  # checking out ends the open break
}


class IllegalTransition(Exception):
    """An action that the current state does not allow."""

    def __init__(self, state: WorkState, kind: MarkKind, reason: Refusal) -> None:
        super().__init__(f"cannot {kind} while {state}: {reason}")
        self.state = state
        self.kind = kind
        self.reason = reason


def next_state(state: WorkState, kind: MarkKind) -> WorkState:
    """The state after `kind` happens in `state`; raises IllegalTransition if it cannot."""
    step = _TRANSITIONS[(state, kind)]
    if isinstance(step, Refusal):
        raise IllegalTransition(state, kind, step)
    return step


def allowed_actions(state: WorkState) -> tuple[MarkKind, ...]:
    """The actions possible in `state`, in MarkKind order (what a keyboard should offer)."""
    return tuple(k for k in MarkKind if isinstance(_TRANSITIONS[(state, k)], WorkState))


def _in_time_order(marks: Iterable[Mark]) -> list[Mark]:
    # A stable sort: marks at the same instant keep the order the caller gave (storage order).
    return sorted(marks, key=attrgetter("at"))


def state_of(marks: Sequence[Mark]) -> WorkState:
    """The state after replaying `marks` in time order, skipping illegal ones as `assemble` does.

    Pass every mark since the last closed work day (a window starting mid-day reads as OFF).
    """
    state = WorkState.OFF
    for mark in _in_time_order(marks):
        step = _TRANSITIONS[(state, mark.kind)]
        if isinstance(step, WorkState):
            state = step
    return state


# --- Values ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Interval:
    """A span of time between two UTC instants, `start` <= `end`."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is not UTC:
            object.__setattr__(self, "start", as_utc(self.start))
        if self.end.tzinfo is not UTC:
            object.__setattr__(self, "end", as_utc(self.end))
        if self.end < self.start:
            raise ValueError(f"interval ends before it starts: {self.start} > {self.end}")

    @property
    def duration(self) -> timedelta:
        """How long the interval lasts."""
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class WorkDay:
    """One work day: from a check-in to its check-out (or, while open, to the counting instant).

    `worked + on_break` always equals `counted_until - started_at`. `provisional` says some
    accepted mark is provisional. `ignored` holds marks that arrived while this day was open but
    were illegal in sequence (e.g. a second check-in); they affect no duration.
    Construction checks these invariants and raises ValueError when they do not hold.
    """

    local_date: date
    started_at: datetime
    ended_at: datetime | None
    worked: timedelta
    on_break: timedelta
    breaks: tuple[Interval, ...]
    is_open: bool
    provisional: bool
    marks: tuple[Mark, ...]
    ignored: tuple[Mark, ...] = ()

    def __post_init__(self) -> None:
        if self.started_at.tzinfo is not UTC:
            object.__setattr__(self, "started_at", as_utc(self.started_at))
        if self.ended_at is not None and self.ended_at.tzinfo is not UTC:
            object.__setattr__(self, "ended_at", as_utc(self.ended_at))
        problems = []
        if self.is_open != (self.ended_at is None):
            problems.append("is_open must be true exactly when ended_at is None")
        if self.worked < timedelta() or self.on_break < timedelta():
            problems.append("durations must not be negative")
        if self.on_break != sum((b.duration for b in self.breaks), timedelta()):
            problems.append("on_break must equal the total of breaks")
        if self.ended_at is not None and self.counted_until != self.ended_at:
            problems.append("worked + on_break must equal ended_at - started_at")
        cursor = self.started_at
        for interval in self.breaks:
            if interval.start < cursor:
                problems.append("breaks must be ordered, apart, and after the start")
            cursor = interval.end
        if cursor > self.counted_until:
            problems.append("breaks must end within the day")
        if problems:
            raise ValueError("inconsistent work day: " + "; ".join(problems))

    @property
    def counted_until(self) -> datetime:
        """Where time counting stops: `ended_at` once closed, the counting instant if open."""
        return self.started_at + self.worked + self.on_break

    @property
    def span(self) -> Interval:
        """From check-in to `counted_until`."""
        return Interval(self.started_at, self.counted_until)

    @property
    def work_intervals(self) -> tuple[Interval, ...]:
        """The non-empty stretches of work between breaks; their durations add up to `worked`."""
        stretches = []
        cursor = self.started_at
        for pause in (*self.breaks, Interval(self.counted_until, self.counted_until)):
            if pause.start > cursor:
                stretches.append(Interval(cursor, pause.start))
            cursor = pause.end
        return tuple(stretches)


@dataclass(frozen=True, slots=True)
class Assembly:
    """The result of assembling marks: the days, every ignored mark, and the final state.

    `ignored` includes marks that fell outside any day (e.g. a check-out while off), which no
    `WorkDay.ignored` can hold.
    """

    days: tuple[WorkDay, ...]
    ignored: tuple[Mark, ...]
    state: WorkState


# --- Assembly ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _DayDraft:
    """A day being assembled; only legal marks reach `accept`."""

    check_in: Mark
    marks: list[Mark] = field(default_factory=list)
    ignored: list[Mark] = field(default_factory=list)
    breaks: list[Interval] = field(default_factory=list)
    break_started: datetime | None = None

    def __post_init__(self) -> None:
        self.marks.append(self.check_in)

    def accept(self, mark: Mark) -> None:
        self.marks.append(mark)
        if mark.kind is MarkKind.BREAK_START:
            self.break_started = mark.at
        elif self.break_started is not None:  # a break end, or a check-out ending the break
            self.breaks.append(Interval(self.break_started, mark.at))
            self.break_started = None

    def build(self, tz: ZoneInfo, *, until: datetime, closed: bool) -> WorkDay:
        breaks = list(self.breaks)
        if self.break_started is not None:  # only an open day can still be on break
            breaks.append(Interval(self.break_started, until))
        on_break = _ZERO
        for pause in breaks:
            on_break += pause.end - pause.start
        start = self.check_in.at
        # The state machine only lets legal marks in, in time order, so the day holds the
        # WorkDay invariants by construction (the property tests check them on every result);
        # re-checking them per day would cost more than assembling it.
        day = object.__new__(WorkDay)
        _set(day, "local_date", start.astimezone(tz).date())
        _set(day, "started_at", start)
        _set(day, "ended_at", until if closed else None)
        _set(day, "worked", until - start - on_break)
        _set(day, "on_break", on_break)
        _set(day, "breaks", tuple(breaks))
        _set(day, "is_open", not closed)
        _set(day, "provisional", any(m.provisional for m in self.marks))
        _set(day, "marks", tuple(self.marks))
        _set(day, "ignored", tuple(self.ignored))
        return day


_ZERO = timedelta()
_set = object.__setattr__


def assemble(marks: Sequence[Mark], tz: ZoneInfo, *, now: datetime | None = None) -> Assembly:
    """Assemble `marks` (any order) into work days, tolerating corrupt sequences.

    Marks are replayed in time order through the state machine. Policy for a mark the machine
    refuses (two check-ins in a row, a break end while working, ...): it is ignored, changes no
    state and no duration, and is reported in `Assembly.ignored` (and in `WorkDay.ignored` when
    a day was open). So time is never negative and no two intervals overlap.

    A day belongs to the local date in `tz` on which its check-in happened. An open day (no
    check-out yet) counts up to `now` if given, else to its last accepted mark; never to before
    that mark, so a `now` that lags behind the marks cannot make time negative.
    """
    days: list[WorkDay] = []
    ignored: list[Mark] = []
    state = WorkState.OFF
    draft: _DayDraft | None = None
    for mark in _in_time_order(marks):
        step = _TRANSITIONS[(state, mark.kind)]
        if isinstance(step, Refusal):
            ignored.append(mark)
            if draft is not None:
                draft.ignored.append(mark)
            continue
        state = step
        if draft is None:  # legal while off means a check-in
            draft = _DayDraft(mark)
        else:
            draft.accept(mark)
            if state is WorkState.OFF:
                days.append(draft.build(tz, until=mark.at, closed=True))
                draft = None
    if draft is not None:
        last = draft.marks[-1].at
        until = last if now is None else max(as_utc(now), last)
        days.append(draft.build(tz, until=until, closed=False))
    return Assembly(days=tuple(days), ignored=tuple(ignored), state=state)


def assemble_work_days(
    marks: Sequence[Mark], tz: ZoneInfo, *, now: datetime | None = None
) -> list[WorkDay]:
    """The work days of `assemble(marks, tz, now=now)`; see there for the policy."""
    return list(assemble(marks, tz, now=now).days)
