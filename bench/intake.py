"""Event intake against a bare FastAPI endpoint on the same server, over real HTTP.

    .venv/bin/python -m bench.intake [--requests 1000] [--databases sqlite,postgresql]
                                     [--postgres-url URL] [--client raw|httpx]
                                     [--profile DIR] [--keep-logs DIR]

One uvicorn process (started as a subprocess, configured as `timebot serve` runs it: uvloop,
httptools, no access log, JSON logs at INFO to a file) hosts both

* timebot's web app (`create_app(settings=…, with_worker=False)`), whose `POST /bitrix/events`
  verifies the application token (a per-process cache) and stores the event in the inbox (one
  insert, group-committed with the requests in flight) before answering; the app's applier
  task then finds or creates the employee, records the check-in mark (at the receipt time) and
  queues the reply in the outbox, giving way to requests in flight; and
* a bare FastAPI app at `POST /bare/events` that reads the same body with
  `await request.form()` and answers 200 with a small JSON object.

A top-level ASGI switch routes `/bare/…` to the bare app, so the bare endpoint passes none of
timebot's middleware. The load generator (this process; a minimal keep-alive HTTP/1.1 client
on asyncio streams, about 0.1 ms of CPU per request against httpx.AsyncClient's 2 ms, which
`--client httpx` selects; both share the machine's cores with the server) sends the same kind
of body to both: an ONIMBOTV2MESSAGEADD webhook in the PHP `http_build_query` form
Bitrix24 uses, with the text "пришёл", from a distinct user and with a distinct message id each
time, so every request to timebot is a real first check-in of the day.

Per database (SQLite file in WAL mode; a fresh PostgreSQL database created and dropped) four
scenarios run, each with a fixed number of requests in flight:

* known employees, 16 in flight (the headline; N requests): the employees exist, as after a
  directory sync;
* known employees, 1 in flight (N/4): latency without queueing;
* known employees, paced (N/10): 1 in flight with 20 ms between an answer and the next POST, a
  load the process keeps up with: how soon the bot answers when it is not flooded;
* first contact, 16 in flight (N/2): each event also creates the employee and requests a sync.

Before them, 200 requests to each target warm the server up (timebot's are first contacts and
are counted in the checks, not in the figures).

Every scenario alternates rounds of bare and timebot requests (bare first in even rounds,
timebot first in odd ones), so drifts hit both. After each timebot round the bench waits until
the inbox is drained (every event applied), so the applying never runs into a bare round.
Throughput is requests / wall time summed over a target's rounds; the ratio is timebot's over
bare's. "POST → reply queued" is, per event, the time from sending its POST to the commit that
applied it (its `applied_at`, the same machine's clock); "applied/s" is events / (first POST to
last reply queued) per round, the rate at which the bot really answers. Server CPU per request
(user + system) is read from /proc, during the rounds and while draining after them; the load
average is printed, as other work on the cores skews everything.
`--profile DIR` runs the server under cProfile (main thread only: aiosqlite's threads are not
seen). After each database the run is checked: every response 200 `accepted`, one check-in
mark per request, one outbox row per request, every event applied. Exit status 0 means every
check passed and the headline met the targets (ratio >= 0.5, p99 < 50 ms).

See bench/README.md for the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import Request
from fastapi.responses import JSONResponse

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
MEMBER_ID = "b3c1e0d2f4a6489c9e7d5b3a1f0e2d4c"
DOMAIN = "bench.bitrix24.ru"
BOT_ID = 1087
BOT_CODE = "timebot"
TARGET_RATIO = 0.5
TARGET_P99_MS = 50.0
ROUNDS = 4
WARMUP = 200
KEEP_ALIVE = 2.0  # seconds a client connection may sit idle before it is dropped
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- wire bodies -----------------------------------------------------------------------------


@dataclass
class Wire:
    """Builds ONIMBOTV2MESSAGEADD webhook bodies as the sandbox portal (and Bitrix24) sends them."""

    application_token: str
    next_message_id: int = 500_000

    def checkin(self, user_id: int, text: str = "пришёл") -> bytes:
        from timebot.sandbox.events import v2_user
        from timebot.sandbox.phpquery import http_build_query
        from timebot.sandbox.state import User

        self.next_message_id += 1
        now = datetime.now(UTC)
        user = User(
            id=user_id,
            first_name="Сотрудник",
            last_name=f"Номер {user_id}",
            email=f"user{user_id}@example.com",
            gender="M",
            work_position="Инженер",
            departments=[1],
        )
        chat_id = 100_000 + user_id
        pair = {
            "access_token": secrets.token_hex(26),
            "expires": int((now + timedelta(hours=1)).timestamp()),
            "expires_in": 3600,
            "scope": "imbot,im,user_basic,department,timeman,placement",
            "domain": DOMAIN,
            "server_endpoint": "https://oauth.bitrix.info/rest/",
            "status": "L",
            "client_endpoint": f"https://{DOMAIN}/rest/",
            "member_id": MEMBER_ID,
        }
        message = {
            "id": self.next_message_id,
            "chatId": chat_id,
            "authorId": user_id,
            "date": now.astimezone().isoformat(timespec="seconds"),
            "text": text,
            "isSystem": False,
            "uuid": "",
            "forward": "",
            "params": {},
            "viewedByOthers": False,
        }
        chat = {
            "id": chat_id,
            "dialogId": str(user_id),
            "type": "private",
            "name": user.full_name,
            "entityType": "",
            "owner": 0,
            "avatar": "",
            "color": user.color,
            "messageType": "P",
        }
        bot_auth = pair | {
            "refresh_token": secrets.token_hex(26),
            "user_id": user_id,
            "application_token": self.application_token,
        }
        body = {
            "event": "ONIMBOTV2MESSAGEADD",
            "event_handler_id": 17,
            "data": {
                "bot": {"id": BOT_ID, "code": BOT_CODE, "auth": bot_auth},
                "message": message,
                "chat": chat,
                "user": v2_user(user),
                "language": "ru",
            },
            "ts": int(now.timestamp()),
            "auth": pair | {"user_id": user_id, "application_token": self.application_token},
        }
        return http_build_query(body).encode()


def check_wire(wire: Wire) -> int:
    """The body parses as a private-chat check-in message by user 1 (a self-check)."""
    from timebot.bitrix import BotMessageAdded, parse_event, parse_form

    body = wire.checkin(1)
    event = parse_event(parse_form(body))
    if not (
        isinstance(event, BotMessageAdded)
        and event.auth.member_id == MEMBER_ID
        and event.user.id == 1
        and event.text == "пришёл"
        and event.chat_type == "private"
    ):
        raise RuntimeError(f"the bench body does not parse as a check-in: {event!r}")
    return len(body)


# --- the server (a subprocess) ---------------------------------------------------------------


async def bare_events(request: Request) -> JSONResponse:
    """The baseline: read the same form body, answer 200."""
    form = await request.form()
    return JSONResponse({"result": "accepted", "fields": len(form)})


def build_server_app(database_url: str) -> Any:
    """timebot's app and a bare FastAPI app behind one ASGI switch (lifespan goes to timebot)."""
    from fastapi import FastAPI
    from pydantic import SecretStr

    from timebot.config import Environment, Settings
    from timebot.web.app import create_app

    settings = Settings(
        environment=Environment.PRODUCTION,
        secret_key=SecretStr(secrets.token_urlsafe(32)),
        database_url=database_url,
        public_url="https://timebot.example.com",
        bitrix_event_mode="webhook",
        log_format="json",
        log_level="INFO",
    )
    ours = create_app(settings=settings, with_worker=False)
    bare = FastAPI()
    bare.add_api_route("/bare/events", bare_events, methods=["POST"])

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/bare/"):
            await bare(scope, receive, send)
        else:
            await ours(scope, receive, send)

    return app


def serve(database_url: str, port: int, profile: str | None) -> None:
    import uvicorn

    config = uvicorn.Config(
        build_server_app(database_url),
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    if profile is None:
        server.run()
        return
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        server.run()
    finally:
        profiler.disable()
        profiler.dump_stats(profile)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server_process(
    database_url: str, log_path: Path, profile: str | None
) -> Iterator[tuple[str, int]]:
    port = free_port()
    cmd = [sys.executable, "-m", "bench.intake", "--serve", database_url, "--port", str(port)]
    if profile:
        cmd += ["--profile-file", profile]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"server exited early; see {log_path}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start; see {log_path}")
                time.sleep(0.2)
            yield base, proc.pid
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


# --- databases -------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def fresh_database(kind: str, postgres_url: str, folder: Path) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'intake.sqlite3'}"
        return
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    from timebot.storage.database import normalize_url

    admin = make_url(normalize_url(postgres_url))
    name = f"bench_intake_{secrets.token_hex(4)}"
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


async def prepare(database_url: str, application_token: str, known: Sequence[int]) -> None:
    """Schema, an installed portal with a registered bot, and the known employees."""
    from sqlalchemy import insert

    from timebot.gateway.install import NEW_PORTAL_DEFAULTS
    from timebot.storage import Database
    from timebot.storage.migrate import upgrade
    from timebot.storage.tables import Employee, Portal

    await upgrade(database_url)
    database = Database.from_url(database_url)
    now = datetime.now(UTC)
    try:
        async with database.unit_of_work() as uow:
            portal = Portal(
                member_id=MEMBER_ID,
                domain=DOMAIN,
                client_endpoint=f"https://{DOMAIN}/rest/",
                connection="oauth",
                language="ru",
                timezone="Europe/Moscow",
                event_mode="webhook",
                installed_at=now,
                updated_at=now,
                settings={},
                **NEW_PORTAL_DEFAULTS,
            )
            portal.access_token = secrets.token_hex(26)
            portal.refresh_token = secrets.token_hex(26)
            portal.access_expires_at = now + timedelta(hours=1)
            portal.application_token = application_token
            portal.bot_id = BOT_ID
            uow.portals.add(portal)
            await uow.flush()
            rows = [
                {
                    "portal_id": portal.id,
                    "bitrix_user_id": user_id,
                    "name": f"Сотрудник Номер {user_id}",
                    "first_name": "Сотрудник",
                    "last_name": f"Номер {user_id}",
                    "email": f"user{user_id}@example.com",
                    "timezone": None,
                    "department_ids": [1],
                    "language": None,
                    "active": True,
                    "is_admin": False,
                    "remote_always": False,
                    "remote_weekdays": [],
                    "all_offices": True,
                    "consented_at": None,
                    "synced_at": now,
                    "created_at": now,
                }
                for user_id in known
            ]
            if rows:
                await uow.session.execute(insert(Employee), rows)
            await uow.commit()
    finally:
        await database.dispose()


async def stored_counts(database_url: str) -> dict[str, int]:
    from sqlalchemy import func, select

    from timebot.storage import Database
    from timebot.storage.tables import Employee, Mark, OutboxMessage, ProcessedEvent

    database = Database.from_url(database_url)
    try:
        async with database.unit_of_work() as uow:
            s = uow.session
            marks = await s.scalar(
                select(func.count()).select_from(Mark).where(Mark.kind == "check_in")
            )
            outbox = await s.scalar(select(func.count()).select_from(OutboxMessage))
            applied = await s.scalar(
                select(func.count())
                .select_from(ProcessedEvent)
                .where(ProcessedEvent.status == "applied")
            )
            events = await s.scalar(select(func.count()).select_from(ProcessedEvent))
            people = await s.scalar(select(func.count()).select_from(Employee))
            return {
                "marks": int(marks or 0),
                "outbox": int(outbox or 0),
                "events": int(events or 0),
                "applied": int(applied or 0),
                "employees": int(people or 0),
            }
    finally:
        await database.dispose()


class Watcher:
    """Reads the inbox from outside the server: a plain engine (no BEGIN IMMEDIATE), so on
    SQLite it reads the WAL snapshot without taking the write lock the server needs."""

    def __init__(self, database_url: str) -> None:
        from sqlalchemy.ext.asyncio import create_async_engine

        from timebot.storage.database import normalize_url

        self.engine = create_async_engine(normalize_url(database_url), pool_size=1)

    async def pending(self) -> int:
        from sqlalchemy import text

        async with self.engine.connect() as conn:
            result = await conn.execute(
                text("SELECT count(*) FROM processed_events WHERE status = 'pending'")
            )
            return int(result.scalar_one())

    async def drained(self, within: float = 600.0) -> None:
        """Wait until every stored event is applied."""
        deadline = time.monotonic() + within
        while await self.pending():
            if time.monotonic() > deadline:
                raise RuntimeError("the inbox did not drain")
            await asyncio.sleep(0.05)

    async def applied_at(self) -> dict[int, datetime]:
        """Message id → when its event was applied (its reply queued), by the server's clock."""
        from sqlalchemy import text

        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT event_key, applied_at FROM processed_events "
                    "WHERE applied_at IS NOT NULL"
                )
            )
            out: dict[int, datetime] = {}
            for key, at in rows.all():
                if isinstance(at, str):  # SQLite returns text through a plain engine
                    at = datetime.fromisoformat(at)
                out[int(str(key).rsplit(":", 1)[1])] = at if at.tzinfo else at.replace(tzinfo=UTC)
            return out

    async def aclose(self) -> None:
        await self.engine.dispose()


# --- load ------------------------------------------------------------------------------------


@dataclass
class Sample:
    """Requests of one target in one scenario, summed over its rounds."""

    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    statuses: Counter[str] = field(default_factory=Counter)
    # timebot only: message id → wall-clock time its POST was sent; per round, when it began.
    sent: dict[int, datetime] = field(default_factory=dict)
    rounds: list[tuple[datetime, list[int]]] = field(default_factory=list)
    queued: list[float] = field(default_factory=list)  # POST → reply queued, seconds
    applied_seconds: float = 0.0  # first POST → last reply queued, summed over rounds

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    @property
    def applied_rate(self) -> float:
        return self.count / self.applied_seconds if self.applied_seconds else 0.0

    def pct(self, q: float, values: list[float] | None = None) -> float:
        ordered = sorted(self.latencies if values is None else values)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000

    @property
    def cpu_ms(self) -> float:
        return self.server_cpu / self.count * 1000

    def settle(self, applied: dict[int, datetime]) -> None:
        """POST → reply queued per request, and the rounds' first POST → last reply queued."""
        for began, ids in self.rounds:
            done = [applied[i] for i in ids if i in applied]
            if done:
                self.applied_seconds += (max(done) - began).total_seconds()
        self.queued = [
            (applied[i] - at).total_seconds() for i, at in self.sent.items() if i in applied
        ]


class RawClient:
    """A minimal HTTP/1.1 keep-alive client (asyncio streams, one connection per request in
    flight): a fraction of httpx's CPU per request, so the load generator, which shares the
    machine's cores with the server, disturbs the measurement less."""

    def __init__(self, base_url: str) -> None:
        parts = httpx.URL(base_url)
        self.host, self.port = parts.host, parts.port or 80
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        while self.idle:
            reader, writer, since = self.idle.pop()
            # uvicorn closes connections idle for 5 s; never send into one it may be closing.
            if time.monotonic() - since < KEEP_ALIVE and not reader.at_eof():
                break
            writer.close()
        else:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            writer.write(
                f"POST {path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\n"
                "content-type: application/x-www-form-urlencoded\r\n"
                f"content-length: {len(body)}\r\n\r\n".encode()
                + body
            )
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            length, close = 0, False
            for line in lines[1:]:
                name, _, value = line.partition(":")
                name, value = name.strip().lower(), value.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == "connection" and value == "close":
                    close = True
            data = await reader.readexactly(length)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            writer.close()
            return 0, type(exc).__name__.encode()
        if close or status >= 500:  # uvicorn drops the connection after an unhandled error
            writer.close()
        else:
            self.idle.append((reader, writer, time.monotonic()))
        return status, data

    async def aclose(self) -> None:
        for _, writer, _ in self.idle:
            writer.close()
        self.idle.clear()


class HttpxClient:
    def __init__(self, base_url: str) -> None:
        limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
        self.client = httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30)
        self.headers = {"content-type": "application/x-www-form-urlencoded"}

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        response = await self.client.post(path, content=body, headers=self.headers)
        return response.status_code, response.content

    async def aclose(self) -> None:
        await self.client.aclose()


Client = RawClient | HttpxClient


async def blast(
    client: Client,
    path: str,
    bodies: Sequence[tuple[int, bytes]],
    concurrency: int,
    pid: int,
    sample: Sample,
    *,
    track: bool = False,
    pause: float = 0.0,
) -> None:
    """Send `bodies` (message id, body) with `concurrency` requests in flight, each sender
    waiting `pause` seconds after an answer; add to `sample`. With `track`, remember when each
    message was sent (for POST → reply queued)."""
    it = iter(bodies)
    if track:
        sample.rounds.append((datetime.now(UTC), [i for i, _ in bodies]))

    async def worker() -> None:
        for message_id, body in it:
            if track:
                sample.sent[message_id] = datetime.now(UTC)
            started = time.perf_counter()
            status, data = await client.post(path, body)
            sample.latencies.append(time.perf_counter() - started)
            if status == 200:
                result = json.loads(data).get("result")
            else:
                result = data.decode(errors="replace")[:60] if status == 0 else None
            sample.statuses[f"{status} {result}"] += 1
            if pause:
                await asyncio.sleep(pause)

    cpu0, own0 = cpu_seconds(pid), time.process_time()
    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    sample.seconds += time.perf_counter() - t0
    sample.server_cpu += cpu_seconds(pid) - cpu0
    sample.client_cpu += time.process_time() - own0


@dataclass(frozen=True)
class Scenario:
    name: str
    concurrency: int
    users: range
    headline: bool = False
    pause: float = 0.0  # seconds a sender waits after each answer


@dataclass
class Row:
    database: str
    scenario: Scenario
    ours: Sample
    bare: Sample
    drain_cpu: float = 0.0  # server CPU seconds spent after the timebot rounds' last 200

    @property
    def ratio(self) -> float:
        return self.ours.rate / self.bare.rate

    @property
    def meets(self) -> bool:
        return self.ratio >= TARGET_RATIO and self.ours.pct(0.99) < TARGET_P99_MS


async def run_database(
    kind: str, args: argparse.Namespace, folder: Path
) -> tuple[list[Row], list[str]]:
    n = args.requests
    scenarios = [
        Scenario("known, 16 in flight", 16, range(10_000, 10_000 + n), headline=True),
        Scenario("known, 1 in flight", 1, range(20_000, 20_000 + n // 4)),
        Scenario(
            "known, paced: 1 in flight, 20 ms apart", 1, range(40_000, 40_000 + n // 10), pause=0.02
        ),
        Scenario("first contact, 16 in flight", 16, range(30_000, 30_000 + n // 2)),
    ]
    warm_users = range(90_000, 90_000 + WARMUP)
    known = [u for s in scenarios if s.name.startswith("known") for u in s.users]
    token = secrets.token_hex(16)
    wire = Wire(token)
    problems: list[str] = []
    rows: list[Row] = []

    def bodies(users: Sequence[int]) -> list[tuple[int, bytes]]:
        out = []
        for u in users:
            body = wire.checkin(u)
            out.append((wire.next_message_id, body))
        return out

    async with fresh_database(kind, args.postgres_url, folder) as url:
        await prepare(url, token, known)
        profile = str(Path(args.profile) / f"intake-{kind}.prof") if args.profile else None
        log_path = folder / f"server-{kind}.log"
        sent = 0
        watcher = Watcher(url)
        with server_process(url, log_path, profile) as (base, pid):
            client: Client = RawClient(base) if args.client == "raw" else HttpxClient(base)
            try:
                warm = Sample()
                await blast(client, "/bare/events", bodies(warm_users), 16, pid, warm)
                await blast(client, "/bitrix/events", bodies(warm_users), 16, pid, warm)
                await watcher.drained()
                sent += len(warm_users)
                if set(warm.statuses) != {"200 accepted"}:
                    problems.append(f"{kind} warm-up: {dict(warm.statuses)}")
                for scenario in scenarios:
                    row = Row(kind, scenario, Sample(), Sample())
                    users = list(scenario.users)
                    size = -(-len(users) // ROUNDS)
                    for r in range(ROUNDS):
                        chunk = users[r * size : (r + 1) * size]
                        steps = [
                            ("/bare/events", bodies(chunk), row.bare),
                            ("/bitrix/events", bodies(chunk), row.ours),
                        ]
                        for path, batch, sample in steps if r % 2 == 0 else steps[::-1]:
                            ours = sample is row.ours
                            await blast(
                                client,
                                path,
                                batch,
                                scenario.concurrency,
                                pid,
                                sample,
                                track=ours,
                                pause=scenario.pause,
                            )
                            if ours:
                                # What is left to apply runs now, not during the next bare round.
                                cpu0 = cpu_seconds(pid)
                                await watcher.drained()
                                row.drain_cpu += cpu_seconds(pid) - cpu0
                    sent += len(users)
                    for label, sample in (("timebot", row.ours), ("bare", row.bare)):
                        if set(sample.statuses) != {"200 accepted"}:
                            problems.append(
                                f"{kind} {scenario.name} {label}: {dict(sample.statuses)}"
                            )
                    rows.append(row)
            finally:
                await client.aclose()
        applied = await watcher.applied_at()
        await watcher.aclose()
        for row in rows:
            row.ours.settle(applied)
        counts = await stored_counts(url)
    expected = {
        "marks": sent,
        "outbox": sent,
        "events": sent,
        "applied": sent,
        "employees": len(known)
        + sent
        - sum(len(s.users) for s in scenarios if s.name.startswith("known")),
    }
    for key, value in expected.items():
        if counts[key] != value:
            problems.append(f"{kind}: {key} stored {counts[key]}, expected {value}")
    print(f"{kind}: sent {sent} check-ins; stored {json.dumps(counts)}; server log {log_path}")
    return rows, problems


# --- report ----------------------------------------------------------------------------------


def table(rows: Sequence[Row]) -> str:
    head = (
        "| database | scenario | timebot req/s | bare req/s | ratio | timebot p50 ms | "
        "timebot p99 ms | bare p50 ms | bare p99 ms | POST → reply queued p50 / p99 ms | "
        "applied/s | server CPU ms/event: timebot during + after the rounds / bare | "
        "requests each |"
    )
    lines = [head, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        o, b = row.ours, row.bare
        name = row.scenario.name + (" **(headline)**" if row.scenario.headline else "")
        drain_ms = row.drain_cpu / o.count * 1000
        lines.append(
            f"| {row.database} | {name} | {o.rate:,.0f} | {b.rate:,.0f} | {row.ratio:.2f} | "
            f"{o.pct(0.5):.1f} | {o.pct(0.99):.1f} | {b.pct(0.5):.1f} | {b.pct(0.99):.1f} | "
            f"{o.pct(0.5, o.queued):,.0f} / {o.pct(0.99, o.queued):,.0f} | "
            f"{o.applied_rate:,.0f} | {o.cpu_ms:.2f} + {drain_ms:.2f} / {b.cpu_ms:.2f} | "
            f"{o.count:,} |"
        )
    return "\n".join(lines)


def load_average() -> str:
    """The 1/5/15-minute load: other work on the machine's cores skews every figure."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def copy_logs(folder: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for log in folder.glob("server-*.log"):
        (target / log.name).write_bytes(log.read_bytes())


async def main_async(args: argparse.Namespace) -> int:
    body_size = check_wire(Wire(secrets.token_hex(16)))
    print(
        f"body: ONIMBOTV2MESSAGEADD form, {body_size:,} bytes; {ROUNDS} alternating rounds per "
        f"scenario; warm-up {WARMUP} each; client: {args.client}; CPUs: {os.cpu_count()}; "
        f"load average {load_average()}"
    )
    rows: list[Row] = []
    problems: list[str] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as tmp:
        for kind in args.databases.split(","):
            folder = Path(tmp) / kind
            folder.mkdir()
            try:
                got, bad = await run_database(kind, args, folder)
            finally:
                if args.keep_logs:
                    copy_logs(folder, Path(args.keep_logs))
            rows += got
            problems += bad
    print()
    print(table(rows))
    print()
    print(f"total {time.perf_counter() - started:.0f} s; load average {load_average()}")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    missed = [r for r in rows if r.scenario.headline and not r.meets]
    for row in missed:
        print(
            f"TARGET MISSED: {row.database}: ratio {row.ratio:.2f} (>= {TARGET_RATIO}), "
            f"p99 {row.ours.pct(0.99):.1f} ms (< {TARGET_P99_MS:.0f})"
        )
    return 1 if problems or missed else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.intake", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--requests", type=int, default=1000, help="timebot requests in the headline"
    )
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="an admin connection")
    parser.add_argument(
        "--client", choices=("raw", "httpx"), default="raw", help="the load generator's client"
    )
    parser.add_argument("--profile", metavar="DIR", help="cProfile the server into DIR")
    parser.add_argument("--keep-logs", metavar="DIR", help="copy the server logs into DIR")
    parser.add_argument("--serve", metavar="DATABASE_URL", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--profile-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.port, args.profile_file)
        return 0
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
