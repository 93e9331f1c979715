"""Bulk roster entry: one shift per line, as text or CSV.

    2026-03-02 22:00-06:00 Иван Петров        text: date, start-end, person (optional)
    02.03.2026 09:00–21:00 7                  a day.month.year date; a Bitrix24 user id
    2026-03-02 08:00-20:00 (90) Иван Петров   a break of its own, in minutes, after the times
    2026-03-02,22:00,06:00,ivan@example.com   CSV (, ; or tab): date, start, end, person
    2026-03-02,08:00,12:00,(0),7              CSV with a break cell before the person
    # a comment                               empty lines and comments are skipped

A person is named by full name (either order), e-mail or Bitrix24 user id; a line without one
is for the person chosen in the form. A CSV header line (date,start,end,person) is skipped.
The break is written in parentheses — "(45)", "(45 мин)", "(45 min)" — so that it cannot be
taken for a Bitrix24 user id; a line without one has its schedule's break.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, time
from typing import Final

from timebot.storage.tables import Employee
from timebot.web.admin.roster_data import MAX_BREAK

__all__ = ["MAX_LINES", "BulkLine", "LineError", "PersonIndex", "parse_lines"]

MAX_LINES: Final = 2000
_TEXT: Final = re.compile(
    r"^(?P<day>\S+)\s+(?P<start>\d{1,2}:\d{2})\s*[-–—]\s*(?P<end>\d{1,2}:\d{2})(?:\s+(?P<who>.+))?$"
)
_RANGE: Final = re.compile(r"^(?P<start>\d{1,2}:\d{2})\s*[-–—]\s*(?P<end>\d{1,2}:\d{2})$")
_CLOCK: Final = re.compile(r"^\d{1,2}:\d{2}$")
_HEADERS: Final = frozenset({"date", "day", "дата", "день"})
# "(45)" / "(45 мин)" / "(45 min)" first in what follows the times, then the person.
_BREAK: Final = re.compile(r"^\((?P<inside>[^)]*)\)\s*[,;\t]?\s*(?P<rest>.*)$", re.S)
_MINUTES: Final = re.compile(r"^(?P<n>\d{1,4})\s*(?:мин|min|m|м)?\.?$", re.I)


@dataclass(frozen=True, slots=True)
class BulkLine:
    """A parsed line: the shift and whom it is for ("" means the form's person)."""

    number: int
    text: str
    day: date
    start: time
    end: time
    who: str
    break_minutes: int | None = None  # None: the schedule's


@dataclass(frozen=True, slots=True)
class LineError:
    """A line that cannot be read: its number, its text and an i18n key with values."""

    number: int
    text: str
    key: str
    values: dict[str, str] = field(default_factory=dict)


def _day(text: str) -> date | None:
    text = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return date.fromisoformat(text)
        if re.fullmatch(r"\d{1,2}\.\d{1,2}\.\d{4}", text):
            day, month, year = (int(x) for x in text.split("."))
            return date(year, month, day)
    except ValueError:
        return None
    return None


def _clock(text: str) -> time | None:
    text = text.strip()
    if not _CLOCK.fullmatch(text):
        return None
    hours, minutes = (int(x) for x in text.split(":"))
    if hours > 23 or minutes > 59:
        return None
    return time(hours, minutes)


def _fields(line: str) -> tuple[str, str, str, str] | None:
    """(date, start, end, person) of a text or CSV line, None when it is neither."""
    match = _TEXT.match(line)
    if match:
        return match["day"], match["start"], match["end"], (match["who"] or "").strip()
    delimiter = next((d for d in ("\t", ";", ",") if d in line), None)
    if delimiter is None:
        return None
    cells = [c.strip() for c in next(csv.reader([line], delimiter=delimiter))]
    while cells and not cells[-1]:
        cells.pop()
    if len(cells) >= 2 and _RANGE.match(cells[1]):  # date, start-end[, person]
        span = _RANGE.match(cells[1])
        assert span is not None
        return cells[0], span["start"], span["end"], ",".join(cells[2:]).strip()
    if len(cells) < 3:
        return None
    return cells[0], cells[1], cells[2], ",".join(cells[3:]).strip()


def parse_lines(text: str) -> tuple[list[BulkLine], list[LineError]]:
    """The shifts the text lists, and the lines that could not be read."""
    lines: list[BulkLine] = []
    errors: list[LineError] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = _fields(line)
        if parts is None:
            errors.append(LineError(number, line, "roster.line_format"))
            continue
        day_text, start_text, end_text, who = parts
        if not lines and not errors and day_text.strip().casefold() in _HEADERS:
            continue  # a CSV header
        day = _day(day_text)
        if day is None:
            errors.append(LineError(number, line, "roster.line_date", {"value": day_text}))
            continue
        start, end = _clock(start_text), _clock(end_text)
        if start is None or end is None:
            bad = start_text if start is None else end_text
            errors.append(LineError(number, line, "roster.line_time", {"value": bad}))
            continue
        pause: int | None = None
        found = _BREAK.match(who)
        if found:
            minutes = _MINUTES.match(found["inside"].strip())
            if minutes is None or int(minutes["n"]) > MAX_BREAK:
                value = f"({found['inside']})"
                errors.append(
                    LineError(
                        number, line, "roster.line_break", {"value": value, "max": str(MAX_BREAK)}
                    )
                )
                continue
            pause, who = int(minutes["n"]), found["rest"].strip()
        lines.append(BulkLine(number, line, day, start, end, who, pause))
    return lines, errors


def _key(name: str) -> str:
    return " ".join(name.casefold().replace("ё", "е").split())


class PersonIndex:
    """Finds a person by full name (first last or last first), e-mail or Bitrix24 user id."""

    def __init__(self, employees: Iterable[Employee]) -> None:
        self._by_key: dict[str, set[int]] = {}
        self._by_bitrix: dict[int, int] = {}
        for e in employees:
            self._by_bitrix[e.bitrix_user_id] = e.id
            keys = {_key(e.name), _key(f"{e.first_name} {e.last_name}")}
            keys.add(_key(f"{e.last_name} {e.first_name}"))
            if e.email:
                keys.add(_key(e.email))
            for key in keys - {""}:
                self._by_key.setdefault(key, set()).add(e.id)

    def find(self, who: str) -> tuple[int | None, str]:
        """(employee id, "") or (None, the i18n key of why not)."""
        text = who.strip().lstrip("#")
        if text.isdigit():
            found = self._by_bitrix.get(int(text))
            return (found, "") if found is not None else (None, "roster.person_unknown")
        ids = self._by_key.get(_key(who), set())
        if len(ids) == 1:
            return next(iter(ids)), ""
        return None, ("roster.person_ambiguous" if ids else "roster.person_unknown")
