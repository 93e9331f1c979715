"""`/api/v1/offices` and `/api/v1/zones`: places and their geofences (circles and GeoJSON
polygons). Deleting deactivates: marks keep pointing at the zone they matched."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, Field

from timebot.domain.geo import Point
from timebot.domain.geofence import CircleZone, InvalidZone, PolygonZone
from timebot.domain.networks import InvalidNetwork, parse_networks
from timebot.storage.repositories.api import ApiRepository
from timebot.storage.tables import Office, Zone
from timebot.web.api.common import (
    MAX_ID,
    READ_ERRORS,
    WRITE_ERRORS,
    ApiContext,
    ApiModel,
    ApiProblem,
    ApiRoute,
    Text,
    TimeZoneName,
    audit,
    found,
    require,
)

router = APIRouter(tags=["offices"], route_class=ApiRoute)

Name = Annotated[Text, Field(min_length=1, max_length=255)]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]
Radius = Annotated[float, Field(gt=0, le=50_000, description="Metres.")]
Cidr = Annotated[Text, Field(min_length=1, max_length=64, examples=["10.0.0.0/8"])]


class ZoneOut(BaseModel):
    id: int
    office_id: int
    name: str
    kind: Literal["circle", "polygon"]
    lat: float | None
    lon: float | None
    radius_m: float | None
    polygon: dict[str, Any] | None = Field(description="GeoJSON Polygon geometry.")
    active: bool

    @classmethod
    def of(cls, z: Zone) -> ZoneOut:
        return cls(
            id=z.id,
            office_id=z.office_id,
            name=z.name,
            kind="polygon" if z.kind == "polygon" else "circle",
            lat=z.lat,
            lon=z.lon,
            radius_m=z.radius_m,
            polygon=z.polygon if isinstance(z.polygon, dict) else None,
            active=z.active,
        )


class OfficeOut(BaseModel):
    id: int
    name: str
    timezone: str | None
    address: str
    ip_ranges: list[str] = Field(description="The office network (CIDR).")
    active: bool
    zones: list[ZoneOut]

    @classmethod
    def of(cls, o: Office, zones: list[Zone]) -> OfficeOut:
        return cls(
            id=o.id,
            name=o.name,
            timezone=o.timezone,
            address=o.address,
            ip_ranges=[str(r) for r in o.ip_ranges or []],
            active=o.active,
            zones=[ZoneOut.of(z) for z in zones],
        )


def _networks(values: list[str]) -> list[str]:
    cleaned = [v.strip() for v in values]
    try:
        parse_networks(cleaned)
    except (InvalidNetwork, ValueError) as exc:
        raise ApiProblem(422, "invalid_ip_range", str(exc)) from None
    return cleaned


class OfficeCreate(ApiModel):
    name: Name
    timezone: TimeZoneName | None = Field(default=None, description="null: the portal's zone.")
    address: Annotated[Text, Field(max_length=512)] = ""
    ip_ranges: list[Cidr] = Field(default_factory=list, max_length=100)


class OfficePatch(ApiModel):
    name: Name | None = None
    timezone: TimeZoneName | None = None
    address: Annotated[Text, Field(max_length=512)] | None = None
    ip_ranges: list[Cidr] | None = Field(default=None, max_length=100)
    active: bool | None = None


Position = Annotated[list[float], Field(min_length=2, max_length=3, description="[lon, lat]")]


class GeoJsonPolygon(ApiModel):
    type: Literal["Polygon"]
    coordinates: list[Annotated[list[Position], Field(min_length=4, max_length=1000)]] = Field(
        min_length=1, max_length=20, description="Rings of [lon, lat] positions, each closed."
    )


class CircleZoneIn(ApiModel):
    kind: Literal["circle"]
    name: Name
    lat: Latitude
    lon: Longitude
    radius_m: Radius


class PolygonZoneIn(ApiModel):
    kind: Literal["polygon"]
    name: Name
    polygon: GeoJsonPolygon


ZoneCreate = Annotated[CircleZoneIn | PolygonZoneIn, Field(discriminator="kind")]


class ZonePatch(ApiModel):
    """Circle fields for a circle, `polygon` for a polygon."""

    name: Name | None = None
    active: bool | None = None
    lat: Latitude | None = None
    lon: Longitude | None = None
    radius_m: Radius | None = None
    polygon: GeoJsonPolygon | None = None


def _check_polygon(polygon: GeoJsonPolygon) -> dict[str, Any]:
    geometry = polygon.model_dump()
    try:
        PolygonZone.from_geojson(geometry, id="new", name="new")
    except (InvalidZone, ValueError, TypeError) as exc:
        raise ApiProblem(422, "invalid_polygon", str(exc)) from None
    return geometry


def _check_circle(lat: float, lon: float, radius: float) -> None:
    try:
        CircleZone("new", "new", Point(lat, lon), radius)
    except (InvalidZone, ValueError, TypeError) as exc:
        raise ApiProblem(422, "invalid_circle", str(exc)) from None


async def _office(repo: ApiRepository, ctx: ApiContext, office_id: int) -> Office:
    return found(await repo.owned(Office, ctx.portal_id, office_id), "office")


OfficeId = Annotated[int, Path(ge=1, le=MAX_ID)]
ZoneId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("/offices", response_model=list[OfficeOut], responses=READ_ERRORS)
async def list_offices(
    ctx: Annotated[ApiContext, Depends(require("offices:read"))],
    active: Annotated[bool | None, Query(description="Only active (or inactive) offices.")] = None,
) -> list[OfficeOut]:
    """The portal's offices with their zones. Scope `offices:read`."""
    async with ctx.container.database.unit_of_work() as uow:
        repo = ApiRepository(uow.session)
        return [
            OfficeOut.of(o, await repo.zones(o.id))
            for o in await repo.offices(ctx.portal_id, active=active)
        ]


@router.post("/offices", response_model=OfficeOut, status_code=201, responses=WRITE_ERRORS)
async def create_office(
    ctx: Annotated[ApiContext, Depends(require("offices:write"))], body: OfficeCreate
) -> OfficeOut:
    """Add an office (then its zones). Scope `offices:write`."""
    ranges = _networks(body.ip_ranges)
    async with ctx.container.database.unit_of_work() as uow:
        office = Office(
            portal_id=ctx.portal_id,
            name=body.name.strip(),
            timezone=body.timezone,
            address=body.address,
            ip_ranges=ranges,
            active=True,
            created_at=ctx.now,
        )
        uow.session.add(office)
        await uow.flush()
        audit(uow, ctx, "office.created", "office", office.id, name=office.name)
        out = OfficeOut.of(office, [])
        await uow.commit()
    return out


@router.get("/offices/{office_id}", response_model=OfficeOut, responses=READ_ERRORS)
async def get_office(
    ctx: Annotated[ApiContext, Depends(require("offices:read"))], office_id: OfficeId
) -> OfficeOut:
    """One office with its zones. Scope `offices:read`."""
    async with ctx.container.database.unit_of_work() as uow:
        repo = ApiRepository(uow.session)
        office = await _office(repo, ctx, office_id)
        return OfficeOut.of(office, await repo.zones(office.id))


@router.patch("/offices/{office_id}", response_model=OfficeOut, responses=WRITE_ERRORS)
async def patch_office(
    ctx: Annotated[ApiContext, Depends(require("offices:write"))],
    office_id: OfficeId,
    body: OfficePatch,
) -> OfficeOut:
    """Change an office; only the fields sent. Scope `offices:write`."""
    sent = body.model_fields_set
    async with ctx.container.database.unit_of_work() as uow:
        repo = ApiRepository(uow.session)
        office = await _office(repo, ctx, office_id)
        changes: dict[str, Any] = {}
        if "name" in sent and body.name is not None:
            office.name = changes["name"] = body.name.strip()
        if "timezone" in sent:
            office.timezone = changes["timezone"] = body.timezone
        if "address" in sent and body.address is not None:
            office.address = changes["address"] = body.address
        if "ip_ranges" in sent and body.ip_ranges is not None:
            office.ip_ranges = changes["ip_ranges"] = _networks(body.ip_ranges)
        if "active" in sent and body.active is not None:
            office.active = changes["active"] = body.active
        if changes:
            audit(uow, ctx, "office.updated", "office", office.id, **changes)
        await uow.flush()
        out = OfficeOut.of(office, await repo.zones(office.id))
        await uow.commit()
    return out


@router.delete(
    "/offices/{office_id}", status_code=204, response_class=Response, responses=WRITE_ERRORS
)
async def delete_office(
    ctx: Annotated[ApiContext, Depends(require("offices:write"))], office_id: OfficeId
) -> Response:
    """Deactivate an office and its zones (history keeps pointing at them). Scope
    `offices:write`."""
    async with ctx.container.database.unit_of_work() as uow:
        repo = ApiRepository(uow.session)
        office = await _office(repo, ctx, office_id)
        office.active = False
        for zone in await repo.zones(office.id):
            zone.active = False
        audit(uow, ctx, "office.deactivated", "office", office.id)
        await uow.commit()
    return Response(status_code=204)


@router.get("/offices/{office_id}/zones", response_model=list[ZoneOut], responses=READ_ERRORS)
async def list_zones(
    ctx: Annotated[ApiContext, Depends(require("offices:read"))], office_id: OfficeId
) -> list[ZoneOut]:
    """An office's zones. Scope `offices:read`."""
    async with ctx.container.database.unit_of_work() as uow:
        repo = ApiRepository(uow.session)
        office = await _office(repo, ctx, office_id)
        return [ZoneOut.of(z) for z in await repo.zones(office.id)]


@router.post(
    "/offices/{office_id}/zones", response_model=ZoneOut, status_code=201, responses=WRITE_ERRORS
)
async def create_zone(
    ctx: Annotated[ApiContext, Depends(require("offices:write"))],
    office_id: OfficeId,
    body: ZoneCreate,
) -> ZoneOut:
    """Add a geofence to an office: a circle or a GeoJSON polygon. Scope `offices:write`."""
    if isinstance(body, CircleZoneIn):
        _check_circle(body.lat, body.lon, body.radius_m)
        shape: dict[str, Any] = {
            "kind": "circle",
            "lat": body.lat,
            "lon": body.lon,
            "radius_m": body.radius_m,
            "polygon": None,
        }
    else:
        shape = {
            "kind": "polygon",
            "lat": None,
            "lon": None,
            "radius_m": None,
            "polygon": _check_polygon(body.polygon),
        }
    async with ctx.container.database.unit_of_work() as uow:
        repo = ApiRepository(uow.session)
        office = await _office(repo, ctx, office_id)
        zone = Zone(
            portal_id=ctx.portal_id,
            office_id=office.id,
            name=body.name.strip(),
            active=True,
            created_at=ctx.now,
            **shape,
        )
        uow.session.add(zone)
        await uow.flush()
        audit(uow, ctx, "zone.created", "zone", zone.id, office_id=office.id, kind=zone.kind)
        out = ZoneOut.of(zone)
        await uow.commit()
    return out


async def _zone(repo: ApiRepository, ctx: ApiContext, zone_id: int) -> Zone:
    return found(await repo.owned(Zone, ctx.portal_id, zone_id), "zone")


@router.get("/zones/{zone_id}", response_model=ZoneOut, responses=READ_ERRORS)
async def get_zone(
    ctx: Annotated[ApiContext, Depends(require("offices:read"))], zone_id: ZoneId
) -> ZoneOut:
    """One zone. Scope `offices:read`."""
    async with ctx.container.database.unit_of_work() as uow:
        return ZoneOut.of(await _zone(ApiRepository(uow.session), ctx, zone_id))


@router.patch("/zones/{zone_id}", response_model=ZoneOut, responses=WRITE_ERRORS)
async def patch_zone(
    ctx: Annotated[ApiContext, Depends(require("offices:write"))],
    zone_id: ZoneId,
    body: ZonePatch,
) -> ZoneOut:
    """Change a zone; only the fields sent (circle fields for a circle, `polygon` for a
    polygon). Scope `offices:write`."""
    sent = body.model_fields_set
    async with ctx.container.database.unit_of_work() as uow:
        zone = await _zone(ApiRepository(uow.session), ctx, zone_id)
        changes: dict[str, Any] = {}
        circle_fields = sent & {"lat", "lon", "radius_m"}
        if zone.kind == "circle":
            if "polygon" in sent and body.polygon is not None:
                raise ApiProblem(422, "wrong_shape", "a circle zone takes lat, lon and radius_m")
            lat = body.lat if "lat" in sent and body.lat is not None else zone.lat
            lon = body.lon if "lon" in sent and body.lon is not None else zone.lon
            radius = (
                body.radius_m if "radius_m" in sent and body.radius_m is not None else zone.radius_m
            )
            if circle_fields:
                if lat is None or lon is None or radius is None:
                    raise ApiProblem(422, "invalid_circle", "a circle needs lat, lon and radius_m")
                _check_circle(lat, lon, radius)
                zone.lat, zone.lon, zone.radius_m = lat, lon, radius
                changes.update(lat=lat, lon=lon, radius_m=radius)
        else:
            if any(getattr(body, f) is not None for f in circle_fields):
                raise ApiProblem(422, "wrong_shape", "a polygon zone takes `polygon`")
            if "polygon" in sent and body.polygon is not None:
                zone.polygon = _check_polygon(body.polygon)
                changes["polygon"] = True
        if "name" in sent and body.name is not None:
            zone.name = changes["name"] = body.name.strip()
        if "active" in sent and body.active is not None:
            zone.active = changes["active"] = body.active
        if changes:
            audit(uow, ctx, "zone.updated", "zone", zone.id, **changes)
        await uow.flush()
        out = ZoneOut.of(zone)
        await uow.commit()
    return out


@router.delete("/zones/{zone_id}", status_code=204, response_class=Response, responses=WRITE_ERRORS)
async def delete_zone(
    ctx: Annotated[ApiContext, Depends(require("offices:write"))], zone_id: ZoneId
) -> Response:
    """Deactivate a zone (marks keep pointing at it). Scope `offices:write`."""
    async with ctx.container.database.unit_of_work() as uow:
        zone = await _zone(ApiRepository(uow.session), ctx, zone_id)
        zone.active = False
        audit(uow, ctx, "zone.deactivated", "zone", zone.id)
        await uow.commit()
    return Response(status_code=204)
