"""Reminders and the automatic close of forgotten days: what is due for one person, now.

Pure decisions, no I/O. The reminders job (`timebot.jobs.reminders`) reads the facts, asks
`due()`, and writes what it answers; the reminder buttons use the same timeline to tell the
person what comes next.

Rules per portal (`portal.settings`, read by `ReminderRules.from_settings`; minutes; an
explicit null turns a rule off):

- `remind_checkin_after_minutes` (default off): on a working day, nobody has checked in by the
  scheduled start (or core start) + N → "did you forget to check in?". Only while the day is
  on (before the scheduled end); never on a day off or without a start time.
- `remind_checkout_after_minutes` (default 30): a day is still open at its end + N → "still
  working / left at … / forgot to check out".
- `remind_checkout_snooze_minutes` (default 60): after each "still working" the check-out
  reminder comes again that long after the answer (never before the first reminder's time).
- `auto_close_after_minutes` (default 240): a day still open at its end + N (counted from the
  last "still working" answer when that is later) is closed provisionally, flagged
  "auto_closed" for the manager.

The end of an open day is its scheduled end when the day began before it. Days without one —
flexible schedules without a fixed end, days off, a day begun after the scheduled end — end at
the local midnight after the date they began (the same anchor `Tolerance.
forgotten_checkout_minutes` uses), so by default the reminder comes at 00:30 and the close at
04:00 local time.

An automatic close puts the check-out at the latest of: the scheduled end (when the day has
one), the last mark, the last "still working" answer. Nothing past what the schedule or the
person vouched for is credited; the mark is provisional, for the manager to confirm.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from timebot.domain.marks import WorkState
from timebot.domain.schedules import Expectation
from timebot.domain.timezones import local_day_bounds
from timebot.domain.workday import WorkDay

__all__ = [
    "AUTO_CLOSED_FLAG",
    "STATED_TIME_FLAG",
    "Due",
    "OpenDayTimeline",
    "ReminderKind",
    "ReminderRules",
    "ViewLike",
    "checkin_due",
    "due",
    "open_day_timeline",
]

AUTO_CLOSED_FLAG = "auto_closed"  # the job closed a forgotten day
STATED_TIME_FLAG = "stated_time"  # the person stated when they left (from a reminder)


def _minutes(value: Any, default: int | None, *, allow_off: bool) -> int | None:
    """A setting in minutes: a non-negative whole number (ints or digit strings); None turns
    the rule off when allowed; anything else falls back to the default."""
    if value is None:
        return None if allow_off else default
    if isinstance(value, bool):
        return default
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and 0 <= value <= 7 * 24 * 60:
        return value
    return default


@dataclass(frozen=True, slots=True)
class ReminderRules:
    """A portal's reminder rules (minutes; None = off). The defaults live here and only here."""

    remind_checkin_after_minutes: int | None = None
    remind_checkout_after_minutes: int | None = 30
    auto_close_after_minutes: int | None = 240
    remind_checkout_snooze_minutes: int = 60

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None) -> ReminderRules:
        """Read the rules from `portal.settings`; a missing key keeps the default, an explicit
        null turns the rule off (the snooze cannot be off), a malformed value keeps the default."""
        s: Mapping[str, Any] = settings if isinstance(settings, Mapping) else {}
        d = cls()
        snooze = _minutes(
            s.get("remind_checkout_snooze_minutes"),
            d.remind_checkout_snooze_minutes,
            allow_off=False,
        )
        return cls(
            remind_checkin_after_minutes=_minutes(
                s.get("remind_checkin_after_minutes", d.remind_checkin_after_minutes),
                d.remind_checkin_after_minutes,
                allow_off=True,
            ),
            remind_checkout_after_minutes=_minutes(
                s.get("remind_checkout_after_minutes", d.remind_checkout_after_minutes),
                d.remind_checkout_after_minutes,
                allow_off=True,
            ),
            auto_close_after_minutes=_minutes(
                s.get("auto_close_after_minutes", d.auto_close_after_minutes),
                d.auto_close_after_minutes,
                allow_off=True,
            ),
            remind_checkout_snooze_minutes=max(snooze or 1, 1),
        )

    @property
    def any(self) -> bool:
        """Whether the job has anything to do for this portal."""
        return (
            self.remind_checkin_after_minutes is not None
            or self.remind_checkout_after_minutes is not None
            or self.auto_close_after_minutes is not None
        )


class ViewLike(Protocol):
    """What a decision needs of a person's day (`timebot.services.tracking.DayView` fits)."""

    @property
    def now(self) -> datetime: ...
    @property
    def tz(self) -> ZoneInfo: ...
    @property
    def state(self) -> WorkState: ...
    @property
    def day(self) -> WorkDay | None: ...
    @property
    def expectation(self) -> Expectation | None: ...


class ReminderKind(StrEnum):
    CHECK_IN = "checkin"
    CHECK_OUT = "checkout"
    AUTO_CLOSE = "autoclose"


@dataclass(frozen=True, slots=True)
class OpenDayTimeline:
    """Where an open day stands: when it ends, when the next reminder and the cut-off come."""

    local_date: date
    end: datetime  # the scheduled end, or the local midnight after the date (see module doc)
    scheduled_end: datetime | None  # the scheduled end when the day began before it
    last_mark_at: datetime
    confirmations: tuple[datetime, ...]  # "still working" answers since the day began
    remind_at: datetime | None  # the next check-out reminder (None: off)
    cutoff: datetime | None  # the automatic close (None: off)
    close_at: datetime  # where an automatic close would put the check-out

    @property
    def round(self) -> int:
        """How many times the person answered "still working" (0 before the first answer)."""
        return len(self.confirmations)


@dataclass(frozen=True, slots=True)
class Due:
    """Something to do for one person now."""

    kind: ReminderKind
    local_date: date  # the work day's local date (today's for a check-in reminder)
    anchor: datetime  # the scheduled start (check-in) or the day's end (check-out, close)
    timeline: OpenDayTimeline | None = None  # for check-out reminders and closes
    round: int = 0  # check-out reminders: "still working" answers before this one

    @property
    def close_at(self) -> datetime | None:
        return self.timeline.close_at if self.timeline else None

    def dedupe_key(self, employee_id: int) -> str:
        """`remind:{kind}:{employee}:{local date}` (a repeated check-out reminder adds the
        round), so each reminder and close is sent once however many workers run the job."""
        key = f"remind:{self.kind.value}:{employee_id}:{self.local_date.isoformat()}"
        return f"{key}:{self.round}" if self.round else key


def _last_mark_at(day: WorkDay) -> datetime:
    return max(m.at for m in (*day.marks, *day.ignored))


def open_day_timeline(
    view: ViewLike, rules: ReminderRules, confirmations: Iterable[datetime] = ()
) -> OpenDayTimeline | None:
    """The timeline of the person's open day, None when no day is open.

    `confirmations` are the instants the person answered "still working" (any; those before
    the day began are dropped).
    """
    day = view.day
    if day is None or not day.is_open:
        return None
    e = view.expectation
    scheduled = e.end if e is not None and e.end is not None else None
    if scheduled is not None and day.started_at >= scheduled:
        scheduled = None  # began after the scheduled end: that end says nothing about this day
    end = scheduled or local_day_bounds(day.local_date, view.tz)[1]
    answers = tuple(sorted(c for c in confirmations if c >= day.started_at))
    last_answer = answers[-1] if answers else None
    last_mark = _last_mark_at(day)

    remind_at = None
    if rules.remind_checkout_after_minutes is not None:
        remind_at = end + timedelta(minutes=rules.remind_checkout_after_minutes)
        if last_answer is not None:  # snoozed, but never earlier than the first reminder
            snoozed = last_answer + timedelta(minutes=rules.remind_checkout_snooze_minutes)
            remind_at = max(remind_at, snoozed)
    cutoff = None
    if rules.auto_close_after_minutes is not None:
        since = max(end, last_answer) if last_answer is not None else end
        cutoff = since + timedelta(minutes=rules.auto_close_after_minutes)
    close_at = max(t for t in (scheduled, last_mark, last_answer) if t is not None)
    return OpenDayTimeline(
        local_date=day.local_date,
        end=end,
        scheduled_end=scheduled,
        last_mark_at=last_mark,
        confirmations=answers,
        remind_at=remind_at,
        cutoff=cutoff,
        close_at=min(close_at, max(view.now, last_mark)),
    )


def checkin_due(view: ViewLike, rules: ReminderRules) -> Due | None:
    """The morning reminder, when the portal wants it and nobody has checked in yet."""
    after = rules.remind_checkin_after_minutes
    e = view.expectation
    if after is None or e is None or view.state is not WorkState.OFF or view.day is not None:
        return None
    start = e.start or e.core_start
    if start is None:
        return None  # a flexible day without core hours has no start to be late for
    over = e.end or e.core_end or e.closes_at
    now = view.now
    if start + timedelta(minutes=after) <= now < over:
        return Due(ReminderKind.CHECK_IN, e.local_date, start)
    return None


def due(view: ViewLike, rules: ReminderRules, confirmations: Iterable[datetime] = ()) -> Due | None:
    """What is due for this person now: a close, a check-out or check-in reminder, or nothing.

    The close wins over a reminder due at the same time; a reminder that would come at or after
    the cut-off is not sent (the close message says it all).
    """
    timeline = open_day_timeline(view, rules, confirmations)
    if timeline is None:
        return checkin_due(view, rules)
    now = view.now
    if timeline.cutoff is not None and now >= timeline.cutoff:
        return Due(ReminderKind.AUTO_CLOSE, timeline.local_date, timeline.end, timeline)
    remind_at = timeline.remind_at
    if (
        remind_at is not None
        and now >= remind_at
        and (timeline.cutoff is None or remind_at < timeline.cutoff)
    ):
        return Due(
            ReminderKind.CHECK_OUT, timeline.local_date, timeline.end, timeline, timeline.round
        )
    return None
