"""People and their org chart, mirrored from Bitrix24: departments, employees, office links."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, false, true
from sqlalchemy.orm import Mapped, mapped_column

from timebot.storage.tables.base import Base, created_at_column, id_column, portal_column
from timebot.storage.types import id_type, json_type


class Department(Base):
    __tablename__ = "departments"
    __table_args__ = (UniqueConstraint("portal_id", "bitrix_id"),)

    id: Mapped[int] = id_column()
    portal_id: Mapped[int] = portal_column(index=False)
    bitrix_id: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    parent_bitrix_id: Mapped[int | None] = mapped_column(Integer)
    # Bitrix user id of the head: the manager who receives this department's digest.
    head_user_id: Mapped[int | None] = mapped_column(Integer)
    synced_at: Mapped[datetime]


class Employee(Base):
    __tablename__ = "employees"
    __table_args__ = (UniqueConstraint("portal_id", "bitrix_user_id"),)

    id: Mapped[int] = id_column()
    portal_id: Mapped[int] = portal_column(index=False)
    bitrix_user_id: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    first_name: Mapped[str] = mapped_column(String(128), default="", server_default="")
    last_name: Mapped[str] = mapped_column(String(128), default="", server_default="")
    email: Mapped[str | None] = mapped_column(String(255))
    # None: fall back to the office's zone, then the portal's.
    timezone: Mapped[str | None] = mapped_column(String(64))
    department_ids: Mapped[list[Any]] = mapped_column(json_type(), default=list)
    language: Mapped[str | None] = mapped_column(String(8))
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    is_admin: Mapped[bool] = mapped_column(default=False, server_default=false())
    remote_always: Mapped[bool] = mapped_column(default=False, server_default=false())
    # ISO weekdays (1 = Monday) on which the person works remotely.
    remote_weekdays: Mapped[list[Any]] = mapped_column(json_type(), default=list)
    # True: may check in at any office of the portal; False: only at employee_offices.
    all_offices: Mapped[bool] = mapped_column(default=True, server_default=true())
    # Consent to location processing; None until given.
    consented_at: Mapped[datetime | None]
    synced_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()


class EmployeeOffice(Base):
    """Offices an employee may check in at when `all_offices` is false."""

    __tablename__ = "employee_offices"

    employee_id: Mapped[int] = mapped_column(
        id_type(), ForeignKey("employees.id", ondelete="CASCADE"), primary_key=True
    )
    office_id: Mapped[int] = mapped_column(
        id_type(), ForeignKey("offices.id", ondelete="CASCADE"), primary_key=True, index=True
    )
