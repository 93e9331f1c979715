"""Schema migrations as async functions: upgrade, downgrade, current revision.

Revisions live in `timebot/storage/migrations` inside the package, so an installed timebot
migrates without an alembic.ini. Each run is one transaction: all revisions apply or none.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, text
from sqlalchemy.engine import Connection

from timebot.storage.database import create_engine

T = TypeVar("T")

SCRIPT_LOCATION: Final = Path(__file__).with_name("migrations")
# Any constant will do; it only has to be the same for every timebot process.
_POSTGRES_LOCK_KEY: Final = 0x7469_6D65_626F_74  # "timebot"


class ForeignKeyViolationError(RuntimeError):
    """A migration left rows pointing nowhere (SQLite checks this only after the fact)."""


def compare_server_default(
    context: MigrationContext,
    inspected_column: Column[Any],
    metadata_column: Column[Any],
    inspected_default: str | None,
    metadata_default: Any,
    rendered_metadata_default: str | None,
) -> bool | None:
    """Autogenerate hook: treat `''` and the empty string as the same SQLite default.

    Alembic's SQLite comparison unquotes only non-empty literals and so reports every
    `server_default=""` as changed. None defers to Alembic for everything else.
    """
    if inspected_default is None or rendered_metadata_default is None:
        return None
    if _unquote(inspected_default) == _unquote(rendered_metadata_default) == "":
        return False
    return None


def _unquote(default: str) -> str:
    return re.sub(r"^\((.*)\)$", r"\1", default).strip("'\"")


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config for the shipped revisions; `connection` is handed to env.py."""
    config = Config()
    # `%` would be read as ini interpolation.
    config.set_main_option("script_location", str(SCRIPT_LOCATION).replace("%", "%%"))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision shipped with this code."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no revisions in {SCRIPT_LOCATION}")
    return head


async def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at `url` up to `revision`."""
    await run_on_url(url, lambda connection: command.upgrade(alembic_config(connection), revision))


async def downgrade(url: str, revision: str = "base") -> None:
    """Migrate the database at `url` down to `revision` ("base" drops every table)."""
    await run_on_url(
        url, lambda connection: command.downgrade(alembic_config(connection), revision)
    )


async def current_revision(url: str) -> str | None:
    """The revision the database is at; None for an empty (never migrated) database."""
    return await run_on_url(
        url, lambda connection: MigrationContext.configure(connection).get_current_revision()
    )


async def run_on_url(url: str, work: Callable[[Connection], T]) -> T:
    """Run `work` on one connection in one transaction, the way migrations must run.

    SQLite: foreign keys off while tables are rebuilt (otherwise dropping the old copy of a
    table would cascade-delete its children), then verified before commit. PostgreSQL: an
    advisory lock, so processes starting together migrate one after another.
    """
    engine = create_engine(url, foreign_keys=False)
    try:
        async with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _POSTGRES_LOCK_KEY}
                )
            result = await connection.run_sync(work)
            if connection.dialect.name == "sqlite":
                violations = (await connection.exec_driver_sql("PRAGMA foreign_key_check")).all()
                if violations:
                    raise ForeignKeyViolationError(f"foreign keys violated: {violations[:10]}")
            return result
    finally:
        await engine.dispose()
