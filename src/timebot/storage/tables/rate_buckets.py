"""Shared rate-limit buckets: one row per Bitrix24 portal (the limiter's key, its member_id),
metered by every timebot process together, as Bitrix24 meters the portal."""

from __future__ import annotations

from sqlalchemy import Float, String
from sqlalchemy.orm import Mapped, mapped_column

from timebot.storage.tables.base import Base


class RateBucket(Base):
    """A leaky bucket's state. Its times are Unix-epoch seconds (UTC) from the process clocks,
    not timestamps: the drain (`level - elapsed × rate`) is then one portable SQL expression,
    exact to the microsecond on both databases.

    No foreign key to `portals`: the limiter meters any key, also before a portal is stored
    (install) and after it is deleted; a row is a few bytes per portal."""

    __tablename__ = "rate_buckets"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    # Requests still counted against the portal as of `updated_at`.
    level: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    # Takes are refused until then (the portal answered QUERY_LIMIT_EXCEEDED); 0 = never.
    blocked_until: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
