"""`timebot geo check`: an admin tests a zone against a point from the command line.

Parses the zone spec (a circle, GeoJSON, or a zone stored in the database), judges the point with
the same presence rules a check-in gets, and says the verdict in plain words or JSON.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from timebot.domain.geo import Point
from timebot.domain.geofence import CircleZone, InvalidZone, Office, PolygonZone, Zone
from timebot.domain.presence import (
    Fix,
    PresencePolicy,
    Reason,
    ReasonCode,
    Verdict,
    VerdictKind,
    evaluate,
)
from timebot.domain.presence_text import describe_reason

__all__ = [
    "EXIT_INSIDE",
    "EXIT_OUTSIDE",
    "EXIT_UNCERTAIN",
    "CheckResult",
    "DatabaseZone",
    "GeoCheckError",
    "Lang",
    "check",
    "exit_code",
    "load_database_zone",
    "parse_accuracy",
    "parse_point",
    "parse_zone_spec",
    "render_json",
    "render_text",
    "run",
    "zone_from_row",
    "zones_from_geojson",
]

Lang = Literal["ru", "en"]

EXIT_INSIDE = 0
EXIT_OUTSIDE = 1
EXIT_UNCERTAIN = 2  # also bad input, like any usage error of the command

_NUMBER = r"\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*"
_CIRCLE = re.compile(rf"^{_NUMBER},{_NUMBER},{_NUMBER}$")
_POINT = re.compile(rf"^{_NUMBER},{_NUMBER}$")

_ERRORS: dict[str, dict[Lang, str]] = {
    "bad_point": {
        "ru": "--at {text!r}: нужны широта и долгота через запятую, например 55.7558,37.6173",
        "en": "--at {text!r}: give latitude and longitude separated by a comma, "
        "e.g. 55.7558,37.6173",
    },
    "point_off_globe": {
        "ru": "--at {text!r}: {detail} (сначала широта, потом долгота)",
        "en": "--at {text!r}: {detail} (latitude first, then longitude)",
    },
    "bad_accuracy": {
        "ru": "--accuracy {value}: точность — неотрицательное число метров",
        "en": "--accuracy {value}: accuracy is a non-negative number of metres",
    },
    "no_zone": {
        "ru": "--zone {text!r}: это не круг «ШИРОТА,ДОЛГОТА,РАДИУС_М», не GeoJSON "
        "и не файл, который можно прочитать ({detail})",
        "en": "--zone {text!r}: not a circle 'LAT,LON,RADIUS_M', not GeoJSON, "
        "and not a readable file ({detail})",
    },
    "bad_json": {
        "ru": "--zone: не JSON ({detail})",
        "en": "--zone: not JSON ({detail})",
    },
    "bad_geojson": {
        "ru": "--zone: нужен GeoJSON Polygon, MultiPolygon, Feature или FeatureCollection "
        "({detail})",
        "en": "--zone: expected a GeoJSON Polygon, MultiPolygon, Feature or FeatureCollection "
        "({detail})",
    },
    "bad_zone": {
        "ru": "--zone: зона непригодна — {detail}",
        "en": "--zone: the zone cannot be used — {detail}",
    },
    "bad_db_id": {
        "ru": "--zone {text!r}: после «db:» нужен номер зоны, например db:12",
        "en": "--zone {text!r}: put a zone number after 'db:', e.g. db:12",
    },
    "db_missing": {
        "ru": "база данных {where} не найдена (TIMEBOT_DATABASE_URL)",
        "en": "database {where} not found (TIMEBOT_DATABASE_URL)",
    },
    "db_unreadable": {
        "ru": "не удалось прочитать базу данных: {detail}",
        "en": "could not read the database: {detail}",
    },
    "db_no_zone": {
        "ru": "в базе нет зоны с номером {zone_id}",
        "en": "there is no zone number {zone_id} in the database",
    },
}


class GeoCheckError(ValueError):
    """Bad input for the command; `message(lang)` says what is wrong in the reader's language."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(_ERRORS[key]["en"].format(**values))
        self.key = key
        self.values = values

    def message(self, lang: Lang = "ru") -> str:
        return _ERRORS[self.key][lang].format(**self.values)


@dataclass(frozen=True, slots=True)
class DatabaseZone:
    """A zone spec that names a stored zone ("db:12")."""

    zone_id: int


# --- parsing ----------------------------------------------------------------------------------


def parse_point(text: str) -> Point:
    """ "LAT,LON" in decimal degrees."""
    m = _POINT.match(text)
    if m is None:
        raise GeoCheckError("bad_point", text=text)
    try:
        return Point(float(m.group(1)), float(m.group(2)))
    except ValueError as exc:
        raise GeoCheckError("point_off_globe", text=text, detail=str(exc)) from None


def parse_accuracy(value: float | None) -> float | None:
    """The phone's accuracy radius in metres; None when not given (the point is exact)."""
    if value is None:
        return None
    if not (math.isfinite(value) and value >= 0):
        raise GeoCheckError("bad_accuracy", value=value)
    return float(value)


def parse_zone_spec(
    spec: str, *, read: Callable[[Path], str] = lambda p: p.read_text(encoding="utf-8")
) -> tuple[Zone, ...] | DatabaseZone:
    """The zones `spec` describes: "LAT,LON,RADIUS_M", inline GeoJSON, a GeoJSON file's path,
    or "db:ZONE_ID" (returned as DatabaseZone for the caller to load)."""
    text = spec.strip()
    if text.lower().startswith("db:"):
        number = text[3:].strip()
        if not number.isdigit():
            raise GeoCheckError("bad_db_id", text=spec)
        return DatabaseZone(int(number))
    if text.startswith("{"):
        return zones_from_geojson(_json(text), default_name="")
    circle = _CIRCLE.match(text)
    if circle is not None:
        lat, lon, radius = (float(g) for g in circle.groups())
        try:
            center = Point(lat, lon)
        except ValueError as exc:
            raise GeoCheckError("bad_zone", detail=str(exc)) from None
        return (_circle("circle", "", center, radius),)
    path = Path(text).expanduser()
    try:
        content = read(path)
    except (OSError, UnicodeDecodeError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise GeoCheckError("no_zone", text=spec, detail=detail) from None
    return zones_from_geojson(_json(content), default_name=path.stem)


def _json(text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise GeoCheckError("bad_json", detail=f"{exc.msg}, line {exc.lineno}") from None


def _circle(id: str, name: str, center: Point, radius_m: float) -> CircleZone:
    try:
        return CircleZone(id=id, name=name, center=center, radius_m=radius_m)
    except InvalidZone as exc:
        raise GeoCheckError("bad_zone", detail=exc.detail) from None


def zones_from_geojson(obj: object, *, default_name: str = "") -> tuple[PolygonZone, ...]:
    """Polygon zones from a GeoJSON Polygon, MultiPolygon, Feature or FeatureCollection: one
    zone per polygon, numbered from 1 when there are several. A Feature's `name` names them."""
    found: list[tuple[str, Mapping[str, Any]]] = []
    _collect(obj, default_name, found, depth=0)
    if not found:
        raise GeoCheckError("bad_geojson", detail="no polygons in it")
    zones: list[PolygonZone] = []
    for i, (name, polygon) in enumerate(found, start=1):
        zone_id = "polygon" if len(found) == 1 else f"polygon-{i}"
        try:
            zones.append(PolygonZone.from_geojson(polygon, id=zone_id, name=name))
        except InvalidZone as exc:
            where = "" if len(found) == 1 else f"#{i}: "
            raise GeoCheckError("bad_zone", detail=f"{where}{exc.detail}") from None
    return tuple(zones)


def _collect(
    obj: object, name: str, out: list[tuple[str, Mapping[str, Any]]], *, depth: int
) -> None:
    if not isinstance(obj, Mapping):
        raise GeoCheckError("bad_geojson", detail="not a JSON object")
    kind = obj.get("type")
    if kind == "Polygon":
        out.append((name, obj))
    elif kind == "MultiPolygon":
        polygons = obj.get("coordinates")
        if not isinstance(polygons, list):
            raise GeoCheckError("bad_geojson", detail="MultiPolygon coordinates are not a list")
        out.extend((name, {"type": "Polygon", "coordinates": c}) for c in polygons)
    elif kind == "Feature" and depth < 2:
        props = obj.get("properties")
        if isinstance(props, Mapping) and isinstance(props.get("name"), str) and props["name"]:
            name = props["name"]
        _collect(obj.get("geometry"), name, out, depth=depth + 1)
    elif kind == "FeatureCollection" and depth == 0:
        features = obj.get("features")
        if not isinstance(features, list):
            raise GeoCheckError("bad_geojson", detail="features are not a list")
        for feature in features:
            _collect(feature, name, out, depth=depth + 1)
    else:
        raise GeoCheckError("bad_geojson", detail=f"type {kind!r}")


# --- the stored zone --------------------------------------------------------------------------


def zone_from_row(
    *,
    id: int,
    name: str,
    kind: str,
    lat: float | None,
    lon: float | None,
    radius_m: float | None,
    polygon: Mapping[str, Any] | None,
) -> Zone:
    """A domain zone from a `zones` row's columns (InvalidZone/ValueError when unusable)."""
    if kind == "circle" and lat is not None and lon is not None and radius_m is not None:
        return CircleZone(id=str(id), name=name, center=Point(lat, lon), radius_m=radius_m)
    if kind == "polygon" and polygon is not None:
        return PolygonZone.from_geojson(polygon, id=str(id), name=name)
    raise ValueError(f"zone {id} has kind {kind!r} without its shape")


async def load_database_zone(database_url: str, zone_id: int) -> Office:
    """The stored zone `zone_id` inside its office (alone: the command tests one zone)."""
    from sqlalchemy.exc import SQLAlchemyError

    from timebot.storage import Database, normalize_url
    from timebot.storage.tables import Office as OfficeRow
    from timebot.storage.tables import Zone as ZoneRow

    try:
        url = normalize_url(database_url)
    except ValueError as exc:
        raise GeoCheckError("db_unreadable", detail=str(exc)) from None
    sqlite_file = _sqlite_file(url)
    if sqlite_file is not None and not sqlite_file.exists():
        # Opening it would create an empty database; a read-only tool should not.
        raise GeoCheckError("db_missing", where=str(sqlite_file))
    database = Database.from_url(url)
    try:
        async with database.unit_of_work() as uow:
            row = await uow.session.get(ZoneRow, zone_id)
            if row is None:
                raise GeoCheckError("db_no_zone", zone_id=zone_id)
            office = await uow.session.get(OfficeRow, row.office_id)
            office_id, office_name = str(row.office_id), office.name if office else ""
            office_tz = office.timezone if office is not None else None
            columns: dict[str, Any] = {
                "id": row.id,
                "name": row.name,
                "kind": row.kind,
                "lat": row.lat,
                "lon": row.lon,
                "radius_m": row.radius_m,
                "polygon": row.polygon,
            }
    except (SQLAlchemyError, OSError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise GeoCheckError("db_unreadable", detail=detail) from None
    finally:
        await database.dispose()
    try:
        zone = zone_from_row(**columns)
    except InvalidZone as exc:
        raise GeoCheckError("bad_zone", detail=exc.detail) from None
    except ValueError as exc:
        raise GeoCheckError("bad_zone", detail=str(exc)) from None
    return Office(id=office_id, name=office_name, zones=(zone,), timezone=office_tz)


def _sqlite_file(url: str) -> Path | None:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if not database or database == ":memory:" or parsed.query.get("uri") in ("true", "1"):
        return None
    return Path(database).expanduser()


# --- judging ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The verdict for one point, with each zone's signed distance (negative inside)."""

    office: Office
    point: Point
    accuracy_m: float | None  # as given; None: the point was taken as exact
    policy: PresencePolicy
    verdict: Verdict
    distances: tuple[tuple[Zone, float], ...]

    @property
    def zone(self) -> Zone | None:
        """The zone the verdict is about (the one the point is in, else the nearest)."""
        return next((z for z in self.office.zones if z.id == self.verdict.zone_id), None)

    @property
    def signed_distance_m(self) -> float | None:
        zone = self.zone
        return next((d for z, d in self.distances if z is zone), None)


# An exact point: the plausible minimum, so no "zero accuracy" suspicion and the centre decides.
_EXACT_M = PresencePolicy().min_plausible_accuracy_m


def check(
    office: Office,
    point: Point,
    accuracy_m: float | None,
    *,
    now: datetime,
    policy: PresencePolicy | None = None,
) -> CheckResult:
    """Judge `point` against the office's zones as a check-in with `accuracy_m` would be."""
    policy = policy or PresencePolicy()
    fix = Fix(
        point=point,
        accuracy_m=_EXACT_M if accuracy_m is None else accuracy_m,
        device_time=None,
        server_time=now,
    )
    verdict = evaluate(fix, [office], policy=policy)
    distances = tuple((z, z.signed_distance_m(point)) for z in office.zones)
    return CheckResult(office, point, accuracy_m, policy, verdict, distances)


def exit_code(result: CheckResult) -> int:
    """0 inside, 1 outside, 2 uncertain."""
    kind = result.verdict.kind
    if kind is VerdictKind.INSIDE:
        return EXIT_INSIDE
    if kind is VerdictKind.OUTSIDE:
        return EXIT_OUTSIDE
    return EXIT_UNCERTAIN


async def run(
    *,
    zone: str,
    at: str,
    accuracy_m: float | None,
    now: datetime,
    database_url: Callable[[], str],
) -> CheckResult:
    """The whole command short of printing: parse, load (for "db:"), judge."""
    point = parse_point(at)
    accuracy = parse_accuracy(accuracy_m)
    spec = parse_zone_spec(zone)
    if isinstance(spec, DatabaseZone):
        office = await load_database_zone(database_url(), spec.zone_id)
    else:
        office = Office(id="cli", name="", zones=spec)
    return check(office, point, accuracy, now=now)


# --- rendering --------------------------------------------------------------------------------


def _metres(m: float, lang: Lang) -> str:
    """Distances as an admin testing a boundary wants them: decimetres close up, km far off."""
    m = abs(m)
    unit_m, unit_km = ("м", "км") if lang == "ru" else ("m", "km")
    if m < 100:
        text, unit = f"{m:.1f}", unit_m
    elif m < 10_000:
        text, unit = f"{m:.0f}", unit_m
    else:
        text, unit = f"{m / 1000:.1f}", unit_km
    return f"{text.replace('.', ',') if lang == 'ru' else text} {unit}"


def _label(zone: Zone | None, lang: Lang, office: Office) -> str:
    if zone is None:
        return "?"
    ru = lang == "ru"
    if zone.name:
        name = zone.name
    elif isinstance(zone, CircleZone):
        radius = f"{zone.radius_m:g}"
        name = f"круг {radius} м" if ru else f"circle of {radius} m"
    else:
        number = zone.id.removeprefix("polygon").lstrip("-")
        name = ("многоугольник" if ru else "polygon") + (f" {number}" if number else "")
    if office.name and office.name != name:
        name = f"{office.name} / {name}"
    return f"«{name}»" if ru else f"“{name}”"


def _uncertain_why(result: CheckResult, lang: Lang) -> str:
    reason = result.verdict.reason
    ru = lang == "ru"
    zone = _label(result.zone, lang, result.office)
    tolerance = _metres(result.policy.edge_tolerance_m, lang)
    if reason.code is ReasonCode.STRADDLES_BOUNDARY:
        signed = reason.distance_m or 0.0
        distance = _metres(signed, lang)
        accuracy = _metres(reason.accuracy_m or 0.0, lang)
        if ru:
            side = "внутри" if signed <= 0 else "снаружи"
            return (
                f"точка {side}, в {distance} от границы зоны {zone}, но круг точности "
                f"{accuracy} (за вычетом допуска {tolerance}) пересекает границу"
            )
        side = "inside" if signed <= 0 else "outside"
        return (
            f"the point is {side}, {distance} from the boundary of zone {zone}, but the "
            f"accuracy circle of {accuracy} (less the {tolerance} tolerance) crosses it"
        )
    if reason.code is ReasonCode.LOW_ACCURACY:
        accuracy = _metres(reason.accuracy_m or 0.0, lang)
        limit = _metres(reason.limit or 0.0, lang)
        if ru:
            return f"точность {accuracy} хуже допустимой ({limit})"
        return f"accuracy {accuracy} is worse than the limit of {limit}"
    return describe_reason(reason, lang)


def _headline(result: CheckResult, lang: Lang) -> str:
    verdict, ru = result.verdict, lang == "ru"
    zone = _label(result.zone, lang, result.office)
    distance = _metres(verdict.distance_m or 0.0, lang)
    if verdict.kind is VerdictKind.INSIDE:
        if ru:
            return f"ВНУТРИ: точка в зоне {zone}, {distance} до границы."
        return f"INSIDE: the point is in zone {zone}, {distance} from the boundary."
    if verdict.kind is VerdictKind.OUTSIDE:
        if ru:
            return f"СНАРУЖИ: до границы зоны {zone} {distance}."
        return f"OUTSIDE: {distance} to the boundary of zone {zone}."
    why = _uncertain_why(result, lang)
    return f"НЕ ОПРЕДЕЛИТЬ: {why}." if ru else f"UNCERTAIN: {why}."


def render_text(result: CheckResult, lang: Lang = "ru") -> str:
    """The verdict in plain words: a headline, the point, each zone when there are several,
    and any suspicion the fix itself raises (such as a zero accuracy)."""
    ru = lang == "ru"
    p = result.point
    if result.accuracy_m is None:
        accuracy = "точность не задана (точка)" if ru else "no accuracy given (exact point)"
    else:
        accuracy = f"{'точность' if ru else 'accuracy'} {_metres(result.accuracy_m, lang)}"
    lines = [
        _headline(result, lang),
        f"{'Точка' if ru else 'Point'} {p.lat:.6f}, {p.lon:.6f}; {accuracy}.",
    ]
    if len(result.distances) > 1:
        for zone, signed in result.distances:
            where = (
                ("внутри" if ru else "inside") if signed <= 0 else ("снаружи" if ru else "outside")
            )
            gap = _metres(signed, lang)
            lines.append(
                f"  {_label(zone, lang, result.office)}: {where}, "
                + (f"{gap} до границы" if ru else f"{gap} from the boundary")
            )
    lines.extend(
        ("Замечание: " if ru else "Note: ") + describe_reason(r, lang)
        for r in result.verdict.flag_reasons
    )
    return "\n".join(lines)


def _zone_json(zone: Zone, signed: float) -> dict[str, Any]:
    return {
        "id": zone.id,
        "name": zone.name,
        "kind": "circle" if isinstance(zone, CircleZone) else "polygon",
        "inside": signed <= 0,
        "signed_distance_m": round(signed, 3),
    }


def _reason_json(reason: Reason) -> dict[str, Any]:
    out: dict[str, Any] = {"code": reason.code.value}
    for key in ("distance_m", "accuracy_m", "limit", "value"):
        value = getattr(reason, key)
        if value is not None:
            out[key] = round(value, 3)
    return out


def render_json(result: CheckResult, lang: Lang = "ru") -> str:
    """The verdict as JSON: kind, exit code, the deciding zone and every zone's distance."""
    verdict = result.verdict
    zone = result.zone
    signed = result.signed_distance_m
    payload: dict[str, Any] = {
        "verdict": verdict.kind.value,
        "exit_code": exit_code(result),
        "point": {"lat": result.point.lat, "lon": result.point.lon},
        "accuracy_m": result.accuracy_m,
        "zone": None if zone is None or signed is None else _zone_json(zone, signed),
        "distance_m": None if verdict.distance_m is None else round(verdict.distance_m, 3),
        "reason": _reason_json(verdict.reason),
        "flags": [f.value for f in verdict.flags],
        "zones": [_zone_json(z, d) for z, d in result.distances],
        "policy": {
            "max_accuracy_m": result.policy.max_accuracy_m,
            "edge_tolerance_m": result.policy.edge_tolerance_m,
        },
        "text": render_text(result, lang),
    }
    return json.dumps(payload, ensure_ascii=False, indent=2)
