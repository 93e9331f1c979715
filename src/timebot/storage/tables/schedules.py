"""Working-time plans: schedules, who they apply to, planned shifts, production-calendar days."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, Float, Index, Integer, String, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column

from timebot.storage.tables.base import (
    Base,
    created_at_column,
    id_column,
    portal_column,
    reference,
)
from timebot.storage.types import json_type


class Schedule(Base):
    __tablename__ = "schedules"

    id: Mapped[int] = id_column()
    portal_id: Mapped[int] = portal_column()
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))  # "fixed" | "flexible" | "shift"
    # Kind-specific rules (work days, start/end, core hours, breaks), read by the domain.
    definition: Mapped[dict[str, Any]] = mapped_column(json_type(), default=dict)
    late_tolerance_min: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    early_tolerance_min: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # None: each person's own zone.
    timezone: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[datetime] = created_at_column()


class ScheduleAssignment(Base):
    """Applies a schedule from `valid_from` on; the most specific scope wins.

    `target_id` is None for "portal", a Bitrix department id for "department" and
    `employees.id` for "employee".
    """

    __tablename__ = "schedule_assignments"
    __table_args__ = (Index(None, "portal_id", "scope", "target_id", "valid_from"),)

    id: Mapped[int] = id_column()
    portal_id: Mapped[int] = portal_column(index=False)
    schedule_id: Mapped[int] = reference("schedules.id", ondelete="CASCADE")
    scope: Mapped[str] = mapped_column(String(16))  # "portal" | "department" | "employee"
    target_id: Mapped[int | None] = mapped_column(Integer)
    valid_from: Mapped[date]
    created_at: Mapped[datetime] = created_at_column()


class Shift(Base):
    """A planned shift of one person (for "shift" schedules); may cross midnight.

    `break_minutes` is this shift's own break; None means its schedule's `definition["break"]`.
    """

    __tablename__ = "shifts"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="positive_length"),
        CheckConstraint("break_minutes BETWEEN 0 AND 720", name="break_range"),
        Index(None, "employee_id", "starts_at"),
    )

    id: Mapped[int] = id_column()
    portal_id: Mapped[int] = portal_column()
    employee_id: Mapped[int] = reference("employees.id", ondelete="CASCADE", index=False)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    schedule_id: Mapped[int | None] = reference("schedules.id", ondelete="SET NULL")
    break_minutes: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = created_at_column()


class CalendarOverride(Base):
    """A portal's exception to the production calendar: holiday, working weekend, short day."""

    __tablename__ = "calendar_overrides"
    __table_args__ = (UniqueConstraint("portal_id", "day"),)

    id: Mapped[int] = id_column()
    portal_id: Mapped[int] = portal_column(index=False)
    day: Mapped[date]
    kind: Mapped[str] = mapped_column(String(16))  # "holiday" | "workday" | "short"
    hours: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str] = mapped_column(String(255), default="", server_default="")
    created_at: Mapped[datetime] = created_at_column()
