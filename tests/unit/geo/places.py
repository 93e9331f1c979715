"""Test geometry built with geographiclib, independently of the code under test."""

from __future__ import annotations

from geographiclib.geodesic import Geodesic

from timebot.domain.geo import Point

WGS84 = Geodesic.WGS84


def geodesic_m(a: Point, b: Point) -> float:
    """The WGS84 geodesic distance by Karney's algorithm."""
    return float(WGS84.Inverse(a.lat, a.lon, b.lat, b.lon)["s12"])


def geodesic_azimuth(a: Point, b: Point) -> float:
    """The initial geodesic azimuth a→b in [0, 360)."""
    return float(WGS84.Inverse(a.lat, a.lon, b.lat, b.lon)["azi1"]) % 360.0


def travel(start: Point, azimuth: float, metres: float) -> Point:
    """Where a geodesic of `metres` from `start` at `azimuth` ends."""
    r = WGS84.Direct(start.lat, start.lon, azimuth, metres)
    lon = (float(r["lon2"]) + 180.0) % 360.0 - 180.0
    return Point(float(r["lat2"]), lon)


def offset(origin: Point, east_m: float, north_m: float) -> Point:
    """`origin` moved north (or south) then east (or west) by geodesics: a local metric grid,
    true to a millimetre over the ~100 m test shapes."""
    p = travel(origin, 0.0 if north_m >= 0 else 180.0, abs(north_m))
    return travel(p, 90.0 if east_m >= 0 else 270.0, abs(east_m))
