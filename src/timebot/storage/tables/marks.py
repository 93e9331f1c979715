"""Presence facts: marks (append-only) and the location fixes that back them.

A mark is never updated or deleted. A correction is a new mark whose `supersedes_mark_id`
points at the mark it replaces; the work day is assembled from the marks left standing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Float, Index, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from timebot.storage.tables.base import Base, id_column, portal_column, reference
from timebot.storage.types import json_type

MARK_KINDS = ("check_in", "break_start", "break_end", "check_out")


class Mark(Base):
    __tablename__ = "marks"
    __table_args__ = (
        CheckConstraint(
            "kind IN (" + ", ".join(f"'{kind}'" for kind in MARK_KINDS) + ")", name="kind"
        ),
        UniqueConstraint("portal_id", "idempotency_key"),
        Index(None, "portal_id", "employee_id", "at"),
    )

    id: Mapped[int] = id_column()
    portal_id: Mapped[int] = portal_column(index=False)
    employee_id: Mapped[int] = reference("employees.id")
    kind: Mapped[str] = mapped_column(String(16))
    # When the fact happened by the server's clock (what rules are checked against).
    at: Mapped[datetime]
    # The time the person stated ("I came at 9:00"), if any.
    claimed_at: Mapped[datetime | None]
    # When this row was written; differs from `at` for imports and approved corrections.
    recorded_at: Mapped[datetime]
    # "chat" | "checkin_page" | "api" | "correction" | "auto_close" | "admin" | "import"
    source: Mapped[str] = mapped_column(String(16))
    # "inside" | "outside" | "uncertain" | "remote" | "none"; None when never checked.
    location_verdict: Mapped[str | None] = mapped_column(String(16))
    zone_id: Mapped[int | None] = reference("zones.id")
    distance_m: Mapped[float | None] = mapped_column(Float)
    flags: Mapped[list[Any]] = mapped_column(json_type(), default=list)
    # Awaiting a location proof or an approval; a later mark settles it.
    provisional: Mapped[bool] = mapped_column(default=False, server_default=false())
    supersedes_mark_id: Mapped[int | None] = reference("marks.id")
    correction_id: Mapped[int | None] = reference("corrections.id")
    # Client-chosen key (API, check-in page) so a retried request records one mark.
    idempotency_key: Mapped[str | None] = mapped_column(String(128))


class LocationFix(Base):
    """One position report from a phone. Coordinates and IP are erased by retention."""

    __tablename__ = "location_fixes"
    __table_args__ = (
        Index(None, "portal_id", "at"),
        Index(None, "employee_id", "at"),
    )

    id: Mapped[int] = id_column()
    portal_id: Mapped[int] = portal_column(index=False)
    employee_id: Mapped[int] = reference("employees.id", index=False)
    mark_id: Mapped[int | None] = reference("marks.id")
    at: Mapped[datetime]
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    # The phone's own clock, kept to spot replayed or tampered reports.
    device_time: Mapped[datetime | None]
    ip: Mapped[str | None] = mapped_column(String(45))
    verdict: Mapped[str] = mapped_column(String(16))
    zone_id: Mapped[int | None] = reference("zones.id")
    distance_m: Mapped[float | None] = mapped_column(Float)
    flags: Mapped[list[Any]] = mapped_column(json_type(), default=list)
    erased_at: Mapped[datetime | None]
