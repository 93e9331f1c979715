"""`/api/v1/marks`: read the portal's marks; record an action for an employee (kiosks,
turnstiles, integrations), with an optional location judged against the office geofences."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError

from timebot.bot.i18n import lang_of
from timebot.bot.people import person_for, plan_around
from timebot.bot.replies import Reply
from timebot.bot.tracking import describe_recorded, keyboard_for
from timebot.domain.marks import MarkKind
from timebot.domain.presence import Decision, Verdict
from timebot.domain.presence_text import describe
from timebot.gateway.replies import enqueue_replies
from timebot.services.api_marks import (
    ApiLocation,
    ApiMarkOutcome,
    ConsentRequired,
    IdempotencyConflict,
    LocationRequired,
    record_api_mark,
)
from timebot.services.mirror import mirror_mark
from timebot.services.tracking import day_view
from timebot.storage.repositories.api import ApiRepository
from timebot.storage.tables import Employee, Mark
from timebot.web.api.common import (
    MAX_ID,
    READ_ERRORS,
    WRITE_ERRORS,
    ApiContext,
    ApiModel,
    ApiProblem,
    ApiRoute,
    Instant,
    Page,
    found,
    not_found,
    require,
)

router = APIRouter(prefix="/marks", tags=["marks"], route_class=ApiRoute)

MarkKindName = Literal["check_in", "break_start", "break_end", "check_out"]
ACTIONS: dict[str, MarkKind] = {
    "check_in": MarkKind.CHECK_IN,
    "break": MarkKind.BREAK_START,
    "break_start": MarkKind.BREAK_START,
    "back": MarkKind.BREAK_END,
    "break_end": MarkKind.BREAK_END,
    "check_out": MarkKind.CHECK_OUT,
}


class MarkOut(BaseModel):
    """One mark: a check-in, a break's start or end, or a check-out."""

    id: int
    employee_id: int
    kind: MarkKindName
    at: datetime = Field(description="When it happened, by the server's clock (UTC).")
    claimed_at: datetime | None = Field(description="The time the person stated, if any.")
    recorded_at: datetime
    source: str = Field(description="chat, checkin_page, api, correction, auto_close, …")
    location_verdict: str | None = Field(
        description="inside, outside, uncertain, remote or none; null when not checked."
    )
    zone_id: int | None
    distance_m: float | None
    flags: list[str]
    provisional: bool = Field(description="Awaiting confirmation (e.g. closed automatically).")
    supersedes_mark_id: int | None = Field(description="The mark this correction replaces.")
    superseded: bool = Field(description="A later correction replaced this mark.")

    @classmethod
    def of(cls, row: Mark, *, superseded: bool = False) -> MarkOut:
        return cls(
            id=row.id,
            employee_id=row.employee_id,
            kind=row.kind,
            at=row.at,
            claimed_at=row.claimed_at,
            recorded_at=row.recorded_at,
            source=row.source,
            location_verdict=row.location_verdict,
            zone_id=row.zone_id,
            distance_m=row.distance_m,
            flags=[str(f) for f in row.flags or []],
            provisional=row.provisional,
            supersedes_mark_id=row.supersedes_mark_id,
            superseded=superseded,
        )


class LocationIn(ApiModel):
    """The device's position when the action was taken."""

    lat: float = Field(ge=-90, le=90, description="Latitude, WGS84 degrees.")
    lon: float = Field(ge=-180, le=180, description="Longitude, WGS84 degrees.")
    accuracy: float | None = Field(
        default=None, ge=0, le=1_000_000, description="Accuracy radius in metres, as reported."
    )
    device_time: Instant | None = Field(
        default=None, description="The device's own clock (ISO 8601 with an offset)."
    )
    consent: bool = Field(
        default=False,
        description="The person agrees to location processing (needed once, remembered).",
    )


class MarkCreate(ApiModel):
    employee_id: int = Field(ge=1, le=MAX_ID, description="`employees.id` (see /employees).")
    action: Literal["check_in", "break", "back", "check_out", "break_start", "break_end"] = Field(
        description="`break`/`back` are the same as `break_start`/`break_end`."
    )
    location: LocationIn | None = Field(
        default=None,
        description="Judged against the person's offices exactly like the check-in page; "
        "required when the portal wants a location proof for the action.",
    )
    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9._:\-]+$",
        description="A retried request with the same key records nothing new (also accepted "
        "as the `Idempotency-Key` header).",
    )
    notify: bool = Field(
        default=True, description="Tell the person in their chat with the bot what was recorded."
    )


class VerdictOut(BaseModel):
    """The geofence verdict on a location (as the check-in page judges it)."""

    kind: str = Field(description="inside, outside, uncertain or remote")
    reason: str
    decision: str = Field(description="accept, accept_flagged or reject (the portal's policy)")
    office_id: int | None
    zone_id: int | None
    distance_m: float | None = Field(description="To the zone's boundary (depth when inside).")
    accuracy_m: float | None
    flags: list[str]
    text: str = Field(description="The verdict in words, in the person's language.")

    @classmethod
    def of(cls, verdict: Verdict, decision: Decision, lang: Literal["ru", "en"]) -> VerdictOut:
        def number(value: str | None) -> int | None:
            return int(value) if value is not None and value.isdigit() else None

        return cls(
            kind=verdict.kind.value,
            reason=verdict.reason.code.value,
            decision=decision.kind.value,
            office_id=number(verdict.office_id),
            zone_id=number(verdict.zone_id),
            distance_m=verdict.distance_m,
            accuracy_m=verdict.accuracy_m,
            flags=[f.value for f in verdict.flags],
            text=describe(verdict, lang),
        )


class MarkCreated(BaseModel):
    outcome: Literal["recorded"] = "recorded"
    replayed: bool = Field(description="True when an earlier request with the key recorded it.")
    mark: MarkOut
    state: Literal["off", "working", "on_break"] = Field(description="The state after the mark.")
    flagged: bool = Field(description="Recorded with a note for the manager (location doubts).")
    verdict: VerdictOut | None


@router.get("", response_model=Page[MarkOut], responses=READ_ERRORS)
async def list_marks(
    ctx: Annotated[ApiContext, Depends(require("marks:read"))],
    employee_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    since: Annotated[
        Instant | None, Query(alias="from", description="Marks at or after (ISO 8601).")
    ] = None,
    until: Annotated[Instant | None, Query(alias="to", description="Marks before.")] = None,
    kind: Annotated[list[MarkKindName] | None, Query(description="Any of these kinds.")] = None,
    include_superseded: Annotated[
        bool, Query(description="Also marks a correction replaced.")
    ] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Page[MarkOut]:
    """The portal's marks, newest first. Scope `marks:read`."""
    if since is not None and until is not None and until < since:
        raise ApiProblem(400, "bad_period", "`to` is before `from`")
    async with ctx.container.database.unit_of_work() as uow:
        repo = ApiRepository(uow.session)
        if (
            employee_id is not None
            and await repo.owned(Employee, ctx.portal_id, employee_id) is None
        ):
            raise not_found("employee")
        rows, total = await repo.marks(
            ctx.portal_id,
            employee_id=employee_id,
            since=since,
            until=until,
            kinds=kind or [],
            standing_only=not include_superseded,
            limit=limit,
            offset=offset,
        )
        replaced = await repo.superseded([r.id for r in rows]) if include_superseded else set()
        items = [MarkOut.of(r, superseded=r.id in replaced) for r in rows]
    return Page[MarkOut].of(items, total=total, limit=limit, offset=offset)


@router.get("/{mark_id}", response_model=MarkOut, responses=READ_ERRORS)
async def get_mark(
    ctx: Annotated[ApiContext, Depends(require("marks:read"))],
    mark_id: Annotated[int, Path(ge=1, le=MAX_ID)],
) -> MarkOut:
    """One mark. Scope `marks:read`."""
    async with ctx.container.database.unit_of_work() as uow:
        repo = ApiRepository(uow.session)
        row = found(await repo.owned(Mark, ctx.portal_id, mark_id), "mark")
        return MarkOut.of(row, superseded=bool(await repo.superseded([row.id])))


@router.post(
    "",
    response_model=MarkCreated,
    status_code=201,
    responses={
        200: {"model": MarkCreated, "description": "Already recorded by a request with this key"},
        **WRITE_ERRORS,
    },
)
async def create_mark(
    ctx: Annotated[ApiContext, Depends(require("marks:write"))],
    body: MarkCreate,
    idempotency_header: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=100,
            pattern=r"^[A-Za-z0-9._:\-]+$",
            description="Same as the body's `idempotency_key`.",
        ),
    ] = None,
) -> Any:
    """Record an action for an employee now: check in, break, back, check out. Scope
    `marks:write`.

    The work day's rules apply as in the chat (a second check-in is refused with 409 and the
    person's state); a `location` is judged against the geofences as on the check-in page
    (its verdict comes back; the portal's policy may refuse it: 409 `location_rejected`).
    The mark is mirrored into Bitrix24 Work Time when the portal does that, and the person is
    told in the chat unless `notify` is false.
    """
    container = ctx.container
    key = body.idempotency_key or idempotency_header
    kind = ACTIONS[body.action]
    location = (
        ApiLocation(
            lat=body.location.lat,
            lon=body.location.lon,
            accuracy_m=body.location.accuracy,
            device_time=body.location.device_time,
            consent=body.location.consent,
        )
        if body.location is not None
        else None
    )
    async with container.database.unit_of_work() as uow:
        portal = await uow.portals.get(ctx.portal_id)
        employee = await ApiRepository(uow.session).owned(Employee, ctx.portal_id, body.employee_id)
        if portal is None or employee is None:
            raise not_found("employee")
        if not employee.active:
            raise ApiProblem(409, "employee_inactive", "the employee is no longer active")
        now = container.clock.now()
        person = await person_for(uow, portal, employee)
        plan = await plan_around(
            uow, portal, person, now=now, country=container.gateway.bot.country
        )
        lang = lang_of(employee.language, portal.language)
        try:
            result = await record_api_mark(
                uow,
                employee=employee,
                person=person,
                plan=plan,
                kind=kind,
                location=location,
                settings=portal.settings,
                now=now,
                idempotency_key=key,
            )
        except LocationRequired:
            raise ApiProblem(
                422,
                "location_required",
                "this portal requires a location for this action: send `location`",
            ) from None
        except ConsentRequired:
            raise ApiProblem(
                422,
                "consent_required",
                "the person has not agreed to location processing: send `location.consent` "
                "true once they have",
            ) from None
        except IdempotencyConflict:
            raise ApiProblem(
                409,
                "idempotency_conflict",
                "this idempotency key recorded another employee's or action's mark",
            ) from None
        except ValueError as exc:
            raise ApiProblem(422, "invalid_location", str(exc)) from None
        if result.replayed is not None:
            replay = MarkCreated(
                replayed=True,
                mark=MarkOut.of(result.replayed),
                state=(await day_view(uow, person, plan=plan, now=now)).state.value,
                flagged=False,
                verdict=None,
            )
            return JSONResponse(replay.model_dump(mode="json"), status_code=200)
        verdict = (
            VerdictOut.of(result.verdict, result.decision, lang)
            if result.verdict is not None and result.decision is not None
            else None
        )
        if result.outcome is ApiMarkOutcome.REFUSED:
            assert result.refused is not None
            raise ApiProblem(
                409,
                "not_allowed_now",
                f"{kind.value} is not possible now: {result.refused.reason.value}",
                state=result.refused.view.state.value,
            )
        if result.outcome is ApiMarkOutcome.REJECTED:
            assert verdict is not None
            uow.audit.record(
                portal_id=portal.id,
                at=now,
                actor=ctx.principal.actor,
                action="checkin.rejected",
                entity="location_fix",
                entity_id=result.fix_id,
                details={"verdict": verdict.kind, "kind": kind.value, "source": "api"},
            )
            await uow.commit()
            raise ApiProblem(
                409,
                "location_rejected",
                f"the location was refused by the portal's policy: {verdict.text}",
                verdict=verdict.model_dump(mode="json"),
            )
        recorded = result.recorded
        assert recorded is not None
        uow.audit.record(
            portal_id=portal.id,
            at=now,
            actor=ctx.principal.actor,
            action=f"mark.{kind.value}",
            entity="mark",
            entity_id=recorded.mark_id,
            details={
                "source": "api",
                "employee_id": employee.id,
                **({"verdict": verdict.kind, "decision": verdict.decision} if verdict else {}),
            },
        )
        await mirror_mark(
            uow,
            portal,
            user_id=employee.bitrix_user_id,
            kind=kind.value,
            mark_id=recorded.mark_id,
            at=recorded.at,
            now=now,
            tz=recorded.view.tz,
            location={"lat": location.lat, "lon": location.lon} if location else None,
        )
        if body.notify:
            lines = [describe_recorded(recorded, lang)]
            if verdict is not None:
                lines.append(verdict.text)
            reply = Reply(
                str(employee.bitrix_user_id),
                "[br]".join(lines),
                keyboard_for(recorded.view.state, lang),
            )
            await enqueue_replies(uow, portal, [reply], now=now, config=container.gateway)
        mark_row = await ApiRepository(uow.session).owned(Mark, portal.id, recorded.mark_id)
        assert mark_row is not None
        created = MarkCreated(
            replayed=False,
            mark=MarkOut.of(mark_row),
            state=recorded.view.state.value,
            flagged=result.flagged,
            verdict=verdict,
        )
        try:
            await uow.commit()
        except IntegrityError:
            raise ApiProblem(
                409, "idempotency_conflict", "a concurrent request used this idempotency key"
            ) from None
    return JSONResponse(created.model_dump(mode="json"), status_code=201)
