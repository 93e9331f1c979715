"""Who sees whom: the role a person signs in with, the departments a head manages (with every
sub-department), and the employees a session may see.

`AdminSession.department_ids` are `departments.id`; employees and schedule assignments refer to
departments by their Bitrix24 id, so `managed_bitrix_ids` translates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select

from timebot.storage import UnitOfWork
from timebot.storage.tables import Department, Employee
from timebot.web.admin.session import AdminSession, Role

__all__ = [
    "Standing",
    "bitrix_department_ids",
    "employee_visible",
    "managed_bitrix_ids",
    "standing_of",
    "subtree",
]


@dataclass(frozen=True, slots=True)
class Standing:
    """What a person is in the portal, for a new session."""

    role: Role
    employee_id: int | None
    department_ids: frozenset[int]
    language: str | None


def subtree(departments: Sequence[Department], roots: Iterable[int]) -> frozenset[int]:
    """`departments.id` of `roots` (Bitrix ids) and of all their descendants."""
    children: dict[int, list[Department]] = {}
    for d in departments:
        if d.parent_bitrix_id is not None:
            children.setdefault(d.parent_bitrix_id, []).append(d)
    by_bitrix = {d.bitrix_id: d for d in departments}
    found: set[int] = set()
    stack = [by_bitrix[r] for r in roots if r in by_bitrix]
    while stack:
        d = stack.pop()
        if d.id in found:
            continue
        found.add(d.id)
        stack.extend(children.get(d.bitrix_id, ()))
    return frozenset(found)


async def standing_of(uow: UnitOfWork, portal_id: int, user_id: int, *, is_admin: bool) -> Standing:
    """The role of Bitrix user `user_id`: administrator when `is_admin`, head when they head a
    department, employee otherwise."""
    employee = await uow.employees.by_bitrix_id(portal_id, user_id)
    departments = await uow.departments.all(portal_id)
    headed = [d.bitrix_id for d in departments if d.head_user_id == user_id]
    managed = subtree(departments, headed)
    role: Role = "admin" if is_admin else ("head" if managed else "employee")
    return Standing(
        role=role,
        employee_id=employee.id if employee is not None else None,
        department_ids=managed,
        language=employee.language if employee is not None else None,
    )


async def managed_bitrix_ids(uow: UnitOfWork, session: AdminSession) -> frozenset[int] | None:
    """Bitrix ids of the departments the session manages; None means all (an administrator)."""
    if session.is_admin:
        return None
    if not session.department_ids:
        return frozenset()
    rows = await uow.session.scalars(
        select(Department.bitrix_id).where(
            Department.portal_id == session.portal_id,
            Department.id.in_(sorted(session.department_ids)),
        )
    )
    return frozenset(int(b) for b in rows)


def bitrix_department_ids(employee: Employee) -> frozenset[int]:
    """The employee's Bitrix department ids as ints (older syncs stored digit strings)."""
    found: set[int] = set()
    for raw in employee.department_ids or []:
        if isinstance(raw, bool):
            continue
        if isinstance(raw, int) or (isinstance(raw, str) and raw.strip().isdigit()):
            found.add(int(raw))
    return frozenset(found)


def employee_visible(
    employee: Employee, session: AdminSession, managed: frozenset[int] | None
) -> bool:
    """Whether the session may see `employee` (same portal; admin: all; head: their
    departments and themselves; employee: only themselves)."""
    if employee.portal_id != session.portal_id:
        return False
    if employee.id == session.employee_id:
        return True
    if managed is None:
        return True
    return bool(bitrix_department_ids(employee) & managed)
