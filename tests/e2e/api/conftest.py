"""The seeded two-portal world behind the REST API tests (see `world.py`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.e2e.api.world import World, running_world


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    async with running_world(database_url) as found:
        yield found
