"""Marks, read as the work day sees them: only marks no correction has replaced ("standing")."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from timebot.storage.tables import Mark

# A correction mark, seen from the mark it replaces. Built once: an alias costs real CPU to make
# (SQLAlchemy builds its column proxies), and this one is on every check-in's path.
_NEWER = aliased(Mark, name="newer")


class MarkRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, mark: Mark) -> Mark:
        self.session.add(mark)
        return mark

    async def get(self, mark_id: int) -> Mark | None:
        return await self.session.get(Mark, mark_id)

    def _standing(self, employee_id: int) -> Select[Mark]:
        # NOT IN over the (few) superseded ids of this person, not a correlated NOT EXISTS:
        # with planner statistics that see `supersedes_mark_id` as all NULL (SQLite after
        # ANALYZE), NOT EXISTS became a full scan per mark.
        replaced = select(_NEWER.supersedes_mark_id).where(
            _NEWER.employee_id == employee_id, _NEWER.supersedes_mark_id.is_not(None)
        )
        return select(Mark).where(Mark.employee_id == employee_id, Mark.id.not_in(replaced))

    async def standing(
        self, employee_id: int, *, since: datetime, until: datetime | None = None
    ) -> list[Mark]:
        """Marks in [since, until) that no later correction replaced, in time order."""
        query = self._standing(employee_id).where(Mark.at >= since)
        if until is not None:
            query = query.where(Mark.at < until)
        rows = await self.session.scalars(query.order_by(Mark.at, Mark.id))
        return list(rows)

    async def last_check_in(self, employee_id: int, *, before: datetime) -> Mark | None:
        """The latest standing check-in at or before `before` (where the open day began)."""
        query = (
            self._standing(employee_id)
            .where(Mark.kind == "check_in", Mark.at <= before)
            .order_by(Mark.at.desc(), Mark.id.desc())
            .limit(1)
        )
        return (await self.session.scalars(query)).first()

    async def by_idempotency_key(self, portal_id: int, key: str) -> Mark | None:
        query = select(Mark).where(Mark.portal_id == portal_id, Mark.idempotency_key == key)
        return (await self.session.scalars(query)).first()
