"""Constraints later features rely on: dedupe keys, history protection, portal erasure."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from timebot.storage.database import Database
from timebot.storage.tables import (
    Employee,
    EmployeeOffice,
    JobRun,
    Mark,
    OutboxMessage,
    Portal,
    ProcessedEvent,
    Zone,
    metadata,
)

from .rows import NOW, new_mark, seed_portal

# Not owned by any portal (rate_buckets is keyed by the rate limiter's key, the member_id).
GLOBAL_TABLES = {"job_runs", "rate_buckets"}
# Owned through a parent row rather than a portal_id of their own.
OWNED_THROUGH_PARENT = {"employee_offices": EmployeeOffice.employee_id}


def test_every_tenant_table_cascades_from_its_portal() -> None:
    for name, table in metadata.tables.items():
        if name in GLOBAL_TABLES | set(OWNED_THROUGH_PARENT) | {"portals"}:
            continue
        (fk,) = table.c.portal_id.foreign_keys
        assert (fk.column.table.name, fk.ondelete) == ("portals", "CASCADE"), name


def test_every_foreign_key_column_leads_an_index() -> None:
    """PostgreSQL does not index referencing columns; cascades would scan whole tables."""
    for table in metadata.tables.values():
        leading = {index.columns[0].name for index in table.indexes}
        leading |= {
            constraint.columns[0].name
            for constraint in table.constraints
            if isinstance(constraint, sa.UniqueConstraint | sa.PrimaryKeyConstraint)
        }
        for fk in table.foreign_key_constraints:
            assert fk.column_keys[0] in leading, f"{table.name}.{fk.column_keys[0]}"


async def test_a_duplicate_processed_event_is_refused(database: Database) -> None:
    async with database.unit_of_work() as uow:
        seeded = await seed_portal(uow, "acme")
        await uow.commit()
    async with database.unit_of_work() as uow:
        uow.session.add(
            ProcessedEvent(portal_id=seeded.portal_id, event_key="v2:1001", received_at=NOW)
        )
        with pytest.raises(IntegrityError):
            await uow.flush()


async def test_the_same_event_key_on_another_portal_is_a_different_event(
    database: Database,
) -> None:
    async with database.unit_of_work() as uow:
        await seed_portal(uow, "acme")
        await seed_portal(uow, "globex")  # both seed event "v2:1001"
        await uow.commit()
    async with database.unit_of_work() as uow:
        assert await uow.session.scalar(sa.select(sa.func.count()).select_from(ProcessedEvent)) == 2


async def test_insert_or_ignore_on_processed_events_lets_exactly_one_through(
    database: Database,
) -> None:
    insert = sqlite_insert if database.is_sqlite else postgres_insert
    async with database.unit_of_work() as uow:
        seeded = await seed_portal(uow, "acme")
        inserted = []
        for _ in range(2):
            result = await uow.session.execute(
                insert(ProcessedEvent)
                .values(portal_id=seeded.portal_id, event_key="v2:2002", received_at=NOW)
                .on_conflict_do_nothing(index_elements=["portal_id", "event_key"])
                .returning(ProcessedEvent.id)
            )
            inserted.append(result.scalar_one_or_none())
        await uow.commit()
    assert inserted[0] is not None
    assert inserted[1] is None


async def test_a_job_occurrence_can_be_claimed_only_once(database: Database) -> None:
    def run(worker: str, scope: str = "portal:1") -> JobRun:
        return JobRun(
            job_name="daily-digest",
            scope=scope,
            period_key="2026-11-20",
            claimed_by=worker,
            started_at=NOW,
        )

    async with database.unit_of_work() as uow:
        uow.session.add_all([run("a"), run("a", scope="portal:2"), run("a", scope="")])
        await uow.commit()
    async with database.unit_of_work() as uow:
        uow.session.add(run("b"))
        with pytest.raises(IntegrityError):
            await uow.commit()


async def test_outbox_dedupe_key_is_unique_per_portal_but_may_be_absent(database: Database) -> None:
    def message(portal_id: int, dedupe_key: str | None) -> OutboxMessage:
        return OutboxMessage(
            portal_id=portal_id,
            kind="message",
            method="imbot.v2.Chat.Message.send",
            dedupe_key=dedupe_key,
            next_attempt_at=NOW,
            created_at=NOW,
        )

    async with database.unit_of_work() as uow:
        seeded = await seed_portal(uow, "acme")
        uow.session.add_all([message(seeded.portal_id, None), message(seeded.portal_id, None)])
        await uow.commit()
    async with database.unit_of_work() as uow:
        uow.session.add(message(seeded.portal_id, "greeting:15:2026-11-20"))
        with pytest.raises(IntegrityError):
            await uow.commit()


async def test_a_mark_idempotency_key_records_one_mark(database: Database) -> None:
    async with database.unit_of_work() as uow:
        seeded = await seed_portal(uow, "acme")
        uow.session.add(new_mark(seeded.portal_id, seeded.employee_id, idempotency_key="req-1"))
        await uow.commit()
    async with database.unit_of_work() as uow:
        uow.session.add(new_mark(seeded.portal_id, seeded.employee_id, idempotency_key="req-1"))
        with pytest.raises(IntegrityError):
            await uow.commit()


@pytest.mark.parametrize(
    "row",
    [
        pytest.param({"table": "marks", "kind": "lunch"}, id="unknown-mark-kind"),
        pytest.param(
            {"table": "zones", "kind": "circle", "radius_m": None}, id="circle-without-radius"
        ),
        pytest.param(
            {"table": "zones", "kind": "polygon", "polygon": None}, id="polygon-without-shape"
        ),
    ],
)
async def test_rows_that_break_a_check_are_refused(
    database: Database, row: dict[str, object]
) -> None:
    async with database.unit_of_work() as uow:
        seeded = await seed_portal(uow, "acme")
        await uow.commit()
    async with database.unit_of_work() as uow:
        if row["table"] == "marks":
            uow.session.add(new_mark(seeded.portal_id, seeded.employee_id, kind=row["kind"]))
        else:
            office_id = await uow.session.scalar(sa.select(Zone.office_id))
            uow.session.add(
                Zone(
                    portal_id=seeded.portal_id,
                    office_id=office_id,
                    name="z",
                    kind=row["kind"],
                    lat=55.0,
                    lon=37.0,
                    radius_m=row.get("radius_m"),
                    polygon=row.get("polygon"),
                    created_at=NOW,
                )
            )
        with pytest.raises(IntegrityError):
            await uow.flush()


async def test_an_employee_with_marks_cannot_be_deleted(database: Database) -> None:
    """Marks are history: people are deactivated, not deleted."""
    async with database.unit_of_work() as uow:
        seeded = await seed_portal(uow, "acme")
        await uow.commit()
    async with database.unit_of_work() as uow:
        with pytest.raises(IntegrityError):
            await uow.session.execute(sa.delete(Employee).where(Employee.id == seeded.employee_id))


async def test_deleting_a_portal_erases_all_its_rows_and_only_its_rows(database: Database) -> None:
    async with database.unit_of_work() as uow:
        acme = await seed_portal(uow, "acme")
        globex = await seed_portal(uow, "globex")
        await uow.commit()

    async def counts(portal_id: int) -> dict[str, int]:
        result: dict[str, int] = {}
        async with database.unit_of_work() as uow:
            for name, table in metadata.tables.items():
                if name in GLOBAL_TABLES:
                    continue
                if name in OWNED_THROUGH_PARENT:
                    owner = sa.select(Employee.id).where(Employee.portal_id == portal_id)
                    where = OWNED_THROUGH_PARENT[name].in_(owner)
                else:
                    where = (table.c.id if name == "portals" else table.c.portal_id) == portal_id
                query = sa.select(sa.func.count()).select_from(table).where(where)
                result[name] = (await uow.session.execute(query)).scalar_one()
        return result

    before = await counts(acme.portal_id)
    assert min(before.values()) >= 1, "the seed must cover every tenant table"

    async with database.unit_of_work() as uow:
        await uow.session.execute(sa.delete(Portal).where(Portal.id == acme.portal_id))
        await uow.commit()

    assert set((await counts(acme.portal_id)).values()) == {0}
    assert await counts(globex.portal_id) == before
    async with database.unit_of_work() as uow:
        assert await uow.session.scalar(sa.select(sa.func.count()).select_from(Mark)) == 2
