"""Polygon zones read GeoJSON ([lon, lat], first ring the outline, further rings holes) and
say exactly what is wrong with a bad one."""

from __future__ import annotations

import json
import math

import pytest

from timebot.domain.geo import Point
from timebot.domain.geofence import InvalidZone, PolygonZone, ZoneProblem

# A block in central Moscow, as geojson.io writes it: [lon, lat], closed.
BLOCK = {
    "type": "Polygon",
    "coordinates": [
        [
            [37.6150, 55.7550],
            [37.6190, 55.7550],
            [37.6190, 55.7570],
            [37.6150, 55.7570],
            [37.6150, 55.7550],
        ]
    ],
}
COURTYARD = [[37.6165, 55.7556], [37.6175, 55.7556], [37.6175, 55.7564], [37.6165, 55.7564]]


def test_a_geojson_polygon_becomes_a_zone_with_lat_lon_points() -> None:
    zone = PolygonZone.from_geojson(BLOCK, id="block", name="Квартал")
    assert zone.id == "block"
    assert zone.name == "Квартал"
    assert zone.ring[0] == Point(55.7550, 37.6150)
    assert len(zone.ring) == 4  # the closing repeat is dropped
    assert zone.signed_distance_m(Point(55.7560, 37.6170)) < -50
    assert zone.signed_distance_m(Point(55.7600, 37.6170)) > 300


def test_an_unclosed_ring_reads_the_same_as_a_closed_one() -> None:
    unclosed = {"type": "Polygon", "coordinates": [BLOCK["coordinates"][0][:-1]]}
    assert PolygonZone.from_geojson(unclosed) == PolygonZone.from_geojson(BLOCK)


def test_a_feature_lends_its_name_and_altitudes_are_ignored() -> None:
    with_altitude = [[*pos, 150.0] for pos in BLOCK["coordinates"][0]]
    feature = {
        "type": "Feature",
        "properties": {"name": "Главный корпус"},
        "geometry": {"type": "Polygon", "coordinates": [with_altitude]},
    }
    zone = PolygonZone.from_geojson(feature, id="main")
    assert zone.name == "Главный корпус"
    assert zone.ring == PolygonZone.from_geojson(BLOCK).ring
    assert PolygonZone.from_geojson(feature, name="Свое имя").name == "Свое имя"


def test_further_rings_are_holes_and_survive_a_round_trip() -> None:
    obj = {"type": "Polygon", "coordinates": [BLOCK["coordinates"][0], COURTYARD]}
    zone = PolygonZone.from_geojson(obj, id="b", name="С двором")
    assert len(zone.holes) == 1
    assert zone.signed_distance_m(Point(55.7560, 37.6170)) > 0  # in the courtyard
    again = PolygonZone.from_geojson(
        json.loads(json.dumps(zone.to_geojson())), id="b", name="С двором"
    )
    assert again == zone
    rings = zone.to_geojson()["coordinates"]
    assert isinstance(rings, list)
    assert all(ring[0] == ring[-1] for ring in rings)


def ring(*positions: object) -> dict[str, object]:
    return {"type": "Polygon", "coordinates": [list(positions)]}


@pytest.mark.parametrize(
    ("obj", "reason", "says"),
    [
        ([[37.6, 55.7]], ZoneProblem.NOT_AN_OBJECT, "GeoJSON object"),
        ({"type": "Point", "coordinates": [37.6, 55.7]}, ZoneProblem.NOT_A_POLYGON, "'Point'"),
        (
            {"type": "MultiPolygon", "coordinates": [BLOCK["coordinates"]]},
            ZoneProblem.NOT_A_POLYGON,
            "one polygon per zone",
        ),
        ({"type": "Feature", "geometry": None}, ZoneProblem.NOT_A_POLYGON, "no geometry"),
        ({"coordinates": BLOCK["coordinates"]}, ZoneProblem.NOT_A_POLYGON, "None"),
        ({"type": "Polygon"}, ZoneProblem.BAD_COORDINATES, "list of rings"),
        ({"type": "Polygon", "coordinates": []}, ZoneProblem.BAD_COORDINATES, "list of rings"),
        ({"type": "Polygon", "coordinates": [37.6]}, ZoneProblem.BAD_COORDINATES, "outer ring"),
        (
            ring([37.6, 55.7], ["37.7", "55.7"], [37.7, 55.8]),
            ZoneProblem.BAD_COORDINATES,
            "position 1",
        ),
        (ring([37.6, 55.7], [37.7], [37.7, 55.8]), ZoneProblem.BAD_COORDINATES, "position 1"),
        (ring([37.6, 55.7], [True, 55.7], [37.7, 55.8]), ZoneProblem.BAD_COORDINATES, "[lon, lat]"),
        (ring([37.6, 55.7], [math.nan, 55.7], [37.7, 55.8]), ZoneProblem.BAD_COORDINATES, "nan"),
        # [lat, lon] by mistake, caught where the "latitude" runs out of range:
        (ring([55.7, 137.6], [55.7, 137.7], [55.8, 137.7]), ZoneProblem.OUT_OF_RANGE, "[lon, lat]"),
        (
            ring([37.6, 55.7], [37.7, 55.7], [37.6, 55.7]),
            ZoneProblem.TOO_FEW_VERTICES,
            "2 distinct",
        ),
        (
            ring([37.60, 55.70], [37.61, 55.71], [37.61, 55.70], [37.60, 55.71]),
            ZoneProblem.SELF_INTERSECTING,
            "cross",
        ),
        (ring([37.0, 55.0], [38.0, 55.0], [38.0, 56.0]), ZoneProblem.TOO_LARGE, "km"),
        (
            ring([37.6, 55.7], [37.600001, 55.7], [37.600001, 55.700001]),
            ZoneProblem.TOO_SMALL,
            "m²",
        ),
        (
            {
                "type": "Polygon",
                "coordinates": [
                    BLOCK["coordinates"][0],
                    [[37.7, 55.8], [37.71, 55.8], [37.71, 55.81]],
                ],
            },
            ZoneProblem.HOLE_OUTSIDE,
            "hole 1",
        ),
    ],
)
def test_bad_geojson_is_refused_with_a_reason(obj: object, reason: ZoneProblem, says: str) -> None:
    with pytest.raises(InvalidZone) as caught:
        PolygonZone.from_geojson(obj)
    assert caught.value.reason is reason
    assert says in caught.value.detail
    assert str(caught.value).startswith(reason.value)
    assert isinstance(caught.value, ValueError)
