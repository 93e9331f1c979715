"""A fleet of real timebot processes on one PostgreSQL, behind a load balancer, talking to the
sandbox portal: the harness of the scale-out, fault and rush tests.

    async with Fleet(database_url, workdir, serve=3, workers=2, staff=50) as fleet:
        async def fault() -> None:  # runs alongside the rush
            await fleet.kill(fleet.serve_procs[0])  # SIGKILL
            await fleet.restart(fleet.serve_procs[0])
        actions = await fleet.people.run(fleet.staff, SCRIPT, during=fault)
        report = await fleet.settle(actions, label="scale-out")
        print(report.line(), fleet.peak_rss())
        assert report.problems() == []

Sandbox faults are set over its control endpoint (`fleet.set_faults(latency=2.0)`, …), more
processes started with `fleet.start_serve()` / `fleet.start_worker()`.

The pieces:

- **The edge**: one uvicorn server in a background thread of the test process. It hosts the
  sandbox portal (`/rest/`, `/oauth/token/`, `/sandbox/…`) and, for every other path, a
  round-robin `Balancer` in front of the serve processes: a refused connection goes on to the
  next process (nothing was sent, like nginx's `proxy_next_upstream error`), a request lost in
  flight is answered 502. The public URL of timebot (bot webhook, check-in links) is the edge,
  so the portal's events are spread over the serve processes. The balancer keeps a `Ledger`
  of every event POST and its answer.
- **Processes**: `timebot serve` and `timebot worker` subprocesses (the CLI with `TIMEBOT_*`
  settings), each a `Proc` that can be SIGKILLed, stopped and started again (a serve process
  on its old port); the peak resident set (VmHWM) of each is read from /proc on demand and kept
  after it exits.
- **People**: `People` acts as employees in the sandbox's web chat, over its JSON API as the
  page does (`/sandbox/api/open|send|press|messages`): a person opens the dialog, presses the
  wanted button on the bot's latest answer (or types the command when no such answer came in
  time) and does it again when the event was refused — no answer would come.
- **Accounting**: `Fleet.settle()` waits for the outcomes (intake may apply events after its
  200) and compares marks in the database per employee and kind with the accepted actions,
  and the outbox's chat messages with what the sandbox chat received (matched by the
  `templateId` every reply carries), counting duplicates, losses and refused events.

`PrivatePostgres` runs a throw-away PostgreSQL cluster (initdb + pg_ctl on a free port) for
tests that restart the database server.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import httpx
import uvicorn
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from tests.support.servers import free_port
from tests.support.stack import OAuthAnswers
from timebot.bitrix import parse_event, parse_form
from timebot.domain.clock import SystemClock
from timebot.sandbox import Portal, SandboxConfig, create_sandbox_app
from timebot.storage import Database
from timebot.storage.migrate import upgrade
from timebot.storage.tables import Employee, JobRun, Mark, OutboxMessage

__all__ = [
    "MARK_OF",
    "QUIET_PORTAL",
    "SCRIPT",
    "Accounting",
    "Action",
    "EventRecord",
    "Fleet",
    "Ledger",
    "People",
    "PrivatePostgres",
    "Proc",
    "digest_keys",
    "eventually",
    "local_now",
    "overtakes",
    "percentiles",
    "template_of",
]

T = TypeVar("T")

# A work day in the chat: open the bot's dialog, check in, a break, back, status, check out.
SCRIPT: tuple[str, ...] = ("open", "checkin", "break", "back", "status", "checkout")
# Chat commands that record a mark, and the mark kind.
MARK_OF: dict[str, str] = {
    "checkin": "check_in",
    "break": "break_start",
    "back": "break_end",
    "checkout": "check_out",
}
# Portal rules for deterministic accounting: nothing but the people's own actions writes marks
# or chat messages (no reminders, no provisional closes, no digest until a test asks for one).
QUIET_PORTAL: dict[str, Any] = {
    "remind_checkin_after_minutes": None,
    "remind_checkout_after_minutes": None,
    "auto_close_after_minutes": None,
    "digest_time": None,
    "weekly_stats": False,
}
SANDBOX_PATHS = ("/rest/", "/oauth/", "/sandbox")
MSK = ZoneInfo("Europe/Moscow")


# --- The ledger of pushed events -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One event POST that went through the balancer, and its answer (0 = none, with `error`)."""

    seq: int
    at: float
    event: str
    member_id: str
    user_id: int
    message_id: int
    command: str
    key: str  # timebot's dedupe key of the event ("" if it does not parse)
    status: int
    upstream: str
    error: str
    seconds: float  # how long the answer took (through the balancer)


def _describe_event(body: bytes) -> tuple[str, str, int, int, str, str]:
    """(event, member_id, user id, message id, command, dedupe key) of a pushed event body."""
    try:
        payload = parse_form(body)
    except (ValueError, UnicodeDecodeError):
        return "", "", 0, 0, "", ""

    def mapping(value: Any) -> dict[str, Any]:
        return value if isinstance(value, dict) else {}

    def number(value: Any) -> int:
        return int(value) if str(value).isdigit() else 0

    data = mapping(payload.get("data"))

    def part(name: str) -> dict[str, Any]:
        return mapping(data.get(name))

    auth = mapping(payload.get("auth"))
    command = str(part("command").get("command", "")).lstrip("/")
    try:
        key = parse_event(payload).dedupe_key
    except Exception:
        key = ""
    return (
        str(payload.get("event", "")).upper(),
        str(auth.get("member_id", "")),
        number(part("user").get("id", 0)),
        number(part("message").get("id", 0)),
        command,
        key,
    )


class Ledger:
    """Thread-safe list of the event POSTs the balancer forwarded (written on the edge thread,
    read by the test)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[EventRecord] = []

    @property
    def seq(self) -> int:
        """The sequence number the next record will get."""
        with self._lock:
            return len(self._records)

    def add(self, body: bytes, status: int, upstream: str, error: str, seconds: float) -> None:
        event, member_id, user_id, message_id, command, key = _describe_event(body)
        with self._lock:
            self._records.append(
                EventRecord(
                    len(self._records),
                    time.monotonic(),
                    event,
                    member_id,
                    user_id,
                    message_id,
                    command,
                    key,
                    status,
                    upstream,
                    error,
                    seconds,
                )
            )

    def records(self, since: int = 0) -> list[EventRecord]:
        with self._lock:
            return self._records[since:]

    def matching(
        self, since: int, *, user_id: int, event: str = "", message_id: int = 0, command: str = ""
    ) -> list[EventRecord]:
        """Records from `since` on of one person's event (by message id and/or command)."""
        return [
            r
            for r in self.records(since)
            if r.user_id == user_id
            and (not event or r.event == event)
            and (not message_id or r.message_id == message_id)
            and (not command or r.command == command)
        ]


# --- The edge: sandbox portal + balancer ------------------------------------------------------

_HOP_BY_HOP = {
    b"host",
    b"content-length",
    b"connection",
    b"keep-alive",
    b"transfer-encoding",
    b"te",
    b"upgrade",
    b"proxy-connection",
}


class Balancer:
    """ASGI app: the sandbox under its own paths, everything else round-robin to `upstreams`."""

    def __init__(self, sandbox: Any, upstreams: list[str], *, timeout: float = 30.0) -> None:
        self.sandbox = sandbox
        self.upstreams = upstreams  # shared list; the fleet adds serve processes to it
        self.timeout = timeout
        self.ledger = Ledger()
        self.refused_connections = 0
        self.lost_in_flight = 0
        self.in_flight: Counter[str] = Counter()  # requests awaiting an answer, per upstream
        self._next = 0
        self._client: httpx.AsyncClient | None = None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith(SANDBOX_PATHS):
            await self.sandbox(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        target = scope["path"] + (
            "?" + scope["query_string"].decode() if scope.get("query_string") else ""
        )
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in _HOP_BY_HOP]
        started = time.monotonic()
        status, out_headers, content, upstream, error = await self._proxy(
            scope["method"], target, headers, body
        )
        if scope["path"].rstrip("/") == "/bitrix/events":
            self.ledger.add(body, status, upstream, error, time.monotonic() - started)
        await send({"type": "http.response.start", "status": status, "headers": out_headers})
        await send({"type": "http.response.body", "body": content})

    async def _proxy(
        self, method: str, target: str, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes, str, str]:
        if self._client is None:
            # A new connection per request (nginx's default towards upstreams): no pooled
            # connection to a killed process is ever reused.
            self._client = httpx.AsyncClient(
                timeout=self.timeout, limits=httpx.Limits(max_keepalive_connections=0)
            )
        upstreams = list(self.upstreams)
        plain = [(b"content-type", b"text/plain; charset=utf-8")]
        if not upstreams:
            return 503, plain, b"no upstream", "", "no upstream"
        start = self._next
        self._next += 1
        error = ""
        for i in range(len(upstreams)):
            upstream = upstreams[(start + i) % len(upstreams)]
            self.in_flight[upstream] += 1
            try:
                response = await self._client.request(
                    method, upstream + target, headers=headers, content=body
                )
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                self.refused_connections += 1
                error = f"{type(exc).__name__}: {exc}"
                continue  # nothing was sent: the next process may take it
            except httpx.HTTPError as exc:
                self.lost_in_flight += 1
                error = f"{type(exc).__name__}: {exc}"
                return 502, plain, b"upstream failed", upstream, error
            finally:
                self.in_flight[upstream] -= 1
            out = [
                (k.lower(), v)
                for k, v in response.headers.raw
                if k.lower() not in _HOP_BY_HOP and k.lower() != b"content-encoding"
            ]
            return response.status_code, out, response.content, upstream, ""
        return 502, plain, b"no upstream answered", "", error


class _ThreadServer(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # not the main thread
        pass


class Edge:
    """The balancer and the sandbox on one port, served by uvicorn in a background thread."""

    def __init__(self, app: Any, port: int) -> None:
        self.app = app
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
            backlog=4096,
            timeout_keep_alive=30,
        )
        self.server = _ThreadServer(config)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            await self.server.serve()

        self._thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the edge server did not start")
            time.sleep(0.02)

    async def call(self, make: Callable[[], Awaitable[T]]) -> T:
        """Run a coroutine on the edge's loop (where the sandbox state lives) and await it."""
        assert self.loop is not None

        async def run() -> T:
            return await make()

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(run(), self.loop))

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)


# --- Processes --------------------------------------------------------------------------------


def read_status_kb(pid: int, field_name: str) -> int:
    """A `kB` field of /proc/PID/status (VmHWM, VmRSS), 0 when the process is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


@dataclass
class Proc:
    """One `timebot serve` or `timebot worker` subprocess (restartable)."""

    role: str  # "serve" | "worker"
    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    log: Path
    port: int | None = None
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0
    # Peak resident set (kB) over every incarnation, as read so far; see `sample()`.
    peak_rss_kb: int = 0
    kills: int = 0

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    @property
    def url(self) -> str:
        assert self.port is not None
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def start(self) -> None:
        assert not self.alive(), f"{self.name} is running"
        self.starts += 1
        with self.log.open("ab") as out:
            out.write(f"\n===== {self.name} start #{self.starts} =====\n".encode())
            out.flush()
            self.popen = subprocess.Popen(
                self.argv, cwd=self.cwd, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )

    def sample(self) -> int:
        """Read VmHWM now (the kernel's high-water mark of this incarnation); returns the peak
        over all incarnations so far."""
        if self.alive():
            self.peak_rss_kb = max(self.peak_rss_kb, read_status_kb(self.pid, "VmHWM"))
        return self.peak_rss_kb

    def rss_kb(self) -> int:
        """Current resident set (kB), 0 when not running."""
        return read_status_kb(self.pid, "VmRSS") if self.alive() else 0

    def freeze(self) -> None:
        """SIGSTOP: the process hangs (connections are accepted, nothing is answered)."""
        if self.alive():
            self.sample()
            os.kill(self.pid, signal.SIGSTOP)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send `sig` (default SIGKILL) and reap the process."""
        if not self.alive():
            return
        self.sample()
        if sig == signal.SIGKILL:
            self.kills += 1
        assert self.popen is not None
        self.popen.send_signal(sig)
        try:
            self.popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=10)

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after 20 s; returns the exit code."""
        if self.popen is None:
            return None
        if self.alive():
            self.kill(signal.SIGTERM)
        return self.popen.returncode

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""


# --- People in the web chat -------------------------------------------------------------------


@dataclass
class Action:
    """One person's action as the driver performed it."""

    user_id: int
    name: str  # "open" or a command ("checkin", "break", …)
    tries: int = 0
    accepted: bool = False  # an event of it was answered 200 by timebot
    uncertain: bool = False  # an attempt was lost in flight (timebot may have stored it)
    via: list[str] = field(default_factory=list)  # "button" | "typed" | "open" per try
    statuses: list[int] = field(default_factory=list)
    seconds: float = 0.0
    sent_at: float = 0.0  # when the first try was made (monotonic)
    arrived_at: float = 0.0  # when its first event reached the balancer (0: none did)


@dataclass
class _Dialog:
    revision: int = 0
    bot_messages: int = 0
    buttons: dict[str, tuple[int, int]] = field(default_factory=dict)  # command → (id, index)
    keyboard_id: int = 0  # the newest bot message with a keyboard
    seen: set[int] = field(default_factory=set)


class People:
    """Employees acting in the sandbox's web chat over HTTP, as the page does."""

    def __init__(
        self,
        base_url: str,
        ledger: Ledger,
        bot_id: Callable[[], int],
        *,
        reply_wait: float = 5.0,
        retry_pause: float = 1.0,
        max_tries: int = 30,
        think: tuple[float, float] = (0.05, 0.3),
        seed: int = 7,
    ) -> None:
        self.base_url = base_url
        self.ledger = ledger
        self._bot_id = bot_id
        self.reply_wait = reply_wait
        self.retry_pause = retry_pause
        self.max_tries = max_tries
        self.think = think
        self._random = random.Random(seed)
        self._dialogs: dict[int, _Dialog] = defaultdict(_Dialog)
        self._client: httpx.AsyncClient | None = None
        self.last_rush_seconds = 0.0

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.base_url,
                timeout=120.0,
                limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # --- the chat API ---

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.client.post(path, json=body | {"wait": True})
        if response.status_code != 200:
            raise AssertionError(f"{path} {body}: {response.status_code} {response.text}")
        data = response.json()
        assert isinstance(data, dict)
        return data

    async def _refresh(self, user_id: int) -> _Dialog:
        """New bot messages in the person's dialog with the bot; the latest keyboard."""
        dialog = self._dialogs[user_id]
        response = await self.client.get(
            "/sandbox/api/messages",
            params={"user": user_id, "dialog": self._bot_id(), "since": dialog.revision},
        )
        response.raise_for_status()
        data = response.json()
        dialog.revision = max(dialog.revision, int(data["revision"]))
        for message in sorted(data["messages"], key=lambda m: int(m["id"])):
            message_id = int(message["id"])
            if not message["isBot"] or message["deleted"]:
                continue
            if message_id not in dialog.seen:  # not an edit of one seen before
                dialog.seen.add(message_id)
                dialog.bot_messages += 1
            if message.get("keyboard") and message_id >= dialog.keyboard_id:
                dialog.keyboard_id = message_id
                dialog.buttons = {
                    str(b["COMMAND"]): (int(message["id"]), i)
                    for i, b in enumerate(message["keyboard"])
                    if b.get("COMMAND") and b.get("DISABLED") != "Y"
                }
        return dialog

    async def _button(self, user_id: int, command: str, answers_before: int) -> tuple[int, int]:
        """The wanted button on the bot's answer to the previous action, once it came (up to
        `reply_wait` seconds); (0, 0) when none came in time."""
        deadline = time.monotonic() + self.reply_wait
        while True:
            dialog = await self._refresh(user_id)
            if dialog.bot_messages > answers_before and command in dialog.buttons:
                return dialog.buttons[command]
            if time.monotonic() >= deadline:
                return 0, 0
            await asyncio.sleep(0.3)

    # --- acting ---

    async def act(self, user_id: int, name: str, answers_before: int = 0) -> Action:
        """Do one action until timebot accepts its event (or `max_tries`)."""
        action = Action(user_id, name)
        started = time.monotonic()
        while action.tries < self.max_tries and not action.accepted:
            action.tries += 1
            since = self.ledger.seq
            posted = time.monotonic()
            if name == "open":
                action.via.append("open")
                await self._post("/sandbox/api/open", {"user": user_id, "dialog": self._bot_id()})
                found = self.ledger.matching(since, user_id=user_id, event="ONIMBOTV2JOINCHAT")
                if not found:
                    break  # the dialog was opened before: no event, nothing to repeat
            else:
                message_id, index = (0, 0)
                if action.tries == 1:
                    message_id, index = await self._button(user_id, name, answers_before)
                else:
                    dialog = await self._refresh(user_id)
                    message_id, index = dialog.buttons.get(name, (0, 0))
                posted = time.monotonic()
                if message_id:
                    action.via.append("button")
                    await self._post(
                        "/sandbox/api/press",
                        {
                            "user": user_id,
                            "dialog": self._bot_id(),
                            "messageId": message_id,
                            "index": index,
                        },
                    )
                    found = self.ledger.matching(
                        since, user_id=user_id, message_id=message_id, command=name
                    )
                else:
                    action.via.append("typed")
                    sent = await self._post(
                        "/sandbox/api/send",
                        {"user": user_id, "dialog": self._bot_id(), "text": f"/{name}"},
                    )
                    found = self.ledger.matching(since, user_id=user_id, message_id=int(sent["id"]))
            if action.tries == 1:
                action.sent_at = posted
                action.arrived_at = min((r.at for r in found), default=0.0)
            action.statuses.extend(r.status for r in found)
            action.accepted = any(r.status == 200 for r in found)
            # A 502 naming an upstream: the request reached a process that died before
            # answering; the event may have been stored.
            action.uncertain = action.uncertain or any(
                r.status == 502 and r.upstream for r in found
            )
            if not action.accepted:
                await asyncio.sleep(self.retry_pause)
        action.seconds = time.monotonic() - started
        return action

    async def run_person(self, user_id: int, script: Sequence[str]) -> list[Action]:
        """One person's script, action after action, with a short think time between."""
        actions = []
        for name in script:
            answers = self._dialogs[user_id].bot_messages
            actions.append(await self.act(user_id, name, answers))
            await asyncio.sleep(self._random.uniform(*self.think))
        return actions

    async def run(
        self,
        users: Iterable[int],
        script: Sequence[str] = SCRIPT,
        *,
        concurrency: int = 50,
        during: Callable[[], Coroutine[Any, Any, None]] | None = None,
    ) -> list[Action]:
        """Everyone's script at once (at most `concurrency` people acting together);
        `during` runs alongside (a fault to inject mid-rush)."""
        gate = asyncio.Semaphore(concurrency)

        async def one(user_id: int) -> list[Action]:
            async with gate:
                return await self.run_person(user_id, script)

        started = time.monotonic()
        tasks = [asyncio.create_task(one(u)) for u in users]
        side = asyncio.create_task(during()) if during is not None else None
        try:
            done = await asyncio.gather(*tasks)
            if side is not None:
                await side
        finally:
            for task in [*tasks, *([side] if side else [])]:
                if not task.done():
                    task.cancel()
        self.last_rush_seconds = time.monotonic() - started
        return [a for person in done for a in person]


# --- Accounting -------------------------------------------------------------------------------


@dataclass
class Accounting:
    """What the people did against what timebot stored and the chat received."""

    label: str
    people: int
    actions: int
    tries: int
    events_posted: int  # event POSTs through the balancer (replayed copies included)
    events_refused: int  # answered non-200 (or not at all)
    event_copies: int  # duplicate copies the sandbox sent (injected)
    marks_accepted: int
    marks_stored: int
    marks_missing: dict[tuple[int, str], int]
    marks_extra: dict[tuple[int, str], int]
    marks_uncertain: int  # mark actions never accepted but possibly stored (lost in flight)
    replies_queued: int  # outbox chat messages
    replies_delivered: int  # of those, seen in the sandbox chat
    reply_copies: int  # extra copies of delivered replies (at-least-once)
    replies_pending: int
    replies_dead: int
    replies_lost: list[str]  # outbox keys marked sent but not in the chat
    unexplained_messages: int  # bot messages in the chat that no outbox row sent
    accepted_events: int  # distinct events timebot accepted
    events_without_reply: list[str]
    unaccepted_actions: list[str]
    inbox: dict[str, int] = field(default_factory=dict)  # received events by status
    pressed: int = 0  # tries by button
    typed: int = 0  # tries by typed command
    answer_ms: tuple[float, float, float] = (0.0, 0.0, 0.0)  # event answers: p50, p95, max
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        """The one-line accounting the tests print."""
        extra = "".join(f"; {k} {v}" for k, v in self.extra.items())
        return (
            f"[{self.label}] people {self.people}, actions {self.actions} ({self.tries} tries: "
            f"{self.pressed} pressed, {self.typed} typed); "
            f"events {self.events_posted} posted / {self.accepted_events} accepted / "
            f"{self.events_refused} refused / {self.event_copies} injected copies, answered in "
            f"p50 {self.answer_ms[0]:.0f} / p95 {self.answer_ms[1]:.0f} / "
            f"max {self.answer_ms[2]:.0f} ms; "
            f"marks accepted {self.marks_accepted} = stored {self.marks_stored} "
            f"(missing {sum(self.marks_missing.values())}, "
            f"duplicate {sum(self.marks_extra.values())}, uncertain {self.marks_uncertain}); "
            f"replies queued {self.replies_queued} = delivered {self.replies_delivered} "
            f"(pending {self.replies_pending}, dead {self.replies_dead}, "
            f"lost {len(self.replies_lost)}, duplicate copies {self.reply_copies}, "
            f"unexplained {self.unexplained_messages}); "
            f"events without reply {len(self.events_without_reply)}; "
            f"inbox {self.inbox or 'n/a'}; "
            f"settled in {self.seconds:.1f} s{extra}"
        )

    def problems(self, *, reply_copies: int = 0) -> list[str]:
        """What breaks the books; `reply_copies` is how many repeated chat messages the test's
        faults allow (at-least-once delivery after a killed worker)."""
        found = []
        if self.unaccepted_actions:
            found.append(f"actions never accepted: {self.unaccepted_actions[:10]}")
        if self.marks_missing:
            found.append(f"marks missing: {dict(list(self.marks_missing.items())[:10])}")
        if sum(self.marks_extra.values()) > self.marks_uncertain:
            found.append(f"duplicate marks: {dict(list(self.marks_extra.items())[:10])}")
        if self.replies_pending or self.replies_dead:
            found.append(f"replies pending {self.replies_pending}, dead {self.replies_dead}")
        if self.replies_lost:
            found.append(f"replies sent but not in the chat: {self.replies_lost[:10]}")
        if self.replies_delivered != self.replies_queued:
            found.append(f"queued {self.replies_queued} != delivered {self.replies_delivered}")
        if self.unexplained_messages:
            found.append(f"{self.unexplained_messages} chat messages no outbox row sent")
        if self.events_without_reply:
            found.append(f"accepted events without a reply: {self.events_without_reply[:10]}")
        if self.inbox.get("pending") or self.inbox.get("dead"):
            found.append(f"events received but not applied: {self.inbox}")
        if self.reply_copies > reply_copies:
            found.append(f"{self.reply_copies} repeated replies (allowed {reply_copies})")
        return found


# --- The fleet --------------------------------------------------------------------------------


ROOT = Path(__file__).resolve().parents[2]


class Fleet:
    """N `timebot serve` + M `timebot worker` processes on one PostgreSQL, the sandbox portal
    and a balancer in front of serve (see the module docstring). Use as an async context
    manager; the application is installed and the bot registered when it is entered."""

    def __init__(
        self,
        database_url: str,
        workdir: Path,
        *,
        serve: int = 1,
        workers: int = 1,
        staff: int = 0,
        team_size: int = 10,
        sandbox: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        serve_env: Mapping[str, str] | None = None,
        worker_env: Mapping[str, str] | None = None,
        portal_settings: Mapping[str, Any] | None = None,
        people: Mapping[str, Any] | None = None,
        start_workers: bool = True,
        workers_after_install: bool = False,
    ) -> None:
        self.database_url = database_url
        self.workdir = workdir
        self.serve_count = serve
        self.worker_count = workers
        self.portal_settings = {**QUIET_PORTAL, **(portal_settings or {})}
        self._start_workers = start_workers
        # Workers start with the serve processes (faster) unless a test needs them to see the
        # portal's settings from their first scheduler tick on (e.g. to trigger a digest).
        self._workers_after_install = workers_after_install
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.config = replace(
            SandboxConfig(),
            base_url=self.base_url,
            install_url=f"{self.base_url}/bitrix/install",
            handler_url=f"{self.base_url}/bitrix/app",
            auto_join_group_chats=False,
            staff=staff,
            staff_team_size=team_size,
            **(sandbox or {}),
        )
        sandbox_app = create_sandbox_app(self.config)
        self.portal: Portal = sandbox_app.state.portal
        self.oauth = OAuthAnswers(sandbox_app)
        self.upstreams: list[str] = []
        self.balancer = Balancer(self.oauth, self.upstreams)
        self.edge = Edge(self.balancer, self.port)
        self.ledger = self.balancer.ledger
        self.serve_procs: list[Proc] = []
        self.worker_procs: list[Proc] = []
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TIMEBOT_")}
        self.env.update(
            TIMEBOT_ENVIRONMENT="test",
            TIMEBOT_DATABASE_URL=database_url,
            TIMEBOT_PUBLIC_URL=self.base_url,
            TIMEBOT_SECRET_KEY=secrets.token_urlsafe(32),
            TIMEBOT_BITRIX_CLIENT_ID=self.config.client_id,
            TIMEBOT_BITRIX_CLIENT_SECRET=self.config.client_secret,
            TIMEBOT_BITRIX_OAUTH_URL=self.portal.oauth_url,
            TIMEBOT_BITRIX_EVENT_MODE="webhook",
            TIMEBOT_LOG_LEVEL="WARNING",
            TIMEBOT_OUTBOX_INTERVAL_SECONDS="0.2",
            TIMEBOT_POLL_INTERVAL_SECONDS="5",
            PYTHONUNBUFFERED="1",
        )
        self.env.update(env or {})
        self.serve_env = dict(serve_env or {})
        # Workers log their start (INFO) so the fleet knows when they run.
        self.worker_env = {"TIMEBOT_LOG_LEVEL": "INFO", **(worker_env or {})}
        self.db = Database.from_url(database_url)
        self.people = People(self.base_url, self.ledger, lambda: self.bot_id, **(people or {}))
        self.portal_id = 0
        self.bot_id = 0
        self.staff: list[int] = []
        self.started_at = 0.0
        self.startup_seconds = 0.0

    # --- lifecycle ---

    async def __aenter__(self) -> Fleet:
        self.started_at = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            await upgrade(self.database_url)
            self.edge.start()
            for _ in range(self.serve_count):
                self.add_serve()
            early = self._start_workers and not self._workers_after_install
            workers = [self.add_worker() for _ in range(self.worker_count)] if early else []
            await asyncio.gather(*(self.wait_ready(p) for p in self.serve_procs))
            await self.install()
            if self._start_workers and self._workers_after_install:
                workers = [self.add_worker() for _ in range(self.worker_count)]
            await asyncio.gather(*(self.wait_ready(p) for p in workers))
            self.startup_seconds = time.monotonic() - self.started_at
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop every process (SIGTERM), the edge, and the test's own connections."""
        await asyncio.gather(
            *(asyncio.to_thread(p.stop) for p in [*self.worker_procs, *self.serve_procs])
        )
        await self.people.aclose()
        if self.edge.loop is not None and self.edge.server.started:
            with contextlib.suppress(Exception):
                await self.edge.call(self.balancer.aclose)
        await asyncio.to_thread(self.edge.stop)
        await self.db.dispose()

    def _argv(self, role: str, port: int | None) -> list[str]:
        argv = [sys.executable, "-m", "timebot.cli", role]
        if port is not None:
            argv += ["--host", "127.0.0.1", "--port", str(port)]
        return argv

    def add_serve(self, *, start: bool = True) -> Proc:
        """A new serve process on a new port, added to the balancer."""
        port = free_port()
        index = len(self.serve_procs) + 1
        proc = Proc(
            "serve",
            f"serve-{index}",
            self._argv("serve", port),
            {**self.env, **self.serve_env},
            self.workdir,
            self.workdir / f"serve-{index}.log",
            port,
        )
        self.serve_procs.append(proc)
        self.upstreams.append(proc.url)
        if start:
            proc.start()
        return proc

    async def start_serve(self) -> Proc:
        """Start one more serve process and wait until it answers /health."""
        proc = self.add_serve()
        await self.wait_ready(proc)
        return proc

    def add_worker(self, *, start: bool = True) -> Proc:
        index = len(self.worker_procs) + 1
        proc = Proc(
            "worker",
            f"worker-{index}",
            self._argv("worker", None),
            {**self.env, **self.worker_env},
            self.workdir,
            self.workdir / f"worker-{index}.log",
        )
        self.worker_procs.append(proc)
        if start:
            proc.start()
        return proc

    async def start_worker(self) -> Proc:
        """Start one more worker process and wait until its loops run."""
        proc = self.add_worker()
        await self.wait_ready(proc)
        return proc

    async def start_workers(self, count: int) -> list[Proc]:
        procs = [self.add_worker() for _ in range(count)]
        await asyncio.gather(*(self.wait_ready(p) for p in procs))
        return procs

    async def wait_ready(self, proc: Proc, within: float = 60.0) -> None:
        """A serve process answers /health with 200; a worker has logged `worker.started`."""
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                if not proc.alive():
                    raise AssertionError(f"{proc.name} exited:\n{proc.log_tail()}")
                if proc.role == "serve":
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get(proc.url + "/health")).status_code == 200:
                            return
                else:
                    text_ = await asyncio.to_thread(proc.log_tail, 20_000)
                    marker = text_.rsplit("=====", 1)[-1]
                    if "worker.started" in marker:
                        return
                if time.monotonic() > deadline:
                    raise AssertionError(f"{proc.name} not ready in {within} s:\n{proc.log_tail()}")
                await asyncio.sleep(0.1)

    async def kill(self, proc: Proc, sig: int = signal.SIGKILL) -> None:
        """Send `sig` (default SIGKILL) to a process and reap it."""
        await asyncio.to_thread(proc.kill, sig)

    async def restart(self, proc: Proc) -> None:
        """Start a stopped or killed process again (serve: on its old port) and wait for it."""
        if proc.alive():
            await self.kill(proc, signal.SIGTERM)
        proc.start()
        await self.wait_ready(proc)

    def peak_rss(self) -> dict[str, int]:
        """Peak resident set (VmHWM, kB) of every process so far, by name."""
        return {p.name: p.sample() for p in [*self.serve_procs, *self.worker_procs]}

    def logs(self, chars: int = 2000) -> str:
        """The tails of every process log (for assertion messages)."""
        return "\n".join(
            f"--- {p.name} ---\n{p.log_tail(chars)}"
            for p in [*self.serve_procs, *self.worker_procs]
        )

    # --- the portal ---

    async def install(self, within: float = 60.0) -> None:
        """Install the application (ONAPPINSTALL through the balancer), wait for the bot, apply
        `portal_settings`."""
        result = await self.portal.install_app()
        assert result.status == 200, f"install answered {result.status}:\n{self.logs()}"
        deadline = time.monotonic() + within
        while True:
            async with self.db.unit_of_work() as uow:
                portal = await uow.portals.by_member_id(self.portal.member_id)
                if portal is not None and portal.bot_id is not None:
                    self.portal_id, self.bot_id = portal.id, portal.bot_id
                    break
            assert time.monotonic() < deadline, f"no bot registered:\n{self.logs()}"
            await asyncio.sleep(0.2)
        await self.update_portal_settings(**self.portal_settings)
        self.staff = await self.edge.call(self._staff_ids)

    async def _staff_ids(self) -> list[int]:
        return [u.id for u in self.portal.state.employees() if u.email.startswith("staff")]

    async def update_portal_settings(self, **settings: Any) -> None:
        """Merge keys into `portals.settings` (what the admin UI does)."""
        async with self.db.unit_of_work() as uow:
            portal = await uow.portals.lock(self.portal_id)
            assert portal is not None
            portal.settings = {**(portal.settings or {}), **settings}
            await uow.commit()

    async def set_faults(self, **faults: Any) -> dict[str, Any]:
        """Change the sandbox's fault injection over its control endpoint."""
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(
                f"{self.base_url}/sandbox/control", json={"faults": faults}
            )
        assert response.status_code == 200, response.text
        data = response.json()
        assert isinstance(data, dict)
        return data

    async def control(self, **body: Any) -> dict[str, Any]:
        """POST the sandbox control endpoint (rate, burst, expire_access_tokens, …)."""
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(f"{self.base_url}/sandbox/control", json=body)
        assert response.status_code == 200, response.text
        data = response.json()
        assert isinstance(data, dict)
        return data

    def managers(self) -> dict[int, set[int]]:
        """Bitrix24's answer to "whose manager is who" for the sandbox org chart: manager user
        id → people (head of one's department, or of the parent department for a head)."""
        state = self.portal.state
        departments = state.departments
        found: dict[int, set[int]] = defaultdict(set)
        for user in state.employees():
            for dept_id in user.departments:
                dept = departments.get(dept_id)
                while dept is not None and (dept.head is None or dept.head == user.id):
                    dept = departments.get(dept.parent) if dept.parent is not None else None
                if dept is not None and dept.head is not None:
                    found[dept.head].add(user.id)
        return dict(found)

    # --- reading the books ---

    async def bot_messages(self) -> list[tuple[int, int, str, str]]:
        """(person's user id, message id, uuid = templateId, text) of every bot message in a
        private dialog, read on the edge's loop (where the sandbox changes them)."""
        return await self.edge.call(self._bot_messages)

    async def _bot_messages(self) -> list[tuple[int, int, str, str]]:
        state = self.portal.state
        bot_ids = set(state.bots)
        by_chat: dict[int, int] = {}
        for chat in list(state.chats.values()):
            if chat.kind == "P":
                people = [m for m in chat.members if m not in bot_ids]
                if len(people) == 1:
                    by_chat[chat.id] = people[0]
        return [
            (by_chat.get(m.chat_id, 0), m.id, m.uuid, m.text)
            for m in list(state.messages.values())
            if m.sender_bot is not None and m.author_id in bot_ids
        ]

    async def outbox_rows(self) -> list[OutboxMessage]:
        async with self.db.unit_of_work() as uow:
            rows = list(await uow.session.scalars(select(OutboxMessage)))
            uow.session.expunge_all()
        return rows

    async def stored_marks(self) -> Counter[tuple[int, str]]:
        """Standing marks per (Bitrix user id, kind)."""
        async with self.db.unit_of_work() as uow:
            rows = await uow.session.execute(
                select(Employee.bitrix_user_id, Mark.kind, func.count())
                .join(Employee, Employee.id == Mark.employee_id)
                .where(Mark.portal_id == self.portal_id)
                .group_by(Employee.bitrix_user_id, Mark.kind)
            )
            return Counter({(int(u), str(k)): int(n) for u, k, n in rows})

    async def inbox_counts(self) -> dict[str, int]:
        """Received events by status ("pending", "applied", "dead"); {} before the inbox."""
        try:
            async with self.db.unit_of_work() as uow:
                rows = await uow.session.execute(
                    text("SELECT status, count(*) FROM processed_events GROUP BY status")
                )
                return {str(status): int(n) for status, n in rows}
        except DBAPIError as exc:
            if "status" in str(exc):  # a schema without the inbox's status column
                return {}
            raise

    async def job_runs(self, job: str) -> list[JobRun]:
        async with self.db.unit_of_work() as uow:
            rows = list(await uow.session.scalars(select(JobRun).where(JobRun.job_name == job)))
            uow.session.expunge_all()
        return rows

    async def table_count(self, table: str) -> int:
        async with self.db.unit_of_work() as uow:
            value = await uow.session.scalar(text(f'SELECT count(*) FROM "{table}"'))
        return int(value or 0)

    async def table_names(self) -> list[str]:
        async with self.db.unit_of_work() as uow:
            rows = await uow.session.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
            )
            return sorted(str(r[0]) for r in rows)

    async def accounting(
        self, actions: Sequence[Action], *, label: str, seconds: float = 0.0
    ) -> Accounting:
        """The books now (see `settle()` to wait for them to close first)."""
        expected: Counter[tuple[int, str]] = Counter()
        uncertain = 0
        for a in actions:
            kind = MARK_OF.get(a.name)
            if kind is None:
                continue
            if a.accepted:
                expected[(a.user_id, kind)] += 1
            elif a.uncertain:
                uncertain += 1
        stored = await self.stored_marks()
        people = {a.user_id for a in actions}
        stored_here = Counter({k: n for k, n in stored.items() if k[0] in people})
        missing = {k: n - stored_here.get(k, 0) for k, n in expected.items()}
        extra = {k: n - expected.get(k, 0) for k, n in stored_here.items()}

        inbox = await self.inbox_counts()
        rows = await self.outbox_rows()
        chat_rows = [r for r in rows if r.kind == "message"]
        messages = await self.bot_messages()
        copies = Counter(uuid for _, _, uuid, _ in messages)
        sent_ids = {row.id: template_of(row) for row in chat_rows}
        known = set(sent_ids.values())
        delivered = [r for r in chat_rows if copies.get(sent_ids[r.id], 0) > 0]
        lost = [
            r.dedupe_key or str(r.id)
            for r in chat_rows
            if r.status == "sent" and copies.get(sent_ids[r.id], 0) == 0
        ]
        reply_copies = sum(copies[sent_ids[r.id]] - 1 for r in delivered)
        unexplained = sum(n for uuid, n in copies.items() if uuid not in known)

        records = self.ledger.records()
        mine = [r for r in records if r.member_id == self.portal.member_id]
        accepted_keys = {r.key for r in mine if r.status == 200 and r.key}
        reply_keys = {r.dedupe_key for r in chat_rows}
        without_reply = sorted(k for k in accepted_keys if f"reply:{k}:0"[:191] not in reply_keys)
        return Accounting(
            label=label,
            people=len(people),
            actions=len(actions),
            tries=sum(a.tries for a in actions),
            events_posted=len(mine),
            events_refused=sum(1 for r in mine if r.status != 200),
            event_copies=self.portal.delivery.replayed,
            marks_accepted=sum(expected.values()),
            marks_stored=sum(stored_here.values()),
            marks_missing={k: n for k, n in missing.items() if n > 0},
            marks_extra={k: n for k, n in extra.items() if n > 0},
            marks_uncertain=uncertain,
            replies_queued=len(chat_rows),
            replies_delivered=len(delivered),
            reply_copies=reply_copies,
            replies_pending=sum(1 for r in chat_rows if r.status == "pending"),
            replies_dead=sum(1 for r in chat_rows if r.status == "dead"),
            replies_lost=lost,
            unexplained_messages=unexplained,
            accepted_events=len(accepted_keys),
            events_without_reply=without_reply,
            unaccepted_actions=[
                f"{a.user_id}:{a.name}:{a.statuses}"
                for a in actions
                if not a.accepted and a.name != "open"
            ],
            inbox=inbox,
            pressed=sum(a.via.count("button") for a in actions),
            typed=sum(a.via.count("typed") for a in actions),
            answer_ms=percentiles([r.seconds * 1000 for r in mine]),
            seconds=seconds,
            extra={
                "timing": f"startup {self.startup_seconds:.1f} s, "
                f"rush {self.people.last_rush_seconds:.1f} s"
            },
        )

    async def settle(
        self, actions: Sequence[Action], *, label: str, within: float = 120.0
    ) -> Accounting:
        """Wait (up to `within` seconds) until every accepted mark is stored, every accepted
        event has its reply queued and every queued reply has reached the chat; then count."""
        started = time.monotonic()
        while True:
            try:
                report = await self.accounting(
                    actions, label=label, seconds=time.monotonic() - started
                )
            except Exception as exc:  # the database may be restarting
                if time.monotonic() - started > within:
                    raise AssertionError(f"cannot read the books: {exc}") from exc
                await asyncio.sleep(0.5)
                continue
            closed = (
                not report.marks_missing
                and not report.inbox.get("pending")
                and not report.events_without_reply
                and report.replies_pending == 0
                and report.replies_delivered == report.replies_queued - report.replies_dead
            )
            if closed or time.monotonic() - started > within:
                return report
            await asyncio.sleep(0.5)


def overtakes(actions: Sequence[Action]) -> int:
    """How many pairs of actions reached timebot in the other order than they were made
    (inversions, counted by merge sort)."""
    made = sorted((a for a in actions if a.arrived_at), key=lambda a: a.sent_at)

    def count(values: list[float]) -> tuple[list[float], int]:
        if len(values) < 2:
            return values, 0
        middle = len(values) // 2
        left, a = count(values[:middle])
        right, b = count(values[middle:])
        merged: list[float] = []
        inversions = a + b
        i = j = 0
        while i < len(left) and j < len(right):
            if right[j] < left[i]:
                merged.append(right[j])
                inversions += len(left) - i
                j += 1
            else:
                merged.append(left[i])
                i += 1
        return [*merged, *left[i:], *right[j:]], inversions

    return count([a.arrived_at for a in made])[1]


def percentiles(values: Sequence[float]) -> tuple[float, float, float]:
    """p50, p95 and max (0s when empty)."""
    if not values:
        return 0.0, 0.0, 0.0
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return at(0.5), at(0.95), ordered[-1]


async def eventually(
    predicate: Callable[[], Awaitable[bool]], within: float, *, step: float = 0.5, what: str = ""
) -> None:
    """Await `predicate()` until it is true; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what or 'condition'} not met within {within} s")
        await asyncio.sleep(step)


# --- A private PostgreSQL cluster -------------------------------------------------------------


def _postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: p.parts[-3])
    if found:
        return found[-1].parent
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl:
        return Path(pg_ctl).parent
    raise FileNotFoundError("no PostgreSQL server binaries (pg_ctl, initdb) found")


class PrivatePostgres:
    """A throw-away PostgreSQL cluster in a temporary directory on a free loopback port, so a
    test can stop and restart the server without touching the machine's shared one. As root
    the server runs as the `postgres` user (initdb refuses root)."""

    def __init__(self) -> None:
        self.bin = _postgres_bin()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="timebot-pg-"))
        self.data = self.root / "data"
        self.logfile = self.root / "server.log"
        self._user: str | None = None
        if os.geteuid() == 0:
            self._user = "postgres"
            shutil.chown(self.root, user=self._user)  # LookupError without such a user
            os.chmod(self.root, 0o755)

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str, timeout: float = 60) -> None:
        result = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            user=self._user,
            cwd=self.root,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {result.stdout}\n{result.stderr}\n{self.log()}")

    def init(self) -> None:
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off "
            "-c max_connections=200"
        )
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.logfile),
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; `immediate` is a crash (no checkpoint, clients cut off)."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def log(self) -> str:
        try:
            return self.logfile.read_text(encoding="utf-8", errors="replace")[-3000:]
        except OSError:
            return ""

    def __enter__(self) -> PrivatePostgres:
        self.init()
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def local_now() -> str:
    """The current Moscow time as HH:MM (the sandbox portal's zone)."""
    return SystemClock().now().astimezone(MSK).strftime("%H:%M")


def digest_keys(rows: Iterable[OutboxMessage]) -> dict[int, list[str]]:
    """Chat digest outbox keys by manager (`digest:{date}:{manager}:{part}`)."""
    found: dict[int, list[str]] = defaultdict(list)
    for row in rows:
        match = re.fullmatch(r"digest:([\d-]+):(\d+):(\d+)", row.dedupe_key or "")
        if match:
            found[int(match.group(2))].append(row.dedupe_key or "")
    return dict(found)


def template_of(row: OutboxMessage) -> str:
    """The templateId an outbox chat message carries (the sandbox keeps it as the uuid)."""
    fields = (row.payload.get("params") or {}).get("fields") or {}
    return str(fields.get("templateId") or f"row-{row.id}")
