"""Fixtures for storage tests: a migrated database on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from timebot.storage.database import Database
from timebot.storage.migrate import upgrade


@pytest.fixture
async def migrated_url(database_url: str) -> str:
    await upgrade(database_url)
    return database_url


@pytest.fixture
async def database(migrated_url: str) -> AsyncIterator[Database]:
    db = Database.from_url(migrated_url)
    try:
        yield db
    finally:
        await db.dispose()
