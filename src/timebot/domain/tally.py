"""Per-day work totals straight from a person's marks in compact form: the lean twin of
`workday.assemble` + `timesheet.night_minutes` for reports over many thousand people.

A *track* is a person's standing marks in time order: one letter per mark (`MARK_CODES`) and
the instants as whole microseconds since the Unix epoch. `tally` replays the same state
machine as `assemble` (a mark the machine refuses is skipped alike) and gives, per work day,
its local date, start, minutes worked and night minutes, without building `Mark` or `WorkDay`
objects. A day not spent between 06:00 and 22:00 of the local date it began on is handed to
the domain path as it is (`assemble` over that day's marks, then `night_minutes`), so the
result always equals the full path; tests/unit/domain/test_tally_properties.py checks that.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple, NoReturn
from zoneinfo import ZoneInfo

from timebot.domain.marks import Mark, MarkKind
from timebot.domain.timesheet import NIGHT_END, NIGHT_START, night_minutes
from timebot.domain.timezones import as_utc
from timebot.domain.workday import assemble

__all__ = [
    "MARK_CODES",
    "DayTotal",
    "LocalDays",
    "MarkTrack",
    "from_micros",
    "marks_of",
    "tally",
    "to_micros",
    "track_of",
]

# One letter per mark kind; storage writes tracks with these (`ReportingRepository`).
MARK_CODES: Mapping[MarkKind, str] = {
    MarkKind.CHECK_IN: "i",
    MarkKind.BREAK_START: "s",
    MarkKind.BREAK_END: "e",
    MarkKind.CHECK_OUT: "o",
}
_KINDS = {code: kind for kind, code in MARK_CODES.items()}

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAY = date(1970, 1, 1)
_US = timedelta(microseconds=1)
MINUTE_US = 60_000_000
HOUR_US = 60 * MINUTE_US
DAY_US = 24 * HOUR_US
_MORNING_US = (NIGHT_END.hour * 60 + NIGHT_END.minute) * MINUTE_US
_EVENING_US = (NIGHT_START.hour * 60 + NIGHT_START.minute) * MINUTE_US

# (local date, started at in µs, whole minutes worked, whole minutes of them at night)
DayTotal = tuple[date, int, int, int]


class MarkTrack(NamedTuple):
    """A person's standing marks in time order (ties in storage order)."""

    codes: str  # one letter of MARK_CODES per mark
    instants: Sequence[int]  # microseconds since the Unix epoch, UTC


def to_micros(at: datetime) -> int:
    """An aware instant as whole microseconds since the Unix epoch."""
    return (as_utc(at) - EPOCH) // _US


def from_micros(us: int) -> datetime:
    """Microseconds since the Unix epoch as an instant tagged UTC."""
    return EPOCH + timedelta(microseconds=us)


def track_of(marks: Iterable[Mark]) -> MarkTrack:
    """The track of domain marks, in the order given."""
    found = list(marks)
    return MarkTrack("".join(MARK_CODES[m.kind] for m in found), [to_micros(m.at) for m in found])


def marks_of(track: MarkTrack, start: int = 0, stop: int | None = None) -> list[Mark]:
    """Domain marks of `track[start:stop]` (without storage ids)."""
    codes, instants = track
    stop = len(codes) if stop is None else stop
    return [Mark(_kind(codes[i]), from_micros(instants[i])) for i in range(start, stop)]


def _kind(code: str) -> MarkKind:
    kind = _KINDS.get(code)
    if kind is None:
        _unknown(code)
    return kind


def _unknown(code: str) -> NoReturn:
    raise ValueError(f"unknown mark code {code!r}")


class LocalDays:
    """Local dates of instants in one zone and the daytime (06:00-22:00) of each date.

    Over a window where the zone keeps one UTC offset (no transition: the usual case) the answer
    is arithmetic; elsewhere, or outside the window, it comes from zoneinfo as
    `datetime.astimezone` gives it.
    """

    __slots__ = ("_dates", "_high", "_low", "_offset", "_slow", "tz")

    def __init__(self, tz: ZoneInfo, since: datetime, until: datetime) -> None:
        self.tz = tz
        # Arithmetic answers instants in [since, until]; the offset is checked a day further
        # each way, where those instants' dates have their 06:00 and 22:00.
        self._low, self._high = to_micros(since), to_micros(until)
        self._offset = _steady_offset(
            tz, as_utc(since) - timedelta(days=1), as_utc(until) + timedelta(days=1)
        )
        self._dates: dict[int, date] = {}
        self._slow: dict[date, tuple[int, int]] = {}

    def locate(self, us: int) -> tuple[date, int, int]:
        """The local date of instant `us` and that date's 06:00 and 22:00, all in µs."""
        offset = self._offset
        if offset is not None and self._low <= us <= self._high:
            n = (us + offset) // DAY_US
            found = self._dates.get(n)
            if found is None:
                found = self._dates[n] = _EPOCH_DAY + timedelta(days=n)
            midnight = n * DAY_US - offset
            return found, midnight + _MORNING_US, midnight + _EVENING_US
        local = from_micros(us).astimezone(self.tz).date()
        daytime = self._slow.get(local)
        if daytime is None:
            daytime = self._slow[local] = (
                to_micros(datetime.combine(local, NIGHT_END, tzinfo=self.tz)),
                to_micros(datetime.combine(local, NIGHT_START, tzinfo=self.tz)),
            )
        return local, daytime[0], daytime[1]


def _steady_offset(tz: ZoneInfo, low: datetime, high: datetime) -> int | None:
    """The zone's UTC offset in µs when it is the same all over [low, high], else None.

    Sampled hourly: no zone changes its offset and back within an hour.
    """
    offset = low.astimezone(tz).utcoffset()
    at = low
    while at < high:
        at = min(at + timedelta(hours=1), high)
        if at.astimezone(tz).utcoffset() != offset:
            return None
    return None if offset is None else offset // _US


def tally(track: MarkTrack, days: LocalDays, *, now: int | None = None) -> list[DayTotal]:
    """The work days of `track` as (local date, start, minutes worked, night minutes), in order.

    Equal, day by day, to `assemble(marks_of(track), days.tz, now=...)` with `worked // 1 min`
    and `night_minutes(day, tz)` of each day. `now` (µs) is where an open day counts up to
    (never before its last accepted mark); None counts it to that mark.
    """
    codes, instants = track
    if len(codes) != len(instants):
        raise ValueError("a track needs one instant per mark")
    totals: list[DayTotal] = []
    locate = days.locate
    state = 0  # 0 off, 1 working, 2 on break
    first = start = paused = on_break = last = 0
    for i, code in enumerate(codes):
        at = instants[i]
        if state == 1:
            if code == "o":
                state = 0
            elif code == "s":
                state, paused, last = 2, at, at
                continue
            elif code == "i" or code == "e":
                continue  # refused: already working / not on a break
            else:
                _unknown(code)
        elif state == 2:
            if code == "e":
                state, on_break, last = 1, on_break + at - paused, at
                continue
            if code == "o":
                state, on_break = 0, on_break + at - paused
            elif code == "i" or code == "s":
                continue  # refused: already working / already on a break
            else:
                _unknown(code)
        else:
            if code == "i":
                state, first, start, on_break, last = 1, i, at, 0, at
            elif code not in _KINDS:
                _unknown(code)
            continue  # a check-in opened a day, or a refused mark while off
        # A check-out closed the day begun at `first`.
        local, morning, evening = locate(start)
        if morning <= start and at <= evening:
            totals.append((local, start, (at - start - on_break) // MINUTE_US, 0))
        else:
            totals.append(_full(track, first, i + 1, days.tz, None))
    if state:
        until = last if now is None else max(now, last)
        if state == 2:
            on_break += until - paused
        local, morning, evening = locate(start)
        if morning <= start and until <= evening:
            totals.append((local, start, (until - start - on_break) // MINUTE_US, 0))
        else:
            totals.append(_full(track, first, len(codes), days.tz, now))
    return totals


def _full(track: MarkTrack, start: int, stop: int, tz: ZoneInfo, now: int | None) -> DayTotal:
    """One day through the domain path: `track[start:stop]` holds exactly that day's marks
    (a check-in, the marks it accepted or refused, and its check-out unless still open)."""
    (day,) = assemble(
        marks_of(track, start, stop), tz, now=None if now is None else from_micros(now)
    ).days
    return (
        day.local_date,
        to_micros(day.started_at),
        day.worked // timedelta(minutes=1),
        night_minutes(day, tz),
    )
