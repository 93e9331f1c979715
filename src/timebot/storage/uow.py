"""The unit of work: one session, one transaction, committed only when asked.

Leaving the block without `commit()` (or with an exception) rolls everything back, so a
use case writes its domain rows and outbox rows together or not at all.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from timebot.storage.repositories import (
    AuditRepository,
    OutboxRepository,
    PortalRepository,
    ProcessedEventRepository,
)
from timebot.storage.repositories.marks import MarkRepository
from timebot.storage.repositories.people import DepartmentRepository, EmployeeRepository
from timebot.storage.repositories.plans import PlanRepository


class UnitOfWork:
    """`async with UnitOfWork(sessions) as uow: ...; await uow.commit()`.

    Reusable: each `async with` opens a fresh session. Repositories for later features take
    `uow.session`.
    """

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._session_factory = session_factory
        self._session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("UnitOfWork.session used outside `async with`")
        return self._session

    async def __aenter__(self) -> Self:
        if self._session is not None:
            raise RuntimeError("UnitOfWork is already active; it does not nest")
        self._session = self._session_factory()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, self._session = self.session, None
        try:
            # Anything not committed explicitly is discarded, on success and on error alike.
            await session.rollback()
        finally:
            await session.close()

    async def commit(self) -> None:
        await self.session.commit()

    async def rollback(self) -> None:
        await self.session.rollback()

    @property
    def portals(self) -> PortalRepository:
        return PortalRepository(self.session)

    @property
    def events(self) -> ProcessedEventRepository:
        return ProcessedEventRepository(self.session)

    @property
    def outbox(self) -> OutboxRepository:
        return OutboxRepository(self.session)

    @property
    def audit(self) -> AuditRepository:
        return AuditRepository(self.session)

    @property
    def employees(self) -> EmployeeRepository:
        return EmployeeRepository(self.session)

    @property
    def departments(self) -> DepartmentRepository:
        return DepartmentRepository(self.session)

    @property
    def marks(self) -> MarkRepository:
        return MarkRepository(self.session)

    @property
    def plans(self) -> PlanRepository:
        return PlanRepository(self.session)

    async def flush(self) -> None:
        """Send pending rows now (to get generated ids) without committing."""
        await self.session.flush()
