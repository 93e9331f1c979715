"""Issued credentials: REST API tokens (JWT ids) and single-use signed links."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from timebot.storage.tables.base import (
    Base,
    created_at_column,
    id_column,
    portal_column,
    reference,
)
from timebot.storage.types import json_type


class ApiToken(Base):
    """A JWT's server-side record: revocation and expiry are checked against it."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = id_column()
    portal_id: Mapped[int] = portal_column()
    name: Mapped[str] = mapped_column(String(128))
    jti: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[Any]] = mapped_column(json_type(), default=list)
    created_by: Mapped[int | None] = mapped_column(Integer)  # Bitrix user id of the admin
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # When a request last presented the token (updated at most once a minute).
    last_used_at: Mapped[datetime | None]


class LinkToken(Base):
    """A signed link (e.g. the check-in page) that works once: `used_at` is set on first use."""

    __tablename__ = "link_tokens"

    id: Mapped[int] = id_column()
    jti: Mapped[str] = mapped_column(String(64), unique=True)
    portal_id: Mapped[int] = portal_column()
    employee_id: Mapped[int] = reference("employees.id", ondelete="CASCADE")
    action: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
