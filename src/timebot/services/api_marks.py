"""Marks recorded through the REST API (kiosks, turnstiles, integrations).

The same rules as the chat and the check-in page: the work-day state machine decides whether
the action is possible now, and a `location` sent with it is judged against the person's
offices by `services.presence` exactly as the check-in page judges a phone's position (the
portal's presence policy, remote days, suspicion flags from earlier fixes), stored as a
location fix, and written onto the mark as its verdict. When the portal requires a location
proof for the action (`location_required`), a request without a location is refused, so the
API is no way around the portal's policy. Coordinates are kept only with the person's consent,
given once (as on the check-in page) and remembered.

`idempotency_key`: a retried request with the same key records nothing new and answers with
the mark recorded the first time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from timebot.domain.geo import Point
from timebot.domain.marks import MarkKind
from timebot.domain.presence import Decision, DecisionKind, Verdict
from timebot.services.plans import WorkPlan
from timebot.services.presence import (
    ConsentRequired,
    Places,
    Submission,
    judge,
    load_places,
    location_of,
    policy_from_settings,
    recent_fixes,
    remote_reason,
    required_actions,
)
from timebot.services.tracking import Person, Recorded, Refused, day_view, record_mark
from timebot.storage import UnitOfWork
from timebot.storage.repositories.marks import MarkRepository
from timebot.storage.repositories.offices import LocationFixRepository
from timebot.storage.repositories.people import EmployeeRepository
from timebot.storage.tables import Employee, LocationFix
from timebot.storage.tables import Mark as MarkRow

__all__ = [
    "ApiLocation",
    "ApiMarkOutcome",
    "ApiMarkResult",
    "ConsentRequired",
    "IdempotencyConflict",
    "LocationRequired",
    "idempotency_key_of",
    "record_api_mark",
]

SOURCE = "api"


class LocationRequired(Exception):
    """The portal wants a location proof for this action and none was sent."""


class IdempotencyConflict(Exception):
    """The idempotency key was used before for another employee or action."""


class ApiMarkOutcome(StrEnum):
    RECORDED = "recorded"  # the mark is written (maybe flagged for a manager)
    REJECTED = "rejected"  # the presence policy refused the location: only the fix is kept
    REFUSED = "refused"  # the work day's state forbids the action now


@dataclass(frozen=True, slots=True)
class ApiLocation:
    """A position sent with a mark: the device's, as a kiosk or an app reports it."""

    lat: float
    lon: float
    accuracy_m: float | None = None
    device_time: datetime | None = None
    consent: bool = False


@dataclass(frozen=True, slots=True)
class ApiMarkResult:
    outcome: ApiMarkOutcome
    kind: MarkKind
    recorded: Recorded | None = None
    refused: Refused | None = None
    verdict: Verdict | None = None
    decision: Decision | None = None
    fix_id: int | None = None
    replayed: MarkRow | None = None  # the mark an earlier request with the key recorded

    @property
    def mark_id(self) -> int | None:
        if self.recorded is not None:
            return self.recorded.mark_id
        return self.replayed.id if self.replayed is not None else None

    @property
    def flagged(self) -> bool:
        return self.decision is not None and self.decision.kind is DecisionKind.ACCEPT_FLAGGED


def idempotency_key_of(key: str) -> str:
    """The stored `marks.idempotency_key` of a client's key (namespaced apart from the page's)."""
    return f"{SOURCE}:{key}"


async def record_api_mark(
    uow: UnitOfWork,
    *,
    employee: Employee,
    person: Person,
    plan: WorkPlan,
    kind: MarkKind,
    location: ApiLocation | None,
    settings: Mapping[str, Any] | None,
    now: datetime,
    idempotency_key: str | None = None,
) -> ApiMarkResult:
    """Record `kind` for the employee now, judging `location` when sent (caller commits).

    Raises LocationRequired (the portal needs a location for this action), ConsentRequired
    (a location was sent but the person never agreed and the request does not say they do),
    IdempotencyConflict (the key recorded another person's or action's mark), ValueError for
    a position that is no position.
    """
    # One writer per person: the idempotency check and the mark happen under the row lock.
    await EmployeeRepository(uow.session).lock(employee.id)
    if idempotency_key is not None:
        stored = idempotency_key_of(idempotency_key)
        earlier = await MarkRepository(uow.session).by_idempotency_key(person.portal_id, stored)
        if earlier is not None:
            if earlier.employee_id != employee.id or earlier.kind != kind.value:
                raise IdempotencyConflict(idempotency_key)
            return ApiMarkResult(ApiMarkOutcome.RECORDED, kind, replayed=earlier)
    view = await day_view(uow, person, plan=plan, now=now)
    if kind not in view.allowed:
        refused = await record_mark(uow, person, kind, plan=plan, now=now, source=SOURCE)
        if isinstance(refused, Refused):
            return ApiMarkResult(ApiMarkOutcome.REFUSED, kind, refused=refused)
        raise RuntimeError(
            "the state machine allowed what the day view refused"
        )  # pragma: no cover
    remote = remote_reason(employee, now.astimezone(person.tz).date())
    needs_location = kind.value in required_actions(settings) and remote is None
    if location is None and needs_location:
        raise LocationRequired()
    verdict: Verdict | None = None
    verdict_decision: Decision | None = None
    fix: LocationFix | None = None
    if location is not None:
        point = Point(location.lat, location.lon)  # ValueError out of range
        if remote is None and employee.consented_at is None and not location.consent:
            raise ConsentRequired()
        if remote is None and employee.consented_at is None:
            employee.consented_at = now
        places = Places((), {}) if remote is not None else await load_places(uow, employee)
        history = await recent_fixes(uow, employee.id, now) if remote is None else []
        submission = Submission(
            point=point,
            accuracy_m=location.accuracy_m,
            device_time=location.device_time,
            ip=None,  # the caller's address is the integration's, not the person's
        )
        verdict, verdict_decision = judge(
            submission,
            places,
            policy=policy_from_settings(settings),
            now=now,
            history=history,
            tz=person.tz,
            remote=remote,
        )
        kept = None if remote is not None else point  # no geofence applies: nothing to keep
        fix = LocationFix(
            portal_id=employee.portal_id,
            employee_id=employee.id,
            at=now,
            lat=kept.lat if kept else None,
            lon=kept.lon if kept else None,
            accuracy_m=location.accuracy_m if kept else None,
            device_time=location.device_time,
            ip=None,
            verdict=verdict.kind.value,
            zone_id=location_of(verdict)["zone_id"],
            distance_m=verdict.distance_m,
            flags=[f.value for f in verdict.flags],
        )
        LocationFixRepository(uow.session).add(fix)
        await uow.flush()
        if verdict_decision.kind is DecisionKind.REJECT:
            return ApiMarkResult(
                ApiMarkOutcome.REJECTED,
                kind,
                verdict=verdict,
                decision=verdict_decision,
                fix_id=fix.id,
            )
    result = await record_mark(
        uow,
        person,
        kind,
        plan=plan,
        now=now,
        source=SOURCE,
        location=location_of(verdict) if verdict is not None else None,
        idempotency_key=idempotency_key_of(idempotency_key) if idempotency_key else None,
    )
    if isinstance(result, Refused):  # pragma: no cover - checked above under the same lock
        return ApiMarkResult(
            ApiMarkOutcome.REFUSED, kind, refused=result, verdict=verdict, decision=verdict_decision
        )
    if fix is not None:
        fix.mark_id = result.mark_id
        await uow.flush()
    return ApiMarkResult(
        ApiMarkOutcome.RECORDED,
        kind,
        recorded=result,
        verdict=verdict,
        decision=verdict_decision,
        fix_id=fix.id if fix is not None else None,
    )
