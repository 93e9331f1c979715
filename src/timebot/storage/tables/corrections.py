"""Requests to change the record and their outcomes: corrections and explanations.

Correction requests and decisions are facts: a decision is a new row, never an update of the
request. Explanations (a person's reason for a violation) move through statuses in place.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from timebot.storage.tables.base import Base, id_column, portal_column, reference


class Correction(Base):
    """ "I forgot to check out, I left at 18:10": a request to add or replace a mark."""

    __tablename__ = "corrections"
    __table_args__ = (Index(None, "portal_id", "requested_at"),)

    id: Mapped[int] = id_column()
    portal_id: Mapped[int] = portal_column(index=False)
    employee_id: Mapped[int] = reference("employees.id")
    requested_at: Mapped[datetime]
    # The mark kind the person claims (check_in | break_start | break_end | check_out).
    kind: Mapped[str] = mapped_column(String(16))
    # The mark to replace; None when a missing mark is to be added.
    target_mark_id: Mapped[int | None] = reference("marks.id", use_alter=True)
    claimed_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    requested_by: Mapped[int] = mapped_column(Integer)  # Bitrix user id (self or a manager)


class CorrectionDecision(Base):
    __tablename__ = "correction_decisions"
    __table_args__ = (CheckConstraint("decision IN ('approved', 'rejected')", name="decision"),)

    id: Mapped[int] = id_column()
    portal_id: Mapped[int] = portal_column()
    # Unique: one decision per request, so two approvers cannot both win.
    correction_id: Mapped[int] = reference("corrections.id", unique=True)
    decision: Mapped[str] = mapped_column(String(16))
    decided_by: Mapped[int] = mapped_column(Integer)  # Bitrix user id
    decided_at: Mapped[datetime]
    comment: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The correction mark written on approval.
    resulting_mark_id: Mapped[int | None] = reference("marks.id")


class Explanation(Base):
    """A request to explain one violation of one local work day, and the answer to it.

    Unique per (employee, day, violation kind) so a re-run digest job asks only once.
    """

    __tablename__ = "explanations"
    __table_args__ = (
        UniqueConstraint("employee_id", "local_date", "violation_kind"),
        Index(None, "portal_id", "status"),
    )

    id: Mapped[int] = id_column()
    portal_id: Mapped[int] = portal_column(index=False)
    employee_id: Mapped[int] = reference("employees.id", index=False)
    local_date: Mapped[date]
    violation_kind: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    # "requested" | "answered" | "accepted" | "rejected"
    status: Mapped[str] = mapped_column(String(16), default="requested", server_default="requested")
    decided_by: Mapped[int | None] = mapped_column(Integer)  # Bitrix user id
    decided_at: Mapped[datetime | None]
