"""Correction requests and their one decision; the dialog state a half-finished request waits in.

A decision is inserted inside a savepoint together with the mark it writes, so when two
approvers tap at once the loser's transaction goes on (it learns who won) and no orphan mark
is left behind.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from timebot.storage.tables import (
    ConversationState,
    Correction,
    CorrectionDecision,
    Employee,
    Mark,
)


class CorrectionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, correction: Correction) -> Correction:
        self.session.add(correction)
        return correction

    async def get(self, correction_id: int) -> Correction | None:
        return await self.session.get(Correction, correction_id)

    async def decision_of(self, correction_id: int) -> CorrectionDecision | None:
        query = select(CorrectionDecision).where(CorrectionDecision.correction_id == correction_id)
        return (await self.session.scalars(query)).first()

    async def pending(self, employee_id: int) -> list[Correction]:
        """The employee's requests nobody has decided yet, oldest first."""
        decided = exists().where(CorrectionDecision.correction_id == Correction.id)
        query = (
            select(Correction)
            .where(Correction.employee_id == employee_id, ~decided)
            .order_by(Correction.requested_at, Correction.id)
        )
        return list(await self.session.scalars(query))

    async def add_decision(self, decision: CorrectionDecision, mark: Mark | None = None) -> bool:
        """Store the decision (and the mark it writes) unless the request is decided already.

        False when another decision won the unique constraint; nothing of this call is kept.
        """
        try:
            async with self.session.begin_nested():
                if mark is not None:
                    self.session.add(mark)
                    await self.session.flush()
                    decision.resulting_mark_id = mark.id
                self.session.add(decision)
                await self.session.flush()
        except IntegrityError:
            return False
        return True

    async def is_superseded(self, mark_id: int) -> bool:
        """True when some later mark replaces this one."""
        query = select(exists().where(Mark.supersedes_mark_id == mark_id))
        return bool(await self.session.scalar(query))

    async def admins(self, portal_id: int) -> list[Employee]:
        """Active portal administrators (they may decide any request but their own)."""
        query = (
            select(Employee)
            .where(
                Employee.portal_id == portal_id,
                Employee.is_admin.is_(True),
                Employee.active.is_(True),
            )
            .order_by(Employee.bitrix_user_id)
        )
        return list(await self.session.scalars(query))


class ConversationRepository:
    """Where a dialog stands, per (portal, dialog, user): any process can continue it."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, portal_id: int, dialog_id: str, user_id: int) -> ConversationState | None:
        query = select(ConversationState).where(
            ConversationState.portal_id == portal_id,
            ConversationState.dialog_id == dialog_id,
            ConversationState.user_id == user_id,
        )
        return (await self.session.scalars(query)).first()

    async def put(
        self,
        portal_id: int,
        dialog_id: str,
        user_id: int,
        *,
        state: str,
        data: dict[str, Any],
        now: datetime,
    ) -> ConversationState:
        row = await self.get(portal_id, dialog_id, user_id)
        if row is None:
            row = ConversationState(
                portal_id=portal_id, dialog_id=dialog_id, user_id=user_id, state=state
            )
            self.session.add(row)
        row.state = state
        row.data = dict(data)  # a new dict: JSON columns do not track in-place edits
        row.updated_at = now
        await self.session.flush()
        return row

    async def clear(self, portal_id: int, dialog_id: str, user_id: int) -> None:
        row = await self.get(portal_id, dialog_id, user_id)
        if row is not None:
            await self.session.delete(row)
            await self.session.flush()
