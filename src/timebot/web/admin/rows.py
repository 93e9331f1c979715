"""Rows on admin pages: loading one (only the session's portal's rows exist for it: any other
id, including another portal's, is a 404 page), changing one, recording what was done."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar

from timebot.storage import UnitOfWork
from timebot.web.admin.session import AdminDenied, AdminSession

__all__ = ["apply", "audit", "owned"]

RowT = TypeVar("RowT")


async def owned(uow: UnitOfWork, model: type[RowT], row_id: int, session: AdminSession) -> RowT:
    """The row `row_id` of `model` if it belongs to the session's portal, else a 404 page."""
    row: Any = await uow.session.get(model, row_id) if 0 < row_id < 2**63 else None
    if row is None or getattr(row, "portal_id", None) != session.portal_id:
        raise AdminDenied(404, "denied.not_found", lang=session.language)
    found: RowT = row
    return found


def apply(row: object, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Set `fields` on `row`; the ones whose value this changed."""
    changed = {k: v for k, v in fields.items() if getattr(row, k) != v}
    for key, value in fields.items():
        setattr(row, key, value)
    return changed


def audit(
    uow: UnitOfWork,
    session: AdminSession,
    at: datetime,
    action: str,
    entity: str,
    entity_id: str | int | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Record what the session's administrator did in the portal's audit log."""
    uow.audit.record(
        portal_id=session.portal_id,
        at=at,
        actor=session.actor,
        action=action,
        entity=entity,
        entity_id=entity_id,
        details=details,
    )
