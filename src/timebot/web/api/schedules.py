"""`/api/v1/schedules`: fixed, flexible and shift schedules, and their assignments to the
portal, a department or an employee from a date on. Deleting a schedule deactivates it."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from timebot.services.plans import parse_definition
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
    Text,
    TimeZoneName,
    audit,
    found,
    not_found,
    require,
)
from timebot.web.api.employees import AssignmentOut, assignment_out

router = APIRouter(prefix="/schedules", tags=["schedules"], route_class=ApiRoute)

Name = Annotated[Text, Field(min_length=1, max_length=255)]
Clock = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", examples=["09:00"])]
Minutes = Annotated[int, Field(ge=0, le=720)]
Tolerance = Annotated[int, Field(ge=0, le=240, description="Minutes.")]
WeekHours = Annotated[float, Field(gt=0, le=168)]


class ToleranceIn(ApiModel):
    short_day_minutes: Minutes = 15
    overtime_minutes: Minutes = 30
    forgotten_checkout_minutes: Minutes = 60


class DayHours(ApiModel):
    start: Clock
    end: Clock
    break_minutes: Minutes = Field(default=0, alias="break", description="Minutes of break.")

    model_config = ApiModel.model_config | {"populate_by_name": True}


class FixedDefinition(ApiModel):
    week: list[DayHours | None] = Field(
        min_length=7, max_length=7, description="Monday to Sunday; null for a day off."
    )
    week_hours: WeekHours = 40
    follow_calendar: bool = True
    tolerance: ToleranceIn | None = None


class FlexibleDefinition(ApiModel):
    minimum_hours: Annotated[float, Field(gt=0, le=24)] = 8
    core_start: Clock | None = None
    core_end: Clock | None = None
    workdays: list[Annotated[int, Field(ge=0, le=6)]] = Field(
        default_factory=lambda: [0, 1, 2, 3, 4],
        max_length=7,
        description="0 = Monday … 6 = Sunday.",
    )
    week_hours: WeekHours = 40
    follow_calendar: bool = True
    tolerance: ToleranceIn | None = None


class ShiftDefinition(ApiModel):
    break_minutes: Minutes = Field(default=0, alias="break", description="Minutes per shift.")
    tolerance: ToleranceIn | None = None

    model_config = ApiModel.model_config | {"populate_by_name": True}


DEFINITIONS: dict[str, TypeAdapter[Any]] = {
    "fixed": TypeAdapter(FixedDefinition),
    "flexible": TypeAdapter(FlexibleDefinition),
    "shift": TypeAdapter(ShiftDefinition),
}


class _ScheduleBase(ApiModel):
    name: Name
    late_tolerance_min: Tolerance = 10
    early_tolerance_min: Tolerance = 10
    timezone: TimeZoneName | None = Field(default=None, description="null: each person's zone.")


class FixedScheduleIn(_ScheduleBase):
    kind: Literal["fixed"]
    definition: FixedDefinition


class FlexibleScheduleIn(_ScheduleBase):
    kind: Literal["flexible"]
    definition: FlexibleDefinition


class ShiftScheduleIn(_ScheduleBase):
    kind: Literal["shift"]
    definition: ShiftDefinition = Field(default_factory=ShiftDefinition)


ScheduleCreate = Annotated[
    FixedScheduleIn | FlexibleScheduleIn | ShiftScheduleIn, Field(discriminator="kind")
]


class SchedulePatch(ApiModel):
    name: Name | None = None
    late_tolerance_min: Tolerance | None = None
    early_tolerance_min: Tolerance | None = None
    timezone: TimeZoneName | None = None
    active: bool | None = None
    definition: dict[str, Any] | None = Field(
        default=None, description="A whole new definition of the schedule's kind."
    )


class ScheduleOut(BaseModel):
    id: int
    name: str
    kind: Literal["fixed", "flexible", "shift"]
    definition: dict[str, Any]
    late_tolerance_min: int
    early_tolerance_min: int
    timezone: str | None
    active: bool

    @classmethod
    def of(cls, s: Schedule) -> ScheduleOut:
        kind = s.kind if s.kind in ("fixed", "flexible", "shift") else "fixed"
        return cls(
            id=s.id,
            name=s.name,
            kind=kind,
            definition=dict(s.definition or {}),
            late_tolerance_min=s.late_tolerance_min,
            early_tolerance_min=s.early_tolerance_min,
            timezone=s.timezone,
            active=s.active,
        )


class AssignmentCreate(ApiModel):
    scope: Literal["portal", "department", "employee"]
    target_id: int | None = Field(
        default=None,
        ge=1,
        le=MAX_ID,
        description="`employees.id` for `employee`, `departments.id` for `department`, null for "
        "`portal`.",
    )
    valid_from: Day


def _stored(kind: str, definition: Any, late: int, early: int) -> dict[str, Any]:
    """The definition as stored, after the domain accepted it for a whole week."""
    stored: dict[str, Any] = (
        definition.model_dump(by_alias=True, exclude_none=True)
        if isinstance(definition, BaseModel)
        else dict(definition)
    )
    try:
        schedule = parse_definition(kind, stored, late=late, early=early)
        monday = date(2026, 1, 5)
        for i in range(7):
            schedule.expected_for(monday + timedelta(days=i), ZoneInfo("UTC"), None)
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise ApiProblem(422, "invalid_definition", str(exc)) from None
    return stored


ScheduleId = Annotated[int, Path(ge=1, le=MAX_ID)]


async def _schedule(repo: ApiRepository, ctx: ApiContext, schedule_id: int) -> Schedule:
    return found(await repo.owned(Schedule, ctx.portal_id, schedule_id), "schedule")


@router.get("", response_model=list[ScheduleOut], responses=READ_ERRORS)
async def list_schedules(
    ctx: Annotated[ApiContext, Depends(require("schedules:read"))],
    active: Annotated[bool | None, Query(description="Only active (or inactive) ones.")] = None,
) -> list[ScheduleOut]:
    """The portal's schedules. Scope `schedules:read`."""
    async with ctx.container.database.unit_of_work() as uow:
        return [
            ScheduleOut.of(s)
            for s in await ApiRepository(uow.session).schedules(ctx.portal_id, active=active)
        ]


@router.post("", response_model=ScheduleOut, status_code=201, responses=WRITE_ERRORS)
async def create_schedule(
    ctx: Annotated[ApiContext, Depends(require("schedules:write"))], body: ScheduleCreate
) -> ScheduleOut:
    """Add a schedule (assign it afterwards). Scope `schedules:write`."""
    definition = _stored(
        body.kind, body.definition, body.late_tolerance_min, body.early_tolerance_min
    )
    async with ctx.container.database.unit_of_work() as uow:
        schedule = Schedule(
            portal_id=ctx.portal_id,
            name=body.name.strip(),
            kind=body.kind,
            definition=definition,
            late_tolerance_min=body.late_tolerance_min,
            early_tolerance_min=body.early_tolerance_min,
            timezone=body.timezone,
            active=True,
            created_at=ctx.now,
        )
        uow.session.add(schedule)
        await uow.flush()
        audit(
            uow,
            ctx,
            "schedule.created",
            "schedule",
            schedule.id,
            name=schedule.name,
            kind=schedule.kind,
        )
        out = ScheduleOut.of(schedule)
        await uow.commit()
    return out


@router.get("/{schedule_id}", response_model=ScheduleOut, responses=READ_ERRORS)
async def get_schedule(
    ctx: Annotated[ApiContext, Depends(require("schedules:read"))], schedule_id: ScheduleId
) -> ScheduleOut:
    """One schedule. Scope `schedules:read`."""
    async with ctx.container.database.unit_of_work() as uow:
        return ScheduleOut.of(await _schedule(ApiRepository(uow.session), ctx, schedule_id))


@router.patch("/{schedule_id}", response_model=ScheduleOut, responses=WRITE_ERRORS)
async def patch_schedule(
    ctx: Annotated[ApiContext, Depends(require("schedules:write"))],
    schedule_id: ScheduleId,
    body: SchedulePatch,
) -> ScheduleOut:
    """Change a schedule; only the fields sent (a `definition` replaces the whole one and must
    fit the schedule's kind). Scope `schedules:write`."""
    sent = body.model_fields_set
    async with ctx.container.database.unit_of_work() as uow:
        schedule = await _schedule(ApiRepository(uow.session), ctx, schedule_id)
        changes: dict[str, Any] = {}
        if "name" in sent and body.name is not None:
            schedule.name = changes["name"] = body.name.strip()
        if "late_tolerance_min" in sent and body.late_tolerance_min is not None:
            schedule.late_tolerance_min = changes["late_tolerance_min"] = body.late_tolerance_min
        if "early_tolerance_min" in sent and body.early_tolerance_min is not None:
            schedule.early_tolerance_min = changes["early_tolerance_min"] = body.early_tolerance_min
        if "timezone" in sent:
            schedule.timezone = changes["timezone"] = body.timezone
        if "active" in sent and body.active is not None:
            schedule.active = changes["active"] = body.active
        if "definition" in sent and body.definition is not None:
            adapter = DEFINITIONS.get(schedule.kind)
            if adapter is None:
                raise ApiProblem(409, "unknown_kind", f"schedule kind {schedule.kind!r} is unknown")
            try:
                parsed = adapter.validate_python(body.definition)
            except ValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid"}
                where = ".".join(str(p) for p in first.get("loc", ()))
                raise ApiProblem(
                    422, "invalid_definition", f"definition.{where}: {first.get('msg')}"
                ) from None
            schedule.definition = _stored(
                schedule.kind, parsed, schedule.late_tolerance_min, schedule.early_tolerance_min
            )
            changes["definition"] = True
        elif sent & {"late_tolerance_min", "early_tolerance_min"}:
            _stored(
                schedule.kind,
                schedule.definition or {},
                schedule.late_tolerance_min,
                schedule.early_tolerance_min,
            )
        if changes:
            audit(uow, ctx, "schedule.updated", "schedule", schedule.id, **changes)
        await uow.flush()
        out = ScheduleOut.of(schedule)
        await uow.commit()
    return out


@router.delete("/{schedule_id}", status_code=204, response_class=Response, responses=WRITE_ERRORS)
async def delete_schedule(
    ctx: Annotated[ApiContext, Depends(require("schedules:write"))], schedule_id: ScheduleId
) -> Response:
    """Deactivate a schedule: its assignments stop applying (the default schedule or another
    assignment takes over). Scope `schedules:write`."""
    async with ctx.container.database.unit_of_work() as uow:
        schedule = await _schedule(ApiRepository(uow.session), ctx, schedule_id)
        schedule.active = False
        audit(uow, ctx, "schedule.deactivated", "schedule", schedule.id)
        await uow.commit()
    return Response(status_code=204)


@router.get("/{schedule_id}/assignments", response_model=list[AssignmentOut], responses=READ_ERRORS)
async def list_assignments(
    ctx: Annotated[ApiContext, Depends(require("schedules:read"))], schedule_id: ScheduleId
) -> list[AssignmentOut]:
    """Whom the schedule applies to, from when. Scope `schedules:read`."""
    async with ctx.container.database.unit_of_work() as uow:
        repo = ApiRepository(uow.session)
        schedule = await _schedule(repo, ctx, schedule_id)
        departments = {d.bitrix_id: d.id for d in await repo.departments(ctx.portal_id)}
        return [assignment_out(a, departments) for a in await repo.assignments(schedule.id)]


@router.post(
    "/{schedule_id}/assignments",
    response_model=AssignmentOut,
    status_code=201,
    responses=WRITE_ERRORS,
)
async def create_assignment(
    ctx: Annotated[ApiContext, Depends(require("schedules:write"))],
    schedule_id: ScheduleId,
    body: AssignmentCreate,
) -> AssignmentOut:
    """Apply the schedule from `valid_from` on to the whole portal, a department or an
    employee (the most specific assignment wins). Scope `schedules:write`."""
    async with ctx.container.database.unit_of_work() as uow:
        repo = ApiRepository(uow.session)
        schedule = await _schedule(repo, ctx, schedule_id)
        target: int | None = None
        if body.scope == "portal":
            if body.target_id is not None:
                raise ApiProblem(422, "unexpected_target", "a portal assignment has no target_id")
        elif body.target_id is None:
            raise ApiProblem(422, "missing_target", f"a {body.scope} assignment needs target_id")
        elif body.scope == "employee":
            employee = found(await repo.owned(Employee, ctx.portal_id, body.target_id), "employee")
            target = employee.id
        else:
            department = found(
                await repo.owned(Department, ctx.portal_id, body.target_id), "department"
            )
            target = department.bitrix_id
        row = ScheduleAssignment(
            portal_id=ctx.portal_id,
            schedule_id=schedule.id,
            scope=body.scope,
            target_id=target,
            valid_from=body.valid_from,
            created_at=ctx.now,
        )
        uow.session.add(row)
        await uow.flush()
        audit(
            uow,
            ctx,
            "schedule.assigned",
            "schedule_assignment",
            row.id,
            schedule_id=schedule.id,
            scope=body.scope,
            target_id=body.target_id,
            valid_from=body.valid_from.isoformat(),
        )
        departments = {d.bitrix_id: d.id for d in await repo.departments(ctx.portal_id)}
        out = assignment_out(row, departments)
        await uow.commit()
    return out


@router.delete(
    "/{schedule_id}/assignments/{assignment_id}",
    status_code=204,
    response_class=Response,
    responses=WRITE_ERRORS,
)
async def delete_assignment(
    ctx: Annotated[ApiContext, Depends(require("schedules:write"))],
    schedule_id: ScheduleId,
    assignment_id: Annotated[int, Path(ge=1, le=MAX_ID)],
) -> Response:
    """Remove an assignment. Scope `schedules:write`."""
    async with ctx.container.database.unit_of_work() as uow:
        repo = ApiRepository(uow.session)
        schedule = await _schedule(repo, ctx, schedule_id)
        row = await repo.owned(ScheduleAssignment, ctx.portal_id, assignment_id)
        if row is None or row.schedule_id != schedule.id:
            raise not_found("assignment")
        audit(
            uow,
            ctx,
            "schedule.unassigned",
            "schedule_assignment",
            row.id,
            schedule_id=schedule.id,
            scope=row.scope,
            target_id=row.target_id,
        )
        await repo.delete_row(row)
        await uow.commit()
    return Response(status_code=204)
