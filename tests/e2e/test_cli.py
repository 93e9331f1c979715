"""The `timebot` command as a user runs it: separate processes, real ports, real files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import timebot
from tests.support.servers import free_port
from timebot.storage.migrate import head_revision

TIMEBOT = [sys.executable, "-m", "timebot.cli"]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMEBOT_")}
    env.update(extra)
    env.setdefault("TIMEBOT_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'tb.sqlite3'}")
    return env


def test_version_is_printed(tmp_path: Path) -> None:
    out = subprocess.run(
        [*TIMEBOT, "--version"], capture_output=True, text=True, check=True, env=_env(tmp_path)
    )
    assert out.stdout.strip() == f"timebot {timebot.__version__}"


def test_migrate_upgrades_and_downgrades_a_sqlite_file(tmp_path: Path) -> None:
    env = _env(tmp_path)
    up = subprocess.run([*TIMEBOT, "migrate"], capture_output=True, text=True, env=env, check=True)
    assert up.stdout.strip() == f"database at revision {head_revision()}"
    down = subprocess.run(
        [*TIMEBOT, "migrate", "base", "--downgrade"], capture_output=True, text=True, env=env
    )
    assert down.returncode == 0, down.stderr
    assert "database at revision base" in down.stdout


def _wait_for_health(
    url: str, proc: subprocess.Popen[bytes], timeout: float = 30
) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited early with {proc.returncode}")
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError("server did not answer in time")


@pytest.mark.parametrize("with_worker", [False, True])
def test_serve_answers_health_on_a_fresh_sqlite_file(tmp_path: Path, with_worker: bool) -> None:
    port = free_port()
    db = tmp_path / "fresh" / "timebot.sqlite3"
    args = [*TIMEBOT, "serve", "--port", str(port)] + (["--with-worker"] if with_worker else [])
    proc = subprocess.Popen(
        args,
        env=_env(tmp_path, TIMEBOT_DATABASE_URL=f"sqlite+aiosqlite:///{db}"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        r = _wait_for_health(f"http://127.0.0.1:{port}/health", proc)
        assert r.status_code == 200
        assert r.json()["database"]["ok"] is True
        assert db.exists(), "migrations should run automatically on start for SQLite"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    # uvicorn re-raises SIGTERM after a graceful shutdown, so -SIGTERM is a clean exit too.
    assert proc.returncode in (0, -signal.SIGTERM), err.decode()
    assert b"app.stopped" in err, err.decode()


def test_worker_starts_and_stops_on_sigterm(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [*TIMEBOT, "worker"], env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 30
        assert proc.stderr is not None
        seen = b""
        while b"worker.started" not in seen and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            seen += line
        assert b"worker.started" in seen, seen.decode()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0
