"""The presence service's pure parts: the portal's policy and requirements from settings, remote
days, zone rows to domain offices, reading a page submission, and judging it."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.unit.geo.places import geodesic_m, offset
from timebot.domain.geo import Point
from timebot.domain.geofence import CircleZone, PolygonZone
from timebot.domain.presence import (
    DecisionKind,
    PastFix,
    PresencePolicy,
    ReasonCode,
    SuspicionFlag,
    VerdictKind,
)
from timebot.services.presence import (
    InvalidSubmission,
    Places,
    Submission,
    judge,
    location_of,
    parse_submission,
    places_from_rows,
    policy_from_settings,
    remote_reason,
    required_actions,
)
from timebot.storage.tables import Employee, Office, Zone

NOW = datetime(2026, 11, 23, 6, 5, tzinfo=UTC)  # Monday 09:05 in Moscow
MSK = ZoneInfo("Europe/Moscow")
CENTRE = Point(55.7558, 37.6173)
POLYGON_ORIGIN = Point(59.9343, 30.3351)


def office_row(office_id: int, name: str, ip_ranges: list[object] | None = None) -> Office:
    return Office(id=office_id, portal_id=1, name=name, timezone=None, ip_ranges=ip_ranges or [])


def circle_row(zone_id: int, office_id: int, centre: Point, radius: float) -> Zone:
    return Zone(
        id=zone_id,
        portal_id=1,
        office_id=office_id,
        name=f"Circle {zone_id}",
        kind="circle",
        lat=centre.lat,
        lon=centre.lon,
        radius_m=radius,
    )


def square(origin: Point, side: float) -> dict[str, object]:
    corners = [offset(origin, e, n) for e, n in [(0, 0), (side, 0), (side, side), (0, side)]]
    return {"type": "Polygon", "coordinates": [[[p.lon, p.lat] for p in [*corners, corners[0]]]]}


def polygon_row(zone_id: int, office_id: int, geojson: object) -> Zone:
    return Zone(
        id=zone_id,
        portal_id=1,
        office_id=office_id,
        name=f"Polygon {zone_id}",
        kind="polygon",
        polygon=geojson,
    )


PLACES = places_from_rows(
    [
        (office_row(1, "Москва", ["10.20.0.0/16"]), [circle_row(11, 1, CENTRE, 100.0)]),
        (office_row(2, "Питер"), [polygon_row(21, 2, square(POLYGON_ORIGIN, 80.0))]),
    ]
)


def employee(**values: object) -> Employee:
    base: dict[str, object] = {"remote_always": False, "remote_weekdays": []}
    base.update(values)
    return Employee(**base)


def gps(point: Point, accuracy: float | None = 15.0, **kw: object) -> Submission:
    values: dict[str, object] = {
        "point": point,
        "accuracy_m": accuracy,
        "device_time": NOW,
        "ip": "10.20.1.5",
    }
    values.update(kw)
    return Submission(**values)  # type: ignore[arg-type]


# --- Settings ------------------------------------------------------------------------------------


def test_policy_defaults_without_settings() -> None:
    assert policy_from_settings(None) == PresencePolicy()
    assert policy_from_settings({"unrelated": 1}) == PresencePolicy()


def test_policy_fields_come_from_settings_by_name() -> None:
    policy = policy_from_settings(
        {
            "max_accuracy_m": 60,
            "edge_tolerance_m": 5.5,
            "max_speed_kmh": 120,
            "max_clock_skew_seconds": 90,
            "block_outside": True,
            "block_uncertain": True,
            "block_flags": ["zero_accuracy", "no_such_flag", "device_clock_skew"],
        }
    )
    assert policy.max_accuracy_m == 60.0
    assert policy.edge_tolerance_m == 5.5
    assert policy.max_speed_kmh == 120.0
    assert policy.max_clock_skew == timedelta(seconds=90)
    assert policy.block_outside
    assert policy.block_uncertain
    assert policy.block_flags == {SuspicionFlag.ZERO_ACCURACY, SuspicionFlag.DEVICE_CLOCK_SKEW}


def test_malformed_policy_values_keep_the_defaults() -> None:
    policy = policy_from_settings(
        {
            "max_accuracy_m": "60",
            "edge_tolerance_m": -1,
            "max_speed_kmh": math.inf,
            "max_clock_skew_seconds": True,
            "block_outside": "yes",
            "block_flags": "zero_accuracy",
        }
    )
    assert policy == PresencePolicy()


def test_required_actions() -> None:
    assert required_actions(None) == frozenset()
    assert required_actions({"location_required": False}) == frozenset()
    assert required_actions({"location_required": "true"}) == frozenset()
    assert required_actions({"location_required": True}) == {"check_in"}
    both = {"location_required": True, "location_required_actions": ["check_in", "check_out"]}
    assert required_actions(both) == {"check_in", "check_out"}
    odd = {"location_required": True, "location_required_actions": ["check_out", "break", 3]}
    assert required_actions(odd) == {"check_out"}


def test_remote_people_and_days() -> None:
    monday, tuesday = date(2026, 11, 23), date(2026, 11, 24)
    assert remote_reason(employee(), monday) is None
    assert remote_reason(employee(remote_always=True), monday) is ReasonCode.NO_GEOFENCE_REQUIRED
    on_mondays = employee(remote_weekdays=[1, 5])
    assert remote_reason(on_mondays, monday) is ReasonCode.REMOTE_DAY
    assert remote_reason(on_mondays, tuesday) is None
    assert remote_reason(employee(remote_weekdays=["2"]), tuesday) is ReasonCode.REMOTE_DAY


# --- Places --------------------------------------------------------------------------------------


def test_rows_become_domain_offices_with_their_zones_and_networks() -> None:
    moscow, piter = PLACES.offices
    assert (moscow.id, moscow.name) == ("1", "Москва")
    (circle,) = moscow.zones
    assert isinstance(circle, CircleZone)
    assert circle.id == "11"
    assert circle.radius_m == 100.0
    (polygon,) = piter.zones
    assert isinstance(polygon, PolygonZone)
    assert polygon.id == "21"
    assert PLACES.networks[moscow] == ("10.20.0.0/16",)
    assert PLACES.networks[piter] == ()
    assert PLACES.has_zones
    assert PLACES.has_networks
    assert PLACES.all_networks == ("10.20.0.0/16",)


def test_unusable_zones_and_ranges_are_skipped_not_fatal() -> None:
    bow_tie = {
        "type": "Polygon",
        "coordinates": [[[30.0, 60.0], [30.001, 60.001], [30.0, 60.001], [30.001, 60.0]]],
    }
    places = places_from_rows(
        [
            (
                office_row(3, "Склад", ["10.0.0.0/8", "not-a-range", 42, " 192.168.1.7/24 "]),
                [
                    circle_row(31, 3, CENTRE, 0.5),  # below 1 m
                    polygon_row(32, 3, bow_tie),  # self-intersecting
                    polygon_row(33, 3, {"type": "Point", "coordinates": [30, 60]}),
                    Zone(id=34, office_id=3, name="?", kind="circle", lat=None, lon=1, radius_m=5),
                    Zone(id=35, office_id=3, name="?", kind="hexagon"),
                    circle_row(36, 3, CENTRE, 50.0),
                ],
            )
        ]
    )
    (office,) = places.offices
    assert [z.id for z in office.zones] == ["36"]
    assert places.networks[office] == ("10.0.0.0/8", "192.168.1.7/24")


# --- Submissions ---------------------------------------------------------------------------------


def test_json_submission() -> None:
    sub = parse_submission(
        {
            "lat": 55.75,
            "lon": 37.61,
            "accuracy": 12,
            "device_time": "2026-11-23T06:05:03.120Z",
            "consent": True,
            "nonce": "n",
            "token": "t",
        },
        ip="203.0.113.9",
    )
    assert sub.point == Point(55.75, 37.61)
    assert sub.accuracy_m == 12.0
    assert sub.device_time == datetime(2026, 11, 23, 6, 5, 3, 120000, tzinfo=UTC)
    assert (sub.consent, sub.nonce, sub.token, sub.ip, sub.ip_only) == (
        True,
        "n",
        "t",
        "203.0.113.9",
        False,
    )


def test_form_submission_with_strings() -> None:
    sub = parse_submission(
        {"lat": " 55.5 ", "lon": "37.25", "accuracy": "", "consent": "1", "nonce": "x"}, ip=None
    )
    assert sub.point == Point(55.5, 37.25)
    assert sub.accuracy_m is None
    assert sub.device_time is None
    assert sub.consent


def test_ip_only_submission_ignores_coordinates() -> None:
    sub = parse_submission({"mode": "ip", "lat": "garbage", "consent": "on"}, ip="10.20.0.1")
    assert sub.ip_only
    assert sub.point is None
    assert sub.consent


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "lat and lon are required"),
        ({"lat": 55.0}, "lat and lon are required"),
        ({"lat": "north", "lon": 37}, "lat must be a number"),
        ({"lat": True, "lon": 37}, "lat must be a number"),
        ({"lat": [55], "lon": 37}, "lat must be a number"),
        ({"lat": math.nan, "lon": 37}, "lat must be a finite number"),
        ({"lat": 91, "lon": 37}, "latitude 91.0 is outside"),
        ({"lat": 55, "lon": -181}, "longitude -181.0 is outside"),
        ({"lat": 55, "lon": 37, "accuracy": math.inf}, "accuracy must be a finite number"),
        ({"lat": 55, "lon": 37, "mode": "wifi"}, "mode must be"),
    ],
)
def test_unusable_submissions_say_why(body: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidSubmission, match=message):
        parse_submission(body, ip=None)


@pytest.mark.parametrize("value", [None, "", "yesterday", "2026-11-23T06:05:00", 12345, "2" * 100])
def test_unreadable_or_naive_device_times_are_dropped(value: object) -> None:
    sub = parse_submission({"lat": 1, "lon": 2, "device_time": value}, ip=None)
    assert sub.device_time is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        ("true", True),
        ("on", True),
        (1, True),
        (False, False),
        ("0", False),
        (None, False),
    ],
)
def test_consent_values(value: object, expected: bool) -> None:
    assert parse_submission({"lat": 1, "lon": 2, "consent": value}, ip=None).consent is expected


# --- Judging -------------------------------------------------------------------------------------


def test_inside_a_circle_is_accepted_and_located() -> None:
    point = offset(CENTRE, 30.0, 20.0)
    verdict, decided = judge(gps(point), PLACES, policy=PresencePolicy(), now=NOW, tz=MSK)
    assert verdict.kind is VerdictKind.INSIDE
    assert (verdict.office_id, verdict.zone_id) == ("1", "11")
    assert verdict.distance_m == pytest.approx(100.0 - geodesic_m(CENTRE, point), abs=0.01)
    assert decided.kind is DecisionKind.ACCEPT
    assert location_of(verdict) == {
        "verdict": "inside",
        "zone_id": 11,
        "distance_m": verdict.distance_m,
        "flags": [],
    }


def test_inside_a_polygon_of_another_office() -> None:
    point = offset(POLYGON_ORIGIN, 40.0, 40.0)
    verdict, decided = judge(
        gps(point, ip="10.20.3.3"), PLACES, policy=PresencePolicy(), now=NOW, tz=MSK
    )
    assert (verdict.kind, verdict.zone_id) == (VerdictKind.INSIDE, "21")
    assert verdict.distance_m == pytest.approx(40.0, abs=0.05)
    assert decided.kind is DecisionKind.ACCEPT


def test_outside_is_flagged_or_blocked_by_policy() -> None:
    point = offset(CENTRE, 0.0, 600.0)
    verdict, decided = judge(gps(point), PLACES, policy=PresencePolicy(), now=NOW, tz=MSK)
    assert verdict.kind is VerdictKind.OUTSIDE
    assert verdict.distance_m == pytest.approx(500.0, abs=0.5)
    assert decided.kind is DecisionKind.ACCEPT_FLAGGED
    blocked = policy_from_settings({"block_outside": True})
    assert judge(gps(point), PLACES, policy=blocked, now=NOW, tz=MSK)[1].kind is (
        DecisionKind.REJECT
    )


def test_suspicion_flags_ride_along() -> None:
    skewed = gps(CENTRE, accuracy=0.0, device_time=NOW + timedelta(minutes=30), ip="8.8.8.8")
    history = [PastFix(offset(CENTRE, 0.0, 50_000.0), 20.0, NOW - timedelta(minutes=5))]
    verdict, decided = judge(
        skewed, PLACES, policy=PresencePolicy(), now=NOW, tz=MSK, history=history
    )
    assert verdict.kind is VerdictKind.INSIDE
    assert set(verdict.flags) == {
        SuspicionFlag.IMPLAUSIBLE_SPEED,
        SuspicionFlag.ZERO_ACCURACY,
        SuspicionFlag.DEVICE_CLOCK_SKEW,
        SuspicionFlag.IP_OUTSIDE_OFFICE_NETWORKS,
    }
    assert decided.kind is DecisionKind.ACCEPT_FLAGGED
    assert sorted(location_of(verdict)["flags"]) == sorted(f.value for f in verdict.flags)


def test_ip_only_succeeds_only_from_an_office_network() -> None:
    on_network = Submission(None, None, None, "10.20.7.7", ip_only=True)
    verdict, decided = judge(on_network, PLACES, policy=PresencePolicy(), now=NOW, tz=MSK)
    assert (verdict.kind, verdict.office_id) == (VerdictKind.INSIDE, "1")
    assert verdict.reason.code is ReasonCode.IP_IN_OFFICE_NETWORK
    assert decided.kind is DecisionKind.ACCEPT
    assert location_of(verdict)["zone_id"] is None

    elsewhere = Submission(None, None, None, "198.51.100.1", ip_only=True)
    verdict, decided = judge(elsewhere, PLACES, policy=PresencePolicy(), now=NOW, tz=MSK)
    assert verdict.kind is VerdictKind.UNCERTAIN
    # Proves nothing, so it is refused even where uncertain GPS verdicts are accepted.
    assert decided.kind is DecisionKind.REJECT
    assert decided.reasons[0].code is ReasonCode.NO_GPS_IP_OUTSIDE

    no_networks = Places(offices=PLACES.offices[1:], networks={PLACES.offices[1]: ()})
    verdict, decided = judge(on_network, no_networks, policy=PresencePolicy(), now=NOW, tz=MSK)
    assert verdict.reason.code is ReasonCode.NO_GPS_NO_NETWORKS
    assert decided.kind is DecisionKind.REJECT


def test_remote_needs_no_position() -> None:
    far = gps(offset(CENTRE, 0.0, 90_000.0))
    blocked = policy_from_settings({"block_outside": True, "block_uncertain": True})
    verdict, decided = judge(
        far, PLACES, policy=blocked, now=NOW, tz=MSK, remote=ReasonCode.REMOTE_DAY
    )
    assert verdict.kind is VerdictKind.REMOTE
    assert decided.kind is DecisionKind.ACCEPT
    assert location_of(verdict) == {
        "verdict": "remote",
        "zone_id": None,
        "distance_m": None,
        "flags": [],
    }


def test_no_offices_is_uncertain() -> None:
    empty = Places(offices=(), networks={})
    verdict, decided = judge(gps(CENTRE), empty, policy=PresencePolicy(), now=NOW, tz=MSK)
    assert verdict.reason.code is ReasonCode.NO_ZONES
    assert decided.kind is DecisionKind.ACCEPT_FLAGGED
