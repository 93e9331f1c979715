"""Zones (geofences) and offices: circles and polygons, their GeoJSON form and validation, and
each zone's signed distance to a point (negative inside).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeAlias

from timebot.domain.geo import Point, distance_m, project, unproject
from timebot.domain.planar import XY, nearest_on_rings, ring_area, ring_contains, rings_intersect

__all__ = [
    "MAX_VERTICES",
    "MAX_ZONE_RADIUS_M",
    "MIN_ZONE_AREA_M2",
    "MIN_ZONE_RADIUS_M",
    "CircleZone",
    "InvalidZone",
    "Office",
    "PolygonZone",
    "Zone",
    "ZoneProblem",
]

# A zone is a building or a campus. Beyond 50 km it is a region, and a typo is likelier than
# an intent; below 1 m (or 1 m²) it is a slip of the mouse that no GPS could ever resolve.
MAX_ZONE_RADIUS_M = 50_000.0
MIN_ZONE_RADIUS_M = 1.0
MIN_ZONE_AREA_M2 = 1.0
# Hand-drawn and traced building outlines stay far below this; it bounds the quadratic
# self-intersection check to well under a second.
MAX_VERTICES = 500


class ZoneProblem(StrEnum):
    """Why a zone definition was refused (a machine code the admin UI can phrase)."""

    NOT_AN_OBJECT = "not_an_object"
    NOT_A_POLYGON = "not_a_polygon"
    BAD_COORDINATES = "bad_coordinates"
    OUT_OF_RANGE = "out_of_range"
    TOO_FEW_VERTICES = "too_few_vertices"
    TOO_MANY_VERTICES = "too_many_vertices"
    TOO_SMALL = "too_small"
    TOO_LARGE = "too_large"
    SELF_INTERSECTING = "self_intersecting"
    HOLE_OUTSIDE = "hole_outside"
    BAD_RADIUS = "bad_radius"
    DUPLICATE_ZONE_ID = "duplicate_zone_id"


class InvalidZone(ValueError):
    """A zone that cannot be used; `reason` says why in a code, `detail` in English words."""

    def __init__(self, reason: ZoneProblem, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class CircleZone:
    """A zone of all points within `radius_m` metres (geodesic) of `center`."""

    id: str
    name: str
    center: Point
    radius_m: float

    def __post_init__(self) -> None:
        r = float(self.radius_m)
        if not math.isfinite(r):
            raise InvalidZone(ZoneProblem.BAD_RADIUS, f"radius {self.radius_m!r} is not a number")
        if r < MIN_ZONE_RADIUS_M:
            raise InvalidZone(ZoneProblem.TOO_SMALL, f"radius {r:g} m is below 1 m")
        if r > MAX_ZONE_RADIUS_M:
            raise InvalidZone(ZoneProblem.TOO_LARGE, f"radius {r:g} m is above 50 km")
        object.__setattr__(self, "radius_m", r)

    def signed_distance_m(self, p: Point) -> float:
        """Metres from `p` to the circle: negative inside (depth), positive outside."""
        return distance_m(self.center, p) - self.radius_m


Ring: TypeAlias = tuple[Point, ...]


def _normalized(ring: Sequence[Point], what: str) -> Ring:
    """The ring without the closing repeat and without consecutive duplicates."""
    out: list[Point] = []
    for p in ring:
        if not isinstance(p, Point):
            raise InvalidZone(ZoneProblem.BAD_COORDINATES, f"{what}: {p!r} is not a Point")
        if not out or out[-1] != p:
            out.append(p)
    while len(out) > 1 and out[0] == out[-1]:
        out.pop()
    if len(set(out)) < 3:
        raise InvalidZone(
            ZoneProblem.TOO_FEW_VERTICES, f"{what} has {len(set(out))} distinct vertices, needs 3"
        )
    return tuple(out)


def _centre_of(rings: Sequence[Ring]) -> Point:
    """The middle of the rings' bounding box, found in a plane so the antimeridian is no seam."""
    first = rings[0][0]
    xs, ys = zip(*(project(first, p) for ring in rings for p in ring), strict=True)
    return unproject(first, (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2)


@dataclass(frozen=True, slots=True)
class PolygonZone:
    """A zone bounded by `ring` (outer boundary) minus any `holes` (courtyards that do not count).

    Rings are given closed or not, in any orientation. Edges are straight lines in the zone's
    tangent plane, which at office scale is the geodesic between the vertices to the
    centimetre. Convex and concave outlines are both fine; crossings are refused.
    """

    id: str
    name: str
    ring: Ring
    holes: tuple[Ring, ...] = ()
    _origin: Point = field(init=False, repr=False, compare=False)
    _rings_xy: tuple[tuple[XY, ...], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        outer = _normalized(self.ring, "outer ring")
        holes = tuple(_normalized(h, f"hole {i + 1}") for i, h in enumerate(self.holes))
        rings = (outer, *holes)
        count = sum(len(r) for r in rings)
        if count > MAX_VERTICES:
            raise InvalidZone(
                ZoneProblem.TOO_MANY_VERTICES, f"{count} vertices, at most {MAX_VERTICES}"
            )
        origin = _centre_of(rings)
        rings_xy = tuple(tuple(project(origin, p) for p in r) for r in rings)
        reach = max(math.hypot(x, y) for r in rings_xy for x, y in r)
        if reach > MAX_ZONE_RADIUS_M:
            raise InvalidZone(
                ZoneProblem.TOO_LARGE, f"vertices reach {reach / 1000:.0f} km from the centre"
            )
        # Crossings first: a symmetric bow-tie also has zero area, but "crossing" is the news.
        if rings_intersect(rings_xy):
            raise InvalidZone(ZoneProblem.SELF_INTERSECTING, "edges cross or touch each other")
        for i, r in enumerate(rings_xy):
            area = abs(ring_area(r))
            if area < MIN_ZONE_AREA_M2:
                what = "the outer ring" if i == 0 else f"hole {i}"
                raise InvalidZone(ZoneProblem.TOO_SMALL, f"{what} encloses {area:.2f} m²")
        # With no crossings, one vertex tells where a whole hole lies.
        for i, h in enumerate(rings_xy[1:], start=1):
            if not ring_contains(rings_xy[0], h[0]):
                raise InvalidZone(ZoneProblem.HOLE_OUTSIDE, f"hole {i} is outside the outer ring")
            for j, other in enumerate(rings_xy[1:], start=1):
                if j != i and ring_contains(other, h[0]):
                    raise InvalidZone(ZoneProblem.HOLE_OUTSIDE, f"hole {i} lies inside hole {j}")
        object.__setattr__(self, "ring", outer)
        object.__setattr__(self, "holes", holes)
        object.__setattr__(self, "_origin", origin)
        object.__setattr__(self, "_rings_xy", rings_xy)

    def signed_distance_m(self, p: Point) -> float:
        """Metres from `p` to the nearest edge (of the outline or a hole): negative inside.

        Inside-ness and the nearest edge point are found in the zone's plane; the distance to
        that point is then measured geodesically, so far-away points get true distances too.
        """
        xy = project(self._origin, p)
        outer, *holes = self._rings_xy
        inside = ring_contains(outer, xy) and not any(ring_contains(h, xy) for h in holes)
        nearest = nearest_on_rings(self._rings_xy, xy)
        gap = distance_m(p, unproject(self._origin, *nearest))
        return -gap if inside else gap

    @classmethod
    def from_geojson(cls, obj: object, *, id: str = "", name: str = "") -> PolygonZone:
        """A zone from a GeoJSON Polygon (or a Feature holding one); positions are [lon, lat].

        The first ring is the outline, further rings are holes. Altitudes are ignored.
        InvalidZone tells what is wrong.
        """
        if not isinstance(obj, Mapping):
            raise InvalidZone(ZoneProblem.NOT_AN_OBJECT, "expected a GeoJSON object")
        geometry: object = obj
        if obj.get("type") == "Feature":
            geometry = obj.get("geometry")
            props = obj.get("properties")
            if not name and isinstance(props, Mapping) and isinstance(props.get("name"), str):
                name = props["name"]
            if not isinstance(geometry, Mapping):
                raise InvalidZone(ZoneProblem.NOT_A_POLYGON, "the Feature has no geometry")
        if not isinstance(geometry, Mapping) or geometry.get("type") != "Polygon":
            kind = geometry.get("type") if isinstance(geometry, Mapping) else None
            hint = "; draw one polygon per zone" if kind == "MultiPolygon" else ""
            raise InvalidZone(ZoneProblem.NOT_A_POLYGON, f"type is {kind!r}, not 'Polygon'{hint}")
        coordinates = geometry.get("coordinates")
        if not isinstance(coordinates, list | tuple) or not coordinates:
            raise InvalidZone(ZoneProblem.BAD_COORDINATES, "coordinates must be a list of rings")
        rings = [_ring_from_geojson(r, i) for i, r in enumerate(coordinates)]
        return cls(id=id, name=name, ring=rings[0], holes=tuple(rings[1:]))

    def to_geojson(self) -> dict[str, object]:
        """The zone as a GeoJSON Polygon with closed rings, [lon, lat] positions."""
        rings = (self.ring, *self.holes)
        return {
            "type": "Polygon",
            "coordinates": [[[p.lon, p.lat] for p in (*r, r[0])] for r in rings],
        }


def _ring_from_geojson(ring: object, index: int) -> Ring:
    what = "the outer ring" if index == 0 else f"hole {index}"
    if not isinstance(ring, list | tuple):
        raise InvalidZone(ZoneProblem.BAD_COORDINATES, f"{what} is not a list of positions")
    points: list[Point] = []
    for k, pos in enumerate(ring):
        if (
            not isinstance(pos, list | tuple)
            or len(pos) < 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in pos[:2])
            or not all(math.isfinite(v) for v in pos[:2])
        ):
            raise InvalidZone(
                ZoneProblem.BAD_COORDINATES, f"{what}, position {k}: {pos!r} is not [lon, lat]"
            )
        lon, lat = pos[0], pos[1]
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            # The usual mistake is [lat, lon] order, which only shows when |lat| > 90 or so.
            raise InvalidZone(
                ZoneProblem.OUT_OF_RANGE,
                f"{what}, position {k}: [{lon}, {lat}] is not [lon, lat] within range",
            )
        points.append(Point(lat, lon))
    return tuple(points)


Zone: TypeAlias = CircleZone | PolygonZone


@dataclass(frozen=True, slots=True)
class Office:
    """A place people work at: its zones (any mix of circles and polygons) and its time zone.

    `timezone` is an IANA name or None/"" for the portal's (see `timezones.resolve_zone`).
    An office without zones cannot confirm presence; the verdict says so.
    """

    id: str
    name: str
    zones: tuple[Zone, ...] = ()
    timezone: str | None = None

    def __post_init__(self) -> None:
        zones = tuple(self.zones)
        seen: set[str] = set()
        for z in zones:
            if z.id in seen:
                raise InvalidZone(
                    ZoneProblem.DUPLICATE_ZONE_ID, f"zone id {z.id!r} repeats in office {self.id!r}"
                )
            seen.add(z.id)
        object.__setattr__(self, "zones", zones)
