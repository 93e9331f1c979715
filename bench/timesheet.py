"""The monthly timesheet for a big portal: the bulk service against a per-employee baseline.

    .venv/bin/python -m bench.timesheet [--employees 10000] [--databases sqlite,postgresql]
                                        [--postgres-url URL] [--naive-sample N] [--rounds 3]

Per database (a SQLite file in WAL mode; a fresh PostgreSQL database, created and dropped) the
run generates one portal with 20 departments and N employees, and September 2025 for them (22
working days in Russia, none shortened): on each working day a check-in around 09:00 and a
check-out around 18:00 at any second and microsecond, a lunch break for every third person, a
missed day now and then (about 1 in 40), a late start (about 1 in 15), a forgotten check-out
(1 in 200: that day runs on into the next), and every 250th person working nights (22:00 to
06:00) — about 2.6 marks per person-day. PostgreSQL is vacuumed and analyzed after the load
(SQLite is not: see `analyze`). Then, side by side, on the same data, in alternating rounds
(the best round of each counts):

* bulk — `services.timesheet.gather_timesheet`: the employees, departments, plans and office
  zones in a handful of queries and ONE query for every standing mark of the month;
* naive — what the per-person building blocks give when called in a loop: for each employee
  `bot.people.person_for`, `bot.people.plan_for` and `MarkRepository.standing` (five queries a
  person), `workday.assemble` and the same `TimesheetBuilder`.

Both timesheets are compared cell by cell (they must be identical). Printed per round and per
database: wall seconds, this process's CPU seconds, queries, employees/s and marks/s for both,
the ratio naive / bulk wall time, and the load average; then the time to render the bulk result
as XLSX and CSV. `--naive-sample N` times the baseline on the first N employees only and scales
its time up to all of them (said so in the output).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
YEAR, MONTH = 2025, 9  # 22 working days in Russia, none shortened
MSK = ZoneInfo("Europe/Moscow")
NOW = datetime(2025, 10, 1, 9, 0, tzinfo=MSK)
T0 = datetime(2025, 8, 1, tzinfo=UTC)
DEPARTMENTS = 20
NIGHT_WORKERS = 250  # every 250th person works nights
INSERT_CHUNK = 20_000


@dataclass
class Timing:
    method: str
    seconds: float  # wall time of the best round
    cpu: float  # this process's CPU time in that round (the database server's is not in it)
    queries: int
    employees: int
    marks: int
    scaled: bool = False


@contextlib.asynccontextmanager
async def fresh_database(kind: str, postgres_url: str, folder: Path) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{folder / 'timesheet.sqlite3'}"
        return
    import asyncpg
    from sqlalchemy.engine import make_url

    admin = make_url(postgres_url).set(drivername="postgresql")
    name = f"bench_timesheet_{secrets.token_hex(4)}"
    dsn = admin.render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


def _at(d: date, minutes: int) -> datetime:
    return (datetime(d.year, d.month, d.day, tzinfo=MSK) + timedelta(minutes=minutes)).astimezone(
        UTC
    )


async def generate(database: Any, employees: int, seed: int = 7) -> tuple[int, int]:
    """The portal, departments, employees and their month; returns (portal id, marks)."""
    from sqlalchemy import insert

    from timebot.gateway.install import NEW_PORTAL_DEFAULTS
    from timebot.reports.production_calendar import calendar_for
    from timebot.storage.tables import Department, Employee, Mark, Portal

    rng = random.Random(seed)
    calendar = calendar_for("RU", YEAR)
    working = [d for d in calendar.month_days(YEAR, MONTH) if calendar.is_working(d)]
    async with database.unit_of_work() as uow:
        portal = Portal(
            member_id="bench",
            domain="bench.bitrix24.ru",
            client_endpoint="https://bench.bitrix24.ru/rest/",
            connection="oauth",
            language="ru",
            timezone="Europe/Moscow",
            installed_at=T0,
            updated_at=T0,
            settings={"company_name": "ООО «Бенчмарк»"},
            **{**NEW_PORTAL_DEFAULTS, "bot_id": 1},
        )
        uow.portals.add(portal)
        await uow.flush()
        portal_id = portal.id
        await uow.session.execute(
            insert(Department),
            [
                {
                    "portal_id": portal_id,
                    "bitrix_id": i,
                    "name": f"Отдел {i:02d}",
                    "parent_bitrix_id": None,
                    "head_user_id": None,
                    "synced_at": T0,
                }
                for i in range(1, DEPARTMENTS + 1)
            ],
        )
        for start in range(0, employees, INSERT_CHUNK):
            await uow.session.execute(
                insert(Employee),
                [
                    {
                        "portal_id": portal_id,
                        "bitrix_user_id": 1000 + i,
                        "name": f"Сотрудник {i:05d}",
                        "first_name": "",
                        "last_name": "",
                        "timezone": None,
                        "department_ids": [1 + i % DEPARTMENTS],
                        "language": None,
                        "active": True,
                        "is_admin": False,
                        "remote_always": False,
                        "remote_weekdays": [],
                        "all_offices": True,
                        "created_at": T0,
                    }
                    for i in range(start, min(start + INSERT_CHUNK, employees))
                ],
            )
        await uow.commit()
        ids = [e.id for e in await uow.employees.all(portal_id)]
    marks = 0
    rows: list[dict[str, Any]] = []

    async def flush() -> None:
        async with database.unit_of_work() as uow:
            await uow.session.execute(insert(Mark), rows)
            await uow.commit()
        rows.clear()

    def mark(employee_id: int, kind: str, at: datetime) -> None:
        rows.append(
            {
                "portal_id": portal_id,
                "employee_id": employee_id,
                "kind": kind,
                "at": at,
                "recorded_at": at,
                "source": "chat",
                "flags": [],
                "provisional": False,
            }
        )

    def jitter() -> timedelta:  # marks carry the server clock's seconds and microseconds
        return timedelta(microseconds=rng.randrange(60_000_000))

    for n, employee_id in enumerate(ids):
        for d in working:
            if rng.random() < 1 / 40:
                continue  # a missed day
            if n % NIGHT_WORKERS == 0:  # a night worker: 22:00 to 06:00 of the next morning
                mark(employee_id, "check_in", _at(d, 22 * 60 + rng.randint(-30, 5)) + jitter())
                mark(employee_id, "check_out", _at(d, 30 * 60 + rng.randint(-5, 30)) + jitter())
                continue
            late = rng.random() < 1 / 15
            start = 9 * 60 + (rng.randint(15, 60) if late else rng.randint(-20, 8))
            end = 18 * 60 + rng.randint(-10, 40) - (60 if calendar.is_shortened(d) else 0)
            mark(employee_id, "check_in", _at(d, start) + jitter())
            if n % 3 == 0:
                mark(employee_id, "break_start", _at(d, 13 * 60) + jitter())
                mark(employee_id, "break_end", _at(d, 14 * 60) + jitter())
            if rng.random() >= 1 / 200:  # now and then a forgotten check-out
                mark(employee_id, "check_out", _at(d, end) + jitter())
        if len(rows) >= INSERT_CHUNK:
            marks += len(rows)
            await flush()
    if rows:
        marks += len(rows)
        await flush()
    return portal_id, marks


@contextlib.contextmanager
def counting(database: Any) -> Iterator[list[int]]:
    from sqlalchemy import event

    count = [0]

    def seen(*_: Any) -> None:
        count[0] += 1

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield count
    finally:
        event.remove(engine, "before_cursor_execute", seen)


async def bulk(database: Any, portal_id: int) -> Any:
    from timebot.bot.people import portal_calendar
    from timebot.services.timesheet import gather_timesheet, month_bounds

    first, last = month_bounds(YEAR, MONTH)
    async with database.unit_of_work() as uow:
        portal = await uow.portals.get(portal_id)
        calendar = await portal_calendar(uow, portal, country="RU", start=first, end=last)
        return await gather_timesheet(
            uow, portal, year=YEAR, month=MONTH, calendar=calendar, now=NOW
        )


async def naive(database: Any, portal_id: int, limit: int | None) -> Any:
    """The per-person building blocks in a loop: five queries per employee."""
    from timebot.bot.people import person_for, plan_for, portal_calendar
    from timebot.domain.timesheet import TimesheetBuilder
    from timebot.domain.timezones import local_day_bounds
    from timebot.domain.workday import assemble
    from timebot.services.timesheet import month_bounds
    from timebot.services.tracking import to_domain

    first, last = month_bounds(YEAR, MONTH)
    async with database.unit_of_work() as uow:
        portal = await uow.portals.get(portal_id)
        calendar = await portal_calendar(uow, portal, country="RU", start=first, end=last)
        builder = TimesheetBuilder(YEAR, MONTH, calendar, today=NOW.astimezone(MSK).date())
        days = calendar.month_days(YEAR, MONTH)
        employees = await uow.employees.all(portal_id)
        for e in employees[:limit]:
            person = await person_for(uow, portal, e)
            plan = await plan_for(uow, portal, person, start=first, end=last, country="RU")
            since = local_day_bounds(first, person.tz)[0]
            until = min(local_day_bounds(last, person.tz)[1] + timedelta(hours=12), NOW)
            rows = await uow.marks.standing(e.id, since=since, until=until)
            builder.add_employee(e.id)
            for d in days:
                builder.add_expectation(e.id, d, plan.expected(d, person.tz))
            for day in assemble([to_domain(r) for r in rows], person.tz, now=NOW).days:
                builder.add_work_day(e.id, day, person.tz)
        return builder.build()


def _grid(lines: Sequence[Any]) -> dict[Any, tuple[Any, ...]]:
    return {line.employee_id: (line.cells, line.minutes_worked, line.norm_hours) for line in lines}


async def analyze(database: Any, kind: str) -> None:
    """PostgreSQL: fresh statistics and visibility map after the bulk load, as autovacuum would
    have them in time. SQLite is left as timebot leaves it, without statistics: its ANALYZE
    sees `marks.supersedes_mark_id` all NULL, after which the planner scans the whole table for
    `MarkRepository.standing`'s NOT EXISTS once per mark (seconds per query)."""
    from sqlalchemy import text

    if kind == "postgresql":
        async with database.engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text("VACUUM ANALYZE"))


@contextlib.contextmanager
def clock(into: list[tuple[float, float]]) -> Iterator[None]:
    """Append (wall seconds, this process's CPU seconds) of the block to `into`."""
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    into.append((time.perf_counter() - wall, time.process_time() - cpu))


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


async def run_database(kind: str, args: argparse.Namespace, folder: Path) -> list[Timing]:
    from timebot.reports.timesheet import timesheet_csv, timesheet_xlsx
    from timebot.storage import Database
    from timebot.storage.migrate import upgrade

    async with fresh_database(kind, args.postgres_url, folder) as url:
        await upgrade(url)
        database = Database.from_url(url)
        try:
            started = time.perf_counter()
            portal_id, marks = await generate(database, args.employees)
            await analyze(database, kind)
            print(
                f"[{kind}] generated {args.employees:,} employees, {marks:,} marks "
                f"in {time.perf_counter() - started:.1f} s; load {load()}",
                flush=True,
            )
            await bulk(database, portal_id)  # warm-up: imports, caches, the database's pages
            limit = args.naive_sample
            sampled = limit is not None and limit < args.employees
            scale = args.employees / limit if sampled and limit else 1.0
            # Rounds alternate the two, so both meet the same load; the best of each counts.
            bulk_runs: list[tuple[float, float]] = []
            naive_runs: list[tuple[float, float]] = []
            for n in range(args.rounds):
                with counting(database) as bulk_queries, clock(bulk_runs):
                    report = await bulk(database, portal_id)
                with counting(database) as naive_queries, clock(naive_runs):
                    baseline = await naive(database, portal_id, limit)
                (bulk_s, bulk_cpu), (naive_s, naive_cpu) = bulk_runs[-1], naive_runs[-1]
                print(
                    f"[{kind}] round {n + 1}: bulk {bulk_s:.2f} s (CPU {bulk_cpu:.2f} s), "
                    f"naive {naive_s * scale:.1f} s (CPU {naive_cpu * scale:.1f} s"
                    f"{', scaled' if sampled else ''}): {naive_s * scale / bulk_s:.1f}×; "
                    f"load {load()}",
                    flush=True,
                )
            best_bulk, best_naive = min(bulk_runs), min(naive_runs)
            timings = [
                Timing("bulk", *best_bulk, bulk_queries[0], args.employees, marks),
                Timing(
                    "naive",
                    best_naive[0] * scale,
                    best_naive[1] * scale,
                    int(naive_queries[0] * scale),
                    args.employees,
                    marks,
                    scaled=sampled,
                ),
            ]
            full = _grid([line for s in report.sections for line in s.timesheet.lines])
            same = all(full[k] == v for k, v in _grid(baseline.lines).items())
            compared = len(baseline.lines)
            print(f"[{kind}] bulk and naive agree on {compared:,} lines: {same}", flush=True)
            if not same:
                raise SystemExit("the two timesheets differ")
            started = time.perf_counter()
            xlsx = timesheet_xlsx(report)
            xlsx_s = time.perf_counter() - started
            started = time.perf_counter()
            csv_data = timesheet_csv(report)
            csv_s = time.perf_counter() - started
            print(
                f"[{kind}] render: XLSX {xlsx_s:.1f} s ({len(xlsx) / 1e6:.1f} MB), "
                f"CSV {csv_s:.2f} s ({len(csv_data) / 1e6:.1f} MB); load {load()}",
                flush=True,
            )
            return timings
        finally:
            await database.dispose()


def print_table(results: dict[str, list[Timing]]) -> None:
    print()
    print(
        "| database | method | employees | marks | queries | seconds | CPU s | employees/s "
        "| marks/s | naive/bulk |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for kind, timings in results.items():
        bulk_s = next(t.seconds for t in timings if t.method == "bulk")
        for t in timings:
            ratio = f"{t.seconds / bulk_s:.1f}×" if t.method == "naive" else "1.0×"
            note = " (scaled)" if t.scaled else ""
            print(
                f"| {kind} | {t.method}{note} | {t.employees:,} | {t.marks:,} | {t.queries:,} "
                f"| {t.seconds:.2f} | {t.cpu:.2f} | {t.employees / t.seconds:,.0f} "
                f"| {t.marks / t.seconds:,.0f} | {ratio} |"
            )


async def main_async(args: argparse.Namespace) -> int:
    results: dict[str, list[Timing]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-timesheet-") as tmp:
        for kind in args.databases.split(","):
            kind = kind.strip()
            if kind not in ("sqlite", "postgresql"):
                raise SystemExit(f"unknown database {kind!r}")
            results[kind] = await run_database(kind, args, Path(tmp))
    print_table(results)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Monthly timesheet: bulk vs per-employee reads.")
    parser.add_argument("--employees", type=int, default=10_000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument(
        "--rounds", type=int, default=3, help="bulk and naive runs, alternating; best counts"
    )
    parser.add_argument(
        "--naive-sample",
        type=int,
        default=None,
        help="time the baseline on this many employees and scale up (default: all)",
    )
    args = parser.parse_args(argv)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
