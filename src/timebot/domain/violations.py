"""Violations: a person's work days compared with what their schedule expected (late start, early
leave, short day, absence, overtime, forgotten or automatic check-out, location problems), the
excuses that cover them, and their explanation in words.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from timebot.domain.calendar import ProductionCalendar
from timebot.domain.marks import MarkKind
from timebot.domain.schedules import Expectation
from timebot.domain.timezones import as_utc, local_day_bounds
from timebot.domain.workday import WorkDay

__all__ = [
    "DEFAULT_ARRIVAL_WINDOW",
    "DayRecord",
    "Excuse",
    "LocationFinding",
    "Violation",
    "ViolationKind",
    "apply_excuses",
    "attribute_work_days",
    "day_violations",
    "explain",
    "find_violations",
]

# How long before an expected start a check-in still counts for that start (so arriving at
# 23:50 for a midnight shift belongs to the shift, not to the day before).
DEFAULT_ARRIVAL_WINDOW = timedelta(hours=4)
_MINUTE = timedelta(minutes=1)


class ViolationKind(StrEnum):
    """What went wrong on a day."""

    LATE_START = "late_start"
    EARLY_LEAVE = "early_leave"
    SHORT_DAY = "short_day"
    ABSENT = "absent"
    OUTSIDE_GEOFENCE = "outside_geofence"
    SUSPICIOUS_LOCATION = "suspicious_location"
    FORGOTTEN_CHECKOUT = "forgotten_checkout"
    PROVISIONAL_CLOSE = "provisional_close"
    OVERTIME = "overtime"


_ORDER = {kind: i for i, kind in enumerate(ViolationKind)}
_LOCATION_KINDS = frozenset({ViolationKind.OUTSIDE_GEOFENCE, ViolationKind.SUSPICIOUS_LOCATION})


@dataclass(frozen=True, slots=True)
class Violation:
    """One violation on one local date, with the facts that explain it.

    `minutes` is how much: late by, left early by, short by, over by, overdue by, or the time
    counted without confirmation (provisional close); 0 for location problems. Instants are in
    the person's zone. `excused_by` names the excuse that covers it (it is kept, not dropped).
    """

    kind: ViolationKind
    local_date: date
    minutes: int
    actual: datetime | None = None  # arrival, departure, mark or automatic close
    expected: datetime | None = None  # the scheduled start or end
    allowed: datetime | None = None  # the tolerance boundary
    worked: timedelta | None = None
    required: timedelta | None = None
    distance_m: float | None = None
    detail: str | None = None
    day_kind: str | None = None  # set for work on a day off: weekend, holiday, ...
    excused_by: str | None = None

    @property
    def excused(self) -> bool:
        """Whether an excuse covers this violation."""
        return self.excused_by is not None


@dataclass(frozen=True, slots=True)
class LocationFinding:
    """A location problem of a mark, as the presence verdict reported it.

    `kind` is OUTSIDE_GEOFENCE or SUSPICIOUS_LOCATION; `mark_id` ties it to a work day when
    known, else `at` does.
    """

    kind: ViolationKind
    at: datetime
    mark_id: int | None = None
    distance_m: float | None = None
    detail: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", ViolationKind(self.kind))
        object.__setattr__(self, "at", as_utc(self.at))
        if self.kind not in _LOCATION_KINDS:
            raise ValueError(f"{self.kind} is not a location problem")


@dataclass(frozen=True, slots=True)
class Excuse:
    """A reason that excuses violations on dates `first_day`..`last_day` (inclusive): an
    approved explanation (usually one date and kind) or a Bitrix24 absence (a range, any kind).
    """

    first_day: date
    last_day: date
    reason: str
    kinds: frozenset[ViolationKind] | None = None  # None: every kind

    def __post_init__(self) -> None:
        if self.last_day < self.first_day:
            raise ValueError("an excuse must not end before it starts")
        if self.kinds is not None:
            object.__setattr__(self, "kinds", frozenset(ViolationKind(k) for k in self.kinds))

    def covers(self, violation: Violation) -> bool:
        """Whether this excuse covers `violation`."""
        if not self.first_day <= violation.local_date <= self.last_day:
            return False
        return self.kinds is None or violation.kind in self.kinds


@dataclass(frozen=True, slots=True)
class DayRecord:
    """The work days attributed to one local date, in time order."""

    local_date: date
    work_days: tuple[WorkDay, ...]

    @property
    def started_at(self) -> datetime:
        return self.work_days[0].started_at

    @property
    def ended_at(self) -> datetime | None:
        """The last end, None while any work day is open."""
        if any(day.is_open for day in self.work_days):
            return None
        return max(day.counted_until for day in self.work_days)

    @property
    def worked(self) -> timedelta:
        return sum((day.worked for day in self.work_days), timedelta())

    @property
    def is_open(self) -> bool:
        return any(day.is_open for day in self.work_days)

    @property
    def auto_closed(self) -> WorkDay | None:
        """The last work day when a provisional check-out closed it (the system closed it)."""
        last = self.work_days[-1]
        closing = last.marks[-1]
        if not last.is_open and closing.kind is MarkKind.CHECK_OUT and closing.provisional:
            return last
        return None


def _minute(at: datetime) -> datetime:
    # Compare at the minute people see: arriving at 09:15:40 reads "09:15", within "until 09:15".
    return at.replace(second=0, microsecond=0)


def _whole_minutes(delta: timedelta) -> int:
    return int(delta // _MINUTE)


def attribute_work_days(
    work_days: Iterable[WorkDay],
    expectations: Mapping[date, Expectation | None],
    *,
    arrival_window: timedelta = DEFAULT_ARRIVAL_WINDOW,
) -> dict[date, DayRecord]:
    """Group work days by the date they count for.

    A work day counts for the expected start it falls in (from `arrival_window` before the start
    until the end) on its own date or a neighbouring one, the nearest start winning; otherwise
    for the local date it started on. So a night shift belongs to the date it started on, even
    when the person came a little early (before midnight) or late (after it).
    """
    grouped: dict[date, list[WorkDay]] = {}
    for day in sorted(work_days, key=lambda d: d.started_at):
        target = day.local_date
        best: timedelta | None = None
        for offset in (-1, 0, 1):
            candidate = day.local_date + timedelta(days=offset)
            expected = expectations.get(candidate)
            if expected is None or expected.start is None or expected.end is None:
                continue
            if expected.start - arrival_window <= day.started_at < expected.end:
                gap = abs(day.started_at - expected.start)
                if best is None or gap < best:
                    target, best = candidate, gap
        grouped.setdefault(target, []).append(day)
    return {d: DayRecord(d, tuple(days)) for d, days in grouped.items()}


def day_violations(
    local_date: date,
    expectation: Expectation | None,
    record: DayRecord | None,
    *,
    tz: ZoneInfo,
    now: datetime | None = None,
    day_kind: str | None = None,
    forgotten_after: timedelta = timedelta(hours=1),
) -> list[Violation]:
    """The violations of one date from its expectation (None = day off) and its work.

    `now` bounds what is known: absence and forgotten check-outs are only reported once the
    expected day is over (None means everything is in the past). `day_kind` labels work on a
    day off; `forgotten_after` is the grace after midnight for an open day on a day off.
    """
    instant = None if now is None else as_utc(now)
    found: list[Violation] = []

    def local(at: datetime | None) -> datetime | None:
        return None if at is None else at.astimezone(tz)

    if record is None:
        if expectation is not None and (instant is None or instant >= expectation.closes_at):
            found.append(
                Violation(
                    ViolationKind.ABSENT,
                    local_date,
                    _whole_minutes(expectation.minimum),
                    required=expectation.minimum,
                    expected=local(expectation.start or expectation.core_start),
                )
            )
        return found

    # Late start: only the first arrival of the date counts.
    if expectation is not None and expectation.latest_start is not None:
        arrived = _minute(record.started_at)
        anchor = expectation.start or expectation.core_start
        assert anchor is not None  # latest_start exists only with an anchor
        if arrived > expectation.latest_start:
            found.append(
                Violation(
                    ViolationKind.LATE_START,
                    local_date,
                    _whole_minutes(arrived - anchor),
                    actual=local(record.started_at),
                    expected=local(anchor),
                    allowed=local(expectation.latest_start),
                )
            )

    if record.is_open:
        if expectation is not None:
            due = expectation.closes_at + timedelta(
                minutes=expectation.tolerance.forgotten_checkout_minutes
            )
            since = expectation.closes_at
        else:
            since = local_day_bounds(local_date, tz)[1]
            due = since + forgotten_after
        if instant is not None and instant >= due:
            found.append(
                Violation(
                    ViolationKind.FORGOTTEN_CHECKOUT,
                    local_date,
                    _whole_minutes(instant - since),
                    actual=local(record.work_days[-1].started_at),
                    expected=local(expectation.end if expectation is not None else None),
                    allowed=local(due),
                )
            )
        return found

    auto = record.auto_closed
    if auto is not None:
        confirmed = [m for m in auto.marks if not m.provisional]
        last_sure = confirmed[-1].at if confirmed else auto.started_at
        ended = auto.counted_until
        found.append(
            Violation(
                ViolationKind.PROVISIONAL_CLOSE,
                local_date,
                _whole_minutes(ended - last_sure),
                actual=local(ended),
                worked=record.worked,
            )
        )
        # An automatic end is no evidence of when the person left or how long they worked.
        return found

    worked = record.worked
    worked_minutes = _whole_minutes(worked)
    if expectation is None:
        if worked_minutes > 0:
            found.append(
                Violation(
                    ViolationKind.OVERTIME,
                    local_date,
                    worked_minutes,
                    worked=worked,
                    required=timedelta(),
                    day_kind=day_kind or "day_off",
                )
            )
        return found

    ended_at = record.ended_at
    assert ended_at is not None  # the record is closed here
    if expectation.earliest_end is not None:
        left = _minute(ended_at)
        anchor = expectation.end or expectation.core_end
        assert anchor is not None
        if left < expectation.earliest_end:
            found.append(
                Violation(
                    ViolationKind.EARLY_LEAVE,
                    local_date,
                    _whole_minutes(anchor - left),
                    actual=local(ended_at),
                    expected=local(anchor),
                    allowed=local(expectation.earliest_end),
                )
            )

    required = _whole_minutes(expectation.minimum)
    tolerance = expectation.tolerance
    if worked_minutes < required - tolerance.short_day_minutes:
        found.append(
            Violation(
                ViolationKind.SHORT_DAY,
                local_date,
                required - worked_minutes,
                worked=worked,
                required=expectation.minimum,
            )
        )
    if worked_minutes > required + tolerance.overtime_minutes:
        found.append(
            Violation(
                ViolationKind.OVERTIME,
                local_date,
                worked_minutes - required,
                worked=worked,
                required=expectation.minimum,
                actual=local(ended_at),
                expected=local(expectation.end),
            )
        )
    return found


def _day_off_kind(calendar: ProductionCalendar | None, d: date) -> str:
    # Names a worked day off: the calendar's kind, or "day_off" when only the schedule rests.
    if calendar is None or calendar.is_working(d):
        return "day_off"
    return calendar.kind(d).value


def _locations_by_date(
    findings: Iterable[LocationFinding], records: Mapping[date, DayRecord], tz: ZoneInfo
) -> list[tuple[date, LocationFinding]]:
    by_mark: dict[int, date] = {}
    spans: list[tuple[datetime, datetime, date]] = []
    for d, record in records.items():
        for day in record.work_days:
            spans.append((day.started_at, day.counted_until, d))
            by_mark.update({m.id: d for m in (*day.marks, *day.ignored) if m.id is not None})
    placed: list[tuple[date, LocationFinding]] = []
    for finding in findings:
        target = by_mark.get(finding.mark_id) if finding.mark_id is not None else None
        if target is None:
            target = next((d for s, e, d in spans if s <= finding.at <= e), None)
        if target is None:
            target = finding.at.astimezone(tz).date()
        placed.append((target, finding))
    return placed


def apply_excuses(violations: Iterable[Violation], excuses: Sequence[Excuse]) -> list[Violation]:
    """The violations, each covered one marked with the first excuse that covers it."""
    result = []
    for violation in violations:
        excuse = next((e for e in excuses if e.covers(violation)), None)
        result.append(violation if excuse is None else replace(violation, excused_by=excuse.reason))
    return result


def find_violations(
    work_days: Iterable[WorkDay],
    expectations: Mapping[date, Expectation | None],
    *,
    tz: ZoneInfo,
    now: datetime | None = None,
    calendar: ProductionCalendar | None = None,
    locations: Iterable[LocationFinding] = (),
    excuses: Sequence[Excuse] = (),
    arrival_window: timedelta = DEFAULT_ARRIVAL_WINDOW,
) -> list[Violation]:
    """Every violation of one person over the dates in `expectations` (None = day off).

    Work days are attributed to dates as `attribute_work_days` says; work on a date outside
    `expectations` is not judged. `calendar` names the kind of a day off that was worked;
    excuses mark what they cover. Sorted by date, then kind.
    """
    records = attribute_work_days(work_days, expectations, arrival_window=arrival_window)
    found: list[Violation] = []
    for d in sorted(expectations):
        day_kind = _day_off_kind(calendar, d)
        found.extend(
            day_violations(d, expectations[d], records.get(d), tz=tz, now=now, day_kind=day_kind)
        )
    for d, finding in _locations_by_date(locations, records, tz):
        if d not in expectations:
            continue
        found.append(
            Violation(
                finding.kind,
                d,
                0,
                actual=finding.at.astimezone(tz),
                distance_m=finding.distance_m,
                detail=finding.detail,
            )
        )
    found.sort(
        key=lambda v: (v.local_date, _ORDER[v.kind], v.actual.timestamp() if v.actual else 0.0)
    )
    return apply_excuses(found, excuses)


# --- Words -------------------------------------------------------------------------------------


def _clock(at: datetime | None) -> str:
    return "—" if at is None else at.strftime("%H:%M")


def _duration(delta: timedelta | None) -> str:
    minutes = 0 if delta is None else _whole_minutes(delta)
    return f"{minutes // 60}:{minutes % 60:02d}"


# (Russian, English) per kind; fields come from `_facts`.
_TEMPLATES: Mapping[ViolationKind, tuple[str, str]] = {
    ViolationKind.LATE_START: (
        "пришёл в {actual}, допуск до {allowed}",
        "arrived at {actual}, tolerance until {allowed}",
    ),
    ViolationKind.EARLY_LEAVE: (
        "ушёл в {actual}, допуск с {allowed}",
        "left at {actual}, tolerance from {allowed}",
    ),
    ViolationKind.SHORT_DAY: (
        "отработано {worked} из {required}",
        "worked {worked} of {required}",
    ),
    ViolationKind.ABSENT: ("не отметился в рабочий день", "no check-in on a working day"),
    ViolationKind.OUTSIDE_GEOFENCE: (
        "отметка в {actual} вне зоны офиса{distance}",
        "mark at {actual} outside the office zone{distance}",
    ),
    ViolationKind.SUSPICIOUS_LOCATION: (
        "подозрительное местоположение в {actual}{detail}",
        "suspicious location at {actual}{detail}",
    ),
    ViolationKind.FORGOTTEN_CHECKOUT: (
        "не отметил уход, день открыт с {actual}",
        "no check-out, day open since {actual}",
    ),
    ViolationKind.PROVISIONAL_CLOSE: (
        "день закрыт автоматически в {actual}",
        "day closed automatically at {actual}",
    ),
    ViolationKind.OVERTIME: (
        "переработка {excess}: отработано {worked} из {required}",
        "overtime {excess}: worked {worked} of {required}",
    ),
}
_DAY_OFF_WORK = ("работа в {day_kind}: {worked}", "worked on {day_kind}: {worked}")
_DAY_KINDS: Mapping[str, tuple[str, str]] = {
    "weekend": ("выходной день", "a weekend"),
    "holiday": ("праздничный день", "a public holiday"),
    "transferred_day_off": ("перенесённый выходной", "a transferred day off"),
    "day_off": ("выходной по графику", "a scheduled day off"),
}
_EXCUSED = (" — уважительная причина: {reason}", " — excused: {reason}")


def _facts(v: Violation, lang: int) -> dict[str, str]:
    unit = ("м", "m")[lang]
    day_kind = _DAY_KINDS.get(v.day_kind or "", ("нерабочий день", "a day off"))[lang]
    return {
        "actual": _clock(v.actual),
        "allowed": _clock(v.allowed),
        "worked": _duration(v.worked),
        "required": _duration(v.required),
        "excess": _duration(timedelta(minutes=v.minutes)),
        "distance": "" if v.distance_m is None else f" ({round(v.distance_m)} {unit})",
        "detail": f": {v.detail}" if v.detail else "",
        "day_kind": day_kind,
        "reason": v.excused_by or "",
    }


def explain(v: Violation, lang: str = "ru") -> str:
    """One line saying what happened, in Russian (default) or English ("en")."""
    index = 1 if lang.lower().startswith("en") else 0
    facts = _facts(v, index)
    day_off = v.kind is ViolationKind.OVERTIME and v.day_kind is not None
    text = (_DAY_OFF_WORK if day_off else _TEMPLATES[v.kind])[index].format(**facts)
    if v.excused_by is not None:
        text += _EXCUSED[index].format(**facts)
    return text
