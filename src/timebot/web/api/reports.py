"""`/api/v1/statistics`, `/api/v1/violations` and `/api/v1/reports`: worked time against the
plan per employee and department over a period, the violations of a period, and the monthly
timesheet as an XLSX or CSV download."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from timebot.bot.people import portal_calendar
from timebot.domain.violations import ViolationKind, explain
from timebot.reports.timesheet import render_timesheet, timesheet_filename
from timebot.services.api_reports import PersonPeriod, department_totals, gather_period
from timebot.services.timesheet import gather_timesheet, month_bounds
from timebot.services.tracking import DaySummary
from timebot.storage import UnitOfWork
from timebot.storage.repositories.api import ApiRepository
from timebot.storage.tables import Department, Employee, Portal
from timebot.web.api.common import (
    MAX_ID,
    READ_ERRORS,
    ApiContext,
    ApiProblem,
    ApiRoute,
    Day,
    Page,
    found,
    not_found,
    require,
)

router = APIRouter(tags=["reports"], route_class=ApiRoute)

MAX_STAT_DAYS = 366
MAX_VIOLATION_DAYS = 93
XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA = "text/csv; charset=utf-8"
ViolationKindName = Literal[
    "late_start",
    "early_leave",
    "short_day",
    "absent",
    "outside_geofence",
    "suspicious_location",
    "forgotten_checkout",
    "provisional_close",
    "overtime",
]


DAYS_WORKED = (
    "Days with some work: at least one whole minute worked on the date (`worked_minutes` > 0)."
    " A check-in without work, such as one cancelled within a minute, is not a day worked."
)
ABSENT_DAYS = "Planned days past without a check-in."


def _minutes(td: timedelta | None) -> int | None:
    return None if td is None else int(td // timedelta(minutes=1))


class PeriodTotals(BaseModel):
    worked_minutes: int
    break_minutes: int
    norm_minutes: int = Field(description="Planned time of every day of the period.")
    norm_to_date_minutes: int = Field(description="Planned time of the days up to today.")
    balance_minutes: int = Field(description="Worked minus the norm to date.")
    planned_days: int
    days_worked: int = Field(description=DAYS_WORKED)
    late_days: int
    late_minutes: int
    absent_days: int = Field(description=ABSENT_DAYS)
    open_days: int
    violations: int | None = Field(
        description="Violations no explanation excuses (null for periods over 93 days)."
    )


class EmployeeStats(PeriodTotals):
    employee_id: int
    name: str
    department_ids: list[int] = Field(description="`departments.id`.")


class DayStats(BaseModel):
    date: date
    worked_minutes: int
    break_minutes: int
    norm_minutes: int | None = Field(description="null on a day off.")
    first_in: datetime | None
    last_out: datetime | None
    late_minutes: int | None
    open: bool
    provisional: bool


class EmployeeStatsDetail(EmployeeStats):
    days: list[DayStats]


class DepartmentStats(BaseModel):
    department_id: int = Field(description="`departments.id`.")
    name: str
    people: int
    worked_minutes: int
    norm_minutes: int
    norm_to_date_minutes: int
    balance_minutes: int
    days_worked: int = Field(description=DAYS_WORKED)
    late_days: int
    absent_days: int = Field(description=ABSENT_DAYS)
    violations: int | None = Field(
        description="Violations no explanation excuses (null for periods over 93 days)."
    )


class ViolationOut(BaseModel):
    employee_id: int
    name: str
    date: date
    kind: ViolationKindName
    minutes: int = Field(description="How much: late by, short by, over by, … (0 for location).")
    actual: datetime | None
    expected: datetime | None
    allowed: datetime | None
    worked_minutes: int | None
    required_minutes: int | None
    distance_m: float | None
    detail: str | None
    excused: bool
    excused_by: str | None
    text: str = Field(description="The violation in words (the portal's language).")


def _period(first: date, last: date, longest: int) -> None:
    if last < first:
        raise ApiProblem(400, "bad_period", "`to` is before `from`")
    if (last - first).days + 1 > longest:
        raise ApiProblem(400, "period_too_long", f"a period may cover at most {longest} days")


def _counts_violations(first: date, last: date) -> bool:
    """Violations are counted for periods up to `MAX_VIOLATION_DAYS` (they cost more)."""
    return (last - first).days + 1 <= MAX_VIOLATION_DAYS


def _totals(p: PersonPeriod, *, with_violations: bool) -> dict[str, int | None]:
    worked = _minutes(p.worked) or 0
    to_date = _minutes(p.norm_to_date) or 0
    return {
        "worked_minutes": worked,
        "break_minutes": _minutes(p.on_break) or 0,
        "norm_minutes": _minutes(p.norm) or 0,
        "norm_to_date_minutes": to_date,
        "balance_minutes": worked - to_date,
        "planned_days": p.planned_days,
        "days_worked": p.days_worked,
        "late_days": p.late_days,
        "late_minutes": _minutes(p.late) or 0,
        "absent_days": p.absent_days,
        "open_days": p.open_days,
        "violations": len(p.unexcused) if with_violations else None,
    }


def _day(d: DaySummary) -> DayStats:
    return DayStats(
        date=d.local_date,
        worked_minutes=_minutes(d.worked) or 0,
        break_minutes=_minutes(d.on_break) or 0,
        norm_minutes=_minutes(d.norm),
        first_in=d.first_in,
        last_out=d.last_out,
        late_minutes=_minutes(d.late_by),
        open=d.is_open,
        provisional=d.provisional,
    )


async def _people(
    uow: UnitOfWork,
    portal: Portal,
    ctx: ApiContext,
    *,
    department_id: int | None,
    employee_id: int | None,
) -> tuple[list[Employee], dict[int, int], dict[int, Department]]:
    """The employees a report covers (active ones, or the one asked for), the map of Bitrix
    department ids to `departments.id`, and the departments by `departments.id`."""
    repo = ApiRepository(uow.session)
    departments = await repo.departments(portal.id)
    by_id = {d.id: d for d in departments}
    if department_id is not None and department_id not in by_id:
        raise not_found("department")
    if employee_id is not None:
        employee = found(await repo.owned(Employee, portal.id, employee_id), "employee")
        employees = [employee]
    else:
        employees = await uow.employees.active(portal.id)
    if department_id is not None:
        wanted = str(by_id[department_id].bitrix_id)
        employees = [e for e in employees if any(str(d) == wanted for d in e.department_ids or [])]
    employees.sort(key=lambda e: (e.name.casefold(), e.id))
    return employees, {d.bitrix_id: d.id for d in departments}, by_id


async def _portal(uow: UnitOfWork, ctx: ApiContext) -> Portal:
    portal = await uow.portals.get(ctx.portal_id)
    if portal is None:  # pragma: no cover - the token was verified against an active portal
        raise not_found("portal")
    return portal


async def _gather(
    uow: UnitOfWork,
    ctx: ApiContext,
    portal: Portal,
    employees: list[Employee],
    first: date,
    last: date,
    *,
    with_violations: bool,
) -> list[PersonPeriod]:
    calendar = await portal_calendar(
        uow,
        portal,
        country=ctx.container.gateway.bot.country,
        start=first - timedelta(days=1),
        end=last + timedelta(days=1),
    )
    return await gather_period(
        uow,
        portal,
        employees,
        first=first,
        last=last,
        now=ctx.now,
        calendar=calendar,
        with_violations=with_violations,
    )


From = Annotated[Day, Query(alias="from", description="First local date (YYYY-MM-DD).")]
To = Annotated[Day, Query(alias="to", description="Last local date, inclusive.")]


@router.get("/statistics/employees", response_model=Page[EmployeeStats], responses=READ_ERRORS)
async def employee_statistics(
    ctx: Annotated[ApiContext, Depends(require("reports:read"))],
    first: From,
    last: To,
    department_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    employee_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Page[EmployeeStats]:
    """Worked time, norm, lateness and absences of each active employee over the period
    (at most 366 days), by name. Scope `reports:read`."""
    _period(first, last, MAX_STAT_DAYS)
    async with ctx.container.database.unit_of_work() as uow:
        portal = await _portal(uow, ctx)
        employees, departments, _ = await _people(
            uow, portal, ctx, department_id=department_id, employee_id=employee_id
        )
        chosen = employees[offset : offset + limit]
        counted = _counts_violations(first, last)
        people = await _gather(uow, ctx, portal, chosen, first, last, with_violations=counted)
    items = [
        EmployeeStats(
            employee_id=p.employee_id,
            name=p.name,
            department_ids=[departments[d] for d in p.department_ids if d in departments],
            **_totals(p, with_violations=counted),
        )
        for p in people
    ]
    return Page[EmployeeStats].of(items, total=len(employees), limit=limit, offset=offset)


@router.get(
    "/statistics/employees/{employee_id}",
    response_model=EmployeeStatsDetail,
    responses=READ_ERRORS,
)
async def employee_statistics_detail(
    ctx: Annotated[ApiContext, Depends(require("reports:read"))],
    employee_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    first: From,
    last: To,
) -> EmployeeStatsDetail:
    """One employee's period day by day, with totals. Scope `reports:read`."""
    _period(first, last, MAX_STAT_DAYS)
    async with ctx.container.database.unit_of_work() as uow:
        portal = await _portal(uow, ctx)
        employees, departments, _ = await _people(
            uow, portal, ctx, department_id=None, employee_id=employee_id
        )
        counted = _counts_violations(first, last)
        (person,) = await _gather(uow, ctx, portal, employees, first, last, with_violations=counted)
    return EmployeeStatsDetail(
        employee_id=person.employee_id,
        name=person.name,
        department_ids=[departments[d] for d in person.department_ids if d in departments],
        days=[_day(d) for d in person.days],
        **_totals(person, with_violations=counted),
    )


@router.get("/statistics/departments", response_model=list[DepartmentStats], responses=READ_ERRORS)
async def department_statistics(
    ctx: Annotated[ApiContext, Depends(require("reports:read"))],
    first: From,
    last: To,
    department_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Only this department.")
    ] = None,
) -> list[DepartmentStats]:
    """Sums over each department's active members (direct members) for the period (at most
    366 days). Scope `reports:read`."""
    _period(first, last, MAX_STAT_DAYS)
    async with ctx.container.database.unit_of_work() as uow:
        portal = await _portal(uow, ctx)
        employees, _, by_id = await _people(
            uow, portal, ctx, department_id=department_id, employee_id=None
        )
        counted = _counts_violations(first, last)
        people = await _gather(uow, ctx, portal, employees, first, last, with_violations=counted)
        chosen = [by_id[department_id]] if department_id is not None else list(by_id.values())
        names = {d.bitrix_id: (d.id, d.name) for d in chosen}
    out: list[DepartmentStats] = []
    for bitrix_id, totals in department_totals(people, list(names), first=first, last=last).items():
        internal, name = names[bitrix_id]
        worked = _minutes(totals.worked) or 0
        to_date = _minutes(totals.norm_to_date) or 0
        out.append(
            DepartmentStats(
                department_id=internal,
                name=name,
                people=len(totals.people),
                worked_minutes=worked,
                norm_minutes=_minutes(totals.norm) or 0,
                norm_to_date_minutes=to_date,
                balance_minutes=worked - to_date,
                days_worked=totals.days_worked,
                late_days=totals.late_days,
                absent_days=totals.absent_days,
                violations=totals.violations if counted else None,
            )
        )
    return out


@router.get("/violations", response_model=Page[ViolationOut], responses=READ_ERRORS)
async def list_violations(
    ctx: Annotated[ApiContext, Depends(require("reports:read"))],
    first: From,
    last: To,
    department_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    employee_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    kind: Annotated[list[ViolationKindName] | None, Query(description="Only these kinds.")] = None,
    include_excused: Annotated[
        bool, Query(description="Also those an accepted explanation excuses.")
    ] = True,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Page[ViolationOut]:
    """Violations of the period (at most 93 days) by date and name: late starts, early
    leaves, short days, absences, location problems, forgotten check-outs, overtime. Scope
    `reports:read`."""
    _period(first, last, MAX_VIOLATION_DAYS)
    kinds = {ViolationKind(k) for k in kind or []}
    async with ctx.container.database.unit_of_work() as uow:
        portal = await _portal(uow, ctx)
        employees, _, _ = await _people(
            uow, portal, ctx, department_id=department_id, employee_id=employee_id
        )
        people = await _gather(uow, ctx, portal, employees, first, last, with_violations=True)
        lang = "en" if (portal.language or "").startswith("en") else "ru"
    found = [
        (p, v)
        for p in people
        for v in p.violations
        if (not kinds or v.kind in kinds) and (include_excused or not v.excused)
    ]
    found.sort(key=lambda pv: (pv[1].local_date, pv[0].name.casefold(), pv[0].employee_id))
    items = [
        ViolationOut(
            employee_id=p.employee_id,
            name=p.name,
            date=v.local_date,
            kind=v.kind.value,
            minutes=v.minutes,
            actual=v.actual,
            expected=v.expected,
            allowed=v.allowed,
            worked_minutes=_minutes(v.worked),
            required_minutes=_minutes(v.required),
            distance_m=v.distance_m,
            detail=v.detail,
            excused=v.excused,
            excused_by=v.excused_by,
            text=explain(v, lang),
        )
        for p, v in found[offset : offset + limit]
    ]
    return Page[ViolationOut].of(items, total=len(found), limit=limit, offset=offset)


MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@router.get(
    "/reports/timesheet",
    response_class=Response,
    responses={
        200: {
            "description": "The timesheet file (a download)",
            "content": {
                XLSX_MEDIA: {"schema": {"type": "string", "format": "binary"}},
                "text/csv": {"schema": {"type": "string", "format": "binary"}},
            },
        },
        **READ_ERRORS,
    },
)
async def timesheet(
    ctx: Annotated[ApiContext, Depends(require("reports:read"))],
    month: Annotated[
        str,
        Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", examples=["2026-11"], description="YYYY-MM"),
    ],
    file_format: Annotated[Literal["xlsx", "csv"], Query(alias="format")] = "xlsx",
    department_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="`departments.id`; default: all.")
    ] = None,
) -> Response:
    """The monthly timesheet with T-13 codes: XLSX (a sheet per department) or CSV for Excel
    (UTF-8 with BOM, `;`). Scope `reports:read`."""
    found = MONTH.fullmatch(month)
    assert found is not None  # the pattern above
    year, number = int(found.group(1)), int(found.group(2))
    if not 2000 <= year <= 2100:
        raise ApiProblem(400, "bad_month", "the year must lie between 2000 and 2100")
    async with ctx.container.database.unit_of_work() as uow:
        portal = await _portal(uow, ctx)
        bitrix_department: int | None = None
        if department_id is not None:
            department = await ApiRepository(uow.session).owned(
                Department, portal.id, department_id
            )
            if department is None:
                raise not_found("department")
            bitrix_department = department.bitrix_id
        first, last = month_bounds(year, number)
        calendar = await portal_calendar(
            uow, portal, country=ctx.container.gateway.bot.country, start=first, end=last
        )
        report = await gather_timesheet(
            uow,
            portal,
            year=year,
            month=number,
            calendar=calendar,
            now=ctx.now,
            department_id=bitrix_department,
        )
    data = await run_in_threadpool(render_timesheet, report, file_format)
    name = timesheet_filename(report, file_format)
    return Response(
        data,
        media_type=XLSX_MEDIA if file_format == "xlsx" else CSV_MEDIA,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )
