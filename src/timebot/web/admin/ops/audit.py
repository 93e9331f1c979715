"""`/bitrix/app/audit`: the portal's audit log for administrators, newest first, PAGE_SIZE a
page, filtered by actor ("user:15", or just "15"), action (an exact name or a prefix such as
"correction."), and a date range in the portal's zone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import ColumnElement, func, select

from timebot.domain.timezones import as_utc
from timebot.storage import UnitOfWork
from timebot.storage.tables import AuditEntry
from timebot.web.admin.ops.common import (
    PREFIX,
    clean_text,
    load_portal,
    parse_date,
    parse_int,
    portal_zone,
)
from timebot.web.admin.render import render
from timebot.web.admin.session import AdminSession, container_of, require_admin

__all__ = ["AuditFilter", "audit_page_rows", "read_filter", "router"]

router = APIRouter()
PATH = f"{PREFIX}/audit"
PAGE_SIZE = 50
MAX_PAGE = 10_000
DETAILS_LIMIT = 400


@dataclass(frozen=True, slots=True)
class AuditFilter:
    actor: str = ""
    action: str = ""
    first: date | None = None
    last: date | None = None
    page: int = 1
    errors: tuple[str, ...] = ()

    def query(self, page: int) -> str:
        params = {
            "actor": self.actor,
            "action": self.action,
            "from": self.first.isoformat() if self.first else "",
            "to": self.last.isoformat() if self.last else "",
            "page": str(page),
        }
        return urlencode({k: v for k, v in params.items() if v})


def read_filter(params: dict[str, str]) -> AuditFilter:
    """The filter of a query string; malformed parts are named in `errors` and left out."""
    errors: list[str] = []
    actor = clean_text(params.get("actor", ""), 128)
    if actor.isdigit():
        actor = f"user:{actor}"
    action = clean_text(params.get("action", ""), 64)
    first, last = parse_date(params.get("from")), parse_date(params.get("to"))
    if isinstance(first, ValueError):
        errors.append("ops.audit.error.from")
        first = None
    if isinstance(last, ValueError):
        errors.append("ops.audit.error.to")
        last = None
    if first and last and last < first:
        errors.append("ops.audit.error.order")
        first = last = None
    raw_page = params.get("page", "").strip()
    page = parse_int(raw_page) if raw_page else 1
    if page is None or page > MAX_PAGE:
        errors.append("ops.audit.error.page")
        page = 1
    return AuditFilter(actor, action, first, last, page, tuple(errors))


def _conditions(portal_id: int, f: AuditFilter, tz: ZoneInfo) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = [AuditEntry.portal_id == portal_id]
    if f.actor:
        found.append(AuditEntry.actor == f.actor)
    if f.action:
        if f.action.endswith((".", "*")):
            prefix = f.action.rstrip("*")
            escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            found.append(AuditEntry.action.like(f"{escaped}%", escape="\\"))
        else:
            found.append(AuditEntry.action == f.action)
    if f.first:
        found.append(AuditEntry.at >= as_utc(datetime.combine(f.first, time(), tzinfo=tz)))
    if f.last:
        end = datetime.combine(f.last + timedelta(days=1), time(), tzinfo=tz)
        found.append(AuditEntry.at < as_utc(end))
    return found


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str | None
    details: str


def _details(details: Any) -> str:
    text = json.dumps(details or {}, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= DETAILS_LIMIT else text[: DETAILS_LIMIT - 1] + "…"


async def audit_page_rows(
    uow: UnitOfWork, portal_id: int, f: AuditFilter, tz: ZoneInfo
) -> tuple[list[AuditRow], int]:
    """One page of entries (newest first) and how many match in all."""
    where = _conditions(portal_id, f, tz)
    total = int(
        await uow.session.scalar(select(func.count()).select_from(AuditEntry).where(*where)) or 0
    )
    query = (
        select(AuditEntry)
        .where(*where)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .offset((f.page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    rows = [
        AuditRow(e.id, as_utc(e.at), e.actor, e.action, e.entity, e.entity_id, _details(e.details))
        for e in await uow.session.scalars(query)
    ]
    return rows, total


async def _actions(uow: UnitOfWork, portal_id: int) -> list[str]:
    """The action names this portal's log holds (for the filter's suggestions)."""
    query = (
        select(AuditEntry.action)
        .where(AuditEntry.portal_id == portal_id)
        .group_by(AuditEntry.action)
        .order_by(AuditEntry.action)
        .limit(200)
    )
    return [a for a in await uow.session.scalars(query)]


@router.get(PATH, response_class=HTMLResponse)
async def audit_page(request: Request, session: AdminSession = Depends(require_admin)) -> Response:
    """The audit log, paginated and filtered."""
    container = container_of(request)
    f = read_filter(dict(request.query_params))
    async with container.database.unit_of_work() as uow:
        portal = await load_portal(uow, session)
        tz = portal_zone(portal)
        rows, total = await audit_page_rows(uow, portal.id, f, tz)
        actions = await _actions(uow, portal.id)
    pages = max(1, -(-total // PAGE_SIZE))
    return render(
        request,
        session,
        "admin/ops_audit.html",
        active="audit",
        status_code=400 if f.errors else 200,
        filter=f,
        rows=rows,
        total=total,
        pages=pages,
        actions=actions,
        tz=tz,
    )
