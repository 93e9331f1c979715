"""Employees (`/bitrix/app/employees`, `/bitrix/app/employees/{id}`): the people synced from
Bitrix24, with search and a department filter; per person the schedule in force and personal
assignments, the offices they may check in at, remote days and the bot's language.

Administrators edit; heads see the people of their departments read-only; anyone else's id is
a 404. Administrators can also sync the directory from Bitrix24 now.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import select

from timebot.bitrix import BitrixError
from timebot.domain.schedules import Assignment, Scope, resolve_schedule
from timebot.gateway.auth import PortalNotConnected
from timebot.gateway.directory import DirectorySyncError, sync_directory
from timebot.logs import get_logger
from timebot.storage import UnitOfWork
from timebot.storage.tables import (
    Department,
    Employee,
    EmployeeOffice,
    Office,
    Schedule,
    ScheduleAssignment,
)
from timebot.web.admin.forms import Invalid, read_form
from timebot.web.admin.i18n import register
from timebot.web.admin.render import redirect, render
from timebot.web.admin.rows import audit, owned
from timebot.web.admin.schedules import add_assignment, assignment_fields
from timebot.web.admin.scope import bitrix_department_ids, employee_visible, managed_bitrix_ids
from timebot.web.admin.session import (
    AdminDenied,
    AdminSession,
    check_csrf,
    container_of,
    require_admin,
    require_manager,
)

log = get_logger(__name__)

router = APIRouter(prefix="/bitrix/app", tags=["admin"])

BASE: Final = "/bitrix/app/employees"
ISO_WEEKDAYS: Final = range(1, 8)
LANGUAGES: Final = ("", "ru", "en")

register(
    {
        "ru": {
            "employees.title": "Сотрудники",
            "employees.search": "Имя или e-mail",
            "employees.department": "Отдел",
            "employees.all_departments": "Все отделы",
            "employees.show_inactive": "Показывать уволенных",
            "employees.none": "Никого не нашлось.",
            "employees.sync": "Синхронизировать с Битрикс24",
            "employees.sync_failed": "Синхронизация не удалась: {detail}",
            "employees.synced_at": "Последняя синхронизация: {at}",
            "employees.col.name": "Сотрудник",
            "employees.col.departments": "Отделы",
            "employees.col.remote": "Удалённо",
            "employees.col.offices": "Офисы",
            "employees.col.language": "Язык",
            "employees.all_offices": "все",
            "employees.admin": "админ",
            "employees.dismissed": "уволен",
            "employees.remote_always": "всегда",
            "employees.person": "Сотрудник",
            "employees.email": "E-mail",
            "employees.timezone": "Часовой пояс",
            "employees.timezone_portal": "как у офиса или портала",
            "employees.bitrix_id": "ID в Битрикс24",
            "employees.settings": "Настройки",
            "employees.allowed_offices": "Где можно отмечаться",
            "employees.any_office": "В любом офисе портала",
            "employees.only_offices": "Только в отмеченных офисах:",
            "employees.no_offices": "Офисов ещё нет.",
            "employees.remote": "Удалённая работа",
            "employees.remote_always_label": "Всегда удалённо (геолокация не нужна)",
            "employees.remote_days": "Удалённые дни:",
            "employees.language": "Язык бота",
            "employees.language_auto": "Как в Битрикс24 / портале",
            "employees.schedule": "График",
            "employees.schedule_now": "Сейчас действует: {name}",
            "employees.schedule_default": "стандартный (пн–пт 09:00–18:00)",
            "employees.personal": "Личные назначения",
            "employees.assign": "Назначить график",
            "employees.no_schedules": "Сначала создайте график на странице «Графики».",
            "employees.read_only": "Просмотр: изменять могут администраторы портала.",
            "employees.unknown_office": "Нет такого офиса в этом портале.",
            "flash.sync_failed": "Синхронизация с Битрикс24 не удалась — попробуйте позже.",
        },
        "en": {
            "employees.title": "Employees",
            "employees.search": "Name or e-mail",
            "employees.department": "Department",
            "employees.all_departments": "All departments",
            "employees.show_inactive": "Show dismissed",
            "employees.none": "Nobody found.",
            "employees.sync": "Sync from Bitrix24",
            "employees.sync_failed": "The sync failed: {detail}",
            "employees.synced_at": "Last sync: {at}",
            "employees.col.name": "Employee",
            "employees.col.departments": "Departments",
            "employees.col.remote": "Remote",
            "employees.col.offices": "Offices",
            "employees.col.language": "Language",
            "employees.all_offices": "all",
            "employees.admin": "admin",
            "employees.dismissed": "dismissed",
            "employees.remote_always": "always",
            "employees.person": "Employee",
            "employees.email": "E-mail",
            "employees.timezone": "Time zone",
            "employees.timezone_portal": "the office's or the portal's",
            "employees.bitrix_id": "Bitrix24 ID",
            "employees.settings": "Settings",
            "employees.allowed_offices": "Where they may check in",
            "employees.any_office": "At any office of the portal",
            "employees.only_offices": "Only at the offices ticked:",
            "employees.no_offices": "No offices yet.",
            "employees.remote": "Remote work",
            "employees.remote_always_label": "Always remote (no location needed)",
            "employees.remote_days": "Remote days:",
            "employees.language": "Bot language",
            "employees.language_auto": "As in Bitrix24 / the portal",
            "employees.schedule": "Schedule",
            "employees.schedule_now": "In force now: {name}",
            "employees.schedule_default": "the standard one (Mon–Fri 09:00–18:00)",
            "employees.personal": "Personal assignments",
            "employees.assign": "Assign a schedule",
            "employees.no_schedules": "Create a schedule on the Schedules page first.",
            "employees.read_only": "Read only: portal administrators make changes.",
            "employees.unknown_office": "No such office in this portal.",
            "flash.sync_failed": "The sync with Bitrix24 failed; try again later.",
        },
    }
)


def _matches(employee: Employee, query: str) -> bool:
    if not query:
        return True
    text = f"{employee.name} {employee.email or ''}".casefold()
    return all(part in text for part in query.casefold().split())


async def _visible(uow: UnitOfWork, session: AdminSession, employee_id: int) -> Employee:
    """The employee if the session may see them, else a 404 page."""
    employee = await owned(uow, Employee, employee_id, session)
    managed = await managed_bitrix_ids(uow, session)
    if not employee_visible(employee, session, managed):
        raise AdminDenied(404, "denied.not_found", lang=session.language)
    return employee


@router.get("/employees", include_in_schema=False)
async def employees_page(
    request: Request, session: AdminSession = Depends(require_manager)
) -> Response:
    """The people of the portal (a head: of their departments), with search and filter."""
    container = container_of(request)
    query = request.query_params.get("q", "").strip()[:100]
    department_raw = request.query_params.get("department", "")
    department = int(department_raw) if department_raw.isdigit() else None
    show_inactive = request.query_params.get("inactive") == "1"
    async with container.database.unit_of_work() as uow:
        managed = await managed_bitrix_ids(uow, session)
        everyone = await uow.employees.all(session.portal_id)
        departments = await uow.departments.all(session.portal_id)
        portal = await uow.portals.get(session.portal_id)
        synced_at = ((portal.settings or {}) if portal else {}).get("directory_synced_at")
        links = await _office_links(uow, [e.id for e in everyone if not e.all_offices])
        office_names = await _office_names(uow, session.portal_id)
        uow.session.expunge_all()  # read-only: keep the rows readable after the block
    people = [
        e
        for e in everyone
        if employee_visible(e, session, managed)
        and (show_inactive or e.active)
        and _matches(e, query)
        and (department is None or department in bitrix_department_ids(e))
    ]
    people.sort(key=lambda e: (not e.active, e.name.casefold()))
    names = {d.bitrix_id: d.name for d in departments}
    visible_departments = [d for d in departments if managed is None or d.bitrix_id in managed]
    return render(
        request,
        session,
        "admin/employees.html",
        active="employees",
        people=people,
        department_names=names,
        departments=visible_departments,
        query=query,
        department=department,
        show_inactive=show_inactive,
        synced_at=synced_at,
        links=links,
        office_names=office_names,
    )


async def _office_links(uow: UnitOfWork, employee_ids: list[int]) -> dict[int, list[int]]:
    if not employee_ids:
        return {}
    rows = await uow.session.execute(
        select(EmployeeOffice.employee_id, EmployeeOffice.office_id).where(
            EmployeeOffice.employee_id.in_(employee_ids)
        )
    )
    found: dict[int, list[int]] = {}
    for employee_id, office_id in rows:
        found.setdefault(int(employee_id), []).append(int(office_id))
    return found


async def _office_names(uow: UnitOfWork, portal_id: int) -> dict[int, str]:
    rows = await uow.session.execute(
        select(Office.id, Office.name).where(Office.portal_id == portal_id)
    )
    return {int(i): str(n) for i, n in rows}


@router.post("/employees/sync", include_in_schema=False)
async def sync_employees(
    request: Request,
    session: AdminSession = Depends(check_csrf),
    _: AdminSession = Depends(require_admin),
) -> Response:
    """Load people and departments from Bitrix24 now."""
    container = container_of(request)
    try:
        result = await sync_directory(
            container.database, container.bitrix, session.portal_id, clock=container.clock
        )
    except (BitrixError, PortalNotConnected, DirectorySyncError) as exc:
        log.warning("admin.sync_failed", portal_id=session.portal_id, error=str(exc))
        return redirect(BASE, flash="flash.sync_failed")
    async with container.database.unit_of_work() as uow:
        audit(
            uow,
            session,
            container.clock.now(),
            "directory.sync_requested",
            "portal",
            session.portal_id,
            result.counts(),
        )
        await uow.commit()
    return redirect(BASE, flash="flash.synced")


async def _schedule_in_force(
    uow: UnitOfWork, employee: Employee, on: date
) -> tuple[Schedule | None, list[tuple[ScheduleAssignment, Schedule]]]:
    """The schedule in force for the person today (None: the default) and their own
    assignments."""
    rows = await uow.plans.assignments(employee.portal_id)
    assignments = [
        Assignment(Scope(a.scope), a.valid_from, s, target=a.target_id)
        for a, s in rows
        if a.scope in ("portal", "department", "employee")
        and (a.scope == "portal" or a.target_id is not None)
    ]
    chosen = resolve_schedule(assignments, employee.id, list(bitrix_department_ids(employee)), on)
    personal_rows = await uow.session.execute(
        select(ScheduleAssignment, Schedule)
        .join(Schedule, Schedule.id == ScheduleAssignment.schedule_id)
        .where(
            ScheduleAssignment.portal_id == employee.portal_id,
            ScheduleAssignment.scope == "employee",
            ScheduleAssignment.target_id == employee.id,
        )
        .order_by(ScheduleAssignment.valid_from.desc(), ScheduleAssignment.id.desc())
    )
    return (chosen.schedule if chosen else None), [(a, s) for a, s in personal_rows.all()]


async def _person_page(
    request: Request,
    session: AdminSession,
    employee_id: int,
    *,
    errors: dict[str, str] | None = None,
    assign_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    container = container_of(request)
    today = container.clock.now().date()
    async with container.database.unit_of_work() as uow:
        employee = await _visible(uow, session, employee_id)
        offices = list(
            await uow.session.scalars(
                select(Office)
                .where(Office.portal_id == session.portal_id)
                .order_by(Office.active.desc(), Office.name, Office.id)
            )
        )
        allowed = set((await _office_links(uow, [employee.id])).get(employee.id, []))
        in_force, personal = await _schedule_in_force(uow, employee, today)
        schedules = list(
            await uow.session.scalars(
                select(Schedule)
                .where(Schedule.portal_id == session.portal_id, Schedule.active.is_(True))
                .order_by(Schedule.name, Schedule.id)
            )
        )
        departments = list(
            await uow.session.scalars(
                select(Department).where(Department.portal_id == session.portal_id)
            )
        )
        uow.session.expunge_all()
    names = {d.bitrix_id: d.name for d in departments}
    return render(
        request,
        session,
        "admin/employee.html",
        active="employees",
        status_code=status_code,
        person=employee,
        department_names=[names.get(d, f"#{d}") for d in sorted(bitrix_department_ids(employee))],
        offices=offices,
        allowed=allowed,
        remote_days={int(d) for d in employee.remote_weekdays or [] if str(d).isdigit()},
        in_force=in_force,
        personal=personal,
        schedules=schedules,
        schedule_options=[(s.id, s.name) for s in schedules],
        can_edit=session.is_admin,
        errors=errors or {},
        assign_errors=assign_errors or {},
        today=today.isoformat(),
        iso_weekdays=list(ISO_WEEKDAYS),
    )


@router.get("/employees/{employee_id}", include_in_schema=False)
async def employee_page(
    employee_id: int, request: Request, session: AdminSession = Depends(require_manager)
) -> Response:
    """One person: schedule, offices, remote days, language (heads: read only)."""
    return await _person_page(request, session, employee_id)


@router.post("/employees/{employee_id}", include_in_schema=False)
async def update_employee(
    employee_id: int,
    request: Request,
    session: AdminSession = Depends(check_csrf),
    _: AdminSession = Depends(require_admin),
) -> Response:
    """Change where a person may check in, their remote days and the bot's language."""
    form = await read_form(request, session)
    all_offices = form.raw("offices_mode") != "only"
    office_ids = [int(x) for x in form.many("office") if x.isdigit()]
    remote_always = form.flag("remote_always")
    remote_days = sorted(
        {int(d) for d in form.many("remote_day") if d in {"1", "2", "3", "4", "5", "6", "7"}}
    )
    language = form.choice("language", LANGUAGES)
    container = container_of(request)
    now = container.clock.now()
    try:
        async with container.database.unit_of_work() as uow:
            employee = await _visible(uow, session, employee_id)
            valid_offices = set(
                await uow.session.scalars(
                    select(Office.id).where(
                        Office.portal_id == session.portal_id, Office.id.in_(office_ids or [0])
                    )
                )
            )
            if set(office_ids) - valid_offices:
                form.error("office", "employees.unknown_office")
            form.raise_if_invalid()
            before: dict[str, Any] = {
                "all_offices": employee.all_offices,
                "offices": sorted((await _office_links(uow, [employee.id])).get(employee.id, [])),
                "remote_always": employee.remote_always,
                "remote_weekdays": list(employee.remote_weekdays or []),
                "language": employee.language,
            }
            employee.all_offices = all_offices
            employee.remote_always = remote_always
            employee.remote_weekdays = remote_days
            employee.language = language or None
            current = set(before["offices"])
            wanted = set(office_ids) if not all_offices else current
            for office_id in wanted - current:
                uow.session.add(EmployeeOffice(employee_id=employee.id, office_id=office_id))
            for office_id in current - wanted:
                link = await uow.session.get(EmployeeOffice, (employee.id, office_id))
                if link is not None:
                    await uow.session.delete(link)
            after: dict[str, Any] = {
                "all_offices": all_offices,
                "offices": sorted(wanted),
                "remote_always": remote_always,
                "remote_weekdays": remote_days,
                "language": language or None,
            }
            changed = {k: v for k, v in after.items() if before[k] != v}
            if changed:
                audit(
                    uow,
                    session,
                    now,
                    "employee.updated",
                    "employee",
                    employee.id,
                    {"changed": changed},
                )
            await uow.commit()
    except Invalid:
        return await _person_page(
            request, session, employee_id, errors=form.errors, status_code=400
        )
    return redirect(f"{BASE}/{employee_id}", flash="flash.saved")


@router.post("/employees/{employee_id}/schedule", include_in_schema=False)
async def assign_to_employee(
    employee_id: int,
    request: Request,
    session: AdminSession = Depends(check_csrf),
    _: AdminSession = Depends(require_admin),
) -> Response:
    """Give the person a schedule of their own from a date on."""
    form = await read_form(request, session)
    container = container_of(request)
    now = container.clock.now()
    try:
        async with container.database.unit_of_work() as uow:
            employee = await _visible(uow, session, employee_id)
            fields = await assignment_fields(uow, form, session, scope="employee")
            fields["target_id"] = employee.id
            form.errors.pop("employee_id", None)
            form.raise_if_invalid()
            await add_assignment(uow, session, fields, now)
            await uow.commit()
    except Invalid:
        return await _person_page(
            request, session, employee_id, assign_errors=form.errors, status_code=400
        )
    return redirect(f"{BASE}/{employee_id}", flash="flash.created")
