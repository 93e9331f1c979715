"""The `timebot` command: serve, worker, migrate, demo and admin tools."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated

import typer

import timebot

if TYPE_CHECKING:
    from timebot.bootstrap import Container

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
def demo(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    event_mode: Annotated[
        str, typer.Option(help="How the bot gets events: webhook (pushed) or fetch (polled).")
    ] = "webhook",
) -> None:
    """Run timebot with the sandbox portal and demo company on SQLite; open the printed URL."""
    import uvicorn

    from timebot.config import get_settings
    from timebot.demo import build_demo
    from timebot.logs import configure_logging

    if event_mode not in ("webhook", "fetch"):
        raise typer.BadParameter("--event-mode is webhook or fetch")
    base = get_settings()
    configure_logging(level=base.log_level, json=base.json_logs)
    app_, _ = build_demo(host=host, port=port, event_mode=event_mode)
    typer.echo(f"starting timebot demo on http://{host}:{port}/sandbox/ …")
    uvicorn.run(app_, host=host, port=port, log_config=None, access_log=False)


@app.command()
def calendar(
    country: Annotated[str, typer.Option(help="ISO country code.")] = "RU",
    year: Annotated[int | None, typer.Option(help="Year (default: the current one).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Production calendar: working days and norm hours per month for 40/36/24-hour weeks."""
    from timebot.domain.clock import SystemClock
    from timebot.reports.production_calendar import calendar_command_output

    try:
        typer.echo(calendar_command_output(country, year or SystemClock().now().year, as_json))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


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


bitrix_app = typer.Typer(help="Connect Bitrix24 portals.", no_args_is_help=True)
outbox_app = typer.Typer(help="Inspect and retry outgoing deliveries.", no_args_is_help=True)
app.add_typer(bitrix_app, name="bitrix")
app.add_typer(outbox_app, name="outbox")


def _run_with_container(work: Callable[[Container], Awaitable[None]]) -> None:
    from timebot.bootstrap import build_container, prepare_database

    async def run() -> None:
        container = build_container()
        try:
            await prepare_database(container)
            await work(container)
        finally:
            await container.aclose()

    asyncio.run(run())


@bitrix_app.command("connect")
def bitrix_connect(
    webhook: Annotated[str, typer.Option(help="Incoming webhook URL …/rest/<user>/<secret>/.")],
    bot_token: Annotated[
        str,
        typer.Option(help="Your bot token (≤ 40 characters).", envvar="TIMEBOT_BITRIX_BOT_TOKEN"),
    ],
) -> None:
    """Single portal without a public URL: store the webhook; the worker registers the bot."""
    from timebot.gateway.install import connect_webhook, ensure_bot

    async def work(c: Container) -> None:
        try:
            portal_id = await connect_webhook(
                c.database, webhook, bot_token, clock=c.clock, config=c.gateway
            )
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
        bot_id = await ensure_bot(c.database, c.bitrix, portal_id, clock=c.clock, config=c.gateway)
        typer.echo(f"connected portal #{portal_id}; bot id {bot_id}")

    _run_with_container(work)


@outbox_app.command("list")
def outbox_list(
    status: Annotated[str | None, typer.Option(help="pending, sent or dead.")] = None,
    limit: Annotated[int, typer.Option(help="Rows to show.")] = 50,
) -> None:
    """Show the newest outbox rows (dead letters with their last error)."""

    async def work(c: Container) -> None:
        async with c.database.unit_of_work() as uow:
            counts = await uow.outbox.counts()
            # Format inside the transaction: leaving it expires the rows.
            lines = [
                f"#{r.id} portal={r.portal_id} {r.status} {r.method} attempts={r.attempts}"
                + (f"  {r.last_error}" if r.last_error else "")
                for r in await uow.outbox.list(status=status, limit=limit)
            ]
        typer.echo("  ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "outbox is empty")
        for line in lines:
            typer.echo(line)

    _run_with_container(work)


@outbox_app.command("retry")
def outbox_retry(
    ids: Annotated[
        list[int] | None, typer.Argument(help="Row ids (default: every dead letter).")
    ] = None,
) -> None:
    """Put dead letters back in the queue."""

    async def work(c: Container) -> None:
        async with c.database.unit_of_work() as uow:
            n = await uow.outbox.retry_dead(now=c.clock.now(), ids=ids or None)
            await uow.commit()
        typer.echo(f"{n} row(s) queued again")

    _run_with_container(work)


if __name__ == "__main__":  # pragma: no cover
    app()
