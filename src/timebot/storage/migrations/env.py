"""Alembic environment: runs revisions on a connection handed in by `timebot.storage.migrate`,
or, for the `alembic` command line, on a URL from `-x url=...`, `sqlalchemy.url` or
TIMEBOT_DATABASE_URL.
"""

from __future__ import annotations

import asyncio
import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

from timebot.storage.database import normalize_url
from timebot.storage.migrate import compare_server_default, run_on_url
from timebot.storage.tables import metadata

URL_ENV_VAR = "TIMEBOT_DATABASE_URL"

config = context.config


def configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        compare_server_default=compare_server_default,
    )


def _command_line_url() -> str:
    url = (
        context.get_x_argument(as_dictionary=True).get("url")
        or config.get_main_option("sqlalchemy.url")
        or os.environ.get(URL_ENV_VAR)
    )
    if not url:
        raise SystemExit(f"no database URL: pass `-x url=...` or set {URL_ENV_VAR}")
    return normalize_url(url)


def run_offline() -> None:
    url = _command_line_url()
    context.configure(
        url=url,
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        # Programmatic use: the caller owns the connection and its transaction.
        configure(connection)
        context.run_migrations()
        return
    if config.config_file_name is not None:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    asyncio.run(run_on_url(_command_line_url(), _run_with_connection))


def _run_with_connection(connection: Connection) -> None:
    configure(connection)
    context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
