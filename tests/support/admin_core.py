"""Probes and foreign rows for ADMIN-CORE's pages (see `tests.support.admin`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select

from tests.support.admin import MARKER, cross_check, crossing_rows, foreign_rows, probe
from timebot.storage import UnitOfWork
from timebot.storage.tables import (
    CalendarOverride,
    Employee,
    EmployeeOffice,
    Office,
    Schedule,
    ScheduleAssignment,
    Zone,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
WEEK = [{"start": "09:00", "end": "18:00", "break": 60}] * 5 + [None, None]


def fixed_schedule_form(name: str) -> dict[str, Any]:
    """A complete, valid fixed-schedule form (Mon–Fri 09:00–18:00)."""
    form: dict[str, Any] = {
        "name": name,
        "kind": "fixed",
        "week_hours": "40",
        "follow_calendar": "1",
        "late_tolerance_min": "10",
        "early_tolerance_min": "10",
    }
    for d in range(7):
        if d < 5:
            form[f"day{d}_on"] = "1"
        form[f"day{d}_start"] = "09:00"
        form[f"day{d}_end"] = "18:00"
        form[f"day{d}_break"] = "60"
    return form


@foreign_rows
async def core_rows(uow: UnitOfWork, portal_id: int) -> dict[str, int]:
    """An office with a zone, a schedule assigned to a person, and a calendar exception."""
    employee = (
        await uow.session.scalars(
            select(Employee).where(Employee.portal_id == portal_id).order_by(Employee.id)
        )
    ).first()
    assert employee is not None, "sync the directory before making foreign rows"
    office = Office(
        portal_id=portal_id,
        name=f"{MARKER} office",
        timezone=None,
        address="",
        ip_ranges=[],
        active=True,
        created_at=T0,
    )
    uow.session.add(office)
    await uow.flush()
    zone = Zone(
        portal_id=portal_id,
        office_id=office.id,
        name=f"{MARKER} zone",
        kind="circle",
        lat=55.75,
        lon=37.61,
        radius_m=100.0,
        active=True,
        created_at=T0,
    )
    schedule = Schedule(
        portal_id=portal_id,
        name=f"{MARKER} schedule",
        kind="fixed",
        definition={"week": WEEK, "week_hours": 40, "follow_calendar": True},
        late_tolerance_min=10,
        early_tolerance_min=10,
        timezone=None,
        active=True,
        created_at=T0,
    )
    override = CalendarOverride(
        portal_id=portal_id,
        day=date(2026, 6, 15),
        kind="holiday",
        hours=None,
        note=f"{MARKER} note",
        created_at=T0,
    )
    uow.session.add_all([zone, schedule, override])
    await uow.flush()
    assignment = ScheduleAssignment(
        portal_id=portal_id,
        schedule_id=schedule.id,
        scope="employee",
        target_id=employee.id,
        valid_from=date(2026, 1, 1),
        created_at=T0,
    )
    uow.session.add(assignment)
    await uow.flush()
    return {
        "employee_id": employee.id,
        "office_id": office.id,
        "zone_id": zone.id,
        "schedule_id": schedule.id,
        "assignment_id": assignment.id,
        "override_id": override.id,
    }


@cross_check
async def core_crossings(uow: UnitOfWork) -> list[str]:
    """Rows of one portal pointing at another's: assignments, office links, zones."""
    return await crossing_rows(
        uow,
        {
            "assignment of a foreign schedule": select(ScheduleAssignment.id)
            .join(Schedule, Schedule.id == ScheduleAssignment.schedule_id)
            .where(Schedule.portal_id != ScheduleAssignment.portal_id),
            "assignment to a foreign person": select(ScheduleAssignment.id)
            .join(Employee, Employee.id == ScheduleAssignment.target_id)
            .where(
                ScheduleAssignment.scope == "employee",
                Employee.portal_id != ScheduleAssignment.portal_id,
            ),
            "office link across portals": select(EmployeeOffice.employee_id)
            .join(Employee, Employee.id == EmployeeOffice.employee_id)
            .join(Office, Office.id == EmployeeOffice.office_id)
            .where(Employee.portal_id != Office.portal_id),
            "zone of a foreign office": select(Zone.id)
            .join(Office, Office.id == Zone.office_id)
            .where(Office.portal_id != Zone.portal_id),
        },
    )


def _circle(ids: Mapping[str, int]) -> dict[str, Any]:
    return {"zone_name": "probe", "kind": "circle", "lat": "55.7", "lon": "37.6", "radius_m": "50"}


# Today, language, logout: every signed-in person (logout is probed last by the tests).
probe("GET", "/bitrix/app", "any")
probe("POST", "/bitrix/app/lang", "any", lambda ids: {"lang": "en", "next": "/bitrix/app"})
probe("POST", "/bitrix/app/logout", "any", lambda ids: {})

# Employees: managers read, administrators change.
probe("GET", "/bitrix/app/employees", "manager")
probe("POST", "/bitrix/app/employees/sync", "admin", lambda ids: {})
probe("GET", "/bitrix/app/employees/{employee_id}", "manager")
probe(
    "POST",
    "/bitrix/app/employees/{employee_id}",
    "admin",
    lambda ids: {"offices_mode": "only", "office": ids["office_id"], "language": "en"},
)
probe(
    "POST",
    "/bitrix/app/employees/{employee_id}/schedule",
    "admin",
    lambda ids: {"schedule_id": ids["schedule_id"], "valid_from": "2026-02-01"},
)

# Offices and zones.
probe("GET", "/bitrix/app/offices", "admin")
probe("POST", "/bitrix/app/offices", "admin", lambda ids: {"name": "probe office"})
probe("GET", "/bitrix/app/offices/{office_id}", "admin")
probe(
    "POST",
    "/bitrix/app/offices/{office_id}",
    "admin",
    lambda ids: {"name": "hijack", "active": "1"},
)
probe("POST", "/bitrix/app/offices/{office_id}/zones", "admin", _circle)
probe(
    "POST",
    "/bitrix/app/offices/{office_id}/zones/{zone_id}",
    "admin",
    lambda ids: {"toggle": "off"},
)

# Schedules and assignments.
probe("GET", "/bitrix/app/schedules", "admin")
probe("POST", "/bitrix/app/schedules", "admin", lambda ids: fixed_schedule_form("probe"))
probe("GET", "/bitrix/app/schedules/{schedule_id}", "admin")
probe(
    "POST",
    "/bitrix/app/schedules/{schedule_id}",
    "admin",
    lambda ids: {**fixed_schedule_form("hijack"), "active": "1"},
)
probe(
    "POST",
    "/bitrix/app/schedules/assignments",
    "admin",
    lambda ids: {
        "schedule_id": ids["schedule_id"],
        "scope": "employee",
        "employee_id": ids["employee_id"],
        "valid_from": "2026-02-01",
    },
)
probe("POST", "/bitrix/app/schedules/assignments/{assignment_id}/delete", "admin", lambda ids: {})

# Calendar exceptions.
probe("GET", "/bitrix/app/calendar", "admin")
probe(
    "POST",
    "/bitrix/app/calendar",
    "admin",
    lambda ids: {"day": "2026-06-15", "kind": "workday", "note": "probe"},
)
probe("POST", "/bitrix/app/calendar/{override_id}/delete", "admin", lambda ids: {})
