"""`/bitrix/app/health`: how the portal's connection stands (mode, token state, events, plan
limits, housekeeping), the outbox by status and kind, the dead letters with *retry* (back
in the queue, attempts reset) and *drop* (status "dropped": kept for the record, never sent),
and the received events parked as dead with *retry* (revived: back in the inbox's queue).

Secrets are never shown: only whether a token is there and until when it is valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select, update

from timebot.domain.timezones import as_utc
from timebot.gateway.directory import DIRECTORY_SYNC_FAILED_AT, DIRECTORY_SYNCED_AT
from timebot.gateway.inbox import stored_event_name
from timebot.gateway.install import INSTALLED_BY
from timebot.gateway.limits import PLAN_CHECKED_AT
from timebot.gateway.networks import NETWORK_RANGES_FAILED_AT, NETWORK_RANGES_IMPORTED_AT
from timebot.gateway.periodic import settings_instant
from timebot.storage import UnitOfWork
from timebot.storage.tables import Employee, OutboxMessage, Portal, ProcessedEvent
from timebot.web.admin.i18n import register
from timebot.web.admin.ops.common import PREFIX, load_portal, not_found, portal_zone
from timebot.web.admin.render import redirect, render
from timebot.web.admin.rows import audit
from timebot.web.admin.session import AdminSession, check_csrf, container_of, require_admin

__all__ = ["DROPPED", "TokenState", "router", "token_state"]

router = APIRouter()
PATH = f"{PREFIX}/health"
DROPPED = "dropped"
DEAD_LIMIT = 100
ERROR_LIMIT = 300

TokenState = Literal["valid", "expiring", "expired", "missing", "webhook"]

register(
    {
        "ru": {
            "ops.health.inbox_dead": "Необработанные события",
            "ops.health.inbox_lead": (
                "События Битрикс24, которые не удалось применить после нескольких попыток. "
                "Устраните причину (см. ошибку) и нажмите «Повторить»: событие снова встанет "
                "в очередь и будет применено со временем получения."
            ),
            "ops.health.no_inbox_dead": "Все полученные события обработаны.",
            "ops.health.event": "Событие",
            "ops.health.person": "Сотрудник",
            "ops.health.received": "Получено",
            "flash.ops_inbox_revived": "Событие снова в очереди.",
            "flash.ops_inbox_gone": "Этого события уже нет среди необработанных.",
        },
        "en": {
            "ops.health.inbox_dead": "Unprocessed events",
            "ops.health.inbox_lead": (
                "Bitrix24 events that could not be applied after several attempts. Fix the "
                "cause (see the error) and press Retry: the event is queued again and applied "
                "with the time it was received."
            ),
            "ops.health.no_inbox_dead": "Every received event has been processed.",
            "ops.health.event": "Event",
            "ops.health.person": "Person",
            "ops.health.received": "Received",
            "flash.ops_inbox_revived": "The event is queued again.",
            "flash.ops_inbox_gone": "This event is no longer among the unprocessed.",
        },
    }
)


def token_state(portal: Portal, now: datetime) -> TokenState:
    """An OAuth pair's state (a refresh renews an expired access token by itself while the
    refresh token lives); a webhook has no token to expire."""
    if portal.connection == "webhook":
        return "webhook"
    if not portal.access_token or not portal.refresh_token:
        return "missing"
    expires = portal.access_expires_at
    if expires is None:
        return "valid"
    left = as_utc(expires) - now
    if left.total_seconds() <= 0:
        return "expired"
    return "expiring" if left.total_seconds() < 300 else "valid"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int
    kind: str
    method: str
    attempts: int
    last_error: str
    created_at: datetime
    recipient: str


@dataclass(frozen=True, slots=True)
class DeadEvent:
    """A received event parked after repeated failures."""

    id: int
    name: str
    person: str
    attempts: int
    last_error: str
    received_at: datetime


def _recipient(payload: Any) -> str:
    params = (payload or {}).get("params") if isinstance(payload, dict) else None
    if not isinstance(params, dict):
        return ""
    for key in ("DIALOG_ID", "dialogId", "USER_ID", "to"):
        value = params.get(key)
        if value not in (None, ""):
            return str(value)[:64]
    return ""


async def _counts(uow: UnitOfWork, portal_id: int) -> list[tuple[str, str, int]]:
    query = (
        select(OutboxMessage.status, OutboxMessage.kind, func.count())
        .where(OutboxMessage.portal_id == portal_id)
        .group_by(OutboxMessage.status, OutboxMessage.kind)
        .order_by(OutboxMessage.status, OutboxMessage.kind)
    )
    return [(s, k, int(n)) for s, k, n in (await uow.session.execute(query)).all()]


async def _dead(uow: UnitOfWork, portal_id: int) -> list[DeadLetter]:
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.portal_id == portal_id, OutboxMessage.status == "dead")
        .order_by(OutboxMessage.id.desc())
        .limit(DEAD_LIMIT)
    )
    return [
        DeadLetter(
            id=r.id,
            kind=r.kind,
            method=r.method,
            attempts=r.attempts,
            last_error=(r.last_error or "")[:ERROR_LIMIT],
            created_at=as_utc(r.created_at),
            recipient=_recipient(r.payload),
        )
        for r in await uow.session.scalars(query)
    ]


async def _dead_events(uow: UnitOfWork, portal_id: int) -> list[DeadEvent]:
    rows = await uow.events.recent(status="dead", portal_id=portal_id, limit=DEAD_LIMIT)
    user_ids = {int(r.person_key) for r in rows if r.person_key.isdigit()}
    names: dict[str, str] = {}
    if user_ids:
        query = select(Employee.bitrix_user_id, Employee.name).where(
            Employee.portal_id == portal_id, Employee.bitrix_user_id.in_(user_ids)
        )
        names = {str(uid): name for uid, name in (await uow.session.execute(query)).all()}
    return [
        DeadEvent(
            id=r.id,
            name=stored_event_name(r.payload) or r.source,
            person=(
                f"{names[r.person_key]} (#{r.person_key})"
                if r.person_key in names
                else (f"#{r.person_key}" if r.person_key else "")
            ),
            attempts=r.attempts,
            last_error=(r.last_error or "")[:ERROR_LIMIT],
            received_at=as_utc(r.received_at),
        )
        for r in rows
    ]


@router.get(PATH, response_class=HTMLResponse)
async def health_page(request: Request, session: AdminSession = Depends(require_admin)) -> Response:
    """The portal's connection, the outbox, its dead letters and the dead inbox events."""
    container = container_of(request)
    now = container.clock.now()
    async with container.database.unit_of_work() as uow:
        portal = await load_portal(uow, session)
        counts = await _counts(uow, portal.id)
        dead = await _dead(uow, portal.id)
        dead_events = await _dead_events(uow, portal.id)
        settings = dict(portal.settings or {})
        info = {
            "domain": portal.domain,
            "member_id": portal.member_id,
            "connection": portal.connection,
            "status": portal.status,
            "token_state": token_state(portal, now),
            "access_expires_at": as_utc(portal.access_expires_at)
            if portal.access_expires_at
            else None,
            "token_version": portal.token_version,
            "has_refresh_token": bool(portal.refresh_token),
            "scope": portal.scope,
            "bot_id": portal.bot_id,
            "event_mode": portal.event_mode,
            "event_offset": portal.event_offset,
            "last_event_at": as_utc(portal.last_event_at) if portal.last_event_at else None,
            "installed_at": as_utc(portal.installed_at),
            "installed_by": settings.get(INSTALLED_BY),
            "rate_limit": portal.rate_limit,
            "rate_burst": portal.rate_burst,
            "plan_checked_at": settings_instant(settings, PLAN_CHECKED_AT),
            "directory_synced_at": settings_instant(settings, DIRECTORY_SYNCED_AT),
            "directory_failed_at": settings_instant(settings, DIRECTORY_SYNC_FAILED_AT),
            "networks_imported_at": settings_instant(settings, NETWORK_RANGES_IMPORTED_AT),
            "networks_failed_at": settings_instant(settings, NETWORK_RANGES_FAILED_AT),
            "timezone": portal.timezone,
            "language": portal.language,
        }
        tz = portal_zone(portal)
    totals: dict[str, int] = {}
    for status, _, n in counts:
        totals[status] = totals.get(status, 0) + n
    return render(
        request,
        session,
        "admin/ops_health.html",
        active="health",
        info=info,
        counts=counts,
        totals=totals,
        dead=dead,
        dead_events=dead_events,
        tz=tz,
        now=now,
    )


async def _dead_row(uow: UnitOfWork, session: AdminSession, row_id: int) -> OutboxMessage:
    row = await uow.session.get(OutboxMessage, row_id, populate_existing=True)
    if row is None or row.portal_id != session.portal_id:
        raise not_found(session)
    return row


async def _dead_letter_action(
    request: Request, session: AdminSession, outbox_id: int, action: Literal["retry", "drop"]
) -> Response:
    container = container_of(request)
    now = container.clock.now()
    async with container.database.unit_of_work() as uow:
        row = await _dead_row(uow, session, outbox_id)
        if row.status != "dead":
            return redirect(PATH, flash="flash.ops_dead_gone")
        values: dict[str, Any] = (
            {"status": "pending", "attempts": 0, "next_attempt_at": now, "last_error": None}
            if action == "retry"
            else {"status": DROPPED}
        )
        # Conditional: of two taps (or a tap and `timebot outbox retry`) one changes the row.
        result = await uow.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == row.id,
                OutboxMessage.portal_id == session.portal_id,
                OutboxMessage.status == "dead",
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if not int(result.rowcount):  # type: ignore[attr-defined]
            return redirect(PATH, flash="flash.ops_dead_gone")
        audit(
            uow,
            session,
            now,
            f"outbox.{action}",
            "outbox",
            row.id,
            {
                "kind": row.kind,
                "method": row.method,
                "attempts": row.attempts,
                "last_error": (row.last_error or "")[:ERROR_LIMIT],
            },
        )
        await uow.commit()
    return redirect(PATH, flash=f"flash.ops_dead_{action}")


@router.post(f"{PATH}/dead/{{outbox_id}}/retry", response_class=HTMLResponse)
async def retry_dead_letter(
    outbox_id: int,
    request: Request,
    session: AdminSession = Depends(require_admin),
    _: AdminSession = Depends(check_csrf),
) -> Response:
    """Put a dead letter back in the queue (attempts start again)."""
    return await _dead_letter_action(request, session, outbox_id, "retry")


@router.post(f"{PATH}/dead/{{outbox_id}}/drop", response_class=HTMLResponse)
async def drop_dead_letter(
    outbox_id: int,
    request: Request,
    session: AdminSession = Depends(require_admin),
    _: AdminSession = Depends(check_csrf),
) -> Response:
    """Drop a dead letter: kept for the record as "dropped", never sent."""
    return await _dead_letter_action(request, session, outbox_id, "drop")


@router.post(f"{PATH}/dead/retry-all", response_class=HTMLResponse)
async def dead_letters_retry_all(
    request: Request,
    session: AdminSession = Depends(require_admin),
    _: AdminSession = Depends(check_csrf),
) -> Response:
    """Put every dead letter of the portal back in the queue."""
    container = container_of(request)
    now = container.clock.now()
    async with container.database.unit_of_work() as uow:
        await load_portal(uow, session)
        result = await uow.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.portal_id == session.portal_id, OutboxMessage.status == "dead")
            .values(status="pending", attempts=0, next_attempt_at=now, last_error=None)
            .execution_options(synchronize_session=False)
        )
        count = int(result.rowcount)  # type: ignore[attr-defined]
        if count:
            audit(uow, session, now, "outbox.retry_all", "outbox", details={"count": count})
            await uow.commit()
    return redirect(PATH, flash="flash.ops_dead_retry_all" if count else "flash.ops_dead_none")


@router.post(f"{PATH}/inbox/{{event_id}}/revive", response_class=HTMLResponse)
async def revive_dead_event(
    event_id: int,
    request: Request,
    session: AdminSession = Depends(require_admin),
    _: AdminSession = Depends(check_csrf),
) -> Response:
    """Put a dead inbox event back in the queue (attempts start again)."""
    container = container_of(request)
    now = container.clock.now()
    async with container.database.unit_of_work() as uow:
        row = await uow.session.get(ProcessedEvent, event_id)
        if row is None or row.portal_id != session.portal_id:
            raise not_found(session)
        details = {
            "event": stored_event_name(row.payload),
            "person_key": row.person_key,
            "attempts": row.attempts,
            "last_error": (row.last_error or "")[:ERROR_LIMIT],
        }
        # Conditional on "dead": of two taps (or a tap and `timebot inbox revive`) one counts.
        if not await uow.events.revive([event_id], portal_id=session.portal_id):
            return redirect(PATH, flash="flash.ops_inbox_gone")
        audit(uow, session, now, "event.revived", "event", event_id, details)
        await uow.commit()
    return redirect(PATH, flash="flash.ops_inbox_revived")
