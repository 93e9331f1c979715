"""Engine set-up: URL spellings, SQLite pragmas and locking, and the health ping."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from timebot.storage.database import Database, create_engine, normalize_url
from timebot.storage.migrate import upgrade
from timebot.storage.tables import Employee, JobRun

from .rows import NOW, new_employee


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///var/timebot.sqlite3", "sqlite+aiosqlite:///var/timebot.sqlite3"),
        ("sqlite:////abs/timebot.sqlite3", "sqlite+aiosqlite:////abs/timebot.sqlite3"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("postgres://u:p@db:5432/tb", "postgresql+asyncpg://u:p@db:5432/tb"),
        ("postgresql://u:p@db/tb", "postgresql+asyncpg://u:p@db/tb"),
        ("postgresql+asyncpg://u@db/tb", "postgresql+asyncpg://u@db/tb"),
        ("postgresql://u@db/tb?sslmode=require", "postgresql+asyncpg://u@db/tb?ssl=require"),
    ],
)
def test_usual_url_spellings_are_turned_into_async_driver_urls(given: str, expected: str) -> None:
    assert normalize_url(given) == expected


@pytest.mark.parametrize(
    "url", ["mysql://u@db/tb", "postgresql+psycopg2://u@db/tb", "sqlite+pysqlite:///x.db", "x"]
)
def test_unsupported_urls_are_refused_with_a_clear_error(url: str) -> None:
    with pytest.raises(ValueError, match="URL"):
        normalize_url(url)


async def test_sqlite_file_gets_wal_foreign_keys_busy_timeout_and_normal_sync(
    sqlite_url: str,
) -> None:
    engine = create_engine(sqlite_url)
    try:
        async with engine.connect() as connection:
            pragma = {
                name: (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
            }
    finally:
        await engine.dispose()
    # synchronous: 1 is NORMAL.
    assert pragma == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": 5000,
        "synchronous": 1,
    }


async def test_the_sqlite_parent_directory_is_created(tmp_path: Path) -> None:
    path = tmp_path / "var" / "data" / "timebot.sqlite3"
    database = Database.from_url(f"sqlite:///{path}")
    try:
        assert database.is_sqlite
        assert await database.ping()
    finally:
        await database.dispose()
    assert path.is_file()


async def test_foreign_keys_are_enforced(database: Database) -> None:
    async with database.unit_of_work() as uow:
        uow.session.add(new_employee(portal_id=4242))
        with pytest.raises(IntegrityError):
            await uow.flush()


async def test_sqlite_serializes_read_then_write_transactions_instead_of_failing(
    sqlite_url: str,
) -> None:
    """Deferred BEGIN would make the second writer fail with "database is locked" at once."""
    await upgrade(sqlite_url)
    database = Database.from_url(sqlite_url)
    seen: list[int] = []

    async def claim(worker: str) -> None:
        async with database.unit_of_work() as uow:
            runs = await uow.session.scalar(sa.select(sa.func.count()).select_from(JobRun))
            assert runs is not None
            seen.append(runs)
            await asyncio.sleep(0.1)  # the other worker tries to get in meanwhile
            uow.session.add(
                JobRun(
                    job_name="daily-digest",
                    period_key=f"2026-11-2{runs}",
                    claimed_by=worker,
                    started_at=NOW,
                )
            )
            await uow.commit()

    try:
        await asyncio.gather(claim("a"), claim("b"))
    finally:
        await database.dispose()
    assert sorted(seen) == [0, 1]


async def test_postgres_sessions_run_in_utc_and_name_themselves(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    try:
        async with engine.connect() as connection:
            zone = (await connection.exec_driver_sql("SHOW TimeZone")).scalar()
            name = (await connection.exec_driver_sql("SHOW application_name")).scalar()
    finally:
        await engine.dispose()
    assert (zone, name) == ("UTC", "timebot")


async def test_ping_is_true_on_a_live_database(database: Database) -> None:
    assert await database.ping()
    async with database.unit_of_work() as uow:
        # Still usable after the ping (the ping returned its connection).
        assert await uow.session.scalar(sa.select(sa.func.count()).select_from(Employee)) == 0


async def test_ping_is_false_when_postgres_refuses_connections() -> None:
    database = Database.from_url("postgresql://timebot@127.0.0.1:1/timebot")
    try:
        started = time.monotonic()
        assert await database.ping() is False
        assert time.monotonic() - started < 5
    finally:
        await database.dispose()


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections (kernel backlog) but never says a word."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield int(server.getsockname()[1])


async def test_ping_gives_up_after_its_timeout_when_the_server_never_answers(
    silent_server: int,
) -> None:
    database = Database.from_url(
        f"postgresql://timebot@127.0.0.1:{silent_server}/timebot", ping_timeout=0.5
    )
    try:
        started = time.monotonic()
        assert await database.ping() is False
        assert time.monotonic() - started < 3
    finally:
        await database.dispose()
