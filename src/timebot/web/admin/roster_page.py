"""The roster page of a shift schedule and what its handlers share: the period in view, the
grid of people × days, and how a shift is stored and described in the audit log."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response

from timebot.domain.timezones import resolve_zone
from timebot.services.plans import schedule_break
from timebot.storage import UnitOfWork
from timebot.storage.tables import Employee, Schedule, Shift
from timebot.web.admin import roster_texts  # noqa: F401  (registers the roster's texts)
from timebot.web.admin.forms import Form
from timebot.web.admin.i18n import translate
from timebot.web.admin.render import render
from timebot.web.admin.roster_data import (
    FIRST_DAY,
    LAST_DAY,
    PERIODS,
    LocalShift,
    Period,
    Roster,
    day_text,
    in_range,
    load_roster,
    period_of,
)
from timebot.web.admin.rows import owned
from timebot.web.admin.session import AdminDenied, AdminSession, container_of

__all__ = [
    "break_minutes",
    "checked_day",
    "details",
    "path_of",
    "roster_response",
    "shift_schedule",
    "store",
    "view_of",
]

NOTES: Final = ("copied", "skipped", "created", "removed")


def checked_day(form: Form, field: str) -> date | None:
    """A required date field within the years a roster accepts."""
    day = form.day(field)
    if day is not None and not in_range(day):
        form.error(field, "roster.day_range", first=day_text(FIRST_DAY), last=day_text(LAST_DAY))
        return None
    return day


def path_of(schedule_id: int) -> str:
    return f"/bitrix/app/schedules/{schedule_id}/roster"


def view_of(values: Mapping[str, str]) -> dict[str, str]:
    """The period a page showed (carried through its forms), as query parameters."""
    query: dict[str, str] = {}
    if values.get("period", "") in PERIODS:
        query["period"] = values["period"]
    first = values.get("first", "")
    with suppress(ValueError):
        query["first"] = date.fromisoformat(first).isoformat()
    return query


async def shift_schedule(uow: UnitOfWork, schedule_id: int, session: AdminSession) -> Schedule:
    """The portal's shift schedule `schedule_id`, else a 404 page."""
    schedule = await owned(uow, Schedule, schedule_id, session)
    if schedule.kind != "shift":
        raise AdminDenied(404, "roster.not_shift", lang=session.language)
    return schedule


def break_minutes(schedule: Schedule) -> int:
    """The break per shift the schedule's rules set (a shift may have its own)."""
    return schedule_break(schedule.definition)


@dataclass(frozen=True, slots=True)
class Cell:
    day: date
    follows: bool
    shifts: list[LocalShift]


@dataclass(frozen=True, slots=True)
class Row:
    employee: Employee
    zone: str
    cells: list[Cell]
    total: timedelta


def roster_rows(
    roster: Roster, period: Period, members: Sequence[Employee], shifts: Sequence[LocalShift]
) -> list[Row]:
    """One row per member (their zones loaded): a cell per day, and the hours planned."""
    by_cell: dict[tuple[int, date], list[LocalShift]] = {}
    for s in shifts:
        by_cell.setdefault((s.employee_id, s.on), []).append(s)
    rows: list[Row] = []
    for employee in members:
        tz = roster.tz(employee.id)
        cells = [
            Cell(d, roster.follows(employee.id, d), by_cell.get((employee.id, d), []))
            for d in period.days
        ]
        total = timedelta()
        for s in (s for c in cells for s in c.shifts):
            starts, ends = s.span(tz)
            total += max(ends - starts - timedelta(minutes=roster.break_of(s)), timedelta())
        rows.append(Row(employee, tz.key, cells, total))
    return rows


async def roster_response(
    request: Request,
    session: AdminSession,
    schedule_id: int,
    *,
    view: Mapping[str, str],
    add: tuple[dict[str, str], dict[str, str]] | None = None,
    bulk: tuple[dict[str, str], dict[str, str]] | None = None,
    copy: tuple[dict[str, str], dict[str, str]] | None = None,
    status_code: int = 200,
) -> Response:
    container = container_of(request)
    async with container.database.unit_of_work() as uow:
        schedule = await shift_schedule(uow, schedule_id, session)
        roster = await load_roster(uow, session, schedule)
        zone = resolve_zone(None, None, roster.portal.timezone)
        today = container.clock.now().astimezone(zone).date()
        period = period_of(view.get("period", ""), view.get("first", ""), today)
        shifts = await roster.shifts(uow, None, period.first, period.last)
        own = [s.employee_id for s in shifts if s.schedule_id == schedule.id]
        members = roster.members(period.days, own)
        await roster.load_people(uow, (e.id for e in members))
        uow.session.expunge_all()  # read-only: keep the rows readable after the block
    rows = roster_rows(roster, period, members, shifts)
    here = {"period": period.kind, "first": period.first.isoformat()}
    query = request.query_params
    add_values = {
        "employee_id": query.get("employee_id", ""),
        "day": query.get("day", ""),
        "start": "",
        "end": "",
        "break_minutes": "",
    }
    bulk_values = {
        "lines": "",
        "person": "",
        "bulk_from": period.first.isoformat(),
        "bulk_to": period.last.isoformat(),
    }
    notes = {k: query[k] for k in NOTES if query.get(k, "").isdigit()}
    return render(
        request,
        session,
        "admin/roster.html",
        active="schedules",
        status_code=status_code,
        schedule=schedule,
        period=period,
        period_options=[(k, translate(session.language, f"roster.period.{k}")) for k in PERIODS],
        today=today,
        rows=rows,
        editable=session.is_admin,
        break_minutes=break_minutes(schedule),
        here=here,
        here_query=urlencode(here),
        earlier_query=urlencode({**here, "first": period.previous.isoformat()}),
        later_query=urlencode({**here, "first": period.following.isoformat()}),
        people=[(r.employee.id, r.employee.name) for r in rows],
        add_values=add[0] if add else add_values,
        add_errors=add[1] if add else {},
        bulk_values=bulk[0] if bulk else bulk_values,
        bulk_errors=bulk[1] if bulk else {},
        copy_values=copy[0] if copy else {"week": period.first.isoformat()},
        copy_errors=copy[1] if copy else {},
        notes=notes,
        day_text=day_text,
    )


def details(roster: Roster, shift: LocalShift) -> dict[str, Any]:
    """What an audit entry says about a shift."""
    tz = roster.tz(shift.employee_id)
    starts, ends = shift.span(tz)
    return {
        "employee_id": shift.employee_id,
        "schedule_id": shift.schedule_id or roster.schedule.id,
        "day": shift.on.isoformat(),
        "start": shift.start.strftime("%H:%M"),
        "end": shift.end.strftime("%H:%M"),
        "break_minutes": shift.break_minutes,  # None: the schedule's
        "timezone": tz.key,
        "starts_at": starts.isoformat(),
        "ends_at": ends.isoformat(),
    }


def store(uow: UnitOfWork, roster: Roster, shift: LocalShift, now: datetime) -> Shift:
    starts, ends = shift.span(roster.tz(shift.employee_id))
    row = Shift(
        portal_id=roster.portal.id,
        employee_id=shift.employee_id,
        starts_at=starts,
        ends_at=ends,
        schedule_id=roster.schedule.id,
        break_minutes=shift.break_minutes,
        created_at=now,
    )
    uow.session.add(row)
    return row
