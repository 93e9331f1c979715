"""The verdict: inside when the accuracy circle (less the edge tolerance) fits in a zone,
outside when it clears every zone, uncertain when it straddles or accuracy is unusable."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from timebot.domain.geo import Point
from timebot.domain.geofence import CircleZone, Office, PolygonZone
from timebot.domain.presence import (
    Fix,
    PresencePolicy,
    Reason,
    ReasonCode,
    SuspicionFlag,
    Verdict,
    VerdictKind,
    evaluate,
)

from .places import offset, travel

NOW = datetime(2025, 3, 3, 6, 0, tzinfo=UTC)
CENTRE = Point(55.7558, 37.6173)
DOOR = CircleZone("door", "Главный вход", CENTRE, 100.0)
HQ = Office("hq", "Центральный", (DOOR,), "Europe/Moscow")
STRICT = PresencePolicy(edge_tolerance_m=0.0)
DEFAULT = PresencePolicy()

U_SHAPE = [(0, 0), (60, 0), (60, 80), (40, 80), (40, 20), (20, 20), (20, 80), (0, 80)]
U_ORIGIN = Point(59.9386, 30.3141)
U_ZONE = PolygonZone("u", "Подкова", tuple(offset(U_ORIGIN, x, y) for x, y in U_SHAPE))
PLANT = Office("plant", "Завод", (U_ZONE,))


def fix_at(point: Point, accuracy: float | None) -> Fix:
    return Fix(point, accuracy, None, NOW)


def at_rim(beyond: float, azimuth: float = 40.0) -> Point:
    """A point `beyond` metres outside the door circle (negative: inside)."""
    return travel(CENTRE, azimuth, DOOR.radius_m + beyond)


@pytest.mark.parametrize("policy", [STRICT, DEFAULT], ids=["strict", "default"])
@pytest.mark.parametrize("beyond", [-5.0, -3.0, 3.0, 5.0])
def test_a_few_metres_either_side_of_a_circle_with_good_accuracy_decide(
    policy: PresencePolicy, beyond: float
) -> None:
    verdict = evaluate(fix_at(at_rim(beyond), 2.0), [HQ], policy=policy)
    assert verdict.kind is (VerdictKind.INSIDE if beyond < 0 else VerdictKind.OUTSIDE)
    assert (verdict.office_id, verdict.zone_id) == ("hq", "door")
    assert verdict.distance_m == pytest.approx(abs(beyond), abs=1e-6)
    assert verdict.accuracy_m == 2.0
    assert verdict.flags == ()


@pytest.mark.parametrize(
    ("east", "north", "inside"),
    [
        (16, 50, True),  # the left arm, 4 m from the notch
        (24, 50, False),  # the notch, 4 m from the left arm
        (36, 50, False),  # the notch, 4 m from the right arm
        (44, 50, True),  # the right arm
        (30, 16, True),  # under the notch floor
        (30, 24, False),  # above the notch floor
        (30, 50, False),  # the middle of the notch
        (23, 23, False),  # in the notch by its reflex corner
        (17, 17, True),  # inside, off the reflex corner
        (57, 77, True),  # inside the convex corner (60, 80)
        (63, 83, False),  # outside it
        (30, -4, False),  # under the base
    ],
)
@pytest.mark.parametrize("policy", [STRICT, DEFAULT], ids=["strict", "default"])
def test_a_few_metres_either_side_of_a_concave_polygon_decide(
    policy: PresencePolicy, east: float, north: float, inside: bool
) -> None:
    verdict = evaluate(fix_at(offset(U_ORIGIN, east, north), 2.0), [PLANT], policy=policy)
    assert verdict.kind is (VerdictKind.INSIDE if inside else VerdictKind.OUTSIDE)
    assert verdict.zone_id == "u"


@pytest.mark.parametrize("beyond", [-4.0, 4.0])
def test_an_accuracy_circle_across_the_boundary_is_uncertain(beyond: float) -> None:
    verdict = evaluate(fix_at(at_rim(beyond), 10.0), [HQ], policy=STRICT)
    assert verdict.kind is VerdictKind.UNCERTAIN
    assert verdict.reason.code is ReasonCode.STRADDLES_BOUNDARY
    assert verdict.reason.distance_m == pytest.approx(beyond, abs=1e-6)  # signed
    assert verdict.distance_m == pytest.approx(4.0, abs=1e-6)
    assert (verdict.office_id, verdict.zone_id) == ("hq", "door")
    # In the U's notch, 4 m from each arm's wall is still too close for 30 m accuracy.
    notch = evaluate(fix_at(offset(U_ORIGIN, 24, 50), 30.0), [PLANT], policy=DEFAULT)
    assert notch.kind is VerdictKind.UNCERTAIN


def test_a_person_at_the_door_with_phone_grade_accuracy_is_not_asked_again() -> None:
    at_door = fix_at(at_rim(-5.0), 15.0)
    assert evaluate(at_door, [HQ], policy=DEFAULT).kind is VerdictKind.INSIDE
    assert evaluate(at_door, [HQ], policy=STRICT).kind is VerdictKind.UNCERTAIN
    # Only the accuracy beyond the tolerance has to clear the boundary:
    assert evaluate(fix_at(at_rim(-5.0), 25.0), [HQ], policy=DEFAULT).kind is VerdictKind.UNCERTAIN
    assert evaluate(fix_at(at_rim(-11.0), 25.0), [HQ], policy=DEFAULT).kind is VerdictKind.INSIDE
    assert evaluate(fix_at(at_rim(11.0), 25.0), [HQ], policy=DEFAULT).kind is VerdictKind.OUTSIDE


@settings(max_examples=300, deadline=None)
@given(
    beyond=st.floats(-90.0, 300.0),
    accuracy=st.floats(0.0, 100.0),
    tolerance=st.floats(0.0, 30.0),
    azimuth=st.floats(0.0, 359.0),
)
def test_the_verdict_follows_the_written_rule(
    beyond: float, accuracy: float, tolerance: float, azimuth: float
) -> None:
    reach = max(0.0, accuracy - tolerance)
    # Stay clear of exact ties, which float rounding may tip either way.
    assume(abs(beyond + reach) > 1e-3 and abs(beyond - reach) > 1e-3)
    policy = PresencePolicy(edge_tolerance_m=tolerance)
    verdict = evaluate(fix_at(at_rim(beyond, azimuth), accuracy), [HQ], policy=policy)
    if beyond + reach < 0:
        expected = VerdictKind.INSIDE
    elif beyond - reach > 0:
        expected = VerdictKind.OUTSIDE
    else:
        expected = VerdictKind.UNCERTAIN
    assert verdict.kind is expected
    # A centre outside the zone is never called inside, nor a centre inside called outside.
    assert not (verdict.kind is VerdictKind.INSIDE and beyond > 0)
    assert not (verdict.kind is VerdictKind.OUTSIDE and beyond < 0)


@pytest.mark.parametrize(
    ("accuracy", "code"),
    [
        (101.0, ReasonCode.LOW_ACCURACY),
        (180.0, ReasonCode.LOW_ACCURACY),
        (None, ReasonCode.NO_ACCURACY),
        (-5.0, ReasonCode.INVALID_ACCURACY),
        (float("nan"), ReasonCode.INVALID_ACCURACY),
    ],
)
def test_unusable_accuracy_is_uncertain_even_deep_inside(
    accuracy: float | None, code: ReasonCode
) -> None:
    verdict = evaluate(fix_at(CENTRE, accuracy), [HQ], policy=DEFAULT)
    assert verdict.kind is VerdictKind.UNCERTAIN
    assert verdict.reason.code is code
    assert verdict.distance_m == 100.0  # still says which zone and how far, for the text
    assert verdict.zone_id == "door"
    if code is ReasonCode.LOW_ACCURACY:
        assert verdict.reason.limit == 100.0
        assert verdict.reason.accuracy_m == accuracy


def test_accuracy_at_the_limit_still_decides_and_a_circle_that_just_fits_is_inside() -> None:
    verdict = evaluate(fix_at(CENTRE, 100.0), [HQ], policy=STRICT)
    assert verdict.kind is VerdictKind.INSIDE  # the 100 m circle exactly fills the zone
    assert verdict.reason.code is ReasonCode.INSIDE_ZONE
    verdict = evaluate(fix_at(CENTRE, 100.5), [HQ], policy=STRICT)
    assert verdict.reason.code is ReasonCode.LOW_ACCURACY
    lenient = PresencePolicy(max_accuracy_m=150.0)
    assert evaluate(fix_at(CENTRE, 110.0), [HQ], policy=lenient).kind is VerdictKind.INSIDE
    assert evaluate(fix_at(CENTRE, 120.0), [HQ], policy=lenient).kind is VerdictKind.UNCERTAIN


def test_without_zones_there_is_nothing_to_decide() -> None:
    for offices in ([], [Office("empty", "Без зон")]):
        verdict = evaluate(fix_at(CENTRE, 5.0), offices, policy=DEFAULT)
        assert verdict.kind is VerdictKind.UNCERTAIN
        assert verdict.reason.code is ReasonCode.NO_ZONES
        assert verdict.office_id is None
        assert verdict.distance_m is None


def test_the_deepest_zone_across_offices_is_named_and_outside_names_the_nearest() -> None:
    annex = CircleZone("annex", "Пристройка", travel(CENTRE, 90.0, 150.0), 80.0)
    west = Office("west", "Западный", (annex,))
    # 120 m east of the centre: 20 m outside the door circle, 50 m deep in the annex.
    p = travel(CENTRE, 90.0, 120.0)
    verdict = evaluate(fix_at(p, 5.0), [HQ, west], policy=DEFAULT)
    assert (verdict.kind, verdict.office_id, verdict.zone_id) == (
        VerdictKind.INSIDE,
        "west",
        "annex",
    )
    assert verdict.distance_m == pytest.approx(50.0, abs=1e-6)
    # Overlap: 60 m east is 40 m deep in the door circle and 10 m deep in the annex.
    overlap = evaluate(fix_at(travel(CENTRE, 90.0, 60.0), 5.0), [west, HQ], policy=DEFAULT)
    assert (overlap.office_id, overlap.zone_id) == ("hq", "door")
    far = evaluate(fix_at(travel(CENTRE, 270.0, 450.0), 10.0), [HQ, west], policy=DEFAULT)
    assert (far.kind, far.office_id) == (VerdictKind.OUTSIDE, "hq")
    assert far.distance_m == pytest.approx(350.0, abs=1e-6)
    assert far.reason == Reason(
        code=ReasonCode.OUTSIDE_ZONES,
        office_id="hq",
        office_name="Центральный",
        zone_id="door",
        zone_name="Главный вход",
        distance_m=far.distance_m,
        accuracy_m=10.0,
    )


def test_a_verdict_keeps_its_reasons_in_step_with_its_flags() -> None:
    main = Reason(code=ReasonCode.INSIDE_ZONE)
    flag = Reason(code=ReasonCode.ZERO_ACCURACY, accuracy_m=0.0)
    ok = Verdict(VerdictKind.INSIDE, flags=(SuspicionFlag.ZERO_ACCURACY,), reasons=(main, flag))
    assert ok.reason is main
    assert ok.flag_reasons == (flag,)
    with pytest.raises(ValueError, match="reason"):
        Verdict(VerdictKind.INSIDE)
    with pytest.raises(ValueError, match="flags"):
        Verdict(VerdictKind.INSIDE, flags=(SuspicionFlag.ZERO_ACCURACY,), reasons=(main,))
    with pytest.raises(ValueError, match="flags"):
        Verdict(VerdictKind.INSIDE, reasons=(main, flag))


def test_fixes_and_policies_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="naive"):
        Fix(CENTRE, 5.0, None, NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match="naive"):
        Fix(CENTRE, 5.0, NOW.replace(tzinfo=None), NOW)
    for bad in ({"max_accuracy_m": -1.0}, {"edge_tolerance_m": float("nan")}):
        with pytest.raises(ValueError, match="non-negative"):
            PresencePolicy(**bad)  # type: ignore[arg-type]
    policy = PresencePolicy(block_flags=frozenset({"zero_accuracy"}))  # type: ignore[arg-type]
    assert policy.block_flags == {SuspicionFlag.ZERO_ACCURACY}
