"""`/api/v1/employees` and `/api/v1/departments`: the people mirrored from Bitrix24, and what
the portal sets for them here (language, zone, schedule, offices, remote days)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from timebot.storage.repositories.api import ApiRepository
from timebot.storage.tables import Department, Employee, Schedule, ScheduleAssignment
from timebot.web.api.common import (
    MAX_ID,
    READ_ERRORS,
    WRITE_ERRORS,
    ApiContext,
    ApiModel,
    ApiProblem,
    ApiRoute,
    Day,
    Page,
    Text,
    TimeZoneName,
    audit,
    found,
    require,
)

router = APIRouter(tags=["employees"], route_class=ApiRoute)


class AssignmentOut(BaseModel):
    """A schedule applied from `valid_from` on to the portal, a department or an employee."""

    id: int
    schedule_id: int
    scope: Literal["portal", "department", "employee"]
    employee_id: int | None = Field(description="For scope `employee`.")
    department_id: int | None = Field(description="For scope `department` (`departments.id`).")
    valid_from: date


def assignment_out(
    row: ScheduleAssignment, departments_by_bitrix: Mapping[int, int]
) -> AssignmentOut:
    scope = row.scope if row.scope in ("portal", "department", "employee") else "portal"
    target = row.target_id
    return AssignmentOut(
        id=row.id,
        schedule_id=row.schedule_id,
        scope=scope,
        employee_id=target if scope == "employee" else None,
        department_id=departments_by_bitrix.get(target)
        if scope == "department" and target is not None
        else None,
        valid_from=row.valid_from,
    )


class EmployeeOut(BaseModel):
    id: int = Field(description="`employees.id`: the id every other endpoint uses.")
    bitrix_user_id: int
    name: str
    first_name: str
    last_name: str
    email: str | None
    active: bool
    is_admin: bool
    timezone: str | None = Field(description="Own zone; null: the office's, else the portal's.")
    language: str | None
    department_ids: list[int] = Field(description="`departments.id` of the person's departments.")
    all_offices: bool = Field(description="May check in at any office (else `office_ids`).")
    office_ids: list[int]
    remote_always: bool
    remote_weekdays: list[int] = Field(description="ISO weekdays (1 = Monday) worked remotely.")
    consented: bool = Field(description="Agreed to location processing.")


class EmployeeDetail(EmployeeOut):
    schedule_assignments: list[AssignmentOut] = Field(
        description="Schedules assigned to this person (department and portal ones apply too)."
    )


class DepartmentOut(BaseModel):
    id: int = Field(description="`departments.id`: the id filters use.")
    bitrix_id: int
    name: str
    parent_id: int | None = Field(description="`departments.id` of the parent department.")
    head_user_id: int | None = Field(description="Bitrix24 user id of the head.")


class ScheduleChoice(ApiModel):
    schedule_id: int = Field(ge=1, le=MAX_ID)
    valid_from: Day


class EmployeePatch(ApiModel):
    """Only the fields sent are changed; `null` clears `timezone` and `language`."""

    language: Literal["ru", "en"] | None = None
    timezone: TimeZoneName | None = None
    all_offices: bool | None = None
    office_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None = Field(
        default=None,
        max_length=200,
        description="The offices the person may check in at; sending it without "
        "`all_offices` sets `all_offices` to false.",
    )
    remote_always: bool | None = None
    remote_weekdays: list[Annotated[int, Field(ge=1, le=7)]] | None = Field(
        default=None, max_length=7
    )
    schedule: ScheduleChoice | None = Field(
        default=None, description="Assign this schedule to the person from `valid_from` on."
    )


def _bitrix_ids(values: Sequence[object] | None) -> list[int]:
    found: list[int] = []
    for v in values or []:
        if isinstance(v, int) and not isinstance(v, bool):
            found.append(v)
        elif isinstance(v, str) and v.strip().isdigit():
            found.append(int(v))
    return found


def employee_out(
    e: Employee, departments_by_bitrix: Mapping[int, int], office_ids: Sequence[int]
) -> EmployeeOut:
    return EmployeeOut(
        id=e.id,
        bitrix_user_id=e.bitrix_user_id,
        name=e.name,
        first_name=e.first_name,
        last_name=e.last_name,
        email=e.email,
        active=e.active,
        is_admin=e.is_admin,
        timezone=e.timezone,
        language=e.language,
        department_ids=[
            departments_by_bitrix[b]
            for b in _bitrix_ids(e.department_ids)
            if b in departments_by_bitrix
        ],
        all_offices=e.all_offices,
        office_ids=list(office_ids),
        remote_always=e.remote_always,
        remote_weekdays=sorted(
            {int(d) for d in e.remote_weekdays or [] if str(d).isdigit() and 1 <= int(d) <= 7}
        ),
        consented=e.consented_at is not None,
    )


async def _department_map(repo: ApiRepository, portal_id: int) -> dict[int, int]:
    return {d.bitrix_id: d.id for d in await repo.departments(portal_id)}


@router.get("/employees", response_model=Page[EmployeeOut], responses=READ_ERRORS)
async def list_employees(
    ctx: Annotated[ApiContext, Depends(require("employees:read"))],
    department_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="`departments.id`: direct members.")
    ] = None,
    active: Annotated[bool | None, Query(description="Only active (or inactive) people.")] = None,
    q: Annotated[
        Text | None, Query(min_length=1, max_length=100, description="Name or e-mail contains.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Page[EmployeeOut]:
    """The portal's employees by name. Scope `employees:read`."""
    async with ctx.container.database.unit_of_work() as uow:
        repo = ApiRepository(uow.session)
        bitrix_department: int | None = None
        if department_id is not None:
            department = found(
                await repo.owned(Department, ctx.portal_id, department_id), "department"
            )
            bitrix_department = department.bitrix_id
        rows, total = await repo.employees(
            ctx.portal_id,
            active=active,
            search=q,
            limit=limit,
            offset=offset,
            department_bitrix_id=bitrix_department,
        )
        departments = await _department_map(repo, ctx.portal_id)
        offices = await repo.office_ids_of([e.id for e in rows])
        items = [employee_out(e, departments, offices.get(e.id, [])) for e in rows]
    return Page[EmployeeOut].of(items, total=total, limit=limit, offset=offset)


async def _detail(repo: ApiRepository, portal_id: int, employee: Employee) -> EmployeeDetail:
    departments = await _department_map(repo, portal_id)
    offices = await repo.office_ids_of([employee.id])
    assignments = await repo.assignments_of(portal_id, scope="employee", target_ids=[employee.id])
    base = employee_out(employee, departments, offices.get(employee.id, []))
    return EmployeeDetail(
        **base.model_dump(),
        schedule_assignments=[assignment_out(a, departments) for a in assignments],
    )


@router.get("/employees/{employee_id}", response_model=EmployeeDetail, responses=READ_ERRORS)
async def get_employee(
    ctx: Annotated[ApiContext, Depends(require("employees:read"))],
    employee_id: Annotated[int, Path(ge=1, le=MAX_ID)],
) -> EmployeeDetail:
    """One employee with their own schedule assignments. Scope `employees:read`."""
    async with ctx.container.database.unit_of_work() as uow:
        repo = ApiRepository(uow.session)
        employee = found(await repo.owned(Employee, ctx.portal_id, employee_id), "employee")
        return await _detail(repo, ctx.portal_id, employee)


@router.patch("/employees/{employee_id}", response_model=EmployeeDetail, responses=WRITE_ERRORS)
async def patch_employee(
    ctx: Annotated[ApiContext, Depends(require("employees:write"))],
    employee_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    body: EmployeePatch,
) -> EmployeeDetail:
    """Change what the portal sets for a person (not what Bitrix24 owns: name, departments).
    Scope `employees:write`."""
    sent = body.model_fields_set
    async with ctx.container.database.unit_of_work() as uow:
        repo = ApiRepository(uow.session)
        employee = found(await repo.owned(Employee, ctx.portal_id, employee_id), "employee")
        changes: dict[str, object] = {}
        if "language" in sent:
            employee.language = body.language
            changes["language"] = body.language
        if "timezone" in sent:
            employee.timezone = body.timezone
            changes["timezone"] = body.timezone
        if "remote_always" in sent:
            if body.remote_always is None:
                raise ApiProblem(422, "invalid_value", "remote_always is true or false")
            employee.remote_always = body.remote_always
            changes["remote_always"] = body.remote_always
        if "remote_weekdays" in sent:
            days = sorted(set(body.remote_weekdays or []))
            employee.remote_weekdays = days
            changes["remote_weekdays"] = days
        if "office_ids" in sent and body.office_ids is not None:
            wanted = sorted(set(body.office_ids))
            known = await repo.existing_offices(ctx.portal_id, wanted)
            missing = [o for o in wanted if o not in known]
            if missing:
                raise ApiProblem(422, "unknown_office", f"no such office in this portal: {missing}")
            await repo.set_offices(employee.id, wanted)
            changes["office_ids"] = wanted
            if "all_offices" not in sent:
                employee.all_offices = False
                changes["all_offices"] = False
        if "all_offices" in sent:
            if body.all_offices is None:
                raise ApiProblem(422, "invalid_value", "all_offices is true or false")
            employee.all_offices = body.all_offices
            changes["all_offices"] = body.all_offices
        if body.schedule is not None:
            schedule = found(
                await repo.owned(Schedule, ctx.portal_id, body.schedule.schedule_id), "schedule"
            )
            assignment = ScheduleAssignment(
                portal_id=ctx.portal_id,
                schedule_id=schedule.id,
                scope="employee",
                target_id=employee.id,
                valid_from=body.schedule.valid_from,
                created_at=ctx.now,
            )
            uow.session.add(assignment)
            await uow.flush()
            changes["schedule"] = {
                "schedule_id": schedule.id,
                "valid_from": body.schedule.valid_from.isoformat(),
                "assignment_id": assignment.id,
            }
        if changes:
            audit(uow, ctx, "employee.updated", "employee", employee.id, **changes)
        await uow.flush()
        detail = await _detail(repo, ctx.portal_id, employee)
        await uow.commit()
    return detail


@router.get("/departments", response_model=list[DepartmentOut], responses=READ_ERRORS)
async def list_departments(
    ctx: Annotated[ApiContext, Depends(require("employees:read"))],
) -> list[DepartmentOut]:
    """The portal's departments (mirrored from Bitrix24). Scope `employees:read`."""
    async with ctx.container.database.unit_of_work() as uow:
        rows = await ApiRepository(uow.session).departments(ctx.portal_id)
        by_bitrix = {d.bitrix_id: d.id for d in rows}
        return [
            DepartmentOut(
                id=d.id,
                bitrix_id=d.bitrix_id,
                name=d.name,
                parent_id=by_bitrix.get(d.parent_bitrix_id) if d.parent_bitrix_id else None,
                head_user_id=d.head_user_id,
            )
            for d in rows
        ]
