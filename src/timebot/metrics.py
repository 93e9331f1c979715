"""Prometheus metrics: declared once per process, exported at GET /metrics.

One process (the default): values live in the process's memory and its /metrics shows them.

Several processes (`timebot serve --workers N`, or any process started with
`TIMEBOT_METRICS_DIR` / `PROMETHEUS_MULTIPROC_DIR`): prometheus_client's multiprocess mode. Every
process writes its values to files in that directory and /metrics of any of them aggregates the
directory: counters and histograms are summed over every process that wrote there (a process
that exited still counts, so totals never go backwards), gauges show the most recent value set
by a live process (`livemostrecent`). A process that exits cleanly removes its live gauge files
(`process_exited`); those of a killed one are removed at the next scrape.

prometheus_client picks the mode when it is first imported, so the directory must be in the
environment before that: the CLI sets it first thing (see `timebot.cli`), and this module refuses
to load when it came too late (the process's values would be missing from every scrape).
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

if os.environ.get(MULTIPROC_ENV) and values.ValueClass is values.MutexValue:
    raise RuntimeError(
        f"{MULTIPROC_ENV} was set after prometheus_client had been imported: "
        "set it before the process starts (or let `timebot serve`/`timebot worker` set it)"
    )

HTTP_REQUESTS = Counter(
    "timebot_http_requests_total", "HTTP requests served", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "timebot_http_request_seconds",
    "HTTP request latency",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
EVENTS_RECEIVED = Counter("timebot_events_total", "Bitrix24 events received", ["source", "outcome"])
OUTBOX_SENT = Counter("timebot_outbox_sent_total", "Outbox rows delivered", ["kind"])
OUTBOX_FAILED = Counter(
    "timebot_outbox_failures_total", "Outbox delivery failures", ["kind", "final"]
)
OUTBOX_PENDING = Gauge(
    "timebot_outbox_pending",
    "Outbox rows waiting to be sent, as a worker last counted them",
    multiprocess_mode="livemostrecent",
)
INBOX_WAITING = Gauge(
    "timebot_inbox_events",
    "Inbox events not applied yet (pending, or dead: parked after repeated failures)",
    ["status"],
    multiprocess_mode="livemostrecent",
)
# Counted once the mark's transaction commits (see `count_mark`).
MARKS_RECORDED = Counter("timebot_marks_total", "Marks recorded", ["kind", "source"])
DB_UP = Gauge(
    "timebot_database_up",
    "1 when the last health check reached the database",
    multiprocess_mode="livemostrecent",
)
WORKER_STEPS = Counter(
    "timebot_worker_steps_total", "Steps the worker's loops finished", ["loop", "outcome"]
)

# Files of live gauges carry the writer's pid: gauge_livemostrecent_1234.db.
_LIVE_FILE = re.compile(r"gauge_live[a-z]+_(\d+)\.db")


def count_mark(kind: str, source: str) -> None:
    """One more stored mark; the composition root registers this for committed marks."""
    MARKS_RECORDED.labels(kind=kind, source=source).inc()


def multiprocess_dir() -> Path | None:
    """The directory of multiprocess mode, None in single-process mode."""
    value = os.environ.get(MULTIPROC_ENV)
    return Path(value) if value else None


def exposition() -> bytes:
    """The text a scrape gets: this process's metrics, or every process's in the directory."""
    directory = multiprocess_dir()
    if directory is None:
        return generate_latest()
    reap_dead_processes(directory)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def process_exited(pid: int | None = None) -> None:
    """Drop a process's live gauges from the aggregate (at its clean exit); counters stay."""
    directory = multiprocess_dir()
    if directory is not None:
        multiprocess.mark_process_dead(  # type: ignore[no-untyped-call]
            os.getpid() if pid is None else pid, str(directory)
        )


def reap_dead_processes(directory: Path) -> list[int]:
    """Drop the live gauges of processes that are gone without saying so (killed)."""
    reaped: list[int] = []
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return reaped
    pids = {int(m.group(1)) for name in names if (m := _LIVE_FILE.fullmatch(name))}
    for pid in sorted(pids):
        if not _alive(pid):
            # Two scrapes may reap the same process at once: the second finds nothing.
            with contextlib.suppress(FileNotFoundError):
                multiprocess.mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]
            reaped.append(pid)
    return reaped


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
