"""Alembic revisions against real SQLite and PostgreSQL: up, down, equal to the models."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from timebot.storage.database import Database
from timebot.storage.migrate import (
    compare_server_default,
    current_revision,
    downgrade,
    head_revision,
    run_on_url,
    upgrade,
)
from timebot.storage.tables import Employee, metadata

from .rows import seed_portal

REPO_ROOT = Path(__file__).resolve().parents[3]


def _table_names(connection: Connection) -> set[str]:
    return set(sa.inspect(connection).get_table_names())


async def test_an_empty_database_has_no_revision(database_url: str) -> None:
    assert await current_revision(database_url) is None


async def test_upgrade_then_downgrade_then_upgrade_again_round_trips(database_url: str) -> None:
    await upgrade(database_url)
    assert await current_revision(database_url) == head_revision()
    assert await run_on_url(database_url, _table_names) == set(metadata.tables) | {
        "alembic_version"
    }

    await downgrade(database_url)
    assert await current_revision(database_url) is None
    assert await run_on_url(database_url, _table_names) == {"alembic_version"}

    await upgrade(database_url)
    assert await current_revision(database_url) == head_revision()


def _schema_differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={"compare_type": True, "compare_server_default": compare_server_default},
    )
    return list(compare_metadata(context, metadata))


def _reflected_constraints(connection: Connection) -> dict[str, Any]:
    """What compare_metadata does not check: FK actions, CHECK and PK names."""
    inspector = sa.inspect(connection)
    sqlite = connection.dialect.name == "sqlite"
    shape: dict[str, Any] = {}
    for table in metadata.tables:
        shape[table] = {
            "fks": sorted(
                (
                    fk["name"],
                    tuple(fk["constrained_columns"]),
                    fk["referred_table"],
                    tuple(fk["referred_columns"]),
                    (fk["options"].get("ondelete") or "").upper(),
                )
                for fk in inspector.get_foreign_keys(table)
            ),
            "checks": sorted(
                # PostgreSQL rewrites the expression; SQLite keeps it verbatim, so compare it there.
                (ck["name"], ck["sqltext"] if sqlite else "")
                for ck in inspector.get_check_constraints(table)
            ),
            "pk": inspector.get_pk_constraint(table)["name"],
        }
    return shape


def _model_constraints(*, sqlite: bool) -> dict[str, Any]:
    shape: dict[str, Any] = {}
    for name, table in metadata.tables.items():
        shape[name] = {
            "fks": sorted(
                (
                    fk.name,
                    tuple(fk.column_keys),
                    fk.referred_table.name,
                    tuple(element.column.name for element in fk.elements),
                    (fk.ondelete or "").upper(),
                )
                for fk in table.foreign_key_constraints
            ),
            "checks": sorted(
                (str(ck.name), str(ck.sqltext) if sqlite else "")
                for ck in table.constraints
                if isinstance(ck, sa.CheckConstraint)
            ),
            "pk": table.primary_key.name,
        }
    return shape


async def test_migrated_schema_matches_the_models_exactly(migrated_url: str) -> None:
    assert await run_on_url(migrated_url, _schema_differences) == []
    expected = _model_constraints(sqlite=migrated_url.startswith("sqlite"))
    assert await run_on_url(migrated_url, _reflected_constraints) == expected


async def test_a_failing_migration_leaves_the_database_untouched(database_url: str) -> None:
    def create_then_fail(connection: Connection) -> None:
        connection.exec_driver_sql("CREATE TABLE half_done (id INTEGER PRIMARY KEY)")
        raise RuntimeError("revision failed half-way")

    with pytest.raises(RuntimeError, match="half-way"):
        await run_on_url(database_url, create_then_fail)
    assert await run_on_url(database_url, _table_names) == set()


async def test_processes_upgrading_at_the_same_time_both_succeed(database_url: str) -> None:
    await asyncio.gather(upgrade(database_url), upgrade(database_url))
    assert await current_revision(database_url) == head_revision()


async def test_rebuilding_a_parent_table_in_batch_mode_keeps_its_children(
    sqlite_url: str,
) -> None:
    """SQLite drops and recreates a table to alter it; with foreign keys on, dropping
    `portals` would cascade-delete every employee. Migrations run with them off."""
    await upgrade(sqlite_url)
    database = Database.from_url(sqlite_url)
    try:
        async with database.unit_of_work() as uow:
            await seed_portal(uow, "acme")
            await uow.commit()

        def add_portal_column(connection: Connection) -> None:
            operations = Operations(MigrationContext.configure(connection))
            with operations.batch_alter_table("portals", recreate="always") as batch:
                batch.add_column(sa.Column("note", sa.String(32), nullable=True))

        await run_on_url(sqlite_url, add_portal_column)

        async with database.unit_of_work() as uow:
            employees = await uow.session.scalar(sa.select(sa.func.count()).select_from(Employee))
        assert employees == 1
    finally:
        await database.dispose()


async def test_alembic_command_line_migrates_the_url_given_with_x(database_url: str) -> None:
    env = {key: value for key, value in os.environ.items() if key != "TIMEBOT_DATABASE_URL"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "alembic",
        "-x",
        f"url={database_url}",
        "upgrade",
        "head",
        cwd=REPO_ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, stderr.decode()
    assert await current_revision(database_url) == head_revision()
