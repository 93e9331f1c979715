"""Places: offices and their zones (geofences: circles and GeoJSON polygons)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Float, String, true
from sqlalchemy.orm import Mapped, mapped_column

from timebot.storage.tables.base import (
    Base,
    created_at_column,
    id_column,
    portal_column,
    reference,
)
from timebot.storage.types import json_type


class Office(Base):
    __tablename__ = "offices"

    id: Mapped[int] = id_column()
    portal_id: Mapped[int] = portal_column()
    name: Mapped[str] = mapped_column(String(255))
    # None: the portal's zone.
    timezone: Mapped[str | None] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(512), default="", server_default="")
    # CIDR strings ("10.0.0.0/8") of the office network.
    ip_ranges: Mapped[list[Any]] = mapped_column(json_type(), default=list)
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[datetime] = created_at_column()


class Zone(Base):
    """A geofence. Deactivate rather than delete: marks keep pointing at the zone they matched."""

    __tablename__ = "zones"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'circle' AND lat IS NOT NULL AND lon IS NOT NULL"
            " AND radius_m IS NOT NULL AND radius_m > 0)"
            " OR (kind = 'polygon' AND polygon IS NOT NULL)",
            name="shape",
        ),
    )

    id: Mapped[int] = id_column()
    portal_id: Mapped[int] = portal_column()
    office_id: Mapped[int] = reference("offices.id", ondelete="CASCADE")
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))  # "circle" | "polygon"
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    radius_m: Mapped[float | None] = mapped_column(Float)
    # GeoJSON Polygon geometry ({"type": "Polygon", "coordinates": [[[lon, lat], ...]]}).
    polygon: Mapped[dict[str, Any] | None] = mapped_column(json_type())
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[datetime] = created_at_column()
