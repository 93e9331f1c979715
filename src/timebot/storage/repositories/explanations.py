"""Explanations of violations: one row per (employee, local date, violation kind), moved through
its statuses by conditional UPDATEs, so two taps at once cannot both win.

requested → answered (again answered while undecided) → accepted | rejected; a rejected one may
be requested again.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from timebot.storage.tables import Explanation

__all__ = [
    "ACCEPTED",
    "ANSWERED",
    "REJECTED",
    "REQUESTED",
    "ExplanationRepository",
]

REQUESTED = "requested"
ANSWERED = "answered"
ACCEPTED = "accepted"
REJECTED = "rejected"


class ExplanationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _dialect(self) -> str:
        return self.session.bind.dialect.name if self.session.bind else "sqlite"

    async def get(self, explanation_id: int) -> Explanation | None:
        """The row as the database has it now (not a stale copy from this session)."""
        query = (
            select(Explanation)
            .where(Explanation.id == explanation_id)
            .execution_options(populate_existing=True)
        )
        return (await self.session.scalars(query)).first()

    async def by_employee(
        self, portal_id: int, *, first: date, last: date, status: str | None = None
    ) -> dict[int, list[Explanation]]:
        """The portal's explanations for days `first`..`last` (only `status` ones when given),
        by employee id."""
        query = select(Explanation).where(
            Explanation.portal_id == portal_id,
            Explanation.local_date >= first,
            Explanation.local_date <= last,
        )
        if status is not None:
            query = query.where(Explanation.status == status)
        found: dict[int, list[Explanation]] = {}
        for row in await self.session.scalars(query):
            found.setdefault(row.employee_id, []).append(row)
        return found

    async def find(self, employee_id: int, local_date: date, kind: str) -> Explanation | None:
        query = (
            select(Explanation)
            .where(
                Explanation.employee_id == employee_id,
                Explanation.local_date == local_date,
                Explanation.violation_kind == kind,
            )
            .execution_options(populate_existing=True)
        )
        return (await self.session.scalars(query)).first()

    async def ensure(
        self, portal_id: int, employee_id: int, local_date: date, kind: str, *, now: datetime
    ) -> tuple[Explanation, bool]:
        """The explanation of that violation, created (status requested) when missing; True when
        this call created it. INSERT … ON CONFLICT DO NOTHING: two managers asking at once make
        one row and neither transaction aborts."""
        values: dict[str, Any] = {
            "portal_id": portal_id,
            "employee_id": employee_id,
            "local_date": local_date,
            "violation_kind": kind,
            "requested_at": now,
            "status": REQUESTED,
        }
        insert = pg_insert if self._dialect() == "postgresql" else sqlite_insert
        stmt = (
            insert(Explanation)
            .values(values)
            .on_conflict_do_nothing(index_elements=["employee_id", "local_date", "violation_kind"])
        )
        result = await self.session.execute(stmt)
        created = int(result.rowcount) > 0  # type: ignore[attr-defined]
        row = await self.find(employee_id, local_date, kind)
        if row is None:  # pragma: no cover - the insert or a concurrent one made it
            raise RuntimeError(f"explanation of {employee_id} {local_date} {kind} vanished")
        return row, created

    async def _move(self, explanation_id: int, when: tuple[str, ...], **values: Any) -> bool:
        stmt = (
            update(Explanation)
            .where(Explanation.id == explanation_id, Explanation.status.in_(when))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        result = await self.session.execute(stmt)
        return int(result.rowcount) > 0  # type: ignore[attr-defined]

    async def reopen(self, explanation_id: int, *, now: datetime) -> bool:
        """Ask again after a rejection (the old answer stays in the audit log)."""
        return await self._move(
            explanation_id,
            (REJECTED,),
            status=REQUESTED,
            requested_at=now,
            reason=None,
            answered_at=None,
            decided_by=None,
            decided_at=None,
        )

    async def answer(self, explanation_id: int, reason: str, *, now: datetime) -> bool:
        """Store (or replace) the answer while nobody has decided; False once decided."""
        return await self._move(
            explanation_id,
            (REQUESTED, ANSWERED),
            status=ANSWERED,
            reason=reason,
            answered_at=now,
        )

    async def decide(
        self, explanation_id: int, *, accept: bool, by_user_id: int, now: datetime
    ) -> bool:
        """Accept or reject an answered explanation; False when it is not (or no longer)
        waiting for a decision (someone else decided first)."""
        return await self._move(
            explanation_id,
            (ANSWERED,),
            status=ACCEPTED if accept else REJECTED,
            decided_by=by_user_id,
            decided_at=now,
        )
