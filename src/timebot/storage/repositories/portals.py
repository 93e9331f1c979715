"""Portals: lookup by the Bitrix24 `member_id`, install upserts, and the refresh row lock."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from timebot.storage.tables import Portal


class PortalRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, portal_id: int) -> Portal | None:
        return await self.session.get(Portal, portal_id)

    async def by_member_id(self, member_id: str) -> Portal | None:
        return (
            await self.session.execute(select(Portal).where(Portal.member_id == member_id))
        ).scalar_one_or_none()

    async def lock(self, portal_id: int) -> Portal | None:
        """Read the row under `SELECT … FOR UPDATE` (PostgreSQL) so token refreshes serialize.

        On SQLite every transaction already begins IMMEDIATE, which takes the write lock.
        PostgreSQL gets `FOR NO KEY UPDATE`: it serializes writers of this row but, unlike
        `FOR UPDATE`, does not conflict with the key-share locks that inserting rows referencing
        the portal take; two transactions that each inserted such a row (a first contact's
        employee) and then locked the portal deadlocked with `FOR UPDATE`.
        `populate_existing` makes sure we see the committed row, not a stale identity-map copy.
        """
        stmt = (
            select(Portal)
            .where(Portal.id == portal_id)
            .with_for_update(key_share=True)
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def active(self) -> Sequence[Portal]:
        return (
            (await self.session.execute(select(Portal).where(Portal.status == "active")))
            .scalars()
            .all()
        )

    async def polling(self) -> Sequence[Portal]:
        """Active portals whose bot receives events by `imbot.v2.Event.get`."""
        stmt = select(Portal).where(
            Portal.status == "active", Portal.event_mode == "fetch", Portal.bot_id.is_not(None)
        )
        return (await self.session.execute(stmt)).scalars().all()

    async def without_bot(self) -> Sequence[Portal]:
        stmt = select(Portal).where(Portal.status == "active", Portal.bot_id.is_(None))
        return (await self.session.execute(stmt)).scalars().all()

    def add(self, portal: Portal) -> None:
        self.session.add(portal)

    async def delete(self, portal: Portal) -> None:
        await self.session.delete(portal)

    @staticmethod
    def touch(portal: Portal, now: datetime) -> None:
        portal.updated_at = now
