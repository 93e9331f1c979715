"""Prometheus metrics under production settings, with real processes.

- `timebot serve --workers 2` shares its metrics through a per-run directory: requests answered
  by either uvicorn process add up in one scrape; a killed process's counts stay while its live
  gauges leave; the directory is gone after the server stops.
- `timebot worker --metrics-port` serves /metrics (its outbox and loop counters, moving while it
  delivers to the sandbox portal) and /health (the liveness of its loops); a clean exit removes
  its live gauges from a given metrics directory and keeps its counters.
- The worker's /health fails when a loop is stuck in one step, and says which loops fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.deployment import BIN, Process, clean_env, healthcheck_argv
from tests.support.servers import free_port, serve_asgi
from tests.support.stack import Stack, timebot_with_sandbox, wait_installed
from timebot.bitrix import send_message_params
from timebot.bootstrap import build_container, prepare_database
from timebot.config import Settings
from timebot.domain.clock import SystemClock
from timebot.jobs.worker import Loop, Worker
from timebot.storage import Database
from timebot.web.health import create_worker_probe

ROOT = Path(__file__).resolve().parents[2]
DIALOG = "2"


def value(text: str, name: str, **labels: str) -> float | None:
    """The sample `name{labels}` of a scrape (labels may be a subset), summed; None if absent."""
    found = [
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    return sum(found) if found else None


def per_process(directory: Path, name: str, **labels: str) -> dict[int, float]:
    """{pid: value of `name{labels}`} read from each process's own counter file."""
    counts: dict[int, float] = {}
    for path in sorted(directory.glob("counter_*.db")):
        pid = int(path.stem.split("_")[1])
        samples = [
            s.value
            for metric in MultiProcessCollector.merge([str(path)])  # type: ignore[no-untyped-call]
            for s in metric.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        ]
        counts[pid] = sum(samples)
    return counts


def live_gauge_pids(directory: Path) -> set[int]:
    return {int(p.stem.rsplit("_", 1)[1]) for p in directory.glob("gauge_live*_*.db")}


def log_records(process: Process) -> list[dict[str, object]]:
    records = []
    for line in process.text().splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if isinstance(record, dict):
                records.append(record)
    return records


def wait_for(predicate: Callable[[], object], what: str, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, f"no {what} within {within} s"
        time.sleep(0.1)


def scrape(base: str) -> str:
    response = httpx.get(f"{base}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


@pytest.fixture
def web(tmp_path: Path) -> Iterator[tuple[Process, str, Path]]:
    """`timebot serve --workers 2` on SQLite, its temporary files under tmp_path/tmp."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = clean_env(f"sqlite+aiosqlite:///{tmp_path / 'timebot.sqlite3'}")
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env |= {"TIMEBOT_LOG_FORMAT": "json", "TMPDIR": str(temp)}
    port = free_port()
    process = Process(
        f"exec timebot serve --port {port} --workers 2", env, tmp_path, tmp_path / "web.log"
    )
    try:
        yield process, f"http://127.0.0.1:{port}", temp
    finally:
        if process.running():
            process.stop()


def test_serve_with_two_processes_counts_every_request_in_one_scrape(
    web: tuple[Process, str, Path],
) -> None:
    process, base, temp = web

    def ready() -> bool:
        assert process.running(), process.text()
        with contextlib.suppress(httpx.TransportError):
            return httpx.get(f"{base}/metrics", timeout=5).status_code == 200
        return False

    # Readiness through /metrics: every /health request below is one this test sent.
    wait_for(ready, "answer on /metrics")
    announced = [r for r in log_records(process) if r.get("event") == "metrics.multiprocess"]
    assert len(announced) == 1, process.text()
    directory = Path(str(announced[0]["directory"]))
    assert announced[0]["per_run"] is True
    assert directory.parent == temp, "a fresh directory of its own, made for this run"

    sent = 0

    async def burst() -> None:
        nonlocal sent
        # No keep-alive: every request is a new connection, accepted by either process.
        limits = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=20) as http:
            answers = await asyncio.gather(*(http.get("/health") for _ in range(20)))
        assert all(a.status_code == 200 for a in answers)
        sent += len(answers)

    deadline = time.monotonic() + 120
    while True:
        asyncio.run(burst())
        counts = per_process(directory, "timebot_http_requests_total", route="/health")
        if len(counts) == 2 and all(counts.values()):
            break
        assert time.monotonic() < deadline, f"requests never reached both processes: {counts}"
    assert len(live_gauge_pids(directory)) == 2, "two uvicorn processes write here"

    # A process counts after its answer is out: wait for the last ones, then it must be exact.
    wait_for(
        lambda: value(scrape(base), "timebot_http_requests_total", route="/health") == sent,
        f"{sent} requests in one scrape",
        within=10,
    )
    text = scrape(base)
    assert value(text, "timebot_http_requests_total", route="/health", status="200") == sent
    assert value(text, "timebot_http_request_seconds_count", route="/health") == sent
    counts = per_process(directory, "timebot_http_requests_total", route="/health")
    assert sum(counts.values()) == sent, counts
    assert value(text, "timebot_database_up") == 1.0

    # Kill one process: uvicorn starts another; the dead one's counts stay in the totals, its
    # live gauge leaves at the next scrape.
    victim = min(counts, key=lambda pid: counts[pid])
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: len(live_gauge_pids(directory) - {victim}) == 2, "a replacement process", 60)
    assert victim in live_gauge_pids(directory), "nobody said goodbye for the killed one"
    text = scrape(base)
    assert victim not in live_gauge_pids(directory)
    assert value(text, "timebot_http_requests_total", route="/health") == sent

    assert process.stop() in (0, -signal.SIGTERM), process.text()
    assert not directory.exists(), "the per-run directory is removed when the server stops"


def test_serve_with_one_process_keeps_single_process_metrics(tmp_path: Path) -> None:
    env = clean_env(f"sqlite+aiosqlite:///{tmp_path / 'timebot.sqlite3'}")
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env |= {"TIMEBOT_LOG_FORMAT": "json", "TMPDIR": str(tmp_path)}
    port = free_port()
    process = Process(f"exec timebot serve --port {port}", env, tmp_path, tmp_path / "web.log")
    try:
        assert process.wait_for_health(port).status_code == 200
        text = scrape(f"http://127.0.0.1:{port}")
        # The process's own collectors are there: only single-process mode has them.
        assert value(text, "process_resident_memory_bytes") is not None
        assert value(text, "timebot_http_requests_total", route="/health") is not None
    finally:
        process.stop()
    assert '"metrics.multiprocess"' not in process.text()
    assert not list(tmp_path.glob("timebot-metrics-*"))


# --- `timebot worker --metrics-port` ------------------------------------------------------------


async def enqueue(database: Database, member_id: str, n: int) -> int:
    """Queue n chat replies for the portal's bot; returns the bot id."""
    now = SystemClock().now()
    async with database.unit_of_work() as uow:
        portal = await uow.portals.by_member_id(member_id)
        assert portal is not None
        assert portal.bot_id is not None
        for i in range(n):
            key = f"metrics-{i}"
            method, params = send_message_params(
                "v2", portal.bot_id, DIALOG, f"metrics #{i}", message_id_key=key
            )
            assert await uow.outbox.enqueue(
                portal_id=portal.id,
                kind="message",
                method=method,
                payload={"params": params},
                now=now,
                dedupe_key=key,
            )
        await uow.commit()
        return portal.bot_id


async def eventually(check: Callable[[], Awaitable[bool]], what: str, within: float) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"no {what} within {within} s"
        await asyncio.sleep(0.2)


@contextlib.contextmanager
def worker_process(
    stack: Stack, log: Path, *args: str, **env: str
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "timebot.cli", "worker", *args],
            cwd=ROOT, env=stack.worker_env(**env), stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


def image_healthcheck(port: int) -> int:
    """The Docker image's HEALTHCHECK command against `port`: its exit code."""
    check = subprocess.run(
        [sys.executable, *healthcheck_argv()[1:]],
        env={**os.environ, "TIMEBOT_PORT": str(port)}, timeout=30, check=False,
    )  # fmt: skip
    return check.returncode


async def test_worker_metrics_port_shows_its_counters_and_liveness(
    database_url: str, tmp_path: Path
) -> None:
    n = 12
    metrics_dir = tmp_path / "metrics"  # a directory of the operator's: kept, not emptied
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "worker.log"
    with timebot_with_sandbox(database_url, auto_join_group_chats=False) as stack:
        await wait_installed(stack)
        sandbox = stack.portal
        database = Database.from_url(database_url)
        try:
            # The portal is down: nothing can be delivered until the test says so.
            sandbox.set_faults(outage_seconds=600)
            bot_id = await enqueue(database, sandbox.member_id, n)
            with worker_process(
                stack,
                log,
                "--metrics-port",
                str(port),
                TIMEBOT_METRICS_DIR=str(metrics_dir),
                TIMEBOT_OUTBOX_INTERVAL_SECONDS="0.1",
            ) as proc:
                async with httpx.AsyncClient(base_url=base, timeout=10) as http:

                    async def answers() -> bool:
                        assert proc.poll() is None, log.read_text()
                        try:
                            return (await http.get("/health")).status_code == 200
                        except httpx.TransportError:
                            return False

                    await eventually(answers, "worker /health", 60)
                    first = (await http.get("/health")).json()
                    assert first["status"] == "ok"
                    assert first["stalled"] == []
                    assert {"outbox", "poll-events", "jobs", "gauges"} <= set(first["loops"])
                    # The Docker image's health check passes against the worker's port (Compose).
                    assert await asyncio.to_thread(image_healthcheck, port) == 0

                    async def scraped(name: str, expected: float, **labels: str) -> bool:
                        text = (await http.get("/metrics")).text
                        return value(text, name, **labels) == expected

                    # The worker counted the queue while the portal is down.
                    await eventually(lambda: scraped("timebot_outbox_pending", n), "pending", 30)
                    assert await scraped("timebot_database_up", 1.0)
                    # The inbox holds nothing unapplied: both of its gauges say so.
                    assert await scraped("timebot_inbox_events", 0, status="pending")
                    assert await scraped("timebot_inbox_events", 0, status="dead")
                    sandbox.set_faults(outage_seconds=0)
                    await eventually(
                        lambda: scraped("timebot_outbox_sent_total", n, kind="message"),
                        f"{n} sent",
                        60,
                    )
                    # The next count (every 10 s) finds the queue empty.
                    await eventually(lambda: scraped("timebot_outbox_pending", 0), "empty", 30)

                    later = (await http.get("/health")).json()
                    ticks = later["loops"]["outbox"]["steps"]
                    assert ticks > first["loops"]["outbox"]["steps"], "the loops are ticking"
                    text = (await http.get("/metrics")).text
                    steps = value(text, "timebot_worker_steps_total", loop="outbox")
                    assert steps is not None
                    assert steps >= ticks

                await sandbox.flush()
                assert len(sandbox.messages(DIALOG, bot_id=bot_id)) == n
                pid = proc.pid
                assert pid in live_gauge_pids(metrics_dir)
                proc.send_signal(signal.SIGTERM)
                assert proc.wait(timeout=30) == 0, log.read_text()[-3000:]
        finally:
            await database.dispose()
    # A clean exit: its live gauges leave the directory, its counters stay for the totals.
    assert pid not in live_gauge_pids(metrics_dir)
    sent = per_process(metrics_dir, "timebot_outbox_sent_total", kind="message")
    assert sent == {pid: n}


def test_worker_refuses_a_taken_metrics_port_before_touching_the_database(
    tmp_path: Path,
) -> None:
    database = tmp_path / "timebot.sqlite3"
    env = clean_env(f"sqlite+aiosqlite:///{database}")
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        env["TIMEBOT_WORKER_METRICS_PORT"] = str(port)
        out = subprocess.run(
            [str(BIN / "timebot"), "worker"],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert out.returncode == 2, out.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in " ".join(out.stderr.split())
    assert not database.exists()


# --- The worker's liveness, in process -----------------------------------------------------------


async def test_worker_health_fails_while_a_loop_is_stuck(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'timebot.sqlite3'}")
    container = build_container(settings, configure_logs=False)
    await prepare_database(container, force=True)
    release = asyncio.Event()

    async def stuck() -> bool:
        await release.wait()
        release.clear()
        return False

    async def quick() -> bool:
        return False

    async def broken() -> bool:
        raise RuntimeError("Bitrix24 is down")

    loops = [Loop("stuck", 0.05, stuck), Loop("quick", 0.05, quick), Loop("broken", 0.05, broken)]
    worker = Worker(container, loops=loops)
    probe = create_worker_probe(worker, stall_after=1.0)
    with serve_asgi(probe) as base:
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            before = await http.get("/health")
            assert before.status_code == 503
            assert before.json()["status"] == "stopped", "not started yet"

            task = asyncio.create_task(worker.run())
            try:
                await asyncio.sleep(0.3)
                fine = await http.get("/health")
                assert fine.status_code == 200, fine.text
                body = fine.json()
                assert body["failing"] == ["broken"], "failing, yet alive: it retries"
                assert body["loops"]["broken"]["failures_in_a_row"] >= 1
                assert body["loops"]["stuck"]["step_running_seconds"] is not None

                await asyncio.sleep(1.0)
                stalled = await http.get("/health")
                assert stalled.status_code == 503
                assert stalled.json()["status"] == "stalled"
                assert stalled.json()["stalled"] == ["stuck"]

                release.set()
                await asyncio.sleep(0.2)
                again = await http.get("/health")
                assert again.status_code == 200, again.text
                assert again.json()["loops"]["stuck"]["steps"] >= 1

                text = (await http.get("/metrics")).text
                failed = value(text, "timebot_worker_steps_total", loop="broken", outcome="failed")
                assert failed is not None
                assert failed >= 1
            finally:
                worker.stop()
                release.set()
                await task
            after = await http.get("/health")
            assert after.status_code == 503
            assert after.json()["status"] == "stopped"
    await container.aclose()
