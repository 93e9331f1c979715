"""Offices and their zones (administrators): `/bitrix/app/offices` and `/bitrix/app/offices/{id}`.

Zones are circles (centre and radius) or polygons, entered as coordinates — one "lat, lon" per
line, or pasted GeoJSON — and checked by the domain's geofence rules before they are stored. A
map (OpenStreetMap tiles, only when the browser is online) shows them and fills the centre in
on a click. Zones are deactivated, never deleted: marks keep pointing at the zone they matched.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import func, select

from timebot.domain.geo import Point
from timebot.domain.geofence import CircleZone, InvalidZone, PolygonZone
from timebot.domain.networks import InvalidNetwork, parse_networks
from timebot.storage import UnitOfWork
from timebot.storage.tables import Office, Zone
from timebot.web.admin.forms import Form, Invalid, read_form
from timebot.web.admin.i18n import register
from timebot.web.admin.render import MAP_TILES, redirect, render
from timebot.web.admin.rows import apply, audit, owned
from timebot.web.admin.session import (
    AdminDenied,
    AdminSession,
    check_csrf,
    container_of,
    require_admin,
)

router = APIRouter(prefix="/bitrix/app", tags=["admin"])

BASE = "/bitrix/app/offices"
MAX_POLYGON_TEXT = 64 * 1024

register(
    {
        "ru": {
            "offices.title": "Офисы и зоны",
            "offices.add": "Новый офис",
            "offices.none": "Офисов пока нет. Добавьте первый — и задайте его зону.",
            "offices.col.zones": "Зоны",
            "offices.col.timezone": "Часовой пояс",
            "offices.col.address": "Адрес",
            "offices.name": "Название",
            "offices.address": "Адрес",
            "offices.timezone": "Часовой пояс (пусто — как у портала)",
            "offices.ip_ranges": "Сети офиса (CIDR, по одной в строке)",
            "offices.ip_hint": "Например 192.168.10.0/24 — для отметки «я за рабочим компьютером».",
            "offices.active": "Офис действует",
            "offices.edit": "Офис",
            "offices.zones": "Зоны (геозоны)",
            "offices.zones_none": "Зон пока нет: без зоны отметку в офисе не подтвердить.",
            "offices.zone.kind": "Вид",
            "offices.zone.circle": "Круг",
            "offices.zone.polygon": "Многоугольник",
            "offices.zone.name": "Название зоны",
            "offices.zone.lat": "Широта",
            "offices.zone.lon": "Долгота",
            "offices.zone.radius": "Радиус, м",
            "offices.zone.polygon_text": "Вершины: «широта, долгота» по строкам или GeoJSON",
            "offices.zone.add": "Добавить зону",
            "offices.zone.shape": "Форма",
            "offices.zone.deactivate": "Отключить",
            "offices.zone.activate": "Включить",
            "offices.zone.inactive": "отключена",
            "offices.zone.vertices": "{count} вершин",
            "offices.map": "Карта",
            "offices.map_hint": (
                "Карта загружается из интернета (OpenStreetMap). Щелчок по карте подставит "
                "координаты в форму круга. Без интернета работают поля координат."
            ),
            "zone.problem.not_an_object": "Нужен объект GeoJSON.",
            "zone.problem.not_a_polygon": "Нужен GeoJSON с типом Polygon.",
            "zone.problem.bad_coordinates": "Координаты не читаются: {detail}.",
            "zone.problem.out_of_range": "Координаты вне допустимых пределов: {detail}.",
            "zone.problem.too_few_vertices": "Нужно не меньше трёх разных вершин.",
            "zone.problem.too_many_vertices": "Слишком много вершин (не больше 500).",
            "zone.problem.too_small": "Зона слишком мала: {detail}.",
            "zone.problem.too_large": "Зона слишком велика (не больше 50 км): {detail}.",
            "zone.problem.self_intersecting": "Стороны многоугольника пересекаются.",
            "zone.problem.hole_outside": "Вырез лежит вне зоны.",
            "zone.problem.bad_radius": "Радиус должен быть числом.",
            "zone.problem.duplicate_zone_id": "Повтор зоны.",
            "zone.bad_line": "Строка {line}: нужно «широта, долгота» (например 55.7558, 37.6173).",
            "offices.bad_network": "Не сеть: {value}. Пример: 192.168.10.0/24.",
        },
        "en": {
            "offices.title": "Offices and zones",
            "offices.add": "New office",
            "offices.none": "No offices yet. Add the first one and draw its zone.",
            "offices.col.zones": "Zones",
            "offices.col.timezone": "Time zone",
            "offices.col.address": "Address",
            "offices.name": "Name",
            "offices.address": "Address",
            "offices.timezone": "Time zone (empty: the portal's)",
            "offices.ip_ranges": "Office networks (CIDR, one per line)",
            "offices.ip_hint": "For example 192.168.10.0/24, for “I'm at my office computer”.",
            "offices.active": "The office is in use",
            "offices.edit": "Office",
            "offices.zones": "Zones (geofences)",
            "offices.zones_none": (
                "No zones yet: without one, presence at the office cannot be proved."
            ),
            "offices.zone.kind": "Kind",
            "offices.zone.circle": "Circle",
            "offices.zone.polygon": "Polygon",
            "offices.zone.name": "Zone name",
            "offices.zone.lat": "Latitude",
            "offices.zone.lon": "Longitude",
            "offices.zone.radius": "Radius, m",
            "offices.zone.polygon_text": "Vertices: “lat, lon” per line, or GeoJSON",
            "offices.zone.add": "Add the zone",
            "offices.zone.shape": "Shape",
            "offices.zone.deactivate": "Turn off",
            "offices.zone.activate": "Turn on",
            "offices.zone.inactive": "off",
            "offices.zone.vertices": "{count} vertices",
            "offices.map": "Map",
            "offices.map_hint": (
                "The map loads from the internet (OpenStreetMap). A click on it fills the "
                "circle's coordinates in. Without internet, the coordinate fields work."
            ),
            "zone.problem.not_an_object": "A GeoJSON object is needed.",
            "zone.problem.not_a_polygon": "A GeoJSON Polygon is needed.",
            "zone.problem.bad_coordinates": "Coordinates cannot be read: {detail}.",
            "zone.problem.out_of_range": "Coordinates out of range: {detail}.",
            "zone.problem.too_few_vertices": "At least three distinct vertices are needed.",
            "zone.problem.too_many_vertices": "Too many vertices (at most 500).",
            "zone.problem.too_small": "The zone is too small: {detail}.",
            "zone.problem.too_large": "The zone is too large (at most 50 km): {detail}.",
            "zone.problem.self_intersecting": "The polygon's edges cross.",
            "zone.problem.hole_outside": "A hole lies outside the zone.",
            "zone.problem.bad_radius": "The radius must be a number.",
            "zone.problem.duplicate_zone_id": "Duplicate zone.",
            "zone.bad_line": "Line {line}: “lat, lon” is needed (for example 55.7558, 37.6173).",
            "offices.bad_network": "Not a network: {value}. Example: 192.168.10.0/24.",
        },
    }
)


def _office_fields(form: Form) -> dict[str, Any]:
    """Validated office fields (errors recorded in `form`)."""
    name = form.text("name", required=True, max_length=255)
    address = form.text("address", max_length=512)
    timezone = form.timezone("timezone")
    lines = [x.strip() for x in form.raw("ip_ranges").splitlines() if x.strip()]
    networks: list[str] = []
    for line in lines[:100]:
        try:
            networks.append(str(parse_networks([line])[0]))
        except InvalidNetwork:
            form.error("ip_ranges", "offices.bad_network", value=line[:60])
    return {"name": name, "address": address, "timezone": timezone, "ip_ranges": networks}


def _zone_problem(form: Form, field: str, problem: InvalidZone) -> None:
    form.error(field, f"zone.problem.{problem.reason.value}", detail=problem.detail)


def _polygon_from_text(form: Form, text: str) -> dict[str, Any] | None:
    """A GeoJSON Polygon from pasted GeoJSON or "lat, lon" lines; None (error noted) if bad."""
    if len(text) > MAX_POLYGON_TEXT:
        form.error("polygon", "form.too_long", max=MAX_POLYGON_TEXT)
        return None
    if not text:
        form.error("polygon", "form.required")
        return None
    try:
        if text.lstrip().startswith("{"):
            try:
                obj = json.loads(text)
            except ValueError:
                form.error("polygon", "zone.problem.not_an_object")
                return None
            return PolygonZone.from_geojson(obj).to_geojson()
        points: list[Point] = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            parts = line.replace(";", ",").split(",")
            try:
                if len(parts) != 2:
                    raise ValueError(line)
                points.append(Point(float(parts[0]), float(parts[1])))
            except ValueError:
                form.error("polygon", "zone.bad_line", line=number)
                return None
        return PolygonZone(id="", name="", ring=tuple(points)).to_geojson()
    except InvalidZone as problem:
        _zone_problem(form, "polygon", problem)
        return None


def _zone_fields(form: Form) -> dict[str, Any]:
    """Validated zone fields: circle (lat, lon, radius_m) or polygon (GeoJSON)."""
    name = form.text("zone_name", required=True, max_length=255)
    kind = form.choice("kind", ("circle", "polygon"))
    fields: dict[str, Any] = {"name": name, "kind": kind}
    if kind == "circle":
        lat = form.number("lat", minimum=-90, maximum=90)
        lon = form.number("lon", minimum=-180, maximum=180)
        radius = form.number("radius_m", minimum=1, maximum=50_000)
        if lat is not None and lon is not None and radius is not None:
            try:
                CircleZone("", name, Point(lat, lon), radius)
            except InvalidZone as problem:
                _zone_problem(form, "radius_m", problem)
        fields.update(lat=lat, lon=lon, radius_m=radius, polygon=None)
    elif kind == "polygon":
        polygon = _polygon_from_text(form, form.raw("polygon"))
        fields.update(lat=None, lon=None, radius_m=None, polygon=polygon)
    return fields


def _polygon_lines(zone: Zone) -> str:
    """A stored polygon as "lat, lon" lines (the outer ring, without the closing repeat)."""
    rings = (zone.polygon or {}).get("coordinates") or []
    if not rings:
        return ""
    ring = rings[0][:-1] if len(rings[0]) > 1 and rings[0][0] == rings[0][-1] else rings[0]
    return "\n".join(f"{lat:.7f}, {lon:.7f}" for lon, lat in ring)


def _map_data(zones: list[Zone]) -> list[dict[str, Any]]:
    shapes: list[dict[str, Any]] = []
    for z in zones:
        if not z.active:
            continue
        if z.kind == "circle" and z.lat is not None and z.lon is not None:
            shapes.append({"kind": "circle", "lat": z.lat, "lon": z.lon, "r": z.radius_m})
        elif z.kind == "polygon" and z.polygon:
            ring = (z.polygon.get("coordinates") or [[]])[0]
            shapes.append({"kind": "polygon", "ring": [[lat, lon] for lon, lat in ring]})
    return shapes


async def _zone_counts(uow: UnitOfWork, portal_id: int) -> dict[int, int]:
    rows = await uow.session.execute(
        select(Zone.office_id, func.count())
        .where(Zone.portal_id == portal_id, Zone.active.is_(True))
        .group_by(Zone.office_id)
    )
    return {int(office_id): int(count) for office_id, count in rows}


async def _list_page(
    request: Request,
    session: AdminSession,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    container = container_of(request)
    async with container.database.unit_of_work() as uow:
        offices = list(
            await uow.session.scalars(
                select(Office)
                .where(Office.portal_id == session.portal_id)
                .order_by(Office.active.desc(), Office.name, Office.id)
            )
        )
        counts = await _zone_counts(uow, session.portal_id)
        uow.session.expunge_all()  # read-only: keep the rows readable after the block
    return render(
        request,
        session,
        "admin/offices.html",
        active="offices",
        status_code=status_code,
        offices=offices,
        counts=counts,
        errors=errors or {},
        values=values or {},
    )


@router.get("/offices", include_in_schema=False)
async def offices_page(
    request: Request, session: AdminSession = Depends(require_admin)
) -> Response:
    """Offices of the portal, and a form to add one."""
    return await _list_page(request, session)


@router.post("/offices", include_in_schema=False)
async def add_office(
    request: Request,
    session: AdminSession = Depends(check_csrf),
    _: AdminSession = Depends(require_admin),
) -> Response:
    """Add an office."""
    form = await read_form(request, session)
    fields = _office_fields(form)
    if form.errors:
        return await _list_page(
            request, session, errors=form.errors, values=form.values, status_code=400
        )
    container = container_of(request)
    now = container.clock.now()
    async with container.database.unit_of_work() as uow:
        office = Office(portal_id=session.portal_id, created_at=now, active=True, **fields)
        uow.session.add(office)
        await uow.flush()
        audit(uow, session, now, "office.created", "office", office.id, fields)
        await uow.commit()
        office_id = office.id
    return redirect(f"{BASE}/{office_id}", flash="flash.created")


async def _office_page(
    request: Request,
    session: AdminSession,
    office_id: int,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    zone_errors: dict[str, str] | None = None,
    zone_values: dict[str, str] | None = None,
    edit_errors: dict[int, dict[str, str]] | None = None,
    status_code: int = 200,
) -> Response:
    container = container_of(request)
    async with container.database.unit_of_work() as uow:
        office = await owned(uow, Office, office_id, session)
        zones = list(
            await uow.session.scalars(
                select(Zone).where(Zone.office_id == office.id).order_by(Zone.id)
            )
        )
        uow.session.expunge_all()
    office_values = values or {
        "name": office.name,
        "address": office.address or "",
        "timezone": office.timezone or "",
        "ip_ranges": "\n".join(office.ip_ranges or []),
        "active": "1" if office.active else "",
    }
    return render(
        request,
        session,
        "admin/office.html",
        active="offices",
        status_code=status_code,
        office=office,
        zones=zones,
        polygon_lines={z.id: _polygon_lines(z) for z in zones if z.kind == "polygon"},
        errors=errors or {},
        values=office_values,
        zone_errors=zone_errors or {},
        zone_values=zone_values or {"kind": "circle", "radius_m": "100"},
        edit_errors=edit_errors or {},
        map_shapes=_map_data(zones),
        map_tiles=MAP_TILES,
    )


@router.get("/offices/{office_id}", include_in_schema=False)
async def office_page(
    office_id: int, request: Request, session: AdminSession = Depends(require_admin)
) -> Response:
    """One office: its settings, its zones, a form to add a zone, a map."""
    return await _office_page(request, session, office_id)


@router.post("/offices/{office_id}", include_in_schema=False)
async def update_office(
    office_id: int,
    request: Request,
    session: AdminSession = Depends(check_csrf),
    _: AdminSession = Depends(require_admin),
) -> Response:
    """Change an office (or take it out of use)."""
    form = await read_form(request, session)
    fields = _office_fields(form)
    fields["active"] = form.flag("active")
    container = container_of(request)
    now = container.clock.now()
    try:
        async with container.database.unit_of_work() as uow:
            office = await owned(uow, Office, office_id, session)
            form.raise_if_invalid()
            changed = apply(office, fields)
            if changed:
                audit(
                    uow, session, now, "office.updated", "office", office.id, {"changed": changed}
                )
            await uow.commit()
    except Invalid:
        return await _office_page(
            request,
            session,
            office_id,
            errors=form.errors,
            values=form.values,
            status_code=400,
        )
    return redirect(f"{BASE}/{office_id}", flash="flash.saved")


@router.post("/offices/{office_id}/zones", include_in_schema=False)
async def add_zone(
    office_id: int,
    request: Request,
    session: AdminSession = Depends(check_csrf),
    _: AdminSession = Depends(require_admin),
) -> Response:
    """Add a zone (circle or polygon) to an office."""
    form = await read_form(request, session)
    fields = _zone_fields(form)
    container = container_of(request)
    now = container.clock.now()
    try:
        async with container.database.unit_of_work() as uow:
            office = await owned(uow, Office, office_id, session)
            form.raise_if_invalid()
            zone = Zone(
                portal_id=session.portal_id,
                office_id=office.id,
                created_at=now,
                active=True,
                **fields,
            )
            uow.session.add(zone)
            await uow.flush()
            audit(
                uow,
                session,
                now,
                "zone.created",
                "zone",
                zone.id,
                {"office_id": office.id, **fields},
            )
            await uow.commit()
    except Invalid:
        return await _office_page(
            request,
            session,
            office_id,
            zone_errors=form.errors,
            zone_values=form.values,
            status_code=400,
        )
    return redirect(f"{BASE}/{office_id}", flash="flash.created")


@router.post("/offices/{office_id}/zones/{zone_id}", include_in_schema=False)
async def update_zone(
    office_id: int,
    zone_id: int,
    request: Request,
    session: AdminSession = Depends(check_csrf),
    _: AdminSession = Depends(require_admin),
) -> Response:
    """Change a zone's name and shape, or turn it on or off (`toggle`)."""
    form = await read_form(request, session)
    toggle = form.raw("toggle")
    fields = {} if toggle else _zone_fields(form)
    container = container_of(request)
    now = container.clock.now()
    try:
        async with container.database.unit_of_work() as uow:
            office = await owned(uow, Office, office_id, session)
            zone = await owned(uow, Zone, zone_id, session)
            if zone.office_id != office.id:
                raise AdminDenied(404, "denied.not_found", lang=session.language)
            form.raise_if_invalid()
            if toggle:
                fields = {"active": toggle == "on"}
            changed = apply(zone, fields)
            audit(
                uow,
                session,
                now,
                "zone.updated",
                "zone",
                zone.id,
                {"changed": changed},
            )
            await uow.commit()
    except Invalid:
        return await _office_page(
            request,
            session,
            office_id,
            edit_errors={zone_id: form.errors},
            status_code=400,
        )
    return redirect(f"{BASE}/{office_id}", flash="flash.saved")
