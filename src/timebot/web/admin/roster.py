"""Rosters of shift schedules: `/bitrix/app/schedules/{id}/roster`.

The people on the schedule × the days of a week, two weeks (the default: this week and the
next) or a month, with their dated shifts. Administrators add, change and delete a shift here,
copy a week and enter many shifts at once (`roster_batch`); a department head sees their own
people's rows read-only. Every change is audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from timebot.storage import UnitOfWork
from timebot.storage.tables import Schedule, Shift
from timebot.web.admin import roster_batch
from timebot.web.admin.forms import Form, Invalid, read_form
from timebot.web.admin.render import redirect, render
from timebot.web.admin.roster_data import (
    MAX_BREAK,
    LocalShift,
    Period,
    Problem,
    Roster,
    check_shifts,
    day_text,
    load_roster,
)
from timebot.web.admin.roster_page import (
    break_minutes,
    checked_day,
    details,
    path_of,
    roster_response,
    shift_schedule,
    store,
    view_of,
)
from timebot.web.admin.rows import audit, owned
from timebot.web.admin.session import (
    AdminDenied,
    AdminSession,
    check_csrf,
    container_of,
    require_admin,
    require_manager,
)

__all__ = ["router"]

# Included by `schedules.router` (prefix /bitrix/app): paths are /bitrix/app/schedules/...
router = APIRouter(prefix="/schedules", tags=["admin"])
router.include_router(roster_batch.router)

MAX_ID: Final = 2**62


@router.get("/{shift_schedule_id}/roster", include_in_schema=False)
async def roster_page(
    shift_schedule_id: int,
    request: Request,
    session: AdminSession = Depends(require_manager),
) -> Response:
    """The roster for a period (`period`: week, 2weeks, month; `first`: a date in it)."""
    return await roster_response(request, session, shift_schedule_id, view=request.query_params)


def _shift_of(form: Form) -> LocalShift | None:
    employee_id = form.integer("employee_id", minimum=1, maximum=MAX_ID)
    day = checked_day(form, "day")
    start = form.clock("start")
    end = form.clock("end")
    # Empty: the schedule's break.
    pause = form.integer("break_minutes", minimum=0, maximum=MAX_BREAK, required=False)
    if employee_id is None or day is None or start is None or end is None:
        return None
    if form.errors:
        return None
    return LocalShift(employee_id, day, start, end, break_minutes=pause)


def _refuse(form: Form, problems: Sequence[Problem]) -> None:
    for p in problems:
        form.error(
            "employee_id" if p.key == "roster.unknown_person" else "shift", p.key, **p.values
        )
    form.raise_if_invalid()


@router.post("/{shift_schedule_id}/roster/shifts", include_in_schema=False)
async def add_shift(
    shift_schedule_id: int,
    request: Request,
    session: AdminSession = Depends(check_csrf),
    _: AdminSession = Depends(require_admin),
) -> Response:
    """Add a person's shift."""
    form = await read_form(request, session)
    planned = _shift_of(form)
    container = container_of(request)
    now = container.clock.now()
    try:
        async with container.database.unit_of_work() as uow:
            schedule = await shift_schedule(uow, shift_schedule_id, session)
            form.raise_if_invalid()
            assert planned is not None
            roster = await load_roster(uow, session, schedule)
            _refuse(form, await check_shifts(uow, roster, [planned]))
            row = store(uow, roster, planned, now)
            await uow.flush()
            audit(uow, session, now, "shift.created", "shift", row.id, details(roster, planned))
            await uow.commit()
    except Invalid:
        return await roster_response(
            request,
            session,
            shift_schedule_id,
            view=form.values,
            add=(form.values, form.errors),
            status_code=400,
        )
    return redirect(path_of(shift_schedule_id), flash="flash.created", **view_of(form.values))


async def _roster_shift(
    uow: UnitOfWork, session: AdminSession, schedule_id: int, shift_id: int
) -> tuple[Schedule, Shift, Roster]:
    """The shift schedule, one of its shifts and its roster (with the shift's person loaded);
    a 404 page for a shift of someone outside the roster."""
    schedule = await shift_schedule(uow, schedule_id, session)
    row = await owned(uow, Shift, shift_id, session)
    roster = await load_roster(uow, session, schedule)
    if row.employee_id not in roster.employees:
        raise AdminDenied(404, "denied.not_found", lang=session.language)
    await roster.load_people(uow, [row.employee_id])
    return schedule, row, roster


async def _shift_page(
    request: Request,
    session: AdminSession,
    schedule_id: int,
    shift_id: int,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    container = container_of(request)
    async with container.database.unit_of_work() as uow:
        schedule, row, roster = await _roster_shift(uow, session, schedule_id, shift_id)
        shift = LocalShift.of(row, roster.tz(row.employee_id))
        uow.session.expunge_all()
    month = Period("month", shift.on.replace(day=1))
    people = roster.members(month.days, [shift.employee_id])
    view = view_of(values if values is not None else request.query_params)
    return render(
        request,
        session,
        "admin/roster_shift.html",
        active="schedules",
        status_code=status_code,
        schedule=schedule,
        shift=shift,
        person=roster.employees[shift.employee_id],
        zone=roster.tz(shift.employee_id).key,
        people=[(e.id, e.name) for e in people],
        values=values
        or {
            "employee_id": str(shift.employee_id),
            "day": shift.on.isoformat(),
            "start": shift.start.strftime("%H:%M"),
            "end": shift.end.strftime("%H:%M"),
            "break_minutes": "" if shift.break_minutes is None else str(shift.break_minutes),
        },
        errors=errors or {},
        view=view,
        back=f"{path_of(schedule.id)}?{urlencode(view)}" if view else path_of(schedule.id),
        break_minutes=break_minutes(schedule),
        day_text=day_text,
    )


@router.get("/{shift_schedule_id}/roster/shifts/{shift_id}", include_in_schema=False)
async def shift_page(
    shift_schedule_id: int,
    shift_id: int,
    request: Request,
    session: AdminSession = Depends(require_admin),
) -> Response:
    """One shift, to change or delete it."""
    return await _shift_page(request, session, shift_schedule_id, shift_id)


@router.post("/{shift_schedule_id}/roster/shifts/{shift_id}", include_in_schema=False)
async def change_shift(
    shift_schedule_id: int,
    shift_id: int,
    request: Request,
    session: AdminSession = Depends(check_csrf),
    _: AdminSession = Depends(require_admin),
) -> Response:
    """Move a shift (another day, other times or another person) or change its break."""
    form = await read_form(request, session)
    planned = _shift_of(form)
    container = container_of(request)
    now = container.clock.now()
    try:
        async with container.database.unit_of_work() as uow:
            schedule, row, roster = await _roster_shift(uow, session, shift_schedule_id, shift_id)
            form.raise_if_invalid()
            assert planned is not None
            _refuse(form, await check_shifts(uow, roster, [planned], replacing=[row.id]))
            before = details(roster, LocalShift.of(row, roster.tz(row.employee_id)))
            row.employee_id = planned.employee_id
            row.starts_at, row.ends_at = planned.span(roster.tz(planned.employee_id))
            row.schedule_id = schedule.id
            row.break_minutes = planned.break_minutes
            audit(
                uow,
                session,
                now,
                "shift.updated",
                "shift",
                row.id,
                {"before": before, "after": details(roster, planned)},
            )
            await uow.commit()
    except Invalid:
        return await _shift_page(
            request,
            session,
            shift_schedule_id,
            shift_id,
            values=form.values,
            errors=form.errors,
            status_code=400,
        )
    return redirect(path_of(shift_schedule_id), flash="flash.saved", **view_of(form.values))


@router.post("/{shift_schedule_id}/roster/shifts/{shift_id}/delete", include_in_schema=False)
async def delete_shift(
    shift_schedule_id: int,
    shift_id: int,
    request: Request,
    session: AdminSession = Depends(check_csrf),
    _: AdminSession = Depends(require_admin),
) -> Response:
    """Delete a shift."""
    form = await read_form(request, session)
    container = container_of(request)
    now = container.clock.now()
    async with container.database.unit_of_work() as uow:
        await shift_schedule(uow, shift_schedule_id, session)
        row = await owned(uow, Shift, shift_id, session)
        gone = {
            "employee_id": row.employee_id,
            "schedule_id": row.schedule_id,
            "starts_at": row.starts_at.isoformat(),
            "ends_at": row.ends_at.isoformat(),
            "break_minutes": row.break_minutes,
        }
        await uow.session.delete(row)
        audit(uow, session, now, "shift.deleted", "shift", shift_id, gone)
        await uow.commit()
    return redirect(path_of(shift_schedule_id), flash="flash.deleted", **view_of(form.values))
