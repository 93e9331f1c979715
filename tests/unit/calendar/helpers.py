"""Builders for the calendar tests: marks at local wall times, and the work days they make."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from timebot.domain.marks import Mark, MarkKind
from timebot.domain.workday import WorkDay, assemble_work_days

MOSCOW = ZoneInfo("Europe/Moscow")
NEW_YORK = ZoneInfo("America/New_York")
VLADIVOSTOK = ZoneInfo("Asia/Vladivostok")


def at(d: date, hhmm: str, tz: ZoneInfo) -> datetime:
    """The aware local instant `hhmm` ("09:15" or "09:15:59") on `d` in `tz`."""
    return datetime.combine(d, time.fromisoformat(hhmm), tzinfo=tz)


def day_marks(
    d: date,
    tz: ZoneInfo,
    start: str,
    end: str | None,
    *,
    breaks: tuple[tuple[str, str], ...] = (),
    end_on: date | None = None,
    provisional_end: bool = False,
    first_id: int = 1,
) -> list[Mark]:
    """Marks of one work day: check-in at `start` on `d`, breaks, check-out at `end` (on
    `end_on`, default the next day when `end` is not after `start`); None leaves it open.
    Times are compared as "HH:MM" text, so write them with two-digit hours."""
    marks = [Mark(MarkKind.CHECK_IN, at(d, start, tz), id=first_id)]
    next_id = first_id + 1
    for pause_from, pause_to in breaks:
        # Break times earlier than the start are on the next day (night work).
        on = d if pause_from >= start else d + timedelta(days=1)
        marks.append(Mark(MarkKind.BREAK_START, at(on, pause_from, tz), id=next_id))
        marks.append(Mark(MarkKind.BREAK_END, at(on, pause_to, tz), id=next_id + 1))
        next_id += 2
    if end is not None:
        if end_on is None:
            end_on = d if end > start else d + timedelta(days=1)
        marks.append(
            Mark(MarkKind.CHECK_OUT, at(end_on, end, tz), id=next_id, provisional=provisional_end)
        )
    return marks


def work_days(tz: ZoneInfo, *marks: list[Mark], now: datetime | None = None) -> list[WorkDay]:
    """Assemble the given mark lists into work days."""
    flat = [m for group in marks for m in group]
    return assemble_work_days(flat, tz, now=now)
