"""`/bitrix/app/reports`: a period (a month, or from/to) and a department → the statistics table,
a PNG chart, and the month's timesheet as XLSX or CSV.

A department means it and every department below it. Administrators may leave it empty (the
whole portal); heads see their own departments only (another department's id is a 404). The
timesheet is monthly (form T-13): for a from/to period the page offers each month it touches.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from timebot.bot.people import portal_calendar
from timebot.reports.timesheet import TimesheetFormat, render_timesheet, timesheet_filename
from timebot.services.api_reports import PeopleTotals
from timebot.services.timesheet import MonthTimesheet, gather_timesheet, month_bounds
from timebot.storage import UnitOfWork
from timebot.storage.tables import Portal
from timebot.web.admin.i18n import translate
from timebot.web.admin.ops.chart import render_period_chart
from timebot.web.admin.ops.common import (
    PREFIX,
    load_portal,
    not_found,
    parse_date,
    parse_int,
    portal_zone,
)
from timebot.web.admin.ops.scope import DepartmentInfo, Scope, load_scope, subtree
from timebot.web.admin.ops.stats import MAX_PERIOD_DAYS, period_stats
from timebot.web.admin.render import render
from timebot.web.admin.session import AdminSession, container_of, require_manager

__all__ = ["ReportQuery", "read_query", "router"]

router = APIRouter()
PATH = f"{PREFIX}/reports"
MEDIA = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


@dataclass(frozen=True, slots=True)
class ReportQuery:
    """The period and department asked for, or what is wrong with the request."""

    first: date
    last: date
    month: tuple[int, int] | None  # (year, month) when a whole month was asked for
    department: DepartmentInfo | None
    error: str | None = None  # an i18n key
    error_values: tuple[tuple[str, object], ...] = ()

    @property
    def months(self) -> list[tuple[int, int]]:
        """Every month the period touches (the timesheets on offer)."""
        out: list[tuple[int, int]] = []
        year, month = self.first.year, self.first.month
        while (year, month) <= (self.last.year, self.last.month):
            out.append((year, month))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return out

    def params(self) -> str:
        """The query string that asks for this report again."""
        if self.month is not None:
            parts = [f"month={self.month[0]:04d}-{self.month[1]:02d}"]
        else:
            parts = [f"from={self.first.isoformat()}", f"to={self.last.isoformat()}"]
        if self.department is not None:
            parts.append(f"department={self.department.id}")
        return "&".join(parts)


def _month(text: str) -> tuple[int, int] | None:
    parts = text.strip().split("-")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    year, month = int(parts[0]), int(parts[1])
    if not (2000 <= year <= 2100 and 1 <= month <= 12):
        return None
    return year, month


def read_query(
    params: dict[str, str], scope: Scope, today: date, session: AdminSession
) -> ReportQuery:
    """The report asked for by the query string (errors named, never raised, except a
    department out of view: 404)."""
    department: DepartmentInfo | None = None
    raw_department = params.get("department", "").strip()
    if raw_department:
        department_id = parse_int(raw_department)
        if department_id is None:
            return _default(today, error="ops.reports.error.department")
        department = scope.by_row_id(department_id)
        if department is None:
            raise not_found(session)
    raw_month = params.get("month", "").strip()
    raw_from, raw_to = params.get("from", "").strip(), params.get("to", "").strip()
    if raw_month and not (raw_from or raw_to):
        month = _month(raw_month)
        if month is None:
            return _default(today, department, error="ops.reports.error.month")
        first, last = month_bounds(*month)
        return ReportQuery(first, last, month, department)
    if raw_from or raw_to:
        first_or, last_or = parse_date(raw_from), parse_date(raw_to)
        if isinstance(first_or, ValueError) or first_or is None:
            return _default(today, department, error="ops.reports.error.from")
        if isinstance(last_or, ValueError) or last_or is None:
            return _default(today, department, error="ops.reports.error.to")
        if last_or < first_or:
            return _default(today, department, error="ops.reports.error.order")
        if (last_or - first_or).days + 1 > MAX_PERIOD_DAYS:
            return _default(
                today,
                department,
                error="ops.reports.error.too_long",
                values=(("days", MAX_PERIOD_DAYS),),
            )
        return ReportQuery(first_or, last_or, None, department)
    return _default(today, department)


def _default(
    today: date,
    department: DepartmentInfo | None = None,
    *,
    error: str | None = None,
    values: tuple[tuple[str, object], ...] = (),
) -> ReportQuery:
    first, last = month_bounds(today.year, today.month)
    return ReportQuery(first, last, (today.year, today.month), department, error, values)


def _wanted(scope: Scope, department: DepartmentInfo | None) -> frozenset[int] | None:
    """Bitrix ids of the departments a report covers; None: the whole portal."""
    if department is not None:
        return subtree([department.bitrix_id], scope.departments)
    return None if scope.everything else scope.bitrix_ids


async def _stats(
    uow: UnitOfWork,
    portal: Portal,
    scope: Scope,
    query: ReportQuery,
    *,
    country: str,
    now: datetime,
) -> PeopleTotals:
    calendar = await portal_calendar(
        uow,
        portal,
        country=country,
        start=query.first - timedelta(days=1),
        end=query.last + timedelta(days=1),
    )
    return await period_stats(
        uow,
        portal,
        first=query.first,
        last=query.last,
        departments=_wanted(scope, query.department),
        calendar=calendar,
        now=now,
    )


async def _request_query(
    request: Request, uow: UnitOfWork, session: AdminSession
) -> tuple[Portal, Scope, ReportQuery]:
    portal = await load_portal(uow, session)
    scope = await load_scope(uow, session)
    container = container_of(request)
    today = container.clock.now().astimezone(portal_zone(portal)).date()
    query = read_query(dict(request.query_params), scope, today, session)
    return portal, scope, query


@router.get(PATH, response_class=HTMLResponse)
async def reports_page(
    request: Request, session: AdminSession = Depends(require_manager)
) -> Response:
    """Statistics of a period with a chart and timesheet downloads."""
    container = container_of(request)
    async with container.database.unit_of_work() as uow:
        portal, scope, query = await _request_query(request, uow, session)
        stats = await _stats(
            uow,
            portal,
            scope,
            query,
            country=container.gateway.bot.country,
            now=container.clock.now(),
        )
    return render(
        request,
        session,
        "admin/ops_reports.html",
        active="reports",
        status_code=400 if query.error else 200,
        query=query,
        stats=stats,
        department_names=scope.names(),
        departments=scope.visible_departments,
        whole_portal=scope.everything,
        error_values=dict(query.error_values),
    )


@router.get(f"{PATH}/chart.png", response_class=Response)
async def reports_chart(
    request: Request, session: AdminSession = Depends(require_manager)
) -> Response:
    """The period's worked hours against the norm per person, as PNG."""
    container = container_of(request)
    async with container.database.unit_of_work() as uow:
        portal, scope, query = await _request_query(request, uow, session)
        stats = await _stats(
            uow,
            portal,
            scope,
            query,
            country=container.gateway.bot.country,
            now=container.clock.now(),
        )
    png = await run_in_threadpool(render_period_chart, stats, lang=session.language)
    return Response(
        png,
        media_type="image/png",
        status_code=400 if query.error else 200,
        headers={"Cache-Control": "private, no-store"},
    )


def _restricted(report: MonthTimesheet, wanted: frozenset[int]) -> MonthTimesheet:
    """The timesheet with only the sheets (and people) of the wanted departments."""
    sections = tuple(s for s in report.sections if s.department_id in wanted)
    people = {
        eid: p for eid, p in report.people.items() if any(d in wanted for d in p.department_ids)
    }
    return replace(report, sections=sections, people=people)


async def _timesheet(request: Request, session: AdminSession, fmt: TimesheetFormat) -> Response:
    container = container_of(request)
    now = container.clock.now()
    async with container.database.unit_of_work() as uow:
        portal, scope, query = await _request_query(request, uow, session)
        if query.error or query.month is None:
            key = query.error or "ops.reports.error.month_required"
            return Response(
                translate(session.language, key, **dict(query.error_values)),
                status_code=400,
                media_type="text/plain; charset=utf-8",
            )
        year, month = query.month
        first, last = month_bounds(year, month)
        calendar = await portal_calendar(
            uow, portal, country=container.gateway.bot.country, start=first, end=last
        )
        wanted = _wanted(scope, query.department)
        only = next(iter(wanted)) if wanted is not None and len(wanted) == 1 else None
        report = await gather_timesheet(
            uow, portal, year=year, month=month, calendar=calendar, now=now, department_id=only
        )
        if wanted is not None and only is None:
            report = _restricted(report, wanted)
        uow.audit.record(
            portal_id=portal.id,
            at=now,
            actor=session.actor,
            action="report.timesheet",
            entity="timesheet",
            entity_id=f"{year:04d}-{month:02d}",
            details={
                "format": fmt,
                "department_id": query.department.bitrix_id if query.department else None,
                "lines": report.lines,
            },
        )
        await uow.commit()
    body = await run_in_threadpool(render_timesheet, report, fmt)
    filename = timesheet_filename(report, fmt)
    return Response(
        body,
        media_type=MEDIA[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )


@router.get(f"{PATH}/timesheet.xlsx", response_class=Response)
async def reports_timesheet_xlsx(
    request: Request, session: AdminSession = Depends(require_manager)
) -> Response:
    """The month's timesheet (form T-13 codes) of the department, as XLSX."""
    return await _timesheet(request, session, "xlsx")


@router.get(f"{PATH}/timesheet.csv", response_class=Response)
async def reports_timesheet_csv(
    request: Request, session: AdminSession = Depends(require_manager)
) -> Response:
    """The month's timesheet of the department, as CSV for Excel (UTF-8 with BOM, `;`)."""
    return await _timesheet(request, session, "csv")
