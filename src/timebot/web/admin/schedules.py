"""Schedules and who they apply to (administrators): `/bitrix/app/schedules`.

A schedule is fixed (hours per weekday), flexible (a minimum per day, optional core hours) or
shifts (the roster lives in the `shifts` table); its rules are stored as the JSON
`services.plans` reads, and checked with `parse_definition` before anything is written. An
assignment applies a schedule to the whole portal, a department or a person from a date on;
the most specific one wins.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import select

from timebot.services.plans import DEFAULT_DEFINITION, parse_definition
from timebot.storage import UnitOfWork
from timebot.storage.tables import Department, Employee, Schedule, ScheduleAssignment
from timebot.web.admin import roster
from timebot.web.admin.forms import Form, Invalid, read_form
from timebot.web.admin.i18n import register
from timebot.web.admin.render import redirect, render, translator
from timebot.web.admin.rows import apply, audit, owned
from timebot.web.admin.session import (
    AdminSession,
    check_csrf,
    container_of,
    require_admin,
)

router = APIRouter(prefix="/bitrix/app", tags=["admin"])
# Rosters of shift schedules: /bitrix/app/schedules/{id}/roster...
router.include_router(roster.router)

BASE: Final = "/bitrix/app/schedules"
KINDS: Final = ("fixed", "flexible", "shift")
SCOPES: Final = ("portal", "department", "employee")
WEEKDAYS: Final = range(7)

register(
    {
        "ru": {
            "schedules.title": "Графики",
            "schedules.none": (
                "Графиков пока нет: всем действует стандартный — пн–пт 09:00–18:00, "
                "час перерыва, по производственному календарю."
            ),
            "schedules.add": "Новый график",
            "schedules.edit": "График",
            "schedules.name": "Название",
            "schedules.kind": "Вид",
            "schedules.kind.fixed": "Фиксированный",
            "schedules.kind.flexible": "Гибкий",
            "schedules.kind.shift": "Сменный",
            "schedules.timezone": "Часовой пояс (пусто — у каждого свой)",
            "schedules.late": "Допуск опоздания, мин",
            "schedules.early": "Допуск раннего ухода, мин",
            "schedules.week_hours": "Часов в неделю (норма)",
            "schedules.follow_calendar": "По производственному календарю (праздники, переносы)",
            "schedules.day": "День",
            "schedules.works": "Рабочий",
            "schedules.start": "Начало",
            "schedules.end": "Конец",
            "schedules.break": "Перерыв, мин",
            "schedules.minimum_hours": "Минимум часов в день",
            "schedules.core_start": "Присутственные часы с",
            "schedules.core_end": "по",
            "schedules.workdays": "Рабочие дни",
            "schedules.shift_break": "Перерыв в смене, мин",
            "schedules.shift_hint": (
                "Смены сотрудникам расставляются в расписании смен графика (ссылка появится "
                "после сохранения)."
            ),
            "schedules.roster": "Расписание смен",
            "schedules.active": "График действует",
            "schedules.summary": "Правила",
            "schedules.inactive": "не действует",
            "schedules.assignments": "Назначения",
            "schedules.assign": "Назначить график",
            "schedules.no_assignments": "Назначений нет.",
            "schedules.scope": "Кому",
            "schedules.scope.portal": "Всему порталу",
            "schedules.scope.department": "Отделу",
            "schedules.scope.employee": "Сотруднику",
            "schedules.department": "Отдел",
            "schedules.employee": "Сотрудник",
            "schedules.valid_from": "Действует с",
            "schedules.remove": "Снять",
            "schedules.schedule": "График",
            "schedules.bad_definition": "График не складывается: {detail}",
            "schedules.break_too_long": "Перерыв не может быть длиннее рабочего дня.",
            "schedules.same_time": "Начало и конец совпадают.",
            "schedules.no_workday": "Нужен хотя бы один рабочий день.",
            "schedules.core_both": "Укажите оба конца присутственных часов (или ни одного).",
            "schedules.unknown_target": "Нет такого получателя в этом портале.",
            "schedules.unknown_schedule": "Нет такого графика в этом портале.",
            "weekday.0": "Пн",
            "weekday.1": "Вт",
            "weekday.2": "Ср",
            "weekday.3": "Чт",
            "weekday.4": "Пт",
            "weekday.5": "Сб",
            "weekday.6": "Вс",
            "common.edit": "Изменить",
        },
        "en": {
            "schedules.title": "Schedules",
            "schedules.none": (
                "No schedules yet: everyone works the standard week, Mon–Fri 09:00–18:00 with "
                "an hour's break, following the production calendar."
            ),
            "schedules.add": "New schedule",
            "schedules.edit": "Schedule",
            "schedules.name": "Name",
            "schedules.kind": "Kind",
            "schedules.kind.fixed": "Fixed",
            "schedules.kind.flexible": "Flexible",
            "schedules.kind.shift": "Shifts",
            "schedules.timezone": "Time zone (empty: each person's own)",
            "schedules.late": "Late start tolerance, min",
            "schedules.early": "Early leave tolerance, min",
            "schedules.week_hours": "Hours per week (norm)",
            "schedules.follow_calendar": "Follow the production calendar (holidays, transfers)",
            "schedules.day": "Day",
            "schedules.works": "Working",
            "schedules.start": "Start",
            "schedules.end": "End",
            "schedules.break": "Break, min",
            "schedules.minimum_hours": "Minimum hours a day",
            "schedules.core_start": "Core hours from",
            "schedules.core_end": "to",
            "schedules.workdays": "Working days",
            "schedules.shift_break": "Break per shift, min",
            "schedules.shift_hint": (
                "People's shifts are planned in the schedule's roster (linked once the schedule "
                "is saved)."
            ),
            "schedules.roster": "Roster",
            "schedules.active": "The schedule is in use",
            "schedules.summary": "Rules",
            "schedules.inactive": "not in use",
            "schedules.assignments": "Assignments",
            "schedules.assign": "Assign a schedule",
            "schedules.no_assignments": "No assignments.",
            "schedules.scope": "To",
            "schedules.scope.portal": "The whole portal",
            "schedules.scope.department": "A department",
            "schedules.scope.employee": "A person",
            "schedules.department": "Department",
            "schedules.employee": "Employee",
            "schedules.valid_from": "From",
            "schedules.remove": "Remove",
            "schedules.schedule": "Schedule",
            "schedules.bad_definition": "The schedule does not add up: {detail}",
            "schedules.break_too_long": "A break cannot be longer than the working day.",
            "schedules.same_time": "Start and end are the same.",
            "schedules.no_workday": "At least one working day is needed.",
            "schedules.core_both": "Give both ends of the core hours (or neither).",
            "schedules.unknown_target": "No such recipient in this portal.",
            "schedules.unknown_schedule": "No such schedule in this portal.",
            "weekday.0": "Mon",
            "weekday.1": "Tue",
            "weekday.2": "Wed",
            "weekday.3": "Thu",
            "weekday.4": "Fri",
            "weekday.5": "Sat",
            "weekday.6": "Sun",
            "common.edit": "Edit",
        },
    }
)


def _minutes(start: time, end: time) -> int:
    span = (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)
    return span if span > 0 else span + 24 * 60


def _fixed_week(form: Form) -> list[dict[str, Any] | None]:
    week: list[dict[str, Any] | None] = []
    for d in WEEKDAYS:
        if not form.flag(f"day{d}_on"):
            week.append(None)
            continue
        start = form.clock(f"day{d}_start")
        end = form.clock(f"day{d}_end")
        pause = form.integer(f"day{d}_break", minimum=0, maximum=600, required=False) or 0
        if start is None or end is None:
            week.append(None)
            continue
        if start == end:
            form.error(f"day{d}_end", "schedules.same_time")
        elif pause >= _minutes(start, end):
            form.error(f"day{d}_break", "schedules.break_too_long")
        week.append(
            {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M"), "break": pause}
        )
    if not any(week):
        form.error("day0_on", "schedules.no_workday")
    return week


def definition_from(form: Form, kind: str) -> dict[str, Any]:
    """The stored JSON definition for `kind` from the form (errors recorded in `form`)."""
    if kind == "fixed":
        return {
            "week": _fixed_week(form),
            "week_hours": form.number("week_hours", minimum=1, maximum=168) or 40,
            "follow_calendar": form.flag("follow_calendar"),
        }
    if kind == "flexible":
        core_start = form.clock("core_start", required=False)
        core_end = form.clock("core_end", required=False)
        if (core_start is None) != (core_end is None):
            form.error("core_end", "schedules.core_both")
        workdays = sorted({int(d) for d in form.many("workday") if d in {str(x) for x in WEEKDAYS}})
        if not workdays:
            form.error("workday", "schedules.no_workday")
        definition: dict[str, Any] = {
            "minimum_hours": form.number("minimum_hours", minimum=0.25, maximum=24) or 8,
            "workdays": workdays,
            "week_hours": form.number("week_hours", minimum=1, maximum=168) or 40,
            "follow_calendar": form.flag("follow_calendar"),
        }
        if core_start is not None and core_end is not None:
            definition["core_start"] = core_start.strftime("%H:%M")
            definition["core_end"] = core_end.strftime("%H:%M")
        return definition
    if kind == "shift":
        return {"break": form.integer("shift_break", minimum=0, maximum=600, required=False) or 0}
    return {}


def schedule_fields(form: Form) -> dict[str, Any]:
    """Validated columns of a schedule (errors recorded in `form`)."""
    name = form.text("name", required=True, max_length=255)
    kind = form.choice("kind", KINDS)
    definition = definition_from(form, kind)
    late = form.integer("late_tolerance_min", minimum=0, maximum=240, required=False) or 0
    early = form.integer("early_tolerance_min", minimum=0, maximum=240, required=False) or 0
    timezone = form.timezone("timezone")
    if not form.errors:
        try:
            parse_definition(kind, definition, late=late, early=early)
        except (ValueError, TypeError) as exc:
            form.error("kind", "schedules.bad_definition", detail=str(exc))
    return {
        "name": name,
        "kind": kind,
        "definition": definition,
        "late_tolerance_min": late,
        "early_tolerance_min": early,
        "timezone": timezone,
    }


def form_values(schedule: Schedule | None) -> dict[str, Any]:
    """Form values (strings, and `workday` as a list) for a new or an existing schedule."""
    if schedule is None:
        kind, definition = "fixed", dict(DEFAULT_DEFINITION)
        values: dict[str, Any] = {
            "name": "",
            "late_tolerance_min": "10",
            "early_tolerance_min": "10",
            "timezone": "",
            "active": "1",
        }
    else:
        kind, definition = schedule.kind, dict(schedule.definition or {})
        values = {
            "name": schedule.name,
            "late_tolerance_min": str(schedule.late_tolerance_min),
            "early_tolerance_min": str(schedule.early_tolerance_min),
            "timezone": schedule.timezone or "",
            "active": "1" if schedule.active else "",
        }
    values["kind"] = kind
    values["week_hours"] = f"{definition.get('week_hours', 40):g}"
    values["follow_calendar"] = "1" if definition.get("follow_calendar", True) else ""
    week = definition.get("week") if kind == "fixed" else DEFAULT_DEFINITION["week"]
    for d in WEEKDAYS:
        day = week[d] if isinstance(week, list) and len(week) == 7 else None
        values[f"day{d}_on"] = "1" if day else ""
        values[f"day{d}_start"] = (day or {}).get("start", "09:00")
        values[f"day{d}_end"] = (day or {}).get("end", "18:00")
        values[f"day{d}_break"] = str((day or {}).get("break", 60))
    values["minimum_hours"] = f"{definition.get('minimum_hours', 8):g}"
    values["core_start"] = definition.get("core_start", "") or ""
    values["core_end"] = definition.get("core_end", "") or ""
    values["workday"] = [str(d) for d in definition.get("workdays", range(5))]
    values["shift_break"] = str(definition.get("break", 30)) if kind == "shift" else "30"
    return values


def posted_values(form: Form) -> dict[str, Any]:
    values: dict[str, Any] = dict(form.values)
    values["workday"] = form.many("workday")
    return values


def summary(schedule: Schedule, t: Any) -> str:
    """A one-line description of a schedule's rules."""
    definition = schedule.definition or {}
    if schedule.kind == "fixed":
        week = definition.get("week") or []
        parts = []
        for d, day in enumerate(week):
            if day:
                parts.append(f"{t(f'weekday.{d}')} {day.get('start')}–{day.get('end')}")
        return ", ".join(parts)
    if schedule.kind == "flexible":
        days = " ".join(t(f"weekday.{d}") for d in definition.get("workdays", []))
        core = ""
        if definition.get("core_start"):
            core = f", {definition['core_start']}–{definition['core_end']}"
        return f"{definition.get('minimum_hours', 8):g} h · {days}{core}"
    return f"{t('schedules.shift_break')}: {definition.get('break', 0)}"


async def _targets(uow: UnitOfWork, portal_id: int) -> tuple[list[Department], list[Employee]]:
    departments = await uow.departments.all(portal_id)
    employees = await uow.employees.active(portal_id)
    return departments, sorted(employees, key=lambda e: e.name.casefold())


async def _page(
    request: Request,
    session: AdminSession,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    assign_errors: dict[str, str] | None = None,
    assign_values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    container = container_of(request)
    today = container.clock.now().date().isoformat()
    async with container.database.unit_of_work() as uow:
        schedules = list(
            await uow.session.scalars(
                select(Schedule)
                .where(Schedule.portal_id == session.portal_id)
                .order_by(Schedule.active.desc(), Schedule.name, Schedule.id)
            )
        )
        rows = await uow.session.execute(
            select(ScheduleAssignment, Schedule)
            .join(Schedule, Schedule.id == ScheduleAssignment.schedule_id)
            .where(ScheduleAssignment.portal_id == session.portal_id)
            .order_by(ScheduleAssignment.valid_from.desc(), ScheduleAssignment.id.desc())
        )
        assignments = [(a, s) for a, s in rows.all()]
        departments, employees = await _targets(uow, session.portal_id)
        uow.session.expunge_all()  # read-only: keep the rows readable after the block
    t = translator(session.language)
    return render(
        request,
        session,
        "admin/schedules.html",
        active="schedules",
        status_code=status_code,
        schedules=schedules,
        summaries={s.id: summary(s, t) for s in schedules},
        assignments=assignments,
        departments={d.bitrix_id: d.name for d in departments},
        employees=employees,
        employee_names={e.id: e.name for e in employees},
        errors=errors or {},
        values=values or form_values(None),
        assign_errors=assign_errors or {},
        assign_values=assign_values or {"scope": "portal", "valid_from": today},
        kinds=KINDS,
        weekdays=list(WEEKDAYS),
        schedule_options=[(s.id, s.name) for s in schedules if s.active],
        department_options=[("", "—"), *((d.bitrix_id, d.name) for d in departments)],
        employee_options=[("", "—"), *((e.id, e.name) for e in employees)],
    )


@router.get("/schedules", include_in_schema=False)
async def schedules_page(
    request: Request, session: AdminSession = Depends(require_admin)
) -> Response:
    """Schedules, their assignments, and forms to add both."""
    return await _page(request, session)


@router.post("/schedules", include_in_schema=False)
async def add_schedule(
    request: Request,
    session: AdminSession = Depends(check_csrf),
    _: AdminSession = Depends(require_admin),
) -> Response:
    """Add a schedule."""
    form = await read_form(request, session)
    fields = schedule_fields(form)
    if form.errors:
        return await _page(
            request, session, errors=form.errors, values=posted_values(form), status_code=400
        )
    container = container_of(request)
    now = container.clock.now()
    async with container.database.unit_of_work() as uow:
        schedule = Schedule(portal_id=session.portal_id, created_at=now, active=True, **fields)
        uow.session.add(schedule)
        await uow.flush()
        audit(uow, session, now, "schedule.created", "schedule", schedule.id, fields)
        await uow.commit()
    return redirect(BASE, flash="flash.created")


async def assignment_fields(
    uow: UnitOfWork, form: Form, session: AdminSession, *, scope: str | None = None
) -> dict[str, Any]:
    """Validated assignment columns; the schedule and the target must be the portal's own."""
    schedule_id = form.integer("schedule_id", minimum=1, maximum=2**62)
    if scope is None:
        scope = form.choice("scope", SCOPES)
    valid_from = form.day("valid_from")
    target: int | None = None
    if schedule_id is not None:
        schedule = await uow.session.get(Schedule, schedule_id)
        if schedule is None or schedule.portal_id != session.portal_id:
            form.error("schedule_id", "schedules.unknown_schedule")
    if scope == "department":
        target = form.integer("department", minimum=0, maximum=2**31)
        if (
            target is not None
            and await uow.departments.by_bitrix_id(session.portal_id, target) is None
        ):
            form.error("department", "schedules.unknown_target")
    elif scope == "employee":
        target = form.integer("employee_id", minimum=1, maximum=2**62)
        employee = await uow.employees.get(target) if target is not None else None
        if target is not None and (employee is None or employee.portal_id != session.portal_id):
            form.error("employee_id", "schedules.unknown_target")
    return {
        "schedule_id": schedule_id,
        "scope": scope,
        "target_id": target,
        "valid_from": valid_from,
    }


async def add_assignment(
    uow: UnitOfWork, session: AdminSession, fields: dict[str, Any], now: datetime
) -> ScheduleAssignment:
    """Store an assignment with its audit entry (in the caller's transaction)."""
    assignment = ScheduleAssignment(portal_id=session.portal_id, created_at=now, **fields)
    uow.session.add(assignment)
    await uow.flush()
    details = {**fields, "valid_from": fields["valid_from"].isoformat()}
    audit(uow, session, now, "schedule.assigned", "schedule_assignment", assignment.id, details)
    return assignment


@router.post("/schedules/assignments", include_in_schema=False)
async def assign(
    request: Request,
    session: AdminSession = Depends(check_csrf),
    _: AdminSession = Depends(require_admin),
) -> Response:
    """Apply a schedule to the portal, a department or a person from a date on."""
    form = await read_form(request, session)
    container = container_of(request)
    now = container.clock.now()
    try:
        async with container.database.unit_of_work() as uow:
            fields = await assignment_fields(uow, form, session)
            form.raise_if_invalid()
            await add_assignment(uow, session, fields, now)
            await uow.commit()
    except Invalid:
        return await _page(
            request,
            session,
            assign_errors=form.errors,
            assign_values=form.values,
            status_code=400,
        )
    return redirect(BASE, flash="flash.created")


@router.post("/schedules/assignments/{assignment_id}/delete", include_in_schema=False)
async def unassign(
    assignment_id: int,
    request: Request,
    session: AdminSession = Depends(check_csrf),
    _: AdminSession = Depends(require_admin),
) -> Response:
    """Remove an assignment (the schedule itself stays)."""
    container = container_of(request)
    now = container.clock.now()
    async with container.database.unit_of_work() as uow:
        assignment = await owned(uow, ScheduleAssignment, assignment_id, session)
        details = {
            "schedule_id": assignment.schedule_id,
            "scope": assignment.scope,
            "target_id": assignment.target_id,
            "valid_from": assignment.valid_from.isoformat(),
        }
        await uow.session.delete(assignment)
        audit(
            uow, session, now, "schedule.unassigned", "schedule_assignment", assignment_id, details
        )
        await uow.commit()
    back = request.query_params.get("back", "")
    target = back if back.startswith("/bitrix/app/employees/") and back[22:].isdigit() else BASE
    return redirect(target, flash="flash.deleted")


async def _edit_page(
    request: Request,
    session: AdminSession,
    schedule_id: int,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    container = container_of(request)
    async with container.database.unit_of_work() as uow:
        schedule = await owned(uow, Schedule, schedule_id, session)
        uow.session.expunge_all()
    return render(
        request,
        session,
        "admin/schedule.html",
        active="schedules",
        status_code=status_code,
        schedule=schedule,
        errors=errors or {},
        values=values or form_values(schedule),
        kinds=KINDS,
        weekdays=list(WEEKDAYS),
    )


@router.get("/schedules/{schedule_id}", include_in_schema=False)
async def schedule_page(
    schedule_id: int, request: Request, session: AdminSession = Depends(require_admin)
) -> Response:
    """One schedule's rules, to change them."""
    return await _edit_page(request, session, schedule_id)


@router.post("/schedules/{schedule_id}", include_in_schema=False)
async def update_schedule(
    schedule_id: int,
    request: Request,
    session: AdminSession = Depends(check_csrf),
    _: AdminSession = Depends(require_admin),
) -> Response:
    """Change a schedule (or take it out of use)."""
    form = await read_form(request, session)
    fields = schedule_fields(form)
    fields["active"] = form.flag("active")
    container = container_of(request)
    now = container.clock.now()
    try:
        async with container.database.unit_of_work() as uow:
            schedule = await owned(uow, Schedule, schedule_id, session)
            form.raise_if_invalid()
            changed = apply(schedule, fields)
            audit(
                uow,
                session,
                now,
                "schedule.updated",
                "schedule",
                schedule.id,
                {"changed": changed},
            )
            await uow.commit()
    except Invalid:
        return await _edit_page(
            request,
            session,
            schedule_id,
            errors=form.errors,
            values=posted_values(form),
            status_code=400,
        )
    return redirect(f"{BASE}/{schedule_id}", flash="flash.saved")
