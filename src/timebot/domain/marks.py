"""Marks: the single check-in / break / check-out events a work day is assembled from,
and the states a person can be in between them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from timebot.domain.timezones import as_utc

__all__ = ["Mark", "MarkKind", "WorkState"]


class MarkKind(StrEnum):
    """What a mark records."""

    CHECK_IN = "check_in"
    BREAK_START = "break_start"
    BREAK_END = "break_end"
    CHECK_OUT = "check_out"


class WorkState(StrEnum):
    """Where a person stands after their marks so far."""

    OFF = "off"
    WORKING = "working"
    ON_BREAK = "on_break"


@dataclass(frozen=True, slots=True)
class Mark:
    """One event at one instant. `at` is stored in UTC (naive datetimes are refused).

    `provisional` marks are accepted but not yet confirmed (e.g. presence proof pending);
    `id` is the storage key, None until stored.
    """

    kind: MarkKind
    at: datetime
    id: int | None = None
    provisional: bool = False

    def __post_init__(self) -> None:
        # Frozen dataclass: normalizing fields has to go through object.__setattr__. Values that
        # are normal already (a MarkKind, an instant tagged UTC, as storage reads them) are kept
        # as they are: timesheets build hundreds of thousands of marks.
        if self.kind.__class__ is not MarkKind:
            object.__setattr__(self, "kind", MarkKind(self.kind))
        if self.at.tzinfo is not UTC:
            object.__setattr__(self, "at", as_utc(self.at))
