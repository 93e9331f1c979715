"""Points on the WGS84 ellipsoid: geodesic-grade distance and bearing, and the local tangent-plane
projection that zone geometry is computed in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "MEAN_EARTH_RADIUS_M",
    "Point",
    "bearing",
    "distance_m",
    "meridian_radius_m",
    "prime_vertical_radius_m",
    "project",
    "unproject",
]

# WGS84 defining constants.
_A = 6_378_137.0
_F = 1 / 298.257223563
_E2 = _F * (2 - _F)

MEAN_EARTH_RADIUS_M = 6_371_008.8

# No two points are further apart than pole to pole along a meridian (WGS84, to 1 mm);
# Lambert's formula overshoots this for near-antipodal points, so it caps the result.
_HALF_MERIDIAN_M = 20_003_931.459

# Below this chord length the chord-and-arc method is exact to ~1e-8; above it Lambert's
# formula (~1e-6, degrading to 2e-3 near the antipode) takes over.
_LAMBERT_FROM_M = 1_000_000.0


@dataclass(frozen=True, slots=True)
class Point:
    """A position in decimal degrees (WGS84): latitude in [-90, 90], longitude in [-180, 180]."""

    lat: float
    lon: float

    def __post_init__(self) -> None:
        lat, lon = float(self.lat), float(self.lon)
        if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
            raise ValueError(f"latitude {self.lat!r} is outside [-90, 90]")
        if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
            raise ValueError(f"longitude {self.lon!r} is outside [-180, 180]")
        object.__setattr__(self, "lat", lat)
        object.__setattr__(self, "lon", lon)


def meridian_radius_m(lat: float) -> float:
    """WGS84 radius of curvature along the meridian (north-south) at latitude `lat` degrees."""
    s = math.sin(math.radians(lat))
    w = 1 - _E2 * s * s
    return _A * (1 - _E2) / (w * math.sqrt(w))


def prime_vertical_radius_m(lat: float) -> float:
    """WGS84 radius of curvature across the meridian (east-west) at latitude `lat` degrees."""
    s = math.sin(math.radians(lat))
    return _A / math.sqrt(1 - _E2 * s * s)


def _wrap_lon(delta: float) -> float:
    """A longitude difference folded into [-180, 180), so the antimeridian is no seam."""
    return (delta + 180.0) % 360.0 - 180.0


def _ecef(p: Point) -> tuple[float, float, float]:
    """Earth-centred Cartesian coordinates of `p` on the ellipsoid surface, in metres."""
    phi, lam = math.radians(p.lat), math.radians(p.lon)
    n = prime_vertical_radius_m(p.lat)
    return (
        n * math.cos(phi) * math.cos(lam),
        n * math.cos(phi) * math.sin(lam),
        n * (1 - _E2) * math.sin(phi),
    )


def _local_offsets(a: Point, b: Point) -> tuple[float, float]:
    """East and north metres from `a` to `b` in the tangent plane at their mid-latitude."""
    mid = (a.lat + b.lat) / 2
    east = prime_vertical_radius_m(mid) * math.cos(math.radians(mid))
    east *= math.radians(_wrap_lon(b.lon - a.lon))
    north = meridian_radius_m(mid) * math.radians(b.lat - a.lat)
    return east, north


def _chord_arc_m(a: Point, b: Point, chord: float) -> float:
    """The arc over `chord` on the circle of curvature in the direction a→b (Euler's radius).

    The chord is exact; the arc correction is (c/R)²/24 relative, ~3e-6 at 50 km, so even a
    rough radius would do — Euler's keeps the result within 1e-8 of the geodesic to 1000 km.
    """
    if chord == 0.0:
        return 0.0
    east, north = _local_offsets(a, b)
    mid = (a.lat + b.lat) / 2
    h2 = east * east + north * north
    if h2 == 0.0:  # only across a pole, where both radii agree anyway
        radius = meridian_radius_m(mid)
    else:
        radius = 1.0 / (
            north * north / h2 / meridian_radius_m(mid)
            + east * east / h2 / prime_vertical_radius_m(mid)
        )
    return 2 * radius * math.asin(min(1.0, chord / (2 * radius)))


def _lambert_m(a: Point, b: Point) -> float:
    """Lambert's ellipsoidal correction of the great circle on reduced latitudes (long lines)."""
    b1 = math.atan((1 - _F) * math.tan(math.radians(a.lat)))
    b2 = math.atan((1 - _F) * math.tan(math.radians(b.lat)))
    dlam = math.radians(_wrap_lon(b.lon - a.lon))
    h = math.sin((b2 - b1) / 2) ** 2 + math.cos(b1) * math.cos(b2) * math.sin(dlam / 2) ** 2
    sigma = 2 * math.asin(math.sqrt(min(1.0, h)))
    p, q = (b1 + b2) / 2, (b2 - b1) / 2
    half_cos, half_sin = math.cos(sigma / 2), math.sin(sigma / 2)
    # At the exact antipode P = 0, so the X term vanishes even though its denominator does.
    x = 0.0
    if half_cos > 1e-12:
        x = (sigma - math.sin(sigma)) * (math.sin(p) * math.cos(q) / half_cos) ** 2
    y = (sigma + math.sin(sigma)) * (math.cos(p) * math.sin(q) / half_sin) ** 2
    return min(_HALF_MERIDIAN_M, _A * (sigma - _F / 2 * (x + y)))


def distance_m(a: Point, b: Point) -> float:
    """Geodesic distance in metres between `a` and `b` on the WGS84 ellipsoid.

    Up to 1000 km: the straight 3-D chord bent onto the local circle of curvature, within 1e-8
    of geographiclib at any latitude (poles and antimeridian included). Beyond: Lambert's
    formula, within ~1e-5 (0.2 % for nearly antipodal points). Plain haversine on the mean
    radius is off by up to 0.56 % (north-south near the equator), so it is not used.
    """
    pa, pb = _ecef(a), _ecef(b)
    chord = math.dist(pa, pb)
    if chord < _LAMBERT_FROM_M:
        return _chord_arc_m(a, b, chord)
    return _lambert_m(a, b)


def bearing(a: Point, b: Point) -> float:
    """Initial bearing from `a` towards `b`, degrees clockwise from true north in [0, 360).

    The azimuth of the normal section through b, read in the tangent plane at `a`: within 1e-5°
    of the geodesic azimuth to 50 km, 0.001° to 1000 km, about 0.1° to 10 000 km. Coincident
    points, or `a` at a pole, have no bearing; 0.0 is returned.
    """
    pa, pb = _ecef(a), _ecef(b)
    dx, dy, dz = (pb[0] - pa[0], pb[1] - pa[1], pb[2] - pa[2])
    phi, lam = math.radians(a.lat), math.radians(a.lon)
    east = -math.sin(lam) * dx + math.cos(lam) * dy
    north = (
        -math.sin(phi) * math.cos(lam) * dx
        - math.sin(phi) * math.sin(lam) * dy
        + math.cos(phi) * dz
    )
    if east == 0.0 and north == 0.0:
        return 0.0
    degrees = math.degrees(math.atan2(east, north)) % 360.0
    return 0.0 if degrees >= 360.0 else degrees  # -1e-300 % 360 rounds up to 360


def project(origin: Point, p: Point) -> tuple[float, float]:
    """`p` as (east, north) metres in the equirectangular tangent plane around `origin`.

    Scales are the WGS84 radii of curvature at the origin. The east-west scale drifts by
    tan(lat) per radian of latitude away from the origin (4e-4 at 1 km north of it at 70°),
    so the plane is for geometry at zone scale; use `distance_m` for far-apart points.
    """
    x = prime_vertical_radius_m(origin.lat) * math.cos(math.radians(origin.lat))
    x *= math.radians(_wrap_lon(p.lon - origin.lon))
    y = meridian_radius_m(origin.lat) * math.radians(p.lat - origin.lat)
    return x, y


def unproject(origin: Point, x_m: float, y_m: float) -> Point:
    """The point at (east, north) metres in the plane of `project(origin, ·)`; its inverse.

    ValueError when the offset runs past a pole.
    """
    lat = origin.lat + math.degrees(y_m / meridian_radius_m(origin.lat))
    scale = prime_vertical_radius_m(origin.lat) * math.cos(math.radians(origin.lat))
    if scale == 0.0:
        raise ValueError("no east-west plane at a pole")
    lon = _wrap_lon(origin.lon + math.degrees(x_m / scale))
    return Point(lat, lon)
