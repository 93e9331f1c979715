"""`timebot geo check` logic: zone specs (circle, GeoJSON in every accepted shape, bad input),
verdicts a few metres either side of a boundary, and the words and JSON it prints.

The geometry itself (distances against geographiclib at every latitude, concave polygons and
holes) is tested in tests/unit/geo/test_geo.py, test_zones.py and test_verdict.py; here the
boundary and geographiclib checks go through the command's own parsing and rendering.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.geo.places import geodesic_m, offset, travel
from timebot.domain.geo import Point
from timebot.domain.geofence import CircleZone, Office, PolygonZone
from timebot.domain.presence import ReasonCode, VerdictKind
from timebot.reports import geo_check as gc

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
MOSCOW = Point(55.7558, 37.6173)
# A "U" in local metres (east, north): arms 20 m wide, the notch x 20..40, y 20..80.
U_SHAPE = [(0, 0), (60, 0), (60, 80), (40, 80), (40, 20), (20, 20), (20, 80), (0, 80)]


def at(p: Point) -> str:
    return f"{p.lat!r},{p.lon!r}"


def circle_spec(centre: Point, radius: float) -> str:
    return f"{centre.lat!r},{centre.lon!r},{radius!r}"


def u_geojson(origin: Point = MOSCOW, name: str | None = None) -> dict[str, Any]:
    ring = [offset(origin, x, y) for x, y in U_SHAPE]
    geometry = {"type": "Polygon", "coordinates": [[[p.lon, p.lat] for p in [*ring, ring[0]]]]}
    if name is None:
        return geometry
    return {"type": "Feature", "properties": {"name": name}, "geometry": geometry}


async def run(zone: str, point: str, accuracy: float | None = None) -> gc.CheckResult:
    def no_database() -> str:
        raise AssertionError("the database is read only for db: specs")

    return await gc.run(zone=zone, at=point, accuracy_m=accuracy, now=NOW, database_url=no_database)


# --- verdicts at the boundary ------------------------------------------------------------------


@pytest.mark.parametrize("beyond", [-3.0, -1.0, 1.0, 3.0])
@pytest.mark.parametrize("azimuth", [0.0, 75.0, 200.0])
async def test_a_few_metres_either_side_of_a_circle_decide(beyond: float, azimuth: float) -> None:
    point = travel(MOSCOW, azimuth, 150.0 + beyond)
    result = await run(circle_spec(MOSCOW, 150.0), at(point))
    inside = beyond < 0
    assert result.verdict.kind is (VerdictKind.INSIDE if inside else VerdictKind.OUTSIDE)
    assert gc.exit_code(result) == (0 if inside else 1)
    assert result.verdict.distance_m == pytest.approx(abs(beyond), abs=1e-6)
    assert result.signed_distance_m == pytest.approx(beyond, abs=1e-6)


@pytest.mark.parametrize(
    ("east", "north", "inside"),
    [
        (17, 50, True),  # in the left arm, 3 m from the notch wall
        (23, 50, False),  # in the notch, 3 m from that wall
        (37, 50, False),  # in the notch, 3 m from the right arm
        (43, 50, True),  # in the right arm
        (30, 17, True),  # under the notch floor
        (30, 23, False),  # above it, in the notch
        (30, -3, False),  # below the base
        (57, 77, True),  # inside the convex corner (60, 80)
    ],
)
async def test_a_few_metres_either_side_of_a_concave_polygon_decide(
    tmp_path: Path, east: float, north: float, inside: bool
) -> None:
    path = tmp_path / "u.geojson"
    path.write_text(json.dumps(u_geojson(name="Корпус У")), encoding="utf-8")
    result = await run(str(path), at(offset(MOSCOW, east, north)))
    assert result.verdict.kind is (VerdictKind.INSIDE if inside else VerdictKind.OUTSIDE)
    assert result.verdict.distance_m == pytest.approx(3.0, abs=0.01)
    assert result.zone is not None
    assert result.zone.name == "Корпус У"


@settings(max_examples=100, deadline=None)
@given(
    st.floats(-70.0, 70.0),
    st.floats(-180.0, 180.0),
    st.floats(20.0, 2_000.0),
    st.floats(0.0, 360.0, exclude_max=True),
    st.floats(1.0, 5_000.0),
)
def test_the_printed_distance_agrees_with_geographiclib_at_office_scale(
    lat: float, lon: float, radius: float, azimuth: float, metres: float
) -> None:
    # The function itself is checked at 500 examples in tests/unit/geo/test_geo.py; this is the
    # command's whole path: spec string → zone → verdict → JSON.
    centre = Point(lat, lon)
    point = travel(centre, azimuth, metres)
    zones = gc.parse_zone_spec(circle_spec(centre, radius))
    assert isinstance(zones, tuple)
    result = gc.check(Office("cli", "", zones), gc.parse_point(at(point)), None, now=NOW)
    printed = json.loads(gc.render_json(result, "en"))
    exact = geodesic_m(centre, point)
    assert printed["zones"][0]["signed_distance_m"] + radius == pytest.approx(exact, rel=0.005)
    if abs(exact - radius) > 0.01:  # exactly on the rim counts as inside
        assert printed["verdict"] == ("inside" if exact < radius else "outside")


# --- uncertain ---------------------------------------------------------------------------------


async def test_an_accuracy_circle_across_the_boundary_is_uncertain_and_says_why() -> None:
    point = travel(MOSCOW, 90.0, 152.0)
    result = await run(circle_spec(MOSCOW, 150.0), at(point), accuracy=40.0)
    assert result.verdict.kind is VerdictKind.UNCERTAIN
    assert result.verdict.reason.code is ReasonCode.STRADDLES_BOUNDARY
    assert gc.exit_code(result) == 2
    text = gc.render_text(result, "ru")
    assert text.startswith("НЕ ОПРЕДЕЛИТЬ: точка снаружи, в 2,0 м от границы зоны «круг 150 м»")
    assert "круг точности 40,0 м" in text
    assert "допуска 15,0 м" in text
    english = gc.render_text(result, "en")
    assert english.startswith("UNCERTAIN: the point is outside, 2.0 m from the boundary")


async def test_accuracy_within_the_edge_tolerance_lets_the_centre_decide() -> None:
    point = travel(MOSCOW, 90.0, 152.0)
    result = await run(circle_spec(MOSCOW, 150.0), at(point), accuracy=15.0)
    assert result.verdict.kind is VerdictKind.OUTSIDE


async def test_too_coarse_an_accuracy_is_uncertain_even_deep_inside() -> None:
    result = await run(circle_spec(MOSCOW, 150.0), at(MOSCOW), accuracy=500.0)
    assert result.verdict.reason.code is ReasonCode.LOW_ACCURACY
    assert gc.render_text(result, "en").startswith(
        "UNCERTAIN: accuracy 500 m is worse than the limit of 100 m."
    )


# --- specs ------------------------------------------------------------------------------------


async def test_inline_multipolygon_gives_one_zone_per_polygon_and_names_the_one_it_is_in() -> None:
    square = [offset(MOSCOW, x, y) for x, y in [(0, 0), (50, 0), (50, 50), (0, 50)]]
    far = [offset(MOSCOW, x, y) for x, y in [(500, 0), (550, 0), (550, 50)]]
    multi = {
        "type": "MultiPolygon",
        "coordinates": [[[[p.lon, p.lat] for p in ring]] for ring in (square, far)],
    }
    result = await run(json.dumps(multi), at(offset(MOSCOW, 25, 10)))
    assert result.verdict.kind is VerdictKind.INSIDE
    assert [z.id for z, _ in result.distances] == ["polygon-1", "polygon-2"]
    assert result.zone is not None
    assert result.zone.id == "polygon-1"
    assert result.distances[0][1] == pytest.approx(-10.0, abs=0.01)
    assert result.distances[1][1] > 400
    text = gc.render_text(result, "ru")
    assert text.splitlines()[0] == "ВНУТРИ: точка в зоне «многоугольник 1», 10,0 м до границы."
    assert "«многоугольник 2»: снаружи" in text


def test_features_and_collections_lend_their_names() -> None:
    collection = {
        "type": "FeatureCollection",
        "features": [u_geojson(name="Корпус А"), u_geojson(travel(MOSCOW, 0, 1000), "Склад")],
    }
    zones = gc.zones_from_geojson(collection)
    assert [(z.id, z.name) for z in zones] == [("polygon-1", "Корпус А"), ("polygon-2", "Склад")]
    (single,) = gc.zones_from_geojson(u_geojson(), default_name="u")
    assert (single.id, single.name) == ("polygon", "u")


def test_a_circle_spec_tolerates_spaces_and_signs() -> None:
    (zone,) = gc.parse_zone_spec(" -33.8688 , 151.2093 , 75 ")  # type: ignore[misc]
    assert isinstance(zone, CircleZone)
    assert (zone.center, zone.radius_m) == (Point(-33.8688, 151.2093), 75.0)


def test_db_specs_are_left_for_the_database() -> None:
    assert gc.parse_zone_spec("db:42") == gc.DatabaseZone(42)
    assert gc.parse_zone_spec("DB: 7") == gc.DatabaseZone(7)


def test_stored_rows_become_zones() -> None:
    circle = gc.zone_from_row(
        id=3, name="Вход", kind="circle", lat=55.0, lon=37.0, radius_m=80.0, polygon=None
    )
    assert circle == CircleZone("3", "Вход", Point(55.0, 37.0), 80.0)
    polygon = gc.zone_from_row(
        id=4, name="U", kind="polygon", lat=None, lon=None, radius_m=None, polygon=u_geojson()
    )
    assert isinstance(polygon, PolygonZone)
    assert len(polygon.ring) == len(U_SHAPE)


@pytest.mark.parametrize(
    ("zone", "point", "accuracy", "key", "says"),
    [
        ("55.75,37.61,100", "55.75", None, "bad_point", "latitude and longitude"),
        ("55.75,37.61,100", "37.61,200.5", None, "point_off_globe", "longitude 200.5"),
        ("55.75,37.61,100", "95.1,37.6", None, "point_off_globe", "latitude 95.1"),
        ("55.75,37.61,100", "55.75,37.61", -5.0, "bad_accuracy", "non-negative"),
        ("55.75,37.61,100", "55.75,37.61", float("nan"), "bad_accuracy", None),
        ("55.75,37.61,0", "55.75,37.61", None, "bad_zone", "below 1 m"),
        ("55.75,37.61,90000", "55.75,37.61", None, "bad_zone", "above 50 km"),
        ("155.75,37.61,100", "55.75,37.61", None, "bad_zone", "latitude"),
        ("no/such/zone.geojson", "55.75,37.61", None, "no_zone", "No such file"),
        ("{not json", "55.75,37.61", None, "bad_json", "line 1"),
        ('{"type": "LineString"}', "55.75,37.61", None, "bad_geojson", "'LineString'"),
        ('{"type": "FeatureCollection", "features": []}', "1,1", None, "bad_geojson", "no poly"),
        (
            '{"type": "Polygon", "coordinates": [[[0,0],[1e-3,1e-3],[1e-3,0],[0,1e-3],[0,0]]]}',
            "0.5,0.5",
            None,
            "bad_zone",
            "cross",
        ),
        ("db:twelve", "55.75,37.61", None, "bad_db_id", "db:12"),
    ],
)
async def test_bad_input_is_refused_with_a_message_in_both_languages(
    zone: str, point: str, accuracy: float | None, key: str, says: str | None
) -> None:
    with pytest.raises(gc.GeoCheckError) as caught:
        await run(zone, point, accuracy)
    error = caught.value
    assert error.key == key
    english, russian = error.message("en"), error.message("ru")
    if says is not None:
        assert says in english
    assert english != russian
    assert russian


# --- output -----------------------------------------------------------------------------------


async def test_json_output_carries_the_verdict_the_zone_and_the_policy() -> None:
    point = travel(MOSCOW, 0.0, 120.0)
    result = await run(circle_spec(MOSCOW, 100.0), at(point), accuracy=8.0)
    payload = json.loads(gc.render_json(result, "en"))
    assert payload["verdict"] == "outside"
    assert payload["exit_code"] == 1
    assert payload["distance_m"] == pytest.approx(20.0, abs=1e-3)
    assert payload["zone"] == {
        "id": "circle",
        "name": "",
        "kind": "circle",
        "inside": False,
        "signed_distance_m": pytest.approx(20.0, abs=1e-3),
    }
    assert payload["reason"]["code"] == "outside_zones"
    assert payload["accuracy_m"] == 8.0
    assert payload["flags"] == []
    assert payload["policy"] == {"max_accuracy_m": 100.0, "edge_tolerance_m": 15.0}
    assert payload["text"].startswith("OUTSIDE: 20.0 m to the boundary of zone “circle of 100 m”.")


async def test_an_exact_point_raises_no_suspicion_but_a_zero_accuracy_does() -> None:
    exact = await run(circle_spec(MOSCOW, 100.0), at(MOSCOW))
    assert exact.verdict.flags == ()
    assert "точность не задана (точка)" in gc.render_text(exact, "ru")
    zero = await run(circle_spec(MOSCOW, 100.0), at(MOSCOW), accuracy=0.0)
    assert zero.verdict.kind is VerdictKind.INSIDE
    assert [f.value for f in zero.verdict.flags] == ["zero_accuracy"]
    assert "Замечание: Подозрительно: устройство сообщило нулевую погрешность" in gc.render_text(
        zero, "ru"
    )


async def test_far_distances_read_in_kilometres() -> None:
    result = await run(circle_spec(MOSCOW, 100.0), at(travel(MOSCOW, 45.0, 12_100.0)))
    assert gc.render_text(result, "ru").splitlines()[0] == (
        "СНАРУЖИ: до границы зоны «круг 100 м» 12,0 км."
    )
