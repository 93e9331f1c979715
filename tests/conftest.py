"""Shared fixtures: databases (SQLite always, PostgreSQL when configured) and environment gates.

`TIMEBOT_REQUIRE_ALL=1` (set by `.ci/run`) turns every "skip because X is missing" into a failure,
so CI cannot pass while PostgreSQL or Chromium tests silently skip.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

REQUIRE_ALL = os.environ.get("TIMEBOT_REQUIRE_ALL") == "1"
POSTGRES_URL = os.environ.get("TIMEBOT_TEST_POSTGRES_URL", "")
CHROMIUM_PATH = os.environ.get("TIMEBOT_TEST_CHROMIUM", "/usr/bin/chromium")


def skip_or_fail(reason: str) -> None:
    """Skip locally; fail under TIMEBOT_REQUIRE_ALL=1 (CI)."""
    if REQUIRE_ALL:
        pytest.fail(f"TIMEBOT_REQUIRE_ALL=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def _asyncpg_url(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgresql+asyncpg://" + url.removeprefix("postgresql://")
    if url.startswith("postgres://"):
        return "postgresql+asyncpg://" + url.removeprefix("postgres://")
    return url


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """The admin URL of the test PostgreSQL server (asyncpg dialect)."""
    if not POSTGRES_URL:
        skip_or_fail("TIMEBOT_TEST_POSTGRES_URL is not set")
    return _asyncpg_url(POSTGRES_URL)


async def _create_database(server_url: str) -> tuple[str, str]:
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(server_url)
    name = f"timebot_t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        database=url.database or "postgres",
    )
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name, url.set(database=name).render_as_string(hide_password=False)


async def _drop_database(server_url: str, name: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(server_url)
    conn = await asyncpg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        database=url.database or "postgres",
    )
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
async def postgres_url(postgres_server_url: str) -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    try:
        name, url = await _create_database(postgres_server_url)
    except OSError as exc:  # server down
        skip_or_fail(f"PostgreSQL at {postgres_server_url} is unreachable: {exc}")
        raise
    try:
        yield url
    finally:
        await _drop_database(postgres_server_url, name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite file for one test."""
    return f"sqlite+aiosqlite:///{tmp_path / 'timebot.sqlite3'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Run the test once on SQLite and once on PostgreSQL (the same code path)."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Path of Debian's Chromium for Playwright; skipped (or failed in CI) when absent."""
    if not (os.path.exists(CHROMIUM_PATH) or shutil.which(CHROMIUM_PATH)):
        skip_or_fail(f"Chromium not found at {CHROMIUM_PATH}")
    return CHROMIUM_PATH
