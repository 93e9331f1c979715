"""The audit log: who did what to which entity, appended and never edited."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from timebot.storage.tables import AuditEntry


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def record(
        self,
        *,
        portal_id: int,
        at: datetime,
        actor: str,
        action: str,
        entity: str,
        entity_id: str | int | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        entry = AuditEntry(
            portal_id=portal_id,
            at=at,
            actor=actor,
            action=action,
            entity=entity,
            entity_id=None if entity_id is None else str(entity_id),
            details=dict(details or {}),
        )
        self.session.add(entry)
        return entry
