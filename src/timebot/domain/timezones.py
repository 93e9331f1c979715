"""Instants and zones: UTC normalization, choosing a person's zone, and local-day bounds.

Storage and arithmetic happen on UTC instants; a zone is only used to name local dates and times.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["as_utc", "day_length", "local_day_bounds", "resolve_zone", "zone_or_none"]


def as_utc(at: datetime) -> datetime:
    """Return the same instant expressed in UTC; naive datetimes are refused with ValueError."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at.isoformat()} has no time zone")
    return at.astimezone(UTC)


def zone_or_none(name: str | None) -> ZoneInfo | None:
    """The zone called `name`, or None when the name is empty or not a known IANA zone."""
    key = (name or "").strip()
    if not key:
        return None
    try:
        return ZoneInfo(key)
    # ZoneInfo reports bad keys in several ways: KeyError (ZoneInfoNotFoundError) for unknown
    # names, ValueError for malformed keys or non-TZif files, OSError for directories like "Europe".
    except (KeyError, ValueError, OSError):
        return None


def resolve_zone(employee_tz: str | None, office_tz: str | None, portal_tz: str) -> ZoneInfo:
    """The zone to compute a person's local times in: the employee's, else the office's, else the
    portal's; empty or invalid names are skipped (Bitrix24 sends "" for "portal default").

    When even the portal's name is unusable the result is UTC, so a misconfigured portal still
    gets consistent (if unlocalized) days instead of failing every request.
    """
    for name in (employee_tz, office_tz, portal_tz):
        zone = zone_or_none(name)
        if zone is not None:
            return zone
    return ZoneInfo("UTC")


def local_day_bounds(d: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """UTC instants of local midnight starting `d` and of the next local midnight.

    The bounds of consecutive dates touch, so they partition the time line. On DST days the span
    is 23 or 25 hours. When midnight itself is skipped by a transition, the day starts at the
    transition (PEP 495 reads a skipped wall time with the offset in force before it).
    """
    start = datetime.combine(d, time(), tzinfo=tz)
    end = datetime.combine(d + timedelta(days=1), time(), tzinfo=tz)
    return as_utc(start), as_utc(end)


def day_length(d: date, tz: ZoneInfo) -> timedelta:
    """How long the local date `d` lasts in `tz` (24h, or 23h/25h on DST days)."""
    start, end = local_day_bounds(d, tz)
    return end - start
