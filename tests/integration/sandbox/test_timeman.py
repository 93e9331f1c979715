"""timeman.* with a fixed clock: open, pause, resume, close, explicit TIME, EXPIRED days."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.integration.sandbox.conftest import Receiver, Sandbox
from timebot.domain.clock import FixedClock

MORNING = datetime(2026, 3, 16, 6, 0, tzinfo=UTC)  # Monday 09:00 in Moscow, 11:00 in Yekaterinburg


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(MORNING)


@pytest.fixture
def box(sandbox_factory: Callable[..., Sandbox], clock: FixedClock) -> Sandbox:
    return sandbox_factory(clock=clock)


def tm(box: Sandbox, method: str, **params: Any) -> httpx.Response:
    return httpx.post(box.rest(f"timeman.{method}"), json=params)


def result(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()["result"]  # type: ignore[no-any-return]


def test_a_day_opens_in_the_users_zone(box: Sandbox) -> None:
    moscow = result(tm(box, "open", USER_ID=3, LAT=55.75, LON=37.62))
    assert moscow["STATUS"] == "OPENED"
    assert moscow["TIME_START"] == "2026-03-16T09:00:00+03:00"
    assert moscow["TZ_OFFSET"] == 10800
    assert (moscow["LAT_OPEN"], moscow["LON_OPEN"]) == (55.75, 37.62)
    assert moscow["TIME_FINISH"] is None
    ekb = result(tm(box, "open", USER_ID=9))
    assert ekb["TIME_START"] == "2026-03-16T11:00:00+05:00"
    assert ekb["TZ_OFFSET"] == 18000


def test_pause_resume_and_close_count_breaks_as_leaks(box: Sandbox, clock: FixedClock) -> None:
    result(tm(box, "open", USER_ID=3))
    clock.advance(timedelta(hours=3))
    assert result(tm(box, "pause", USER_ID=3))["STATUS"] == "PAUSED"
    clock.advance(timedelta(minutes=45))
    resumed = result(tm(box, "open", USER_ID=3))
    assert (resumed["STATUS"], resumed["TIME_LEAKS"]) == ("OPENED", "00:45:00")
    clock.advance(timedelta(hours=5, minutes=15))
    closed = result(tm(box, "close", USER_ID=3))
    assert closed["STATUS"] == "CLOSED"
    assert closed["TIME_FINISH"] == "2026-03-16T18:00:00+03:00"
    assert closed["DURATION"] == "08:15:00"
    assert result(tm(box, "status", USER_ID=3)) == closed


def test_explicit_time_needs_a_report_unless_the_schedule_is_free(box: Sandbox) -> None:
    r = tm(box, "open", USER_ID=3, TIME="2026-03-16T08:30:00+03:00")
    assert r.status_code == 400
    ok = result(tm(box, "open", USER_ID=3, TIME="2026-03-16T08:30:00+03:00", REPORT="забыл"))
    assert (ok["TIME_START"], ok["ACTIVE"]) == ("2026-03-16T08:30:00+03:00", False)
    free = result(tm(box, "open", USER_ID=4, TIME="2026-03-16T08:00:00+03:00"))
    assert free["ACTIVE"] is True


def test_time_must_be_today_and_close_must_match_the_open_date(box: Sandbox) -> None:
    yesterday = tm(box, "open", USER_ID=4, TIME="2026-03-15T09:00:00+03:00")
    assert (yesterday.status_code, yesterday.json()["error"]) == (400, "WRONG_DATETIME")
    result(tm(box, "open", USER_ID=4))
    wrong = tm(box, "close", USER_ID=4, TIME="2026-03-17T18:00:00+03:00", REPORT="x")
    assert wrong.json() == {
        "error": "WRONG_DATETIME",
        "error_description": "Day close date should correspond to the day open date",
    }
    paused = result(tm(box, "pause", USER_ID=4))
    assert paused["STATUS"] == "PAUSED"
    assert tm(box, "open", USER_ID=4, TIME="2026-03-16T10:00:00+03:00").json()["error"] == "TIME"


def test_a_day_left_open_overnight_is_expired(box: Sandbox, clock: FixedClock) -> None:
    result(tm(box, "open", USER_ID=6))
    clock.advance(timedelta(days=1))
    expired = result(tm(box, "status", USER_ID=6))
    assert expired["STATUS"] == "EXPIRED"
    assert expired["TIME_FINISH_DEFAULT"] == "2026-03-16T18:00:00+03:00"
    assert tm(box, "close", USER_ID=6).json()["error"] == "WRONG_DATETIME"
    closed = result(
        tm(box, "close", USER_ID=6, TIME="2026-03-16T18:10:00+03:00", REPORT="забыл закрыть")
    )
    assert (closed["STATUS"], closed["DURATION"]) == ("CLOSED", "09:10:00")


def test_other_peoples_days_need_rights(box: Sandbox, receiver: Receiver) -> None:
    asyncio.run(box.portal.install_app(receiver.url("/install")))
    clerk = box.portal.issue_tokens(3).access_token
    head = box.portal.issue_tokens(5).access_token  # heads department 3 (and 4 below it)
    denied = httpx.post(box.oauth("timeman.open"), json={"auth": clerk, "USER_ID": 7})
    assert (denied.status_code, denied.json()["error"]) == (403, "ACCESS_DENIED")
    allowed = httpx.post(box.oauth("timeman.open"), json={"auth": head, "USER_ID": 7})
    assert allowed.json()["result"]["STATUS"] == "OPENED"
    own = httpx.post(box.oauth("timeman.open"), json={"auth": clerk})
    assert own.json()["result"]["STATUS"] == "OPENED"
    settings = httpx.post(box.oauth("timeman.settings"), json={"auth": clerk}).json()["result"]
    assert settings == {
        "UF_TIMEMAN": True,
        "UF_TM_FREE": False,
        "UF_TM_MAX_START": "09:15:00",
        "UF_TM_MIN_FINISH": "18:00:00",
        "UF_TM_MIN_DURATION": "08:00:00",
        "UF_TM_ALLOWED_DELTA": "00:15:00",
        "ADMIN": False,
    }
    ranges = httpx.post(box.oauth("timeman.networkrange.get"), json={"auth": clerk})
    assert ranges.json()["error"] == "ACCESS_ERROR"


def test_settings_and_network_ranges_for_the_admin(box: Sandbox) -> None:
    settings = result(tm(box, "settings", USER_ID=9))
    assert settings["UF_TM_MAX_START"] == "09:00:00"
    assert "ADMIN" not in settings
    assert result(tm(box, "settings"))["ADMIN"] is True
    ranges = httpx.post(box.rest("timeman.networkrange.get")).json()["result"]
    assert ranges == [{"ip_range": "192.168.10.0-192.168.10.255", "name": "Офис Москва"}]


def test_unknown_users_are_reported(box: Sandbox) -> None:
    r = tm(box, "status", USER_ID=999)
    assert r.status_code == 400
    assert r.json() == {"error": "", "error_description": "User not found"}
