"""timebot_marks_total counts a mark once its transaction commits, never a rolled-back one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from tests.support.rows import employee_row, flushed, mark_row, migrated_with, portal_row
from timebot.metrics import count_mark
from timebot.storage import UnitOfWork
from timebot.storage.committed_marks import on_committed_mark

AT = datetime(2026, 11, 23, 6, 5, tzinfo=UTC)


def marks_counted(kind: str, source: str) -> float:
    value = REGISTRY.get_sample_value("timebot_marks_total", {"kind": kind, "source": source})
    return value or 0.0


async def test_only_committed_marks_are_counted(database_url: str) -> None:
    on_committed_mark(count_mark)  # what build_container does
    on_committed_mark(count_mark)  # a second composition root in the process: still once
    db, portal_id = await migrated_with(database_url, portal_row())
    try:
        async with db.unit_of_work() as uow:
            employee = await flushed(uow, employee_row(portal_id, 7))
            await uow.commit()
        ins, outs = marks_counted("check_in", "chat"), marks_counted("check_out", "correction")

        async with db.unit_of_work() as uow:
            uow.marks.add(mark_row(portal_id, employee.id, "check_in", AT))
            await uow.flush()
            assert marks_counted("check_in", "chat") == ins  # flushed is not stored yet
            await uow.commit()
        assert marks_counted("check_in", "chat") == ins + 1

        async with db.unit_of_work() as uow:  # left without commit: rolled back
            uow.marks.add(mark_row(portal_id, employee.id, "check_in", AT))
            await uow.flush()

        async def failing_handler() -> None:
            async with db.unit_of_work() as uow:
                uow.marks.add(mark_row(portal_id, employee.id, "check_in", AT))
                await uow.flush()
                raise LookupError("handler failed")

        with pytest.raises(LookupError):
            await failing_handler()
        assert marks_counted("check_in", "chat") == ins + 1

        # A savepoint rolled back inside a transaction that commits (a correction's decision
        # that lost its race does this): only the mark outside the savepoint counts.
        later = AT + timedelta(hours=9)

        async def losing_savepoint(uow: UnitOfWork) -> None:
            async with uow.session.begin_nested():
                uow.session.add(mark_row(portal_id, employee.id, "check_in", later))
                await uow.session.flush()
                raise LookupError("lost the race")

        async with db.unit_of_work() as uow:
            with pytest.raises(LookupError):
                await losing_savepoint(uow)
            uow.session.add(
                mark_row(portal_id, employee.id, "check_out", later, source="correction")
            )
            await uow.commit()
        assert marks_counted("check_in", "chat") == ins + 1
        assert marks_counted("check_out", "correction") == outs + 1
    finally:
        await db.dispose()
