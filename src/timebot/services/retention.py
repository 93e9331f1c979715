"""How long raw location data is kept: a portal's retention period and the cutoff it implies.

Coordinates, accuracy, IP address and the phone's clock of a location fix are personal data we
need only to decide and, for a while, to settle disputes; the verdict and distance stay for good.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

__all__ = [
    "DEFAULT_RETENTION_DAYS",
    "MAX_RETENTION_DAYS",
    "MIN_RETENTION_DAYS",
    "RETENTION_SETTING",
    "erase_cutoff",
    "retention_days",
]

# Key in `portal.settings`: whole days raw coordinates are kept.
RETENTION_SETTING = "location_retention_days"
DEFAULT_RETENTION_DAYS = 90
# At least a day, so a fix can still be looked at the day it was made; at most three years,
# the usual limitation period for labour disputes — beyond it, keeping coordinates serves nobody.
MIN_RETENTION_DAYS = 1
MAX_RETENTION_DAYS = 3 * 365


def retention_days(settings: Mapping[str, Any] | None) -> int:
    """The portal's retention period in days.

    Missing or unreadable values (not a whole number) mean the default; numbers outside
    [MIN_RETENTION_DAYS, MAX_RETENTION_DAYS] are clamped into it, so a typo never keeps data
    forever nor erases it before anyone could look.
    """
    value = (settings or {}).get(RETENTION_SETTING)
    if isinstance(value, bool):
        return DEFAULT_RETENTION_DAYS
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int):
        return DEFAULT_RETENTION_DAYS
    return max(MIN_RETENTION_DAYS, min(MAX_RETENTION_DAYS, value))


def erase_cutoff(now: datetime, settings: Mapping[str, Any] | None) -> datetime:
    """Fixes made before this instant have outlived the retention period."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now - timedelta(days=retention_days(settings))
