"""Chat dialog state keyed by (portal, dialog, user), so any process can continue a dialog."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from timebot.storage.tables.base import Base, id_column, portal_column
from timebot.storage.types import json_type


class ConversationState(Base):
    __tablename__ = "conversation_state"
    __table_args__ = (UniqueConstraint("portal_id", "dialog_id", "user_id"),)

    id: Mapped[int] = id_column()
    portal_id: Mapped[int] = portal_column(index=False)
    dialog_id: Mapped[str] = mapped_column(String(64))  # "15" or "chat42"
    user_id: Mapped[int] = mapped_column(Integer)  # Bitrix user id
    state: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(json_type(), default=dict)
    updated_at: Mapped[datetime]
