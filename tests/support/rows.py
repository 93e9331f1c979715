"""Unsaved ORM rows for tests that write straight into the tables.

Every factory sets each NOT NULL column (and the JSON lists and flags the ORM would only fill in
at flush), so a fresh object is complete before it is added; anything else goes in as a keyword
override. `flushed` adds a row and flushes it, for when the next row needs its id;
`migrated_with` readies a fresh database holding one portal; `stored_person` reads a portal
and an employee back with the Person the bot makes of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, TypeVar

from timebot.bot.people import person_for
from timebot.gateway.install import NEW_PORTAL_DEFAULTS
from timebot.services.tracking import Person
from timebot.storage import Database
from timebot.storage.migrate import upgrade
from timebot.storage.tables import (
    Department,
    Employee,
    Mark,
    Office,
    Portal,
    Schedule,
    ScheduleAssignment,
    Shift,
    Zone,
)
from timebot.storage.uow import UnitOfWork

# Before every date the tests use: when rows were created, installed or synced.
T0 = datetime(2026, 1, 1, tzinfo=UTC)

RowT = TypeVar("RowT")


async def flushed(uow: UnitOfWork, row: RowT) -> RowT:
    """Add `row` to the unit of work and flush it, so its id is known."""
    uow.session.add(row)
    await uow.flush()
    return row


async def migrated_with(database_url: str, portal: Portal) -> tuple[Database, int]:
    """Migrate the database, store `portal` in it; the open database (the caller disposes of
    it) and the portal's id."""
    await upgrade(database_url)
    db = Database.from_url(database_url)
    try:
        async with db.unit_of_work() as uow:
            uow.portals.add(portal)
            await uow.commit()
            return db, portal.id
    except BaseException:
        await db.dispose()
        raise


async def stored_person(
    uow: UnitOfWork, portal_id: int, employee_id: int
) -> tuple[Portal, Employee, Person]:
    """The stored portal and employee, and the Person (with their zone) the bot makes of them."""
    portal = await uow.portals.get(portal_id)
    employee = await uow.session.get(Employee, employee_id)
    assert portal is not None
    assert employee is not None
    return portal, employee, await person_for(uow, portal, employee)


def portal_row(
    *,
    member_id: str = "m1",
    timezone: str = "Europe/Moscow",
    language: str = "ru",
    settings: Mapping[str, Any] | None = None,
    at: datetime = T0,
    **overrides: Any,
) -> Portal:
    """An installed OAuth portal at `{member_id}.bitrix24.ru`."""
    fields: dict[str, Any] = {
        **NEW_PORTAL_DEFAULTS,
        "member_id": member_id,
        "domain": f"{member_id}.bitrix24.ru",
        "client_endpoint": f"https://{member_id}.bitrix24.ru/rest/",
        "connection": "oauth",
        "language": language,
        "timezone": timezone,
        "settings": dict(settings or {}),
        "installed_at": at,
        "updated_at": at,
    }
    return Portal(**{**fields, **overrides})


def department_row(
    portal_id: int,
    bitrix_id: int,
    *,
    name: str | None = None,
    parent: int | None = None,
    head: int | None = None,
    at: datetime = T0,
) -> Department:
    """A department mirrored from Bitrix24; `parent` and `head` are Bitrix ids."""
    return Department(
        portal_id=portal_id,
        bitrix_id=bitrix_id,
        name=name if name is not None else f"Dept {bitrix_id}",
        parent_bitrix_id=parent,
        head_user_id=head,
        synced_at=at,
    )


def employee_row(
    portal_id: int,
    user_id: int,
    *,
    name: str | None = None,
    tz: str | None = None,
    departments: Iterable[int | str] = (),
    language: str | None = None,
    active: bool = True,
    is_admin: bool = False,
    all_offices: bool = True,
    at: datetime = T0,
    **overrides: Any,
) -> Employee:
    """An office worker (no remote days) named "User {user_id}" unless `name` is given."""
    fields: dict[str, Any] = {
        "portal_id": portal_id,
        "bitrix_user_id": user_id,
        "name": name if name is not None else f"User {user_id}",
        "first_name": "",
        "last_name": "",
        "timezone": tz,
        "department_ids": list(departments),
        "language": language,
        "active": active,
        "is_admin": is_admin,
        "remote_always": False,
        "remote_weekdays": [],
        "all_offices": all_offices,
        "created_at": at,
    }
    return Employee(**{**fields, **overrides})


def office_row(
    portal_id: int,
    *,
    name: str = "Office",
    timezone: str | None = None,
    ip_ranges: Iterable[str] = (),
    active: bool = True,
    at: datetime = T0,
    **overrides: Any,
) -> Office:
    fields: dict[str, Any] = {
        "portal_id": portal_id,
        "name": name,
        "timezone": timezone,
        "address": "",
        "ip_ranges": list(ip_ranges),
        "active": active,
        "created_at": at,
    }
    return Office(**{**fields, **overrides})


def zone_row(
    portal_id: int,
    office_id: int,
    *,
    name: str = "Zone",
    lat: float | None = None,
    lon: float | None = None,
    radius_m: float | None = None,
    polygon: Mapping[str, Any] | None = None,
    active: bool = True,
    at: datetime = T0,
) -> Zone:
    """A circle (`lat`, `lon`, `radius_m`) or, when `polygon` is given, a GeoJSON polygon."""
    return Zone(
        portal_id=portal_id,
        office_id=office_id,
        name=name,
        kind="circle" if polygon is None else "polygon",
        lat=lat,
        lon=lon,
        radius_m=radius_m,
        polygon=None if polygon is None else dict(polygon),
        active=active,
        created_at=at,
    )


def mark_row(portal_id: int, employee_id: int, kind: str, at: datetime, **overrides: Any) -> Mark:
    """A mark made in the chat at `at` and recorded then; `kind` may be a MarkKind."""
    fields: dict[str, Any] = {
        "portal_id": portal_id,
        "employee_id": employee_id,
        "kind": str(kind),
        "at": at,
        "recorded_at": at,
        "source": "chat",
        "flags": [],
        "provisional": False,
    }
    return Mark(**{**fields, **overrides})


def work_day_rows(
    portal_id: int,
    employee_id: int,
    day: date,
    tz: tzinfo,
    start: time,
    *,
    hours: float = 9,
    lunch: tuple[time, time] | None = (time(13), time(14)),
    **overrides: Any,
) -> list[Mark]:
    """A whole office day in the person's zone: in at `start`, lunch, out `hours` after `start`."""
    end = (datetime.combine(day, start) + timedelta(hours=hours)).time()
    plan: list[tuple[str, time]] = [("check_in", start)]
    if lunch is not None:
        plan += [("break_start", lunch[0]), ("break_end", lunch[1])]
    plan.append(("check_out", end))
    return [
        mark_row(
            portal_id,
            employee_id,
            kind,
            datetime.combine(day, at, tzinfo=tz).astimezone(UTC),
            **overrides,
        )
        for kind, at in plan
    ]


def schedule_row(
    portal_id: int,
    *,
    name: str = "Schedule",
    kind: str = "fixed",
    definition: Mapping[str, Any] | None = None,
    tolerance_min: int = 0,
    at: datetime = T0,
    **overrides: Any,
) -> Schedule:
    """`tolerance_min` is both the late-arrival and the early-leave tolerance."""
    fields: dict[str, Any] = {
        "portal_id": portal_id,
        "name": name,
        "kind": kind,
        "definition": dict(definition or {}),
        "late_tolerance_min": tolerance_min,
        "early_tolerance_min": tolerance_min,
        "active": True,
        "created_at": at,
    }
    return Schedule(**{**fields, **overrides})


def assignment_row(
    portal_id: int,
    schedule_id: int,
    *,
    employee_id: int | None = None,
    valid_from: date = T0.date(),
    at: datetime = T0,
) -> ScheduleAssignment:
    """The schedule for one employee, or for the whole portal when `employee_id` is None."""
    return ScheduleAssignment(
        portal_id=portal_id,
        schedule_id=schedule_id,
        scope="portal" if employee_id is None else "employee",
        target_id=employee_id,
        valid_from=valid_from,
        created_at=at,
    )


def shift_row(
    portal_id: int,
    employee_id: int,
    starts_at: datetime,
    ends_at: datetime,
    *,
    schedule_id: int | None = None,
    at: datetime = T0,
) -> Shift:
    return Shift(
        portal_id=portal_id,
        employee_id=employee_id,
        starts_at=starts_at,
        ends_at=ends_at,
        schedule_id=schedule_id,
        created_at=at,
    )
