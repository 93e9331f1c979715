"""Zones measure signed distance to their boundary: circles geodesically, convex and concave
polygons (holes included) to the nearest edge, at any latitude and across the antimeridian."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timebot.domain.geo import Point
from timebot.domain.geofence import CircleZone, InvalidZone, Office, PolygonZone, ZoneProblem

from .places import offset, travel

ORIGINS = [
    Point(55.7558, 37.6173),  # Moscow
    Point(0.0001, -78.4678),  # on the equator
    Point(-33.8688, 151.2093),  # southern hemisphere
    Point(69.9, 23.27),  # the 70° limit
    Point(-17.7134, 179.9998),  # a polygon that straddles the antimeridian
]

# A "U" in local metres (east, north): arms 20 m wide, the notch x 20..40, y 20..80.
U_SHAPE = [(0, 0), (60, 0), (60, 80), (40, 80), (40, 20), (20, 20), (20, 80), (0, 80)]
# A convex pentagon with oblique edges.
PENTAGON = [(0, 0), (80, -10), (110, 50), (50, 100), (-20, 60)]


Shape = Sequence[tuple[float, float]]


def polygon(origin: Point, shape: Shape, holes: Sequence[Shape] = ()) -> PolygonZone:
    return PolygonZone(
        "z",
        "Корпус",
        tuple(offset(origin, x, y) for x, y in shape),
        tuple(tuple(offset(origin, x, y) for x, y in h) for h in holes),
    )


@pytest.fixture(params=ORIGINS, ids=lambda p: f"{p.lat:g},{p.lon:g}")
def origin(request: pytest.FixtureRequest) -> Point:
    assert isinstance(request.param, Point)
    return request.param


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(ORIGINS),
    st.floats(20.0, 2_000.0),
    st.floats(0.0, 360.0, exclude_max=True),
    st.sampled_from([-5.0, -4.0, -3.0, 3.0, 4.0, 5.0]),
)
def test_circle_signed_distance_is_metres_from_its_rim(
    centre: Point, radius: float, azimuth: float, beyond: float
) -> None:
    zone = CircleZone("c", "Круг", centre, radius)
    p = travel(centre, azimuth, radius + beyond)
    assert zone.signed_distance_m(p) == pytest.approx(beyond, abs=1e-6)


def test_circle_is_deepest_at_its_centre() -> None:
    centre = ORIGINS[0]
    assert CircleZone("c", "Круг", centre, 100).signed_distance_m(centre) == -100.0


@pytest.mark.parametrize(
    ("east", "north", "expected"),
    [
        (30, -4, 4.0),  # below the bottom edge
        (30, 4, -4.0),  # just above it, inside the base of the U
        (16, 50, -4.0),  # in the left arm, 4 m from the notch wall
        (24, 50, 4.0),  # in the notch, 4 m from the left arm
        (36, 50, 4.0),  # in the notch, 4 m from the right arm
        (30, 50, 10.0),  # the middle of the notch
        (30, 16, -4.0),  # under the notch floor
        (30, 24, 4.0),  # above the notch floor
        (30, 83, 109**0.5),  # above the notch mouth: nearest are the arm tips (20,80)/(40,80)
        (10, 50, -10.0),  # the middle of an arm
        (24, 24, 4.0),  # in the notch by its inner (reflex) corner
        (17, 17, -(18**0.5)),  # inside, diagonally off the reflex corner
        (63, 83, 18**0.5),  # outside, diagonally off the convex corner (60, 80)
        (57, 77, -3.0),  # inside that corner
        (-3, -4, 5.0),  # off the corner at the origin
    ],
)
def test_concave_u_measures_to_the_nearest_edge_or_vertex(
    origin: Point, east: float, north: float, expected: float
) -> None:
    zone = polygon(origin, U_SHAPE)
    got = zone.signed_distance_m(offset(origin, east, north))
    assert got == pytest.approx(expected, abs=0.02)


def perpendicular_offsets(
    a: tuple[float, float], b: tuple[float, float], d: float
) -> tuple[float, float]:
    """Points `d` m to the right of the middle of edge a→b (outside a counter-clockwise ring)."""
    (ax, ay), (bx, by) = a, b
    length = ((bx - ax) ** 2 + (by - ay) ** 2) ** 0.5
    nx, ny = (by - ay) / length, -(bx - ax) / length
    mx, my = (ax + bx) / 2, (ay + by) / 2
    return mx + nx * d, my + ny * d


@pytest.mark.parametrize("edge", range(len(PENTAGON)))
@pytest.mark.parametrize("beyond", [-5.0, -3.0, 3.0, 5.0])
def test_convex_polygon_measures_across_each_oblique_edge(
    origin: Point, edge: int, beyond: float
) -> None:
    zone = polygon(origin, PENTAGON)
    a, b = PENTAGON[edge], PENTAGON[(edge + 1) % len(PENTAGON)]
    p = offset(origin, *perpendicular_offsets(a, b, beyond))
    assert zone.signed_distance_m(p) == pytest.approx(beyond, abs=0.02)


def test_orientation_and_closing_vertex_do_not_matter(origin: Point) -> None:
    clockwise = polygon(origin, list(reversed(U_SHAPE)))
    closed = polygon(origin, [*U_SHAPE, U_SHAPE[0]])
    plain = polygon(origin, U_SHAPE)
    assert closed == plain
    for east, north in [(30, 50), (10, 50), (30, 16)]:
        p = offset(origin, east, north)
        assert clockwise.signed_distance_m(p) == pytest.approx(plain.signed_distance_m(p))


def test_a_courtyard_hole_is_outside_the_zone(origin: Point) -> None:
    square = [(0, 0), (100, 0), (100, 100), (0, 100)]
    courtyard = [(30, 30), (70, 30), (70, 70), (30, 70)]
    zone = polygon(origin, square, holes=[courtyard])
    assert zone.signed_distance_m(offset(origin, 50, 50)) == pytest.approx(20.0, abs=0.02)
    assert zone.signed_distance_m(offset(origin, 50, 34)) == pytest.approx(4.0, abs=0.02)
    assert zone.signed_distance_m(offset(origin, 50, 26)) == pytest.approx(-4.0, abs=0.02)
    assert zone.signed_distance_m(offset(origin, 50, 96)) == pytest.approx(-4.0, abs=0.02)
    assert zone.signed_distance_m(offset(origin, 50, 104)) == pytest.approx(4.0, abs=0.02)


def test_a_far_point_gets_its_true_distance_to_the_polygon() -> None:
    moscow = ORIGINS[0]
    zone = polygon(moscow, PENTAGON)
    far = travel(moscow, 315.0, 634_000.0)  # roughly St Petersburg
    assert 633_000 < zone.signed_distance_m(far) < 634_100


def test_circles_refuse_absurd_radii() -> None:
    centre = ORIGINS[0]
    for radius, reason in [
        (0.0, ZoneProblem.TOO_SMALL),
        (-5.0, ZoneProblem.TOO_SMALL),
        (50_001.0, ZoneProblem.TOO_LARGE),
        (float("nan"), ZoneProblem.BAD_RADIUS),
        (float("inf"), ZoneProblem.BAD_RADIUS),
    ]:
        with pytest.raises(InvalidZone) as caught:
            CircleZone("c", "Круг", centre, radius)
        assert caught.value.reason is reason
    assert CircleZone("c", "Круг", centre, 1).radius_m == 1.0


def test_polygons_refuse_crossings_spikes_and_stray_holes(origin: Point) -> None:
    cases: list[tuple[Shape, list[Shape], ZoneProblem]] = [
        ([(0, 0), (50, 50), (50, 0), (0, 50)], [], ZoneProblem.SELF_INTERSECTING),  # bow-tie
        (
            [(0, 0), (50, 0), (50, 50), (25, 50), (25, 80), (25, 50), (0, 50)],
            [],
            (
                ZoneProblem.SELF_INTERSECTING  # a zero-width spike out of the top edge
            ),
        ),
        ([(0, 0), (50, 0), (100, 0.001)], [], ZoneProblem.TOO_SMALL),  # a sliver of 0.05 m²
        ([(0, 0), (50, 0), (0, 0), (50, 0)], [], ZoneProblem.TOO_FEW_VERTICES),
        ([(0, 0), (0.5, 0), (0.5, 0.5), (0, 0.5)], [], ZoneProblem.TOO_SMALL),
        ([(0, 0), (80_000, 0), (0, 80_000)], [], ZoneProblem.TOO_LARGE),  # reaches 56 km
        (
            [(0, 0), (100, 0), (100, 100), (0, 100)],
            [[(200, 200), (220, 200), (220, 220)]],
            ZoneProblem.HOLE_OUTSIDE,
        ),
        (
            [(0, 0), (100, 0), (100, 100), (0, 100)],
            [[(10, 10), (90, 10), (90, 90), (10, 90)], [(40, 40), (60, 40), (60, 60)]],
            ZoneProblem.HOLE_OUTSIDE,  # a hole inside a hole
        ),
        (
            [(0, 0), (100, 0), (100, 100), (0, 100)],
            [[(50, 50), (150, 50), (150, 60)]],
            ZoneProblem.SELF_INTERSECTING,  # a hole crossing the outline
        ),
    ]
    for shape, holes, reason in cases:
        with pytest.raises(InvalidZone) as caught:
            polygon(origin, shape, holes=holes)
        assert caught.value.reason is reason, shape
        assert caught.value.detail


def test_a_ring_along_one_parallel_retraces_itself() -> None:
    line = (Point(55.0, 37.0), Point(55.0, 37.001), Point(55.0, 37.002))
    with pytest.raises(InvalidZone) as caught:
        PolygonZone("z", "Линия", line)
    assert caught.value.reason is ZoneProblem.SELF_INTERSECTING


def test_polygons_refuse_too_many_vertices() -> None:
    centre = ORIGINS[0]
    ring = tuple(travel(centre, i * 360 / 600, 100.0) for i in range(600))
    with pytest.raises(InvalidZone) as caught:
        PolygonZone("z", "Круг из точек", ring)
    assert caught.value.reason is ZoneProblem.TOO_MANY_VERTICES
    assert len(PolygonZone("z", "Круг из точек", ring[::2]).ring) == 300


def test_an_office_holds_zones_with_distinct_ids() -> None:
    centre = ORIGINS[0]
    a = CircleZone("a", "Вход", centre, 50)
    b = polygon(centre, U_SHAPE)
    office = Office("hq", "Центральный", [a, b], "Europe/Moscow")  # type: ignore[arg-type]
    assert office.zones == (a, b)
    with pytest.raises(InvalidZone) as caught:
        Office("hq", "Центральный", (a, CircleZone("a", "Ещё", centre, 10)))
    assert caught.value.reason is ZoneProblem.DUPLICATE_ZONE_ID
    assert Office("remote", "Без зон").zones == ()
