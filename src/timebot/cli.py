"""The `timebot` command: serve, worker, migrate, demo and admin tools."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer

import timebot
from timebot.api_cli import run_with_container, token_app
from timebot.inbox_cli import inbox_app

if TYPE_CHECKING:
    import socket
    from pathlib import Path

    from timebot.bootstrap import Container
    from timebot.config import Settings

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
    port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help="Port to bind (default TIMEBOT_PORT; on Render or Heroku pass --port $PORT).",
        ),
    ] = None,
    with_worker: Annotated[
        bool, typer.Option("--with-worker", help="Also run the worker in this process.")
    ] = False,
    workers: Annotated[
        int,
        typer.Option(min=1, help="uvicorn worker processes (each with its own database pool)."),
    ] = 1,
    proxy_headers: Annotated[
        bool,
        typer.Option(
            "--proxy-headers/--no-proxy-headers",
            help="Take the client address and scheme from X-Forwarded-For/-Proto "
            "sent by a trusted proxy (see --forwarded-allow-ips).",
        ),
    ] = True,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            envvar="TIMEBOT_FORWARDED_ALLOW_IPS",
            help="Comma-separated proxy addresses or networks whose X-Forwarded-* headers are "
            "trusted, or '*' when only the proxy can reach this port "
            "(default: $FORWARDED_ALLOW_IPS, else 127.0.0.1,::1).",
        ),
    ] = None,
    timeout_graceful_shutdown: Annotated[
        int,
        typer.Option(
            min=1, help="Seconds open requests get to finish after SIGTERM before they are closed."
        ),
    ] = 10,
) -> None:
    """Run the web application (uvicorn)."""
    import uvicorn

    from timebot.config import get_settings
    from timebot.logs import configure_logging

    settings = get_settings()
    if workers > 1 and with_worker:
        # N web processes would run N workers; the worker's loops belong in their own process.
        raise typer.BadParameter(
            "--with-worker runs in one process; with --workers N run `timebot worker` beside it",
            param_hint="'--with-worker'",
        )
    # uvicorn's own records (the process manager's above all) go through our handlers too.
    configure_logging(level=settings.log_level, json=settings.json_logs)
    # N processes share their metrics through a directory, set before the app is imported.
    per_run = _metrics_dir(settings, per_run=workers > 1)
    try:
        uvicorn.run(
            "timebot.web.factory:build_app_with_worker"
            if with_worker
            else "timebot.web.factory:build_app",
            factory=True,
            host=host or settings.host,
            port=port or settings.port,
            workers=workers,
            proxy_headers=proxy_headers,
            forwarded_allow_ips=forwarded_allow_ips,
            timeout_graceful_shutdown=timeout_graceful_shutdown,
            log_config=None,
            access_log=False,
        )
    finally:
        if per_run is not None:
            import shutil

            shutil.rmtree(per_run, ignore_errors=True)


@app.command()
def worker(
    metrics_port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help="Serve /metrics and /health (the loops' liveness) on this port of TIMEBOT_HOST "
            "(default TIMEBOT_WORKER_METRICS_PORT; off when unset).",
        ),
    ] = None,
) -> None:
    """Run the worker: event polling, outbox dispatch and scheduled jobs."""
    import signal

    from timebot.config import get_settings
    from timebot.logs import configure_logging

    settings = get_settings()
    configure_logging(level=settings.log_level, json=settings.json_logs)
    _metrics_dir(settings, per_run=False)  # before the imports below load prometheus_client
    port = metrics_port or settings.worker_metrics_port
    # Bound now: a taken port fails the command before it touches the database.
    sock = _listen(settings.host, port, "'--metrics-port'") if port else None

    from timebot.bootstrap import build_container, prepare_database
    from timebot.jobs.worker import Worker
    from timebot.metrics import process_exited

    async def run() -> None:
        container = build_container()
        await prepare_database(container)
        w = Worker(container)
        loop = asyncio.get_running_loop()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, w.stop)
        probe: asyncio.Task[None] | None = None
        if sock is not None:
            from timebot.web.health import create_worker_probe, probe_server

            server = probe_server(create_worker_probe(w), sock)
            probe = asyncio.create_task(server.serve(sockets=[sock]), name="worker-probe")
        try:
            await w.run()
        finally:
            if probe is not None:
                server.should_exit = True  # after the loops: /health says 503 while stopping
                await probe
            await container.aclose()
            process_exited()

    try:
        asyncio.run(run())
    finally:
        if sock is not None:
            sock.close()


def _metrics_dir(settings: Settings, *, per_run: bool) -> Path | None:
    """Multiprocess metrics for this process and its children, or nothing (one process).

    The directory is TIMEBOT_METRICS_DIR, else PROMETHEUS_MULTIPROC_DIR, else (with `per_run`)
    a new temporary one, which is returned for the caller to remove at exit. A given directory
    is created when missing and never emptied: it may be shared (docs/deploy.md). Call this
    before anything imports prometheus_client, which reads PROMETHEUS_MULTIPROC_DIR once.
    """
    import os
    import tempfile
    from pathlib import Path

    from timebot.logs import get_logger

    given = settings.metrics_dir or os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        path, own = Path(given).absolute(), False
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise typer.BadParameter(f"metrics directory {path}: {exc.strerror or exc}") from None
    elif per_run:
        path, own = Path(tempfile.mkdtemp(prefix="timebot-metrics-")), True
    else:
        return None
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    get_logger(__name__).info("metrics.multiprocess", directory=str(path), per_run=own)
    return path if own else None


def _listen(host: str, port: int, param_hint: str) -> socket.socket:
    """A listening TCP socket on host:port, or a usage error that says why not."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family)
    except OSError as exc:
        raise typer.BadParameter(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}", param_hint=param_hint
        ) from None


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
def timesheet(
    month: Annotated[str, typer.Option(help="Month as YYYY-MM, e.g. 2026-11.")],
    portal: Annotated[
        int | None, typer.Option(help="Portal id (default: the only active portal).")
    ] = None,
    department: Annotated[
        int | None, typer.Option(help="Bitrix24 department id (default: every department).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="xlsx or csv.")] = "xlsx",
    output: Annotated[
        str | None, typer.Option(help="File to write (default: timesheet-YYYY-MM.<format>).")
    ] = None,
) -> None:
    """Monthly timesheet with T-13 codes: XLSX (a sheet per department) or CSV (Excel, `;`)."""
    import re
    from pathlib import Path

    from timebot.bot.people import portal_calendar
    from timebot.reports.timesheet import render_timesheet, timesheet_filename
    from timebot.services.timesheet import gather_timesheet, month_bounds

    found = re.fullmatch(r"(\d{4})-(\d{2})", month.strip())
    if found is None or not 1 <= int(found.group(2)) <= 12:
        raise typer.BadParameter("--month is YYYY-MM, e.g. 2026-11")
    if fmt not in ("xlsx", "csv"):
        raise typer.BadParameter("--format is xlsx or csv")
    year, number = int(found.group(1)), int(found.group(2))
    result: list[tuple[str, bytes, str]] = []

    async def work(c: Container) -> None:
        async with c.database.unit_of_work() as uow:
            portal_id = portal
            if portal_id is None:
                active = [p.id for p in await uow.portals.active()]
                if len(active) != 1:
                    raise typer.BadParameter(f"choose --portal among active portals {active}")
                portal_id = active[0]
            row = await uow.portals.get(portal_id)
            if row is None:
                raise typer.BadParameter(f"no portal #{portal_id}")
            if department is not None and not await uow.departments.by_bitrix_id(
                row.id, department
            ):
                raise typer.BadParameter(f"no department {department} on portal #{row.id}")
            first, last = month_bounds(year, number)
            calendar = await portal_calendar(
                uow, row, country=c.gateway.bot.country, start=first, end=last
            )
            report = await gather_timesheet(
                uow,
                row,
                year=year,
                month=number,
                calendar=calendar,
                now=c.clock.now(),
                department_id=department,
            )
        summary = f"{report.lines} row(s) on {len(report.sections)} sheet(s)"
        data = render_timesheet(report, "csv" if fmt == "csv" else "xlsx")
        name = timesheet_filename(report, "csv" if fmt == "csv" else "xlsx")
        result.append((output or name, data, summary))

    run_with_container(work)
    path, data, summary = result[0]
    Path(path).write_bytes(data)
    typer.echo(f"{path}: {summary}")


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
geo_app = typer.Typer(help="Test geofences (zones) against points.", no_args_is_help=True)
app.add_typer(geo_app, name="geo")
job_app = typer.Typer(help="Scheduled jobs: list them, run one now.", no_args_is_help=True)
app.add_typer(job_app, name="job")
app.add_typer(token_app, name="token")
app.add_typer(inbox_app, name="inbox")


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

    run_with_container(work)


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

    run_with_container(work)


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

    run_with_container(work)


@geo_app.command("check")
def geo_check(
    zone: Annotated[
        str,
        typer.Option(
            help="A circle LAT,LON,RADIUS_M; a GeoJSON Polygon/MultiPolygon/Feature file or "
            "inline JSON; or db:ZONE_ID (a stored zone)."
        ),
    ],
    at: Annotated[str, typer.Option(help="The point to test: LAT,LON.")],
    accuracy: Annotated[
        float | None,
        typer.Option(help="GPS accuracy in metres, as a phone reports it (default: exact point)."),
    ] = None,
    lang: Annotated[str, typer.Option(help="Language of the answer: ru or en.")] = "ru",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Is the point inside the zone? Exit code 0 inside, 1 outside, 2 uncertain or bad input."""
    from timebot.domain.clock import SystemClock
    from timebot.reports import geo_check as gc

    if lang not in ("ru", "en"):
        raise typer.BadParameter("--lang is ru or en")
    language: gc.Lang = "en" if lang == "en" else "ru"

    def database_url() -> str:
        from timebot.config import get_settings

        try:
            return get_settings().database_url
        except ValueError as exc:  # invalid settings in the environment
            raise gc.GeoCheckError("db_unreadable", detail=str(exc).splitlines()[0]) from None

    try:
        result = asyncio.run(
            gc.run(
                zone=zone,
                at=at,
                accuracy_m=accuracy,
                now=SystemClock().now(),
                database_url=database_url,
            )
        )
    except gc.GeoCheckError as exc:
        typer.echo(exc.message(language), err=True)
        raise typer.Exit(gc.EXIT_UNCERTAIN) from None
    typer.echo(gc.render_json(result, language) if as_json else gc.render_text(result, language))
    raise typer.Exit(gc.exit_code(result))


@job_app.command("list")
def job_list(
    limit: Annotated[int, typer.Option(help="Latest runs to show per job.")] = 5,
) -> None:
    """Show the scheduled jobs, their schedules and their latest runs."""
    from timebot.jobs.scheduler import describe_jobs

    async def work(c: Container) -> None:
        for line in await describe_jobs(c, limit=limit):
            typer.echo(line)

    run_with_container(work)


@job_app.command("run")
def job_run(
    name: Annotated[str, typer.Argument(help="Job name (see `timebot job list`).")],
    date: Annotated[
        str | None, typer.Option("--date", help="Period YYYY-MM-DD (default: the latest).")
    ] = None,
    portal: Annotated[
        int | None, typer.Option("--portal", help="Portal id (default: every active one).")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Run even if this occurrence was claimed or done.")
    ] = False,
) -> None:
    """Run a job now; the occurrence is still claimed, so it never runs twice unless --force."""
    from timebot.jobs.scheduler import run_job

    async def work(c: Container) -> None:
        try:
            outcomes = await run_job(c, name, period_key=date, portal_id=portal, force=force)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
        for outcome in outcomes:
            typer.echo(str(outcome))
        if not outcomes:
            typer.echo("no active portals")
        if any(o.ran and not o.ok for o in outcomes):
            raise typer.Exit(1)

    run_with_container(work)


if __name__ == "__main__":  # pragma: no cover
    app()
