"""Each suspicion flag fires on its own evidence and stays quiet without it; flags never change
the verdict's kind."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from timebot.domain.geo import Point
from timebot.domain.geofence import CircleZone, Office
from timebot.domain.networks import InvalidNetwork, parse_networks
from timebot.domain.presence import (
    Fix,
    PastFix,
    PresencePolicy,
    ReasonCode,
    SuspicionFlag,
    VerdictKind,
    check_accuracy,
    check_clock_skew,
    check_ip,
    check_repeated_coordinates,
    check_speed,
    evaluate,
)

from .places import travel

NOW = datetime(2025, 3, 3, 6, 0, tzinfo=UTC)
CENTRE = Point(55.7558, 37.6173)
HQ = Office("hq", "Центральный", (CircleZone("door", "Главный вход", CENTRE, 100.0),))
POLICY = PresencePolicy()
OFFICE_NETS = ["10.0.0.0/8", "192.168.5.0/24", "2001:db8:5::/48"]


def fix(
    point: Point = CENTRE,
    accuracy: float | None = 8.0,
    *,
    device_time: datetime | None = None,
    ip: str | None = None,
    at: datetime = NOW,
) -> Fix:
    return Fix(point, accuracy, device_time, at, ip)


def past(point: Point, accuracy: float | None, ago: timedelta) -> PastFix:
    return PastFix(point, accuracy, NOW - ago)


# implausible_speed


def test_a_jump_faster_than_the_limit_is_implausible_speed() -> None:
    earlier = past(travel(CENTRE, 10.0, 10_000.0), 10.0, timedelta(minutes=1))
    reason = check_speed(fix(), [earlier], policy=POLICY)
    assert reason is not None
    assert reason.code is ReasonCode.IMPLAUSIBLE_SPEED
    assert reason.distance_m == pytest.approx(10_000.0 - 18.0, abs=1e-3)  # net of both radii
    assert reason.elapsed == timedelta(minutes=1)
    assert reason.value == pytest.approx((10_000.0 - 18.0) * 60 / 1000)  # km/h
    assert reason.limit == 200.0


def test_driving_across_town_is_not_implausible_speed() -> None:
    earlier = past(travel(CENTRE, 10.0, 10_000.0), 10.0, timedelta(minutes=10))  # 60 km/h
    assert check_speed(fix(), [earlier], policy=POLICY) is None
    assert check_speed(fix(), [], policy=POLICY) is None


def test_speed_allows_for_both_fixes_accuracy() -> None:
    jump = travel(CENTRE, 200.0, 500.0)
    second_ago = timedelta(seconds=1)
    # 500 m in one second is absurd unless the two accuracy circles overlap.
    assert check_speed(fix(accuracy=5.0), [past(jump, 5.0, second_ago)], policy=POLICY)
    assert check_speed(fix(accuracy=300.0), [past(jump, 250.0, second_ago)], policy=POLICY) is None
    # Unknown accuracy is granted the coarsest usable one (max_accuracy_m, 100 m) each.
    near = travel(CENTRE, 200.0, 150.0)
    assert check_speed(fix(accuracy=None), [past(near, None, second_ago)], policy=POLICY) is None
    assert check_speed(fix(accuracy=None), [past(jump, None, second_ago)], policy=POLICY)


def test_speed_reports_the_worst_pair_and_ignores_which_came_first() -> None:
    st_petersburg = travel(CENTRE, 315.0, 634_000.0)
    history = [
        past(travel(CENTRE, 0.0, 3_000.0), 10.0, timedelta(minutes=30)),
        past(st_petersburg, 10.0, timedelta(hours=2)),
        PastFix(st_petersburg, 10.0, NOW + timedelta(hours=1)),  # stored out of order
    ]
    reason = check_speed(fix(), history, policy=POLICY)
    assert reason is not None
    assert reason.elapsed == timedelta(hours=1)
    assert reason.value == pytest.approx(633_982.0 / 1000, rel=1e-3)
    # Twice the same place at the same instant (a double submit) is no speed at all.
    assert check_speed(fix(), [past(CENTRE, 8.0, timedelta(0))], policy=POLICY) is None


# repeated_coordinates


def test_the_exact_coordinates_of_another_day_are_repeated_coordinates() -> None:
    history = [
        past(CENTRE, 8.0, timedelta(days=7)),
        past(CENTRE, 8.0, timedelta(days=1)),
        past(Point(55.7558, 37.61731), 8.0, timedelta(days=2)),
    ]
    reason = check_repeated_coordinates(fix(), history)
    assert reason is not None
    assert reason.code is ReasonCode.REPEATED_COORDINATES
    assert reason.day == date(2025, 3, 2)  # the latest earlier day


def test_jittered_or_same_day_coordinates_are_not_repeated() -> None:
    jittered = Point(CENTRE.lat + 1e-6, CENTRE.lon)
    assert check_repeated_coordinates(fix(), [past(jittered, 8.0, timedelta(days=1))]) is None
    assert check_repeated_coordinates(fix(), [past(CENTRE, 8.0, timedelta(hours=2))]) is None
    assert check_repeated_coordinates(fix(), []) is None


def test_a_different_day_is_counted_in_the_persons_time_zone() -> None:
    late = datetime(2025, 3, 2, 22, 30, tzinfo=UTC)  # 01:30 on 3 March in Moscow
    early = datetime(2025, 3, 3, 0, 30, tzinfo=UTC)  # 03:30 on 3 March in Moscow
    current = fix(at=early)
    history = [PastFix(CENTRE, 8.0, late)]
    assert check_repeated_coordinates(current, history, tz=UTC) is not None
    assert check_repeated_coordinates(current, history, tz=ZoneInfo("Europe/Moscow")) is None


# zero_accuracy and implausible_accuracy


def test_zero_accuracy_is_flagged_but_still_decides_by_the_centre() -> None:
    reason = check_accuracy(0.0, policy=POLICY)
    assert reason is not None
    assert reason.code is ReasonCode.ZERO_ACCURACY
    verdict = evaluate(fix(accuracy=0.0), [HQ], policy=POLICY)
    assert verdict.kind is VerdictKind.INSIDE
    assert verdict.flags == (SuspicionFlag.ZERO_ACCURACY,)


@pytest.mark.parametrize(
    ("accuracy", "limit"),
    [(0.3, 1.0), (-5.0, None), (float("nan"), None), (float("inf"), None), (2_000_000.0, 1e6)],
)
def test_absurd_accuracy_is_implausible(accuracy: float, limit: float | None) -> None:
    reason = check_accuracy(accuracy, policy=POLICY)
    assert reason is not None
    assert reason.code is ReasonCode.IMPLAUSIBLE_ACCURACY
    assert reason.limit == limit


@pytest.mark.parametrize("accuracy", [None, 1.0, 4.5, 65.0, 900.0, 1_000_000.0])
def test_ordinary_accuracy_is_not_suspicious(accuracy: float | None) -> None:
    assert check_accuracy(accuracy, policy=POLICY) is None


# device_clock_skew


def test_a_device_clock_far_off_the_servers_is_skewed() -> None:
    behind = check_clock_skew(fix(device_time=NOW - timedelta(minutes=6)), policy=POLICY)
    assert behind is not None
    assert behind.code is ReasonCode.DEVICE_CLOCK_SKEW
    assert (behind.value, behind.limit) == (-360.0, 300.0)
    ahead = check_clock_skew(fix(device_time=NOW + timedelta(hours=3)), policy=POLICY)
    assert ahead is not None
    assert ahead.value == 10_800.0


def test_a_device_clock_within_the_allowance_is_not_skewed() -> None:
    for device_time in (None, NOW, NOW + timedelta(minutes=4), NOW - timedelta(minutes=5)):
        assert check_clock_skew(fix(device_time=device_time), policy=POLICY) is None
    # A device in another zone is not skewed: instants are compared, not wall clocks.
    vladivostok = (NOW + timedelta(seconds=20)).astimezone(ZoneInfo("Asia/Vladivostok"))
    assert check_clock_skew(fix(device_time=vladivostok), policy=POLICY) is None


# ip_outside_office_networks


@pytest.mark.parametrize("ip", ["8.8.8.8", "192.168.6.1", "2001:db8:6::1", "unknown", "::1"])
def test_an_ip_in_no_office_network_is_flagged(ip: str) -> None:
    reason = check_ip(ip, parse_networks(OFFICE_NETS))
    assert reason is not None
    assert reason.code is ReasonCode.IP_OUTSIDE_OFFICE_NETWORKS
    assert reason.ip == ip


@pytest.mark.parametrize(
    "ip", ["10.20.30.40", "192.168.5.77", "2001:db8:5:1::9", "::ffff:10.1.2.3", " 10.0.0.1 "]
)
def test_an_ip_in_an_office_network_is_not_flagged(ip: str) -> None:
    assert check_ip(ip, parse_networks(OFFICE_NETS)) is None


def test_without_configured_networks_or_a_known_ip_there_is_no_ip_flag() -> None:
    assert check_ip("8.8.8.8", ()) is None
    assert check_ip(None, parse_networks(OFFICE_NETS)) is None


def test_malformed_office_networks_are_refused_loudly() -> None:
    with pytest.raises(InvalidNetwork, match=r"10\.0\.0\.0/33"):
        evaluate(fix(), [HQ], policy=POLICY, office_networks=["10.0.0.0/33"])
    assert [str(n) for n in parse_networks(["192.168.1.7/24", "2001:db8::1"])] == [
        "192.168.1.0/24",
        "2001:db8::1/128",
    ]


# all together


def test_evaluate_reports_every_flag_in_order_with_its_reason() -> None:
    current = fix(accuracy=0.0, device_time=NOW - timedelta(minutes=30), ip="8.8.8.8")
    history = [
        past(CENTRE, 5.0, timedelta(days=1)),
        past(travel(CENTRE, 315.0, 634_000.0), 5.0, timedelta(minutes=30)),
    ]
    verdict = evaluate(current, [HQ], policy=POLICY, history=history, office_networks=OFFICE_NETS)
    assert verdict.kind is VerdictKind.INSIDE
    assert verdict.flags == (
        SuspicionFlag.IMPLAUSIBLE_SPEED,
        SuspicionFlag.REPEATED_COORDINATES,
        SuspicionFlag.ZERO_ACCURACY,
        SuspicionFlag.DEVICE_CLOCK_SKEW,
        SuspicionFlag.IP_OUTSIDE_OFFICE_NETWORKS,
    )
    assert [r.code.value for r in verdict.flag_reasons] == [f.value for f in verdict.flags]


def test_a_clean_fix_has_no_flags() -> None:
    current = fix(device_time=NOW - timedelta(seconds=3), ip="10.1.1.1")
    history = [past(Point(55.7559, 37.6170), 12.0, timedelta(days=1))]
    verdict = evaluate(current, [HQ], policy=POLICY, history=history, office_networks=OFFICE_NETS)
    assert verdict.flags == ()
    assert len(verdict.reasons) == 1
