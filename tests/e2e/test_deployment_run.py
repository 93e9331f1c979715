"""The Procfile and Render commands, started for real through bash as the platforms start them.

Release / pre-deploy migrates, `web` answers /health (and the Docker image's health check with
it), `worker` reports in; SIGTERM to the process group stops everything cleanly.
"""

from __future__ import annotations

import json
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.deployment import (
    BIN,
    Process,
    clean_env,
    healthcheck_argv,
    load_yaml,
    read_procfile,
    text,
)
from tests.support.servers import free_port
from timebot.storage.migrate import head_revision


def _healthcheck(port: int, env: Mapping[str, str]) -> int:
    """Run the image's HEALTHCHECK command (python -c …) against `port`."""
    argv = healthcheck_argv()
    out = subprocess.run(
        [sys.executable, *argv[1:]], env={**env, "TIMEBOT_PORT": str(port)},
        capture_output=True, timeout=30, check=False,
    )  # fmt: skip
    return out.returncode


@pytest.fixture
def running() -> Iterator[list[Process]]:
    """Processes a test started; stopped even when it fails."""
    started: list[Process] = []
    yield started
    for process in started:
        if process.running():
            process.stop()


def _run_release(line: str, env: Mapping[str, str], cwd: Path) -> None:
    out = subprocess.run(
        ["bash", "-c", line], env=dict(env), cwd=cwd, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"database at revision {head_revision()}"


def _start_web_and_worker(
    web: str,
    worker: str,
    env: dict[str, str],
    tmp_path: Path,
    running: list[Process],
    worker_env: dict[str, str] | None = None,
) -> tuple[Process, int]:
    """Start web until /health answers, then the worker until it reports; stop the worker."""
    port = free_port()
    web_process = Process(web, {**env, "PORT": str(port)}, tmp_path, tmp_path / "web.log")
    running.append(web_process)
    response = web_process.wait_for_health(port)
    assert response.status_code == 200, response.text
    assert response.json()["database"]["ok"] is True
    assert _healthcheck(port, env) == 0, "the image's health check passes"

    worker_process = Process(worker, worker_env or env, tmp_path, tmp_path / "worker.log")
    running.append(worker_process)
    worker_process.wait_for_log('"worker.started"')
    assert worker_process.stop() == 0, worker_process.text()
    return web_process, port


def _stopped_cleanly(process: Process, port: int, env: Mapping[str, str]) -> None:
    # uvicorn re-raises SIGTERM after a graceful shutdown, so -SIGTERM is a clean exit too.
    assert process.stop() in (0, -signal.SIGTERM), process.text()
    assert '"app.stopped"' in process.text()
    assert _healthcheck(port, env) != 0, "the health check fails when nothing answers"
    # Production logs are JSON lines, uvicorn's own included.
    for line in process.text().splitlines():
        assert isinstance(json.loads(line), dict), line


def test_procfile_release_web_and_worker_run_the_app(
    database_url: str, tmp_path: Path, running: list[Process]
) -> None:
    procfile = read_procfile(text("Procfile"))
    env = clean_env(database_url)
    env |= {"TIMEBOT_ENVIRONMENT": "production", "TIMEBOT_SECRET_KEY": secrets.token_urlsafe(32)}
    env["WEB_CONCURRENCY"] = "2"  # as Heroku sets it for a dyno with room for two

    _run_release(procfile["release"], env, tmp_path)
    web, port = _start_web_and_worker(procfile["web"], procfile["worker"], env, tmp_path, running)
    assert web.text().count('"app.started"') == 2, "two uvicorn worker processes"
    _stopped_cleanly(web, port, env)


def _render_env(
    service: dict[str, Any],
    blueprint: dict[str, Any],
    database_url: str,
    generated: dict[str, str],
    others: dict[str, dict[str, str]],
) -> dict[str, str]:
    """The environment Render gives `service`, from the blueprint's envVars."""
    groups = {g["name"]: g["envVars"] for g in blueprint["envVarGroups"]}
    entries = [
        e
        for entry in service["envVars"]
        for e in (groups[entry["fromGroup"]] if "fromGroup" in entry else [entry])
    ]
    env: dict[str, str] = {}
    for entry in entries:
        key = entry["key"]
        if "value" in entry:
            env[key] = str(entry["value"])
        elif entry.get("generateValue"):
            env[key] = generated.setdefault(key, secrets.token_urlsafe(32))
        elif "fromDatabase" in entry:
            assert entry["fromDatabase"]["property"] == "connectionString"
            env[key] = database_url  # Render hands out postgresql://user:pass@host/db
        elif "fromService" in entry:
            source = others[entry["fromService"]["name"]]
            if entry["fromService"]["envVarKey"] in source:
                env[key] = source[entry["fromService"]["envVarKey"]]
        elif entry.get("sync") is False and key == "TIMEBOT_PUBLIC_URL":
            env[key] = "https://timebot.example.com"  # what the operator types in
    return env


def test_render_pre_deploy_and_start_commands_run_the_app(
    postgres_url: str, tmp_path: Path, running: list[Process]
) -> None:
    blueprint = load_yaml("render.yaml")
    services = {s["type"]: s for s in blueprint["services"]}
    render_url = postgres_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    generated: dict[str, str] = {}
    envs: dict[str, dict[str, str]] = {}
    for kind in ("web", "worker"):
        service = services[kind]
        envs[service["name"]] = _render_env(service, blueprint, render_url, generated, envs)
    web_env, worker_env = (envs[services[k]["name"]] for k in ("web", "worker"))
    assert web_env["TIMEBOT_SECRET_KEY"] == worker_env["TIMEBOT_SECRET_KEY"]
    assert worker_env["TIMEBOT_PUBLIC_URL"] == "https://timebot.example.com"

    base = clean_env(render_url)
    _run_release(services["web"]["preDeployCommand"], base | web_env, tmp_path)
    _run_release(services["worker"]["preDeployCommand"], base | worker_env, tmp_path)
    web, port = _start_web_and_worker(
        services["web"]["startCommand"],
        services["worker"]["startCommand"],
        base | web_env,
        tmp_path,
        running,
        worker_env=base | worker_env,
    )
    assert web.text().count('"app.started"') == int(web_env["WEB_CONCURRENCY"])
    _stopped_cleanly(web, port, base | web_env)


def test_serve_refuses_the_in_process_worker_with_several_web_workers(tmp_path: Path) -> None:
    env = clean_env(f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}")
    out = subprocess.run(
        [str(BIN / "timebot"), "serve", "--with-worker", "--workers", "2"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert out.returncode == 2, out.stderr
    assert "--with-worker" in out.stderr
    assert "timebot worker" in out.stderr
    assert not (tmp_path / "x.sqlite3").exists(), "refused before touching the database"
