"""People and the org chart: employees and departments mirrored from Bitrix24.

Employees are never deleted (marks and corrections reference them); they become inactive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from timebot.storage.tables import Department, Employee

_MAX_PARAMETERS = 30_000


class EmployeeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _dialect(self) -> str:
        return self.session.bind.dialect.name if self.session.bind else "sqlite"

    async def get(self, employee_id: int) -> Employee | None:
        return await self.session.get(Employee, employee_id)

    async def lock(self, employee_id: int) -> Employee | None:
        """The row, locked until the transaction ends (SQLite: the write lock is already held
        from `BEGIN IMMEDIATE`)."""
        query = select(Employee).where(Employee.id == employee_id).with_for_update(key_share=True)
        return (await self.session.scalars(query)).first()

    async def by_bitrix_id(self, portal_id: int, bitrix_user_id: int) -> Employee | None:
        stmt = select(Employee).where(
            Employee.portal_id == portal_id, Employee.bitrix_user_id == bitrix_user_id
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def active(self, portal_id: int) -> list[Employee]:
        stmt = (
            select(Employee)
            .where(Employee.portal_id == portal_id, Employee.active.is_(True))
            .order_by(Employee.bitrix_user_id)
        )
        return list((await self.session.execute(stmt)).scalars().all())

    async def all(self, portal_id: int, *, refresh: bool = False) -> list[Employee]:
        """Every employee of the portal, active or not; `refresh` re-reads loaded rows."""
        stmt = (
            select(Employee)
            .where(Employee.portal_id == portal_id)
            .order_by(Employee.bitrix_user_id)
        )
        if refresh:
            stmt = stmt.execution_options(populate_existing=True)
        return list((await self.session.execute(stmt)).scalars().all())

    def add(self, employee: Employee) -> Employee:
        self.session.add(employee)
        return employee

    async def insert_missing(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """Insert employees unless (portal, Bitrix user) exists; returns how many were new.

        ON CONFLICT DO NOTHING: an event's first contact and a directory sync may create the
        same person at once; neither aborts its transaction. Each row must carry every NOT NULL
        column (created_at included: the app clock sets it, not the database).
        """
        if not rows:
            return 0
        insert = pg_insert if self._dialect() == "postgresql" else sqlite_insert
        # One statement may bind at most 32,767 parameters (asyncpg; SQLite's default limit is
        # the same): a 5,000-person directory is inserted in chunks that stay under it.
        per_row = max(len(r) for r in rows)
        size = max(1, _MAX_PARAMETERS // per_row)
        created = 0
        for start in range(0, len(rows), size):
            stmt = (
                insert(Employee)
                .values([dict(r) for r in rows[start : start + size]])
                .on_conflict_do_nothing(index_elements=["portal_id", "bitrix_user_id"])
            )
            result = await self.session.execute(stmt)
            created += int(result.rowcount)  # type: ignore[attr-defined]
        return created

    async def get_or_create(
        self, portal_id: int, bitrix_user_id: int, values: Mapping[str, Any]
    ) -> tuple[Employee, bool]:
        """The employee row, inserted from `values` when missing; True when this call made it."""
        found = await self.by_bitrix_id(portal_id, bitrix_user_id)
        if found is not None:
            return found, False
        row = {**values, "portal_id": portal_id, "bitrix_user_id": bitrix_user_id}
        created = await self.insert_missing([row]) > 0
        employee = await self.by_bitrix_id(portal_id, bitrix_user_id)
        if employee is None:  # pragma: no cover - the insert or a concurrent one made it
            raise RuntimeError(f"employee {bitrix_user_id} of portal {portal_id} vanished")
        return employee, created


class DepartmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_bitrix_id(self, portal_id: int, bitrix_id: int) -> Department | None:
        stmt = select(Department).where(
            Department.portal_id == portal_id, Department.bitrix_id == bitrix_id
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def all(self, portal_id: int) -> list[Department]:
        stmt = (
            select(Department)
            .where(Department.portal_id == portal_id)
            .order_by(Department.bitrix_id)
        )
        return list((await self.session.execute(stmt)).scalars().all())

    def add(self, department: Department) -> Department:
        self.session.add(department)
        return department

    async def remove(self, portal_id: int, bitrix_ids: Sequence[int]) -> int:
        """Delete departments that no longer exist in Bitrix24 (nothing references them)."""
        if not bitrix_ids:
            return 0
        result = await self.session.execute(
            delete(Department).where(
                Department.portal_id == portal_id, Department.bitrix_id.in_(list(bitrix_ids))
            )
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def heads_of(self, portal_id: int, employee: Employee) -> list[int]:
        """Bitrix user ids of the employee's managers, nearest first, without duplicates.

        For each of the employee's departments: its head; when the employee heads it
        (or it has no head), the head of the parent department, and so on up the tree.
        """
        departments = {d.bitrix_id: d for d in await self.all(portal_id)}
        return managers_of(employee.bitrix_user_id, employee.department_ids, departments)


def managers_of(
    user_id: int, department_ids: Sequence[Any], departments: Mapping[int, Department]
) -> list[int]:
    """The walk behind `DepartmentRepository.heads_of`, over an already loaded org chart."""
    heads: list[int] = []
    for raw in department_ids:
        try:
            current = departments.get(int(raw))
        except (TypeError, ValueError):
            continue
        seen: set[int] = set()
        while current is not None and current.bitrix_id not in seen:
            seen.add(current.bitrix_id)
            head = current.head_user_id
            if head and head != user_id:
                if head not in heads:
                    heads.append(head)
                break
            parent = current.parent_bitrix_id
            current = departments.get(parent) if parent else None
    return heads
