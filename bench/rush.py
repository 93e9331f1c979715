"""Morning rush: N employees of one portal check in within W seconds, through the sandbox portal
with its real rate limit, against real `timebot serve` and `timebot worker` processes.

    .venv/bin/python -m bench.rush [--employees 5000] [--window 300] [--arrivals poisson|uniform]
                                   [--serve 1] [--workers 1] [--database-url URL | --sqlite]
                                   [--postgres-url URL | --private-postgres] [--probes 20]
                                   [--seed 1] [--workdir DIR]

What runs (tests/support/fleet.py does the plumbing): one sandbox portal on the default plan
(leaky bucket: 2 requests/s drained, 50 held, `503 QUERY_LIMIT_EXCEEDED` beyond; batches of at
most 50 calls) with N + probes synthetic employees in teams of 10, each team a department;
`--serve` `timebot serve` processes behind a round-robin balancer and `--workers` `timebot
worker` processes, all on one database (by default a fresh PostgreSQL database created on
`--postgres-url` and dropped at the end; `--private-postgres` creates it in a throw-away
cluster of its own; `--sqlite` uses a SQLite file; `--database-url` an empty database of
yours). The application is installed over HTTP (webhook event mode), the bot
registered, and the worker's directory sync is awaited until every employee is in the database.

Then, side by side in the same run:

* **probes**: `--probes` employees check in one at a time, each waiting for the reply, on an
  idle system: the unloaded reply latency the rush's latencies are compared with;
* **idle processes**: one more `timebot serve` and `timebot worker` on a second, empty database
  (same settings, no portal, no traffic) run for the whole bench; their peak resident set
  (VmHWM) is the idle baseline of the memory ratio;
* **the rush**: N check-ins arrive over W seconds. `poisson` (the default): a Poisson process
  conditioned on N arrivals in the window, i.e. N sorted independent uniform times in [0, W];
  `uniform`: evenly spaced, W / (N - 1) apart. Every arrival is an employee writing a check-in
  word in the bot's dialog of the sandbox web chat (the call behind `/sandbox/api/send`, made
  on the sandbox's loop; cycling through «пришёл», «Пришла», «на месте», «Начинаю» and the
  `/checkin` command), so the sandbox pushes real ONIMBOTV2MESSAGEADD / ONIMBOTV2COMMANDADD
  events. An event refused (non-200) or never answered (the push did not reach timebot) is
  written again after a second. Arrivals are open-loop: nobody waits for anybody.

Measured: every check-in stored as exactly one mark and every reply delivered once to the
person's chat (`Fleet.settle` accounting); reply latency = the reply's time in the sandbox chat
minus the check-in message's time (both the sandbox's clock); the achieved time T from the first
check-in message to the last reply in the chat; 503s the portal answered during the rush; and
the peak resident set (VmHWM) and CPU time of every process.

Theoretical minimum. Let a_1 <= … <= a_N be the arrival times (the check-in messages' times,
a_1 = 0), b = 50 replies per batch request, r = 2 requests/s drained, B = 50 requests of burst,
and L0 = P + S the latency floor: the smallest event → reply time seen in the run (probes and
rush), P the part before the reply can be sent (intake, apply, outbox pick-up), S the request.
The bench waits for the portal's bucket to be empty before the rush. Take the M = N - i + 1
check-ins arriving at or after a_i: their replies need at least ceil(M / b) requests, none of
which can leave before a_i + P, and in any span of t seconds at most B + r·t requests pass the
bucket (it holds B and drains r per second). So the last of those requests leaves no sooner
than a_i + P + max(0, ceil(M / b) - B) / r, its reply lands S later, and

    T_min = max over i of [ a_i + L0 + max(0, ceil((N - i + 1) / b) - B) / r ].

i = N gives the window term a_N + L0 (the last person checks in at a_N and needs at least L0);
i = 1 gives the drain term L0 + max(0, ceil(N / b) - B) / r (5,000 replies = 100 requests: 50
pass at once, the other 50 take 25 s at 100 replies/s). Arriving at N / W = 16.7/s, far below
the 100 replies/s ceiling, the window term binds. The ratio printed is T_min / T.

See bench/README.md for the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from tests.support.fleet import Action, Fleet, Ledger, PrivatePostgres, Proc, template_of
from tests.support.servers import free_port
from timebot.gateway.directory import DIRECTORY_SYNC_FAILED_AT
from timebot.logs import configure_logging
from timebot.storage.migrate import upgrade
from timebot.storage.tables import Employee, ProcessedEvent

DEFAULT_POSTGRES_URL = os.environ.get(
    "TIMEBOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
BATCH = 50  # calls per batch request (timebot's outbox and Bitrix24's limit)
PHRASES = ("пришёл", "Пришла", "на месте", "Начинаю", "/checkin")
MAX_TRIES = 20
RETRY_PAUSE = 1.0
# How long a check-in waits for the answer to its event: the balancer answers within its own
# 30 s timeout (502 then), so no record after that means the push never reached timebot.
ANSWER_WAIT = 40.0
# The product's defaults where the fleet shortens them for fault tests: the outbox is polled
# every 0.5 s (also the bucket's drain interval of 2 requests/s).
PRODUCT_ENV = {"TIMEBOT_OUTBOX_INTERVAL_SECONDS": "0.5"}
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- small helpers --------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process (0 when gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


_STARTED = time.monotonic()


def say(message: str) -> None:
    """A progress line with the seconds since the bench started."""
    print(f"[{time.monotonic() - _STARTED:6.1f} s] {message}", flush=True)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def quantile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@contextlib.asynccontextmanager
async def fresh_database(admin_url: str, tag: str) -> AsyncIterator[str]:
    """A new PostgreSQL database on the server of `admin_url`, dropped afterwards."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    from timebot.storage.database import normalize_url

    admin = make_url(normalize_url(admin_url))
    name = f"bench_rush_{tag}_{secrets.token_hex(4)}"
    engine = create_async_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield admin.set(database=name).render_as_string(hide_password=False)
        finally:
            async with engine.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await engine.dispose()


class DurablePostgres(PrivatePostgres):
    """The fleet's throw-away cluster, but with PostgreSQL's durable defaults (fsync,
    synchronous_commit, full_page_writes on): away from the shared server, whose other
    databases are created and dropped all the time (each DROP DATABASE forces a checkpoint),
    and still paying for every commit's flush as production does."""

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        pg_ctl = str(self.bin / "pg_ctl")
        self._run(pg_ctl, "-D", str(self.data), "-o", options, "-l", str(self.logfile), "-w",
                  "-t", "60", "start")  # fmt: skip


def theoretical_minimum(
    arrivals: Sequence[float], floor: float, rate: float, burst: int, batch: int = BATCH
) -> tuple[float, float, float]:
    """(T_min, window term, drain term) for sorted arrival offsets (see the module doc)."""
    n = len(arrivals)
    best = 0.0
    for i, at in enumerate(arrivals):
        requests = math.ceil((n - i) / batch)
        best = max(best, at + floor + max(0, requests - burst) / rate)
    window = arrivals[-1] + floor
    drain = floor + max(0, math.ceil(n / batch) - burst) / rate
    return best, window, drain


# --- the run --------------------------------------------------------------------------------


@dataclass
class CheckIn:
    user_id: int
    text: str
    scheduled: float  # offset in the window
    lag: float = 0.0  # how late the driver sent it (scheduling on a busy machine)
    message_id: int = 0  # the accepted try's message
    action: Action | None = None


@dataclass
class ProcFigures:
    name: str
    role: str
    hwm_before_kb: int
    hwm_after_kb: int
    rss_after_kb: int
    cpu_rush_s: float


@dataclass
class Result:
    database: str
    arrivals: str
    employees: int
    window: float
    serve: int
    workers: int
    load_start: str = ""
    load_rush_start: str = ""
    load_rush_end: str = ""
    probes_ms: list[float] = field(default_factory=list)
    floor: float = 0.0
    first_to_last_arrival: float = 0.0
    achieved: float = 0.0
    t_min: float = 0.0
    window_term: float = 0.0
    drain_term: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    answer_ms: tuple[float, float, float] = (0.0, 0.0, 0.0)
    requests: int = 0
    batch_calls: int = 0
    batch_commands: int = 0
    rejected_503: int = 0
    push_failures: int = 0  # event pushes the sandbox gave up on (no answer in 10 s)
    # (minute of arrival, check-ins, p50 ms, p99 ms, max ms)
    by_minute: list[tuple[int, int, float, float, float]] = field(default_factory=list)
    load_during: tuple[float, ...] = ()  # 1-minute load average in the rush: min, median, max
    driver_lag_max: float = 0.0
    retries: int = 0
    marks_stored: int = 0
    replies_delivered: int = 0
    problems: list[str] = field(default_factory=list)
    accounting_line: str = ""
    procs: list[ProcFigures] = field(default_factory=list)
    idle: dict[str, int] = field(default_factory=dict)  # role → VmHWM kB of the idle process
    sync_seconds: float = 0.0
    bench_cpu: float = 0.0  # CPU seconds per second of this process during the arrivals
    # Where a reply's time goes, ms lists: message -> event stored (sandbox push, balancer,
    # intake), stored -> applied (the serve's applier), applied -> in the chat (outbox poll,
    # rate limiter, the batch request).
    stages: dict[str, list[float]] = field(default_factory=dict)
    setup_seconds: float = 0.0

    @property
    def ratio(self) -> float:
        return self.t_min / self.achieved if self.achieved else 0.0


class LedgerWatch:
    """Answers to pushed events by (user, message id), read from the balancer's ledger as it
    grows: one pass over the new records every 50 ms, however many check-ins wait."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.cursor = 0
        self.answers: dict[tuple[int, int], list[tuple[int, str]]] = {}
        self.waiters: dict[tuple[int, int], asyncio.Event] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _read(self) -> None:
        records = self.ledger.records(self.cursor)
        self.cursor += len(records)
        for r in records:
            key = (r.user_id, r.message_id)
            self.answers.setdefault(key, []).append((r.status, r.upstream))
            waiter = self.waiters.get(key)
            if waiter is not None:
                waiter.set()

    async def _run(self) -> None:
        while True:
            self._read()
            await asyncio.sleep(0.05)

    async def wait(self, user_id: int, message_id: int, within: float) -> list[tuple[int, str]]:
        """(status, upstream) of the event pushed for the message; [] when none in time."""
        key = (user_id, message_id)
        self._read()
        if key not in self.answers:
            waiter = self.waiters.setdefault(key, asyncio.Event())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter.wait(), within)
            self.waiters.pop(key, None)
        return self.answers.get(key, [])


class Rush:
    def __init__(self, args: argparse.Namespace, database_url: str, idle_url: str) -> None:
        self.args = args
        self.database_url = database_url
        self.idle_url = idle_url
        self.total = args.employees + args.probes
        self.workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench-rush-"))
        self.fleet = Fleet(
            database_url,
            self.workdir / "fleet",
            serve=args.serve,
            workers=args.workers,
            staff=self.total,
            team_size=10,
            env=PRODUCT_ENV,
            # Started after the install, the worker syncs the directory on its first tick
            # (started before, it would find nothing to do and wait for the next, 60 s later).
            workers_after_install=True,
        )
        self.idle_procs: list[Proc] = []
        self.watch = LedgerWatch(self.fleet.ledger)
        self.loads: list[tuple[float, float]] = []  # (unix time, 1-minute load average)

    # --- idle baseline ---

    def start_idle(self) -> None:
        env = {**self.fleet.env, "TIMEBOT_DATABASE_URL": self.idle_url}
        port = free_port()
        exe = [sys.executable, "-m", "timebot.cli"]
        folder = self.workdir / "idle"
        folder.mkdir(parents=True, exist_ok=True)
        self.idle_procs = [
            Proc(
                "serve",
                "idle-serve",
                [*exe, "serve", "--host", "127.0.0.1", "--port", str(port)],
                {**env, **self.fleet.serve_env},
                folder,
                folder / "idle-serve.log",
                port,
            ),
            Proc(
                "worker",
                "idle-worker",
                [*exe, "worker"],
                {**env, **self.fleet.worker_env},
                folder,
                folder / "idle-worker.log",
            ),
        ]
        for proc in self.idle_procs:
            proc.start()

    # --- chat ---

    async def send(self, user_id: int, text_: str) -> int:
        """The person writes in the bot's dialog; returns once the sandbox has pushed the event
        (or given up on it: no answer within its delivery timeout)."""
        # The web chat's own call (`/sandbox/api/send` runs exactly this), made on the edge's
        # loop directly: an HTTP round trip per check-in would only load this process.
        portal, dialog = self.fleet.portal, str(self.fleet.bot_id)
        return await self.fleet.edge.call(
            lambda: portal.user_says(user_id, dialog, text_, wait=True)
        )

    async def check_in(self, item: CheckIn) -> CheckIn:
        """Write the check-in until timebot accepts its event (200). No answer at all (the
        push never reached timebot): write again after a pause, as a person would."""
        action = Action(item.user_id, "checkin")
        started = time.monotonic()
        while action.tries < MAX_TRIES and not action.accepted:
            action.tries += 1
            action.via.append("typed")
            message_id = await self.send(item.user_id, item.text)
            # The sandbox stops waiting for an answer after its delivery timeout, but the
            # balancer still records it: wait for the record rather than write again.
            statuses = await self.watch.wait(item.user_id, message_id, ANSWER_WAIT)
            action.statuses.extend(status for status, _ in statuses)
            action.accepted = any(status == 200 for status, _ in statuses)
            action.uncertain = action.uncertain or any(
                status == 502 and upstream for status, upstream in statuses
            )
            if action.accepted:
                item.message_id = message_id
            else:
                await asyncio.sleep(RETRY_PAUSE)
        action.seconds = time.monotonic() - started
        item.action = action
        return item

    async def _timeline(self, user_ids: Sequence[int]) -> dict[int, tuple[float, float]]:
        """Per person: (first check-in message time, first bot reply after it), unix seconds;
        reply 0 when none yet. Runs on the edge's loop (the sandbox state lives there)."""
        state = self.fleet.portal.state
        bot_id = self.fleet.bot_id
        found: dict[int, tuple[float, float]] = {}
        for uid in user_ids:
            chat = state.private_chat(uid, bot_id)
            if chat is None:
                continue
            sent = reply = 0.0
            for message in state.chat_messages(chat.id):
                if message.author_id == uid and not sent:
                    sent = message.date.timestamp()
                elif sent and message.sender_bot == bot_id and not message.system:
                    reply = message.date.timestamp()
                    break
            if sent:
                found[uid] = (sent, reply)
        return found

    async def timeline(self, user_ids: Sequence[int]) -> dict[int, tuple[float, float]]:
        return await self.fleet.edge.call(lambda: self._timeline(user_ids))

    async def _bot_message_dates(self) -> dict[str, float]:
        bots = set(self.fleet.portal.state.bots)
        return {
            m.uuid: m.date.timestamp()
            for m in list(self.fleet.portal.state.messages.values())
            if m.sender_bot in bots
        }

    async def stages(
        self, user_ids: Sequence[int], timeline: dict[int, tuple[float, float]]
    ) -> dict[str, list[float]]:
        """Per accepted check-in: the times of its event in the inbox and of its reply."""
        people = set(user_ids)
        keys = {
            r.key: r.user_id
            for r in self.fleet.ledger.records()
            if r.status == 200 and r.key and r.user_id in people
        }
        async with self.fleet.db.unit_of_work() as uow:
            rows = await uow.session.execute(
                select(
                    ProcessedEvent.event_key, ProcessedEvent.received_at, ProcessedEvent.applied_at
                ).where(ProcessedEvent.portal_id == self.fleet.portal_id)
            )
            inbox = {str(k): (rec, app) for k, rec, app in rows}
        replies = {
            (row.dedupe_key or "").removeprefix("reply:").rsplit(":", 1)[0]: template_of(row)
            for row in await self.fleet.outbox_rows()
            if row.kind == "message" and (row.dedupe_key or "").endswith(":0")
        }
        delivered = await self.fleet.edge.call(self._bot_message_dates)
        found: dict[str, list[float]] = {"stored": [], "applied": [], "delivered": []}
        for key, uid in keys.items():
            sent = timeline.get(uid, (0.0, 0.0))[0]
            received, applied = inbox.get(key, (None, None))
            at = delivered.get(replies.get(key[:189], ""), 0.0)
            if not sent or received is None or applied is None or not at:
                continue
            found["stored"].append((received.timestamp() - sent) * 1000)
            found["applied"].append((applied - received).total_seconds() * 1000)
            found["delivered"].append((at - applied.timestamp()) * 1000)
        return found

    async def portal_stats(self) -> dict[str, float]:
        async def read() -> dict[str, float]:
            portal = self.fleet.portal
            s = portal.stats
            return {
                "requests": s.requests,
                "batch_calls": s.batch_calls,
                "batch_commands": s.batch_commands,
                "rejected_503": s.statuses[503],
                "push_failures": portal.delivery.failed,
                "level": portal.limiter.level(),
            }

        return await self.fleet.edge.call(read)

    # --- phases ---

    async def wait_synced(self, within: float = 300.0) -> float:
        started = time.monotonic()
        while True:
            async with self.fleet.db.unit_of_work() as uow:
                count = await uow.session.scalar(
                    select(func.count())
                    .select_from(Employee)
                    .where(Employee.portal_id == self.fleet.portal_id)
                )
            if int(count or 0) >= self.total:
                return time.monotonic() - started
            async with self.fleet.db.unit_of_work() as uow:
                portal = await uow.portals.get(self.fleet.portal_id)
                failed = (portal.settings or {}).get(DIRECTORY_SYNC_FAILED_AT) if portal else None
            if failed:
                raise RuntimeError(
                    f"the directory sync failed at {failed} ({count} of {self.total} employees "
                    f"stored); the worker's log:\n{self.fleet.logs(3000)}"
                )
            if time.monotonic() - started > within:
                raise RuntimeError(f"directory sync: {count} of {self.total} employees")
            await asyncio.sleep(0.5)

    async def probe(self, user_ids: Sequence[int]) -> tuple[list[float], list[CheckIn]]:
        """Check-ins one at a time on the idle system; each waits for its reply."""
        latencies: list[float] = []
        items: list[CheckIn] = []
        for n, uid in enumerate(user_ids):
            item = await self.check_in(CheckIn(uid, PHRASES[n % len(PHRASES)], 0.0))
            items.append(item)
            deadline = time.monotonic() + 30
            while True:
                sent, reply = (await self.timeline([uid])).get(uid, (0.0, 0.0))
                if reply:
                    latencies.append((reply - sent) * 1000)
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no reply to probe {uid} in 30 s:\n{self.fleet.logs()}")
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.3)
        return latencies, items

    def schedule(self, user_ids: Sequence[int]) -> list[CheckIn]:
        rng = random.Random(self.args.seed)
        n, window = len(user_ids), float(self.args.window)
        if self.args.arrivals == "uniform":
            offsets = [window * i / max(n - 1, 1) for i in range(n)]
        else:
            offsets = sorted(rng.uniform(0.0, window) for _ in range(n))
        people = list(user_ids)
        rng.shuffle(people)
        return [
            CheckIn(uid, PHRASES[i % len(PHRASES)], offset)
            for i, (uid, offset) in enumerate(zip(people, offsets, strict=True))
        ]

    async def drive(self, items: Sequence[CheckIn]) -> list[CheckIn]:
        start = time.monotonic()
        tasks: list[asyncio.Task[CheckIn]] = []
        for item in items:
            delay = start + item.scheduled - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            item.lag = time.monotonic() - (start + item.scheduled)
            tasks.append(asyncio.create_task(self.check_in(item)))
        return list(await asyncio.gather(*tasks))

    async def sample_rss(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.loads.append((time.time(), os.getloadavg()[0]))
            for proc in [*self.fleet.serve_procs, *self.fleet.worker_procs, *self.idle_procs]:
                proc.sample()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 2.0)

    async def run(self) -> Result:
        args = self.args
        result = Result(
            database=(
                "sqlite"
                if "postgres" not in self.database_url
                else "private postgresql"
                if args.private_postgres
                else "postgresql"
            ),
            arrivals=args.arrivals,
            employees=args.employees,
            window=float(args.window),
            serve=args.serve,
            workers=args.workers,
            load_start=load(),
        )
        began = time.monotonic()
        if "postgres" in self.idle_url:  # SQLite is migrated by `serve` itself
            await upgrade(self.idle_url)
        self.start_idle()
        stop = asyncio.Event()
        sampler: asyncio.Task[None] | None = None
        try:
            async with self.fleet as fleet:
                sampler = asyncio.create_task(self.sample_rss(stop))
                self.watch.start()
                for proc in self.idle_procs:
                    await fleet.wait_ready(proc)
                say(f"fleet up: bot {fleet.bot_id}, {len(fleet.staff)} staff")
                result.sync_seconds = await self.wait_synced()
                say(f"directory synced ({result.sync_seconds:.1f} s after the fleet was up)")
                staff = fleet.staff[: self.total]
                rushers, probers = staff[: args.employees], staff[args.employees :]
                result.probes_ms, probe_items = await self.probe(probers)
                say(
                    f"probes: min {min(result.probes_ms or [0]):.0f} ms, "
                    f"p50 {quantile(result.probes_ms, 0.5):.0f} ms"
                )
                # The portal's bucket must be empty when the rush starts (see the formula).
                level = (await self.portal_stats())["level"]
                await asyncio.sleep(level / fleet.portal.limiter.rate + 1.0)
                result.setup_seconds = time.monotonic() - began
                for proc in [*fleet.serve_procs, *fleet.worker_procs]:
                    proc.sample()
                before = {p.name: p.peak_rss_kb for p in [*fleet.serve_procs, *fleet.worker_procs]}
                cpu0 = {
                    p.name: cpu_seconds(p.pid) for p in [*fleet.serve_procs, *fleet.worker_procs]
                }
                stats0 = await self.portal_stats()
                result.load_rush_start = load()
                say(
                    f"rush: {args.employees} check-ins over {args.window} s ({args.arrivals}), "
                    f"load {result.load_rush_start}"
                )
                bench_cpu0, wall0 = time.process_time(), time.monotonic()
                items = await self.drive(self.schedule(rushers))
                result.bench_cpu = (time.process_time() - bench_cpu0) / (time.monotonic() - wall0)
                say("arrivals done; waiting for the books to close")
                actions = [i.action for i in items if i.action is not None]
                actions += [i.action for i in probe_items if i.action is not None]
                report = await fleet.settle(
                    actions, label="rush", within=max(180.0, args.employees / 20)
                )
                result.load_rush_end = load()
                stats1 = await self.portal_stats()
                grew = {k: int(stats1[k] - stats0[k]) for k in stats0 if k != "level"}
                result.requests = grew["requests"]
                result.batch_calls = grew["batch_calls"]
                result.batch_commands = grew["batch_commands"]
                result.rejected_503 = grew["rejected_503"]
                result.push_failures = grew["push_failures"]
                for proc in [*fleet.serve_procs, *fleet.worker_procs]:
                    proc.sample()
                    result.procs.append(
                        ProcFigures(
                            proc.name,
                            proc.role,
                            before[proc.name],
                            proc.peak_rss_kb,
                            proc.rss_kb(),
                            cpu_seconds(proc.pid) - cpu0[proc.name],
                        )
                    )
                for proc in self.idle_procs:
                    result.idle[proc.role] = proc.sample()
                timeline = await self.timeline(rushers)
                self.figures(result, items, timeline)
                result.stages = await self.stages(rushers, timeline)
                result.answer_ms = report.answer_ms
                result.marks_stored = report.marks_stored
                result.replies_delivered = report.replies_delivered
                result.accounting_line = report.line()
                result.problems = report.problems()
                missing = [i.user_id for i in items if not timeline.get(i.user_id, (0, 0))[1]]
                if missing:
                    result.problems.append(f"{len(missing)} check-ins without a reply in the chat")
                if result.problems:
                    print(fleet.logs(), file=sys.stderr)
        finally:
            stop.set()
            if sampler is not None:
                await sampler
            for proc in self.idle_procs:
                await asyncio.to_thread(proc.stop)
            await self.watch.stop()
            if not args.workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)
        return result

    def figures(
        self, result: Result, items: Sequence[CheckIn], timeline: dict[int, tuple[float, float]]
    ) -> None:
        sent = sorted(s for s, _ in timeline.values() if s)
        replies = [r for _, r in timeline.values() if r]
        result.latencies_ms = [(r - s) * 1000 for s, r in timeline.values() if s and r]
        first = sent[0]
        arrivals = [s - first for s in sent]
        result.first_to_last_arrival = arrivals[-1]
        result.floor = min([*result.latencies_ms, *result.probes_ms]) / 1000
        result.achieved = max(replies) - first
        portal = self.fleet.portal
        result.t_min, result.window_term, result.drain_term = theoretical_minimum(
            arrivals, result.floor, portal.limiter.rate, portal.limiter.burst
        )
        result.driver_lag_max = max((i.lag for i in items), default=0.0)
        by_minute: dict[int, list[float]] = {}
        for s, r in timeline.values():
            if s and r:
                by_minute.setdefault(int((s - first) // 60), []).append((r - s) * 1000)
        result.by_minute = [
            (m, len(v), quantile(v, 0.5), quantile(v, 0.99), max(v))
            for m, v in sorted(by_minute.items())
        ]
        last = max(replies)
        during = [value for at, value in self.loads if first <= at <= last]
        result.load_during = (min(during), quantile(during, 0.5), max(during)) if during else ()
        result.retries = sum((i.action.tries - 1) for i in items if i.action is not None)


# --- output ---------------------------------------------------------------------------------


def report(r: Result) -> str:
    mb = 1024
    p50, p99 = quantile(r.latencies_ms, 0.5), quantile(r.latencies_ms, 0.99)
    lines = [
        f"morning rush: {r.employees} check-ins over {r.window:.0f} s ({r.arrivals} arrivals), "
        f"{r.database}, {r.serve} serve + {r.workers} worker",
        f"load average: start {r.load_start}; rush start {r.load_rush_start}; "
        f"rush end {r.load_rush_end}; 1-minute load in the rush min/median/max "
        + "/".join(f"{x:.1f}" for x in r.load_during),
        f"setup {r.setup_seconds:.0f} s (directory sync of {r.employees} + probes: "
        f"{r.sync_seconds:.1f} s)",
        f"latency floor L0 = {r.floor * 1000:.0f} ms (the fastest reply of the run); "
        f"{len(r.probes_ms)} idle probes: p50 {quantile(r.probes_ms, 0.5):.0f} ms, "
        f"max {max(r.probes_ms or [0]):.0f} ms",
        f"arrivals: first to last {r.first_to_last_arrival:.1f} s; driver late by at most "
        f"{r.driver_lag_max * 1000:.0f} ms; {r.retries} retried sends; the bench process "
        f"(sandbox, balancer, driver) used {r.bench_cpu:.2f} CPU while they arrived",
        f"achieved: first check-in to last reply {r.achieved:.2f} s",
        f"theoretical minimum {r.t_min:.2f} s (window term {r.window_term:.2f} s, "
        f"rate-limit drain term {r.drain_term:.2f} s); ratio T_min/T = {r.ratio:.3f}",
        f"reply latency (event -> delivered): p50 {p50:.0f} ms, p90 "
        f"{quantile(r.latencies_ms, 0.9):.0f} ms, p99 {p99:.0f} ms, max "
        f"{max(r.latencies_ms or [0]):.0f} ms; event answered (200) p50/p95/max "
        f"{r.answer_ms[0]:.0f}/{r.answer_ms[1]:.0f}/{r.answer_ms[2]:.0f} ms",
        "  by minute of arrival, p50 / p99 / max ms: "
        + "; ".join(
            f"{m}: {p50_:.0f} / {p99_:.0f} / {top:.0f}" for m, _, p50_, p99_, top in r.by_minute
        ),
        "  where it goes, p50 / p99 ms: "
        + "; ".join(
            f"{name} {quantile(v, 0.5):.0f} / {quantile(v, 0.99):.0f}"
            for name, v in (
                ("message -> event stored", r.stages.get("stored", [])),
                ("stored -> applied", r.stages.get("applied", [])),
                ("applied -> reply in chat", r.stages.get("delivered", [])),
            )
        ),
        f"portal: {r.requests} REST requests ({r.batch_calls} batches carrying "
        f"{r.batch_commands} calls, {r.batch_commands / max(r.batch_calls, 1):.1f} per batch), "
        f"{r.rejected_503} x 503 QUERY_LIMIT_EXCEEDED; {r.push_failures} event pushes "
        "the sandbox gave up on (no answer within its 10 s delivery timeout)",
        f"books: marks stored {r.marks_stored}, replies delivered {r.replies_delivered}; "
        f"{'OK' if not r.problems else 'PROBLEMS: ' + '; '.join(r.problems)}",
        "",
        "process        idle VmHWM  before rush  peak (VmHWM)  RSS after  peak/idle  CPU in rush",
    ]
    for p in r.procs:
        idle = r.idle.get(p.role, 0)
        lines.append(
            f"{p.name:<13} {idle / mb:>9.1f}M {p.hwm_before_kb / mb:>11.1f}M "
            f"{p.hwm_after_kb / mb:>12.1f}M {p.rss_after_kb / mb:>9.1f}M "
            f"{p.hwm_after_kb / idle if idle else 0:>9.2f}x {p.cpu_rush_s:>10.1f}s"
        )
    lines += ["", r.accounting_line]
    return "\n".join(lines)


def markdown_row(r: Result) -> str:
    serve = [p for p in r.procs if p.role == "serve"]
    workers = [p for p in r.procs if p.role == "worker"]

    def peak(ps: list[ProcFigures], role: str) -> str:
        idle = r.idle.get(role, 0)
        top = max(p.hwm_after_kb for p in ps)
        return f"{top / 1024:.0f} / {idle / 1024:.0f} MB ({top / idle if idle else 0:.2f}×)"

    p50, p99 = quantile(r.latencies_ms, 0.5), quantile(r.latencies_ms, 0.99)
    return (
        f"| {r.database} | {r.serve} + {r.workers} | {r.employees:,} / {r.window:.0f} s "
        f"{r.arrivals} | {r.achieved:.1f} | {r.t_min:.1f} | {r.ratio:.3f} | {p50:.0f} | "
        f"{p99:.0f} | {r.rejected_503} | {r.marks_stored:,} / {r.replies_delivered:,} | "
        f"{peak(serve, 'serve')} | {peak(workers, 'worker')} | {r.load_rush_start} → "
        f"{r.load_rush_end} |"
    )


async def main_async(args: argparse.Namespace) -> Result:
    if args.sqlite or (args.database_url and "postgres" not in args.database_url):
        folder = Path(tempfile.mkdtemp(prefix="bench-rush-db-"))
        try:
            rush = Rush(
                args,
                args.database_url or f"sqlite:///{folder / 'rush.sqlite3'}",
                f"sqlite:///{folder / 'idle.sqlite3'}",
            )
            return await rush.run()
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    admin = args.database_url or args.postgres_url
    async with contextlib.AsyncExitStack() as stack:
        if args.private_postgres:
            admin = stack.enter_context(DurablePostgres()).url
        url = args.database_url or await stack.enter_async_context(fresh_database(admin, "main"))
        idle = await stack.enter_async_context(fresh_database(admin, "idle"))
        return await Rush(args, url, idle).run()


def main(argv: list[str] | None = None) -> Any:
    parser = argparse.ArgumentParser(description="Morning rush through the sandbox portal.")
    parser.add_argument("--employees", type=int, default=5000)
    parser.add_argument("--window", type=float, default=300.0, help="seconds")
    parser.add_argument("--arrivals", choices=("poisson", "uniform"), default="poisson")
    parser.add_argument("--serve", type=int, default=1, help="timebot serve processes")
    parser.add_argument("--workers", type=int, default=1, help="timebot worker processes")
    parser.add_argument(
        "--database-url", default=None, help="an empty database (default: a fresh PostgreSQL one)"
    )
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file instead")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument(
        "--private-postgres",
        action="store_true",
        help="a throw-away PostgreSQL cluster of its own (durable defaults) instead of "
        "--postgres-url",
    )
    parser.add_argument("--probes", type=int, default=20, help="idle check-ins for L0")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", default=None, help="keep process logs here")
    args = parser.parse_args(argv)
    configure_logging(level="WARNING")
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    result = asyncio.run(main_async(args))
    print(report(result))
    print("\n" + markdown_row(result))
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    return 0 if not result.problems else 1


if __name__ == "__main__":
    raise SystemExit(main())
