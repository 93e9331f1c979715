"""Composition root: the one place that reads settings and picks concrete classes.

Everything else receives what it needs from the `Container` built here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from timebot.config import Settings, get_settings
from timebot.domain.clock import Clock, SystemClock
from timebot.logs import configure_logging
from timebot.storage.database import Database


@dataclass
class Container:
    """Process-wide collaborators, built once and closed on shutdown."""

    settings: Settings
    database: Database
    clock: Clock
    _closed: bool = field(default=False, repr=False)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.database.dispose()


def build_container(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    configure_logs: bool = True,
) -> Container:
    """Build the process's collaborators from settings (read lazily when not given)."""
    settings = settings or get_settings()
    if configure_logs:
        configure_logging(level=settings.log_level, json=settings.json_logs)
    database = Database.from_url(settings.database_url)
    return Container(settings=settings, database=database, clock=clock or SystemClock())


async def prepare_database(container: Container, *, force: bool = False) -> None:
    """Apply migrations automatically for SQLite (the embedded default), or when forced.

    PostgreSQL deployments run `timebot migrate` explicitly, so that several processes starting
    at once do not race to migrate.
    """
    from timebot.storage.migrate import upgrade

    if force or container.settings.is_sqlite:
        await upgrade(container.settings.database_url)
