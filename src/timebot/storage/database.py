"""Engine construction and the `Database` handle: URL normalisation, SQLite pragmas, PG pool.

SQLite (file, WAL) is the embedded default and PostgreSQL (asyncpg) the production database;
callers pass any of the usual URL spellings and get the async driver.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, Final

from sqlalchemy import event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from timebot.storage.uow import UnitOfWork

log = logging.getLogger(__name__)

SQLITE_DRIVER: Final = "sqlite+aiosqlite"
POSTGRES_DRIVER: Final = "postgresql+asyncpg"
SQLITE_BUSY_TIMEOUT_MS: Final = 5000
# How long a task waits for the one SQLite connection of its process (writers queue there).
SQLITE_POOL_TIMEOUT_S: Final = 60
POSTGRES_CONNECT_TIMEOUT_S: Final = 10.0
PING_TIMEOUT_S: Final = 2.0

_SQLITE_SCHEMES: Final = frozenset({"sqlite", SQLITE_DRIVER})
_POSTGRES_SCHEMES: Final = frozenset({"postgres", "postgresql", POSTGRES_DRIVER})


def normalize_url(url: str) -> str:
    """Rewrite `sqlite:///`, `postgres://` and `postgresql://` URLs to their async drivers.

    Raises ValueError for anything else (a sync driver such as psycopg2 would block the loop).
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ValueError(f"not a database URL: {exc}") from None
    scheme = parsed.drivername
    if scheme in _SQLITE_SCHEMES:
        return parsed.set(drivername=SQLITE_DRIVER).render_as_string(hide_password=False)
    if scheme in _POSTGRES_SCHEMES:
        parsed = parsed.set(drivername=POSTGRES_DRIVER)
        # libpq spells it sslmode (hosting providers hand out such URLs); asyncpg calls it ssl.
        if "sslmode" in parsed.query:
            sslmode = parsed.query["sslmode"]
            parsed = parsed.difference_update_query(["sslmode"])
            if "ssl" not in parsed.query:
                parsed = parsed.update_query_dict({"ssl": sslmode})
        return parsed.render_as_string(hide_password=False)
    raise ValueError(
        f"unsupported database URL scheme {scheme!r}: use sqlite:///path or postgresql://..."
    )


def create_engine(url: str, *, echo: bool = False, foreign_keys: bool = True) -> AsyncEngine:
    """An async engine for `url` with the settings timebot relies on.

    `foreign_keys=False` is only for schema migrations on SQLite, which must rebuild tables
    without cascading deletes (SQLite's documented procedure for altering a table).
    """
    parsed = make_url(normalize_url(url))
    if parsed.get_backend_name() == "sqlite":
        _create_sqlite_directory(parsed)
        # SQLite has one writer and every transaction here is `BEGIN IMMEDIATE`: a pool of many
        # connections would only have them fight in SQLite's busy handler (no order, "database
        # is locked" after the timeout under load). One connection per process makes waiters
        # queue in order in the pool; the busy timeout still covers other processes.
        engine = create_async_engine(
            parsed, echo=echo, pool_size=1, max_overflow=0, pool_timeout=SQLITE_POOL_TIMEOUT_S
        )
        _install_sqlite_hooks(engine, foreign_keys=foreign_keys)
        return engine
    return create_async_engine(
        parsed,
        echo=echo,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
        pool_timeout=30,
        # Recycle before typical proxy/firewall idle cut-offs.
        pool_recycle=1800,
        connect_args={
            "timeout": POSTGRES_CONNECT_TIMEOUT_S,
            # UTC sessions make any SQL-side date arithmetic independent of the server's zone.
            "server_settings": {"application_name": "timebot", "timezone": "UTC"},
        },
    )


def _sqlite_file(url: URL) -> Path | None:
    database = url.database
    if not database or database == ":memory:" or url.query.get("uri") in ("true", "1"):
        return None
    return Path(database).expanduser()


def _create_sqlite_directory(url: URL) -> None:
    path = _sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


def _install_sqlite_hooks(engine: AsyncEngine, *, foreign_keys: bool) -> None:
    pragmas = (
        # First, so that switching to WAL waits for other processes instead of failing.
        f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}",
        "PRAGMA journal_mode = WAL",
        # WAL + NORMAL is durable against application crashes, fast on laptops.
        "PRAGMA synchronous = NORMAL",
        f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}",
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # sqlite3's legacy mode emits no BEGIN before SELECT or DDL, which breaks repeatable
        # reads, savepoints and transactional migrations; the begin hook below takes over.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in pragmas:
                cursor.execute(pragma)
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # IMMEDIATE takes the write lock up front: a read-then-write transaction would
        # otherwise fail at once with SQLITE_BUSY when another connection wrote meanwhile
        # (busy_timeout cannot help there). Writers queue instead, like row locks would.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """The engine plus a session factory; built by the composition root, disposed at shutdown."""

    def __init__(self, engine: AsyncEngine, *, ping_timeout: float = PING_TIMEOUT_S) -> None:
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._ping_timeout = ping_timeout

    @classmethod
    def from_url(
        cls, url: str, *, echo: bool = False, ping_timeout: float = PING_TIMEOUT_S
    ) -> Database:
        return cls(create_engine(url, echo=echo), ping_timeout=ping_timeout)

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self._sessions

    @property
    def is_sqlite(self) -> bool:
        return self._engine.dialect.name == "sqlite"

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self._sessions)

    async def ping(self) -> bool:
        """True when `SELECT 1` succeeds within the ping timeout; never raises."""
        try:
            async with asyncio.timeout(self._ping_timeout), self._engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as exc:  # a health check reports, it does not fail
            log.warning("database ping failed: %s: %s", type(exc).__name__, exc)
            return False
        return True

    async def dispose(self) -> None:
        await self._engine.dispose()
