"""Zone resolution and local-day bounds, including DST and skipped dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from timebot.domain import workday
from timebot.domain.timezones import as_utc, day_length, local_day_bounds, resolve_zone

BERLIN = ZoneInfo("Europe/Berlin")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_the_employees_zone_wins_over_office_and_portal() -> None:
    zone = resolve_zone("Asia/Yekaterinburg", "Europe/Moscow", "Europe/Berlin")
    assert zone == ZoneInfo("Asia/Yekaterinburg")


@pytest.mark.parametrize("employee", [None, "", "   ", "Mars/Olympus", "Europe", "../etc/passwd"])
def test_an_empty_or_invalid_employee_zone_falls_back_to_the_office(employee: str | None) -> None:
    assert resolve_zone(employee, "Europe/Moscow", "Europe/Berlin") == ZoneInfo("Europe/Moscow")


@pytest.mark.parametrize("office", [None, "", "Nowhere/City", "zone1970.tab"])
def test_without_usable_employee_or_office_zone_the_portal_decides(office: str | None) -> None:
    assert resolve_zone("", office, "Asia/Yekaterinburg") == ZoneInfo("Asia/Yekaterinburg")


def test_zone_names_are_read_without_surrounding_spaces() -> None:
    assert resolve_zone(" Europe/Moscow ", None, "UTC") == ZoneInfo("Europe/Moscow")


def test_when_no_name_is_usable_the_zone_is_utc() -> None:
    assert resolve_zone(None, "", "") == ZoneInfo("UTC")
    assert resolve_zone("bad", "worse", "Atlantis/Capital") == ZoneInfo("UTC")


def test_an_ordinary_day_is_24_hours_from_local_midnight() -> None:
    start, end = local_day_bounds(date(2025, 1, 15), ZoneInfo("Europe/Moscow"))
    assert (start, end) == (utc(2025, 1, 14, 21), utc(2025, 1, 15, 21))
    assert day_length(date(2025, 1, 15), BERLIN) == timedelta(hours=24)


def test_the_spring_forward_day_in_berlin_lasts_23_hours() -> None:
    assert local_day_bounds(date(2025, 3, 30), BERLIN) == (
        utc(2025, 3, 29, 23),
        utc(2025, 3, 30, 22),
    )
    assert day_length(date(2025, 3, 30), BERLIN) == timedelta(hours=23)


def test_the_fall_back_day_in_berlin_lasts_25_hours() -> None:
    assert local_day_bounds(date(2025, 10, 26), BERLIN) == (
        utc(2025, 10, 25, 22),
        utc(2025, 10, 26, 23),
    )
    assert day_length(date(2025, 10, 26), BERLIN) == timedelta(hours=25)


def test_a_day_whose_midnight_is_skipped_starts_at_the_transition() -> None:
    # Chile springs forward at midnight: 2024-09-08 00:00 -04 becomes 01:00 -03.
    santiago = ZoneInfo("America/Santiago")
    start, end = local_day_bounds(date(2024, 9, 8), santiago)
    assert start == utc(2024, 9, 8, 4)
    assert start.astimezone(santiago).date() == date(2024, 9, 8)
    assert end - start == timedelta(hours=23)


def test_a_date_a_zone_skipped_entirely_lasts_no_time() -> None:
    # Samoa jumped over the date line: 2011-12-30 never happened in Apia.
    apia = ZoneInfo("Pacific/Apia")
    assert day_length(date(2011, 12, 30), apia) == timedelta(0)
    assert (
        local_day_bounds(date(2011, 12, 29), apia)[1]
        == local_day_bounds(date(2011, 12, 31), apia)[0]
    )


def test_bounds_of_consecutive_days_touch() -> None:
    for offset in range(400):
        d = date(2025, 1, 1) + timedelta(days=offset)
        assert local_day_bounds(d, BERLIN)[1] == local_day_bounds(d + timedelta(days=1), BERLIN)[0]


def test_as_utc_keeps_the_instant_and_refuses_naive_datetimes() -> None:
    plus5 = datetime(2025, 1, 16, 1, 30, tzinfo=timezone(timedelta(hours=5)))
    assert as_utc(plus5) == utc(2025, 1, 15, 20, 30)
    assert as_utc(plus5).tzinfo is UTC
    with pytest.raises(ValueError, match="naive"):
        as_utc(datetime(2025, 1, 1))  # noqa: DTZ001 - the point of the test


def test_the_workday_module_offers_the_same_helpers() -> None:
    assert workday.resolve_zone is resolve_zone
    assert workday.local_day_bounds is local_day_bounds
    assert workday.day_length is day_length
