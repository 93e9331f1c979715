"""The `portals` table: one row per Bitrix24 account, keyed by its stable `member_id`.

Holds connection secrets (OAuth pair or incoming webhook), the bot registration, event
polling position and per-portal rules. Every tenant table points here with ON DELETE CASCADE.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from timebot.storage.tables.base import Base, id_column
from timebot.storage.types import json_type


class Portal(Base):
    __tablename__ = "portals"
    __table_args__ = (
        CheckConstraint("connection IN ('oauth', 'webhook')", name="connection"),
        CheckConstraint("event_mode IN ('fetch', 'webhook')", name="event_mode"),
    )

    id: Mapped[int] = id_column()
    member_id: Mapped[str] = mapped_column(String(64), unique=True)
    domain: Mapped[str] = mapped_column(String(255))
    # REST base such as https://x.bitrix24.ru/rest/ (for a webhook: derived from its URL).
    client_endpoint: Mapped[str] = mapped_column(String(512))
    connection: Mapped[str] = mapped_column(String(16))  # "oauth" | "webhook"
    webhook_url: Mapped[str | None] = mapped_column(String(512))
    access_token: Mapped[str | None] = mapped_column(Text)
    refresh_token: Mapped[str | None] = mapped_column(Text)
    access_expires_at: Mapped[datetime | None]
    # Proof carried by every event of an OAuth app (the only proof on ONAPPUNINSTALL).
    application_token: Mapped[str | None] = mapped_column(String(128))
    scope: Mapped[str] = mapped_column(Text, default="", server_default="")
    bot_id: Mapped[int | None] = mapped_column(Integer)
    bot_code: Mapped[str] = mapped_column(String(64), default="timebot", server_default="timebot")
    bot_token: Mapped[str | None] = mapped_column(String(64))
    event_mode: Mapped[str] = mapped_column(String(16), default="fetch", server_default="fetch")
    # imbot.v2.Event.get offset: every event below it has been acknowledged.
    event_offset: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # "active" | "needs_reinstall" | "uninstalled"
    status: Mapped[str] = mapped_column(String(32), default="active", server_default="active")
    language: Mapped[str] = mapped_column(String(8), default="ru", server_default="ru")
    timezone: Mapped[str] = mapped_column(
        String(64), default="Europe/Moscow", server_default="Europe/Moscow"
    )
    # Leaky bucket of Bitrix24: drains `rate_limit` requests/s, `rate_burst` may be pending.
    rate_limit: Mapped[float] = mapped_column(Float, default=2.0, server_default="2.0")
    rate_burst: Mapped[int] = mapped_column(Integer, default=50, server_default="50")
    settings: Mapped[dict[str, Any]] = mapped_column(json_type(), default=dict)
    last_event_at: Mapped[datetime | None]
    installed_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Bumped on every token refresh, so a writer can tell the pair changed under it.
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
