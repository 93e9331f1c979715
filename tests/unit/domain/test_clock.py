"""The clock port: the system clock tells UTC, the fixed clock moves only when told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from timebot.domain.clock import Clock, FixedClock, SystemClock

NOON = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def read(clock: Clock) -> datetime:
    return clock.now()


def test_system_clock_tells_an_aware_utc_instant_that_never_goes_back() -> None:
    clock = SystemClock()
    first, second = read(clock), read(clock)
    assert first.tzinfo is UTC
    assert second >= first


def test_fixed_clock_stands_still_until_advanced() -> None:
    clock = FixedClock(NOON)
    assert read(clock) == NOON
    assert read(clock) == NOON
    assert clock.advance(timedelta(minutes=90)) == NOON + timedelta(minutes=90)
    assert clock.now() == NOON + timedelta(minutes=90)
    clock.advance(timedelta(hours=-2))
    assert clock.now() == NOON - timedelta(minutes=30)


def test_fixed_clock_can_be_set_to_any_instant_and_reports_it_in_utc() -> None:
    clock = FixedClock(NOON)
    clock.set(datetime(2025, 3, 30, 3, 30, tzinfo=ZoneInfo("Europe/Berlin")))
    assert clock.now() == datetime(2025, 3, 30, 1, 30, tzinfo=UTC)
    assert clock.now().tzinfo is UTC
    assert FixedClock(datetime(2025, 1, 1, 3, tzinfo=timezone(timedelta(hours=3)))).now() == (
        datetime(2025, 1, 1, 0, tzinfo=UTC)
    )


def test_fixed_clock_refuses_naive_datetimes() -> None:
    naive = NOON.replace(tzinfo=None)
    with pytest.raises(ValueError, match="naive"):
        FixedClock(naive)
    clock = FixedClock(NOON)
    with pytest.raises(ValueError, match="naive"):
        clock.set(naive)
    assert clock.now() == NOON
