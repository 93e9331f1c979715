"""The unit of work commits only when told to."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from timebot.storage.database import Database
from timebot.storage.tables import Portal, ProcessedEvent

from .rows import NOW, new_portal


async def _portal_count(database: Database) -> int:
    async with database.unit_of_work() as uow:
        count = await uow.session.scalar(sa.select(sa.func.count()).select_from(Portal))
    assert count is not None
    return count


async def test_committed_work_is_kept(database: Database) -> None:
    async with database.unit_of_work() as uow:
        uow.session.add(new_portal("acme"))
        await uow.commit()
    assert await _portal_count(database) == 1


async def test_work_left_uncommitted_is_rolled_back(database: Database) -> None:
    async with database.unit_of_work() as uow:
        uow.session.add(new_portal("acme"))
        await uow.flush()
    assert await _portal_count(database) == 0


async def test_an_error_rolls_back_even_flushed_rows(database: Database) -> None:
    async def failing_handler() -> None:
        async with database.unit_of_work() as uow:
            uow.session.add(new_portal("acme"))
            await uow.flush()
            raise LookupError("handler failed")

    with pytest.raises(LookupError):
        await failing_handler()
    assert await _portal_count(database) == 0


async def test_work_after_the_last_commit_is_rolled_back(database: Database) -> None:
    async with database.unit_of_work() as uow:
        uow.session.add(new_portal("acme"))
        await uow.commit()
        uow.session.add(new_portal("globex"))
        await uow.flush()
    assert await _portal_count(database) == 1


async def test_committed_rows_stay_readable_after_the_commit(database: Database) -> None:
    async with database.unit_of_work() as uow:
        portal = new_portal("acme")
        uow.session.add(portal)
        await uow.commit()
        # expire_on_commit=False: no lazy reload (which async sessions cannot do implicitly).
        assert portal.member_id == "acme"
        assert portal.id >= 1


async def test_a_unit_of_work_is_reusable_but_does_not_nest(database: Database) -> None:
    uow = database.unit_of_work()
    async with uow:
        with pytest.raises(RuntimeError, match="does not nest"):
            await uow.__aenter__()
    async with uow:
        uow.session.add(new_portal("acme"))
        await uow.commit()
    with pytest.raises(RuntimeError, match="outside"):
        _ = uow.session
    assert await _portal_count(database) == 1


async def test_a_failed_savepoint_keeps_the_rest_of_the_unit_of_work(database: Database) -> None:
    """Dedupe by catching the conflict inside a savepoint, then carry on (SQLite too)."""
    async with database.unit_of_work() as uow:
        portal = new_portal("acme")
        uow.session.add(portal)
        await uow.flush()
        uow.session.add(ProcessedEvent(portal_id=portal.id, event_key="v2:7", received_at=NOW))
        await uow.flush()
        with pytest.raises(IntegrityError):
            async with uow.session.begin_nested():
                uow.session.add(
                    ProcessedEvent(portal_id=portal.id, event_key="v2:7", received_at=NOW)
                )
        await uow.commit()
    assert await _portal_count(database) == 1
    async with database.unit_of_work() as uow:
        events = await uow.session.scalar(sa.select(sa.func.count()).select_from(ProcessedEvent))
    assert events == 1
