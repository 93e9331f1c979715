"""The clock port: `SystemClock` is the only reader of the wall clock in timebot;
`FixedClock` is a settable clock for tests and demos.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from timebot.domain.timezones import as_utc

__all__ = ["Clock", "FixedClock", "SystemClock"]


class Clock(Protocol):
    """Anything that can tell the current instant."""

    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> datetime:
        """The current instant in UTC."""
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until told to move; for tests and demos."""

    __slots__ = ("_at",)

    def __init__(self, at: datetime) -> None:
        self._at = as_utc(at)

    def now(self) -> datetime:
        """The instant the clock is set to, in UTC."""
        return self._at

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock by `delta` (may be negative) and return the new instant."""
        self._at = self._at + delta
        return self._at

    def set(self, at: datetime) -> None:
        """Put the clock at `at`; naive datetimes are refused with ValueError."""
        self._at = as_utc(at)

    def __repr__(self) -> str:
        return f"FixedClock({self._at.isoformat()})"
