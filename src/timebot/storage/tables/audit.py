"""The audit log: who changed what, for admins and disputes. Append-only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from timebot.storage.tables.base import Base, id_column, portal_column
from timebot.storage.types import json_type


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "portal_id", "at"),)

    id: Mapped[int] = id_column()
    portal_id: Mapped[int] = portal_column(index=False)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(128))  # "user:15", "api:<jti>", "system"
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(json_type(), default=dict)
