"""Outbox throughput against one portal's rate limit, over real HTTP.

    .venv/bin/python -m bench.outbox_throughput [--messages 1000] [--database-url URL]

Starts a sandbox portal (default plan: the bucket drains 2 requests/s and holds 50) on a
loopback port, connects it to a fresh database (SQLite in a temporary folder unless
`--database-url` names a PostgreSQL database), registers the bot, queues the replies and runs
timebot's `OutboxDispatcher` the way the worker does until every row is sent.

Two runs on separate portals:

* steady: both the portal's bucket and timebot's own start full, as on a portal that has been
  busy for a while. Every request must wait for the bucket to drain, so with batches of 50
  replies the ceiling is 50 x 2/s = 100 replies/s; the k-th batch can leave at k/2 s, and
  N replies take ceil(N/50) / 2 s. This is the run the ratio is computed for.
* cold: both buckets start empty, so the first 50 requests (2,500 replies) pass at once; what
  is measured then is request latency, not the limit. Shown for contrast only.

See bench/README.md for the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import socket
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from timebot.bitrix import BitrixClient, RateLimiter, send_message_params
from timebot.domain.clock import SystemClock
from timebot.gateway.config import GatewayConfig
from timebot.gateway.install import connect_webhook, ensure_bot
from timebot.gateway.outbox import BATCH_SIZE, OutboxDispatcher
from timebot.logs import configure_logging
from timebot.sandbox import Portal, SandboxConfig, create_sandbox_app
from timebot.storage import Database
from timebot.storage.migrate import upgrade

DIALOG = "2"
IDLE_INTERVAL = 0.5  # the worker's default outbox interval


@dataclass(frozen=True)
class Result:
    mode: str
    messages: int
    seconds: float
    theoretical_seconds: float | None
    requests: int
    rejected_503: int
    delivered: int
    duplicates: int

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    @property
    def theoretical_rate(self) -> float | None:
        if self.theoretical_seconds is None:
            return None
        return self.messages / self.theoretical_seconds

    @property
    def ratio(self) -> float | None:
        theory = self.theoretical_rate
        return self.rate / theory if theory else None


class _ThreadServer(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # not the main thread
        pass


class Sandbox:
    """A sandbox portal served by uvicorn in a background thread."""

    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        config = SandboxConfig(
            base_url=f"http://127.0.0.1:{self.port}", auto_join_group_chats=False
        )
        app = create_sandbox_app(config)
        self.portal: Portal = app.state.portal
        self.server = _ThreadServer(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()))

    def __enter__(self) -> Sandbox:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the sandbox did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


async def run(mode: str, database_url: str, messages: int) -> Result:
    clock = SystemClock()
    config = GatewayConfig()
    await upgrade(database_url)
    database = Database.from_url(database_url)
    try:
        with Sandbox() as sandbox:
            portal = sandbox.portal
            async with httpx.AsyncClient(timeout=60) as http:
                client = BitrixClient(http, RateLimiter())
                portal_id = await connect_webhook(
                    database, portal.webhook_url(), f"bench-{mode}", clock=clock, config=config
                )
                bot_id = await ensure_bot(database, client, portal_id, clock=clock, config=config)
                assert bot_id is not None
                now = clock.now()
                async with database.unit_of_work() as uow:
                    row = await uow.portals.get(portal_id)
                    assert row is not None
                    key = row.member_id  # the limiter's key for this portal
                    for i in range(messages):
                        method, params = send_message_params(
                            "v2",
                            bot_id,
                            DIALOG,
                            f"reply #{i}",
                            bot_token=f"bench-{mode}",
                            message_id_key=f"{mode}-{i}",
                        )
                        await uow.outbox.enqueue(
                            portal_id=portal_id,
                            kind="message",
                            method=method,
                            payload={"params": params},
                            now=now,
                            dedupe_key=f"{mode}-{i}",
                        )
                    await uow.commit()
                # A fresh dispatcher, as in a worker process; it learns the plan from the row.
                dispatcher = OutboxDispatcher(
                    database, BitrixClient(http, RateLimiter()), clock, worker=f"bench-{mode}"
                )
                if mode == "steady":
                    # The portal's bucket first, then ours: ours is never the emptier one.
                    while portal.limiter.try_acquire():
                        pass
                    dispatcher.client.limiter.penalize(key, 0.0)
                else:
                    await asyncio.sleep(portal.limiter.level() / portal.limiter.rate)
                requests = portal.stats.requests
                rejected = portal.stats.statuses[503]
                started = time.perf_counter()
                while True:
                    if await dispatcher.dispatch_once() == 0:
                        async with database.unit_of_work() as uow:
                            counts = await uow.outbox.counts()
                        if counts.get("pending", 0) == 0:
                            break
                        await asyncio.sleep(IDLE_INTERVAL)
                # The last dispatch_once that did work settled the last rows.
                seconds = time.perf_counter() - started
                async with database.unit_of_work() as uow:
                    counts = await uow.outbox.counts()
                if counts != {"sent": messages}:
                    raise RuntimeError(f"not every reply was sent: {counts}")
                texts: Counter[str] = Counter(
                    m.text for m in portal.messages(DIALOG, bot_id=bot_id)
                )
                delivered = len(set(texts) & {f"reply #{i}" for i in range(messages)})
                batches = math.ceil(messages / BATCH_SIZE)
                rate, _ = dispatcher.client.limiter.limits(key)
                return Result(
                    mode=mode,
                    messages=messages,
                    seconds=seconds,
                    theoretical_seconds=batches / rate if mode == "steady" else None,
                    requests=portal.stats.requests - requests,
                    rejected_503=portal.stats.statuses[503] - rejected,
                    delivered=delivered,
                    duplicates=sum(texts.values()) - len(texts),
                )
    finally:
        await database.dispose()


def table(results: list[Result]) -> str:
    head = (
        "mode", "replies", "seconds", "replies/s", "theory/s", "ratio", "requests", "503s",
        "delivered", "dupes",
    )  # fmt: skip
    rows = [head]
    for r in results:
        theory = r.theoretical_rate
        rows.append(
            (
                r.mode,
                str(r.messages),
                f"{r.seconds:.2f}",
                f"{r.rate:.1f}",
                f"{theory:.1f}" if theory else "n/a",
                f"{r.ratio:.3f}" if r.ratio else "n/a",
                str(r.requests),
                str(r.rejected_503),
                f"{r.delivered}/{r.messages}",
                str(r.duplicates),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> list[Result]:
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as folder:
        for mode in ("steady", "cold"):
            url = args.database_url or f"sqlite+aiosqlite:///{Path(folder) / f'{mode}.sqlite3'}"
            if args.database_url and mode == "cold":
                break  # one PostgreSQL database: the steady run only
            results.append(await run(mode, url, args.messages))
    return results


def main(argv: list[str] | None = None) -> Any:
    parser = argparse.ArgumentParser(description="Outbox throughput against the rate limit.")
    parser.add_argument("--messages", type=int, default=1000, help="replies to queue")
    parser.add_argument(
        "--database-url", default=None, help="an empty PostgreSQL database (default: SQLite)"
    )
    args = parser.parse_args(argv)
    configure_logging(level="WARNING")
    results = asyncio.run(main_async(args))
    print(table(results))
    steady = results[0]
    ok = (
        steady.ratio is not None
        and steady.ratio >= 0.9
        and all(r.delivered == r.messages for r in results)
    )
    print(
        f"\nsteady state: {steady.rate:.1f} of {steady.theoretical_rate or 0:.1f} replies/s "
        f"({(steady.ratio or 0) * 100:.1f} %), {steady.rejected_503} x 503 QUERY_LIMIT_EXCEEDED, "
        f"{'no reply lost' if ok else 'BELOW TARGET OR LOST REPLIES'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
