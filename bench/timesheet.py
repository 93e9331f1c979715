"""The monthly timesheet for a big portal: the bulk service against a per-employee baseline.

    .venv/bin/python -m bench.timesheet [--employees 10000] [--databases sqlite,postgresql]
                                        [--postgres-url URL] [--naive-sample N]

Per database (a SQLite file in WAL mode; a fresh PostgreSQL database, created and dropped) the
run generates one portal with 20 departments and N employees, and November 2025 for them: on
each of the month's 19 working days a check-in around 09:00 and a check-out around 18:00, a
lunch break for every third person, a missed day now and then (about 1 in 40) and a late
start (about 1 in 15) — about 2.7 marks per person-day. Then, side by side, on the same data:

* bulk — `services.timesheet.gather_timesheet`: the employees, departments, plans and office
  zones in a handful of queries and ONE query for every standing mark of the month;
* naive — what the per-person building blocks give when called in a loop: for each employee
  `bot.people.person_for`, `bot.people.plan_for` and `MarkRepository.standing` (five queries a
  person), the same `TimesheetBuilder`.

Both timesheets are compared cell by cell (they must be identical). Printed per database:
seconds, queries, employees/s and marks/s for both, and the ratio naive / bulk time; then the
time to render the bulk result as XLSX and CSV. `--naive-sample N` times the baseline on the
first N employees only and scales its time up to all of them (said so in the output).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
YEAR, MONTH = 2025, 11
MSK = ZoneInfo("Europe/Moscow")
NOW = datetime(2025, 12, 1, 9, 0, tzinfo=MSK)
T0 = datetime(2025, 10, 1, tzinfo=UTC)
DEPARTMENTS = 20
INSERT_CHUNK = 20_000


@dataclass
class Timing:
    method: str
    seconds: float
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

    for n, employee_id in enumerate(ids):
        for d in working:
            if rng.random() < 1 / 40:
                continue  # a missed day
            late = rng.random() < 1 / 15
            start = 9 * 60 + (rng.randint(15, 60) if late else rng.randint(-20, 8))
            end = 18 * 60 + rng.randint(-10, 40) - (60 if calendar.is_shortened(d) else 0)
            mark(employee_id, "check_in", _at(d, start))
            if n % 3 == 0:
                mark(employee_id, "break_start", _at(d, 13 * 60))
                mark(employee_id, "break_end", _at(d, 14 * 60))
            mark(employee_id, "check_out", _at(d, end))
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
            print(
                f"[{kind}] generated {args.employees:,} employees, {marks:,} marks "
                f"in {time.perf_counter() - started:.1f} s",
                flush=True,
            )
            await bulk(database, portal_id)  # warm-up: imports, caches, the database's pages
            with counting(database) as queries:
                started = time.perf_counter()
                report = await bulk(database, portal_id)
                bulk_s = time.perf_counter() - started
            timings = [Timing("bulk", bulk_s, queries[0], args.employees, marks)]
            limit = args.naive_sample
            with counting(database) as queries:
                started = time.perf_counter()
                baseline = await naive(database, portal_id, limit)
                naive_s = time.perf_counter() - started
            sampled = limit is not None and limit < args.employees
            scale = args.employees / limit if sampled and limit else 1.0
            timings.append(
                Timing(
                    "naive",
                    naive_s * scale,
                    int(queries[0] * scale),
                    args.employees,
                    marks,
                    scaled=sampled,
                )
            )
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
                f"CSV {csv_s:.2f} s ({len(csv_data) / 1e6:.1f} MB)",
                flush=True,
            )
            return timings
        finally:
            await database.dispose()


def print_table(results: dict[str, list[Timing]]) -> None:
    print()
    print(
        "| database | method | employees | marks | queries | seconds | employees/s | marks/s "
        "| naive/bulk |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for kind, timings in results.items():
        bulk_s = next(t.seconds for t in timings if t.method == "bulk")
        for t in timings:
            ratio = f"{t.seconds / bulk_s:.1f}×" if t.method == "naive" else "1.0×"
            note = " (scaled)" if t.scaled else ""
            print(
                f"| {kind} | {t.method}{note} | {t.employees:,} | {t.marks:,} | {t.queries:,} "
                f"| {t.seconds:.2f} | {t.employees / t.seconds:,.0f} | {t.marks / t.seconds:,.0f} "
                f"| {ratio} |"
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
        "--naive-sample",
        type=int,
        default=None,
        help="time the baseline on this many employees and scale up (default: all)",
    )
    args = parser.parse_args(argv)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
