"""Probes and foreign rows for the roster pages of shift schedules (see `tests.support.admin`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select

from tests.support.admin import MARKER, cross_check, crossing_rows, foreign_rows, probe
from timebot.storage import UnitOfWork
from timebot.storage.tables import Employee, Schedule, ScheduleAssignment, Shift

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ROSTER = "/bitrix/app/schedules/{shift_schedule_id}/roster"


def _shift(ids: Mapping[str, int]) -> dict[str, Any]:
    return {
        "employee_id": ids["employee_id"],
        "day": "2026-03-04",
        "start": "22:00",
        "end": "06:00",
    }


def _bulk(ids: Mapping[str, int]) -> dict[str, Any]:
    return {
        "lines": "2026-03-05 22:00-06:00",
        "person": ids["employee_id"],
        "bulk_from": "2026-03-02",
        "bulk_to": "2026-03-15",
        "replace": "1",
    }


probe("GET", ROSTER, "manager")
probe("POST", f"{ROSTER}/shifts", "admin", _shift)
probe("GET", f"{ROSTER}/shifts/{{shift_id}}", "admin")
probe("POST", f"{ROSTER}/shifts/{{shift_id}}", "admin", _shift)
probe("POST", f"{ROSTER}/shifts/{{shift_id}}/delete", "admin", lambda ids: {})
probe("POST", f"{ROSTER}/copy", "admin", lambda ids: {"week": "2026-03-02"})
probe("POST", f"{ROSTER}/bulk", "admin", _bulk)


@foreign_rows
async def roster_rows(uow: UnitOfWork, portal_id: int) -> dict[str, int]:
    """A shift schedule assigned to the portal's first person from March 2026, with one night
    shift of theirs on Monday 2 March."""
    employee = (
        await uow.session.scalars(
            select(Employee).where(Employee.portal_id == portal_id).order_by(Employee.id)
        )
    ).first()
    assert employee is not None, "sync the directory before making foreign rows"
    schedule = Schedule(
        portal_id=portal_id,
        name=f"{MARKER} shifts",
        kind="shift",
        definition={"break": 30},
        late_tolerance_min=10,
        early_tolerance_min=10,
        timezone=None,
        active=True,
        created_at=T0,
    )
    uow.session.add(schedule)
    await uow.flush()
    uow.session.add(
        ScheduleAssignment(
            portal_id=portal_id,
            schedule_id=schedule.id,
            scope="employee",
            target_id=employee.id,
            valid_from=date(2026, 3, 1),
            created_at=T0,
        )
    )
    shift = Shift(
        portal_id=portal_id,
        employee_id=employee.id,
        starts_at=datetime(2026, 3, 2, 19, 0, tzinfo=UTC),
        ends_at=datetime(2026, 3, 3, 3, 0, tzinfo=UTC),
        schedule_id=schedule.id,
        created_at=T0,
    )
    uow.session.add(shift)
    await uow.flush()
    return {"shift_schedule_id": schedule.id, "shift_id": shift.id}


@cross_check
async def roster_crossings(uow: UnitOfWork) -> list[str]:
    """Shifts of one portal pointing at another's person or schedule."""
    return await crossing_rows(
        uow,
        {
            "shift of a foreign person": select(Shift.id)
            .join(Employee, Employee.id == Shift.employee_id)
            .where(Employee.portal_id != Shift.portal_id),
            "shift of a foreign schedule": select(Shift.id)
            .join(Schedule, Schedule.id == Shift.schedule_id)
            .where(Schedule.portal_id != Shift.portal_id),
        },
    )
