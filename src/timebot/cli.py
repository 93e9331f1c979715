"""The `timebot` command: serve, worker, migrate, demo and admin tools."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

import timebot

app = typer.Typer(
    name="timebot",
    help="Working-time tracking chat-bot for Bitrix24.",
    no_args_is_help=True,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"timebot {timebot.__version__}")
        raise typer.Exit


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """timebot: keeps employees' working time inside Bitrix24."""


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface to bind (default from settings).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind (default from settings).")] = None,
    with_worker: Annotated[
        bool, typer.Option("--with-worker", help="Also run the worker in this process.")
    ] = False,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes.")] = 1,
) -> None:
    """Run the web application (uvicorn)."""
    import uvicorn

    from timebot.config import get_settings

    settings = get_settings()
    if workers > 1 and with_worker:
        raise typer.BadParameter("--with-worker runs in one process; use `timebot worker` instead")
    uvicorn.run(
        "timebot.web.factory:build_app_with_worker"
        if with_worker
        else "timebot.web.factory:build_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        proxy_headers=True,
        forwarded_allow_ips="*",
        log_config=None,
        access_log=False,
    )


@app.command()
def worker() -> None:
    """Run the worker: event polling, outbox dispatch and scheduled jobs."""
    from timebot.bootstrap import build_container, prepare_database
    from timebot.jobs.worker import Worker

    async def run() -> None:
        container = build_container()
        await prepare_database(container)
        w = Worker(container)
        loop = asyncio.get_running_loop()
        import signal

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, w.stop)
        try:
            await w.run()
        finally:
            await container.aclose()

    asyncio.run(run())


@app.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    downgrade: Annotated[bool, typer.Option("--downgrade", help="Downgrade to REVISION.")] = False,
) -> None:
    """Apply database migrations (upgrade to head by default)."""
    from timebot.config import get_settings
    from timebot.logs import configure_logging
    from timebot.storage import migrate as migrations

    settings = get_settings()
    configure_logging(level=settings.log_level, json=settings.json_logs)
    if downgrade:
        asyncio.run(migrations.downgrade(settings.database_url, revision))
    else:
        asyncio.run(migrations.upgrade(settings.database_url, revision))
    current = asyncio.run(migrations.current_revision(settings.database_url))
    typer.echo(f"database at revision {current or 'base'}")


if __name__ == "__main__":  # pragma: no cover
    app()
