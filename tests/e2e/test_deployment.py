"""Deployment files: Docker, Compose, Render, Procfile, systemd units and docs/deploy.md.

`docker build` cannot run here. Instead the files are read the way their tools read them, every
`timebot …` command they name is parsed by the real CLI, and the wheel is built from exactly the
Docker build context and migrates a database. `test_deployment_run.py` starts the Procfile and
Render commands for real.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import typer.main

from tests.e2e.deployment import (
    BIN,
    ROOT,
    Stage,
    clean_env,
    docker_ignored,
    dockerfile,
    env_pairs,
    healthcheck_argv,
    load_yaml,
    read_dockerignore,
    read_procfile,
    read_unit,
    shell_words,
    text,
    unit_values,
)
from timebot.cli import app as cli_app
from timebot.config import Settings
from timebot.storage.migrate import head_revision

SETTINGS = {f"TIMEBOT_{name.upper()}" for name in Settings.model_fields}
# Names that are not settings but are read from the environment all the same (checked below).
NOT_SETTINGS = {"TIMEBOT_FORWARDED_ALLOW_IPS", "TIMEBOT_DOMAIN"}
UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))


def _final(stages: list[Stage]) -> Stage:
    return stages[-1]


def _parse_command(argv: list[str], where: str) -> str:
    """Parse `timebot …` with the real CLI (options and values too); returns the command path."""
    assert argv[:1] == ["timebot"], f"{where}: not a timebot command: {argv}"
    group: Any = typer.main.get_command(cli_app)
    ctx = group.context_class(group, info_name="timebot")
    command, args, path = group, argv[1:], ["timebot"]
    while hasattr(command, "get_command"):
        assert args, f"{where}: {' '.join(path)} needs a subcommand"
        name, args = args[0], args[1:]
        sub = command.get_command(ctx, name)
        assert sub is not None, f"{where}: no such command `{' '.join([*path, name])}`"
        path.append(name)
        if hasattr(sub, "get_command"):
            ctx = sub.context_class(sub, info_name=name, parent=ctx)
        command = sub
    try:
        command.make_context(path[-1], list(args), parent=ctx)
    except Exception as exc:  # the CLI's own usage error, with its message
        pytest.fail(f"{where}: `{' '.join(argv)}` is refused by the CLI: {exc}")
    return " ".join(path)


def _platform_env() -> dict[str, str]:
    """What a platform shell would have: PORT and WEB_CONCURRENCY as Render or Heroku set them."""
    return {"PATH": os.environ.get("PATH", ""), "PORT": "10000", "WEB_CONCURRENCY": "2"}


def _deployment_commands() -> dict[str, list[str]]:
    """Every `timebot …` command line the deployment files run, as argv, by where it is."""
    commands: dict[str, list[str]] = {}
    _, stages = dockerfile()
    final = _final(stages)
    entrypoint, cmd = final.last("ENTRYPOINT"), final.last("CMD")
    assert entrypoint is not None
    assert cmd is not None
    image_argv = (entrypoint.exec_form() or []) + (cmd.exec_form() or [])
    commands["Dockerfile ENTRYPOINT+CMD"] = image_argv

    for name, service in load_yaml("compose.yaml")["services"].items():
        if "build" in service:
            assert "entrypoint" not in service, f"compose {name} overrides the entrypoint"
            commands[f"compose.yaml {name}"] = (entrypoint.exec_form() or []) + service["command"]

    for name, line in read_procfile(text("Procfile")).items():
        commands[f"Procfile {name}"] = shell_words(line, _platform_env())

    for service in load_yaml("render.yaml")["services"]:
        for key in ("startCommand", "preDeployCommand"):
            if key in service:
                words = shell_words(service[key], _platform_env())
                commands[f"render.yaml {service['name']} {key}"] = words

    for path in UNITS:
        for line in unit_values(read_unit(path.read_text()), "Service", "ExecStart"):
            words = line.split()
            assert words[0].startswith("/"), path.name
            assert words[0].endswith("/bin/timebot"), path.name
            commands[f"{path.name} ExecStart"] = ["timebot", *words[1:]]
    return commands


# --- Dockerfile ----------------------------------------------------------------------------------


def test_dockerfile_builds_in_one_stage_and_runs_a_slim_image_as_a_non_root_user() -> None:
    global_args, stages = dockerfile()
    assert len(stages) >= 2, "multi-stage: a builder and a runtime"
    builder, final = stages[0], _final(stages)
    assert builder.name == "builder"
    base = final.base.replace("${PYTHON_VERSION}", global_args["PYTHON_VERSION"])
    assert re.fullmatch(r"python:3\.1[1-9][\w.-]*-slim[\w-]*", base), base
    copies = [c.flags() for c in final.all("COPY")]
    assert any(flags.get("from") == "builder" for flags, _ in copies), "runtime copies the venv"
    assert all(flags.get("from") for flags, _ in copies), "the runtime stage copies no sources"
    assert any("pip wheel" in r.args for r in builder.all("RUN")), "the builder makes a wheel"

    user = final.last("USER")
    assert user is not None, "the runtime stage sets USER"
    name, _, group = user.args.partition(":")
    assert name not in ("root", "0"), user.args
    assert group not in ("root", "0"), user.args
    useradd = " ".join(r.args for r in final.all("RUN"))
    assert f"--uid {name}" in useradd, "the USER is created with that uid"
    assert final.instructions.index(user) > max(
        final.instructions.index(r) for r in final.all("RUN")
    ), "nothing runs as root after USER"

    env: dict[str, str] = {}
    for instruction in final.all("ENV"):
        env.update(env_pairs(instruction))
    assert {k for k in env if k.startswith("TIMEBOT_")} <= SETTINGS
    assert env["TIMEBOT_ENVIRONMENT"] == "production"
    exposed = {p.split("/")[0] for e in final.all("EXPOSE") for p in e.args.split()}
    assert env["TIMEBOT_PORT"] in exposed


def test_dockerfile_healthcheck_asks_health_with_python_not_curl() -> None:
    _, stages = dockerfile()
    check = _final(stages).last("HEALTHCHECK")
    assert check is not None
    flags, rest = check.flags()
    assert {"interval", "timeout", "start-period", "retries"} <= set(flags)
    argv = healthcheck_argv()
    assert argv[:2] == ["python", "-c"], rest
    assert "/health" in argv[2]
    assert "curl" not in rest


def test_docker_build_context_keeps_what_the_build_copies_and_drops_secrets() -> None:
    rules = read_dockerignore(text(".dockerignore"))
    _, stages = dockerfile()
    sources = [
        word
        for copy in stages[0].all("COPY")
        for word in copy.flags()[1].split()[:-1]  # the last word is the destination
    ]
    assert {"pyproject.toml", "README.md", "src"} <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not docker_ignored(source, rules), f".dockerignore drops {source}"
    for kept in ("src/timebot/web/templates/checkin.html", "src/timebot/storage/migrate.py"):
        assert not docker_ignored(kept, rules), kept
    for dropped in (
        ".env",
        ".venv/bin/python",
        "var/timebot.sqlite3",
        ".git/config",
        "src/timebot/__pycache__/cli.cpython-311.pyc",
        "x.sqlite3-wal",
    ):
        assert docker_ignored(dropped, rules), dropped


def _build_context(tmp_path: Path) -> Path:
    """Copy what the builder stage COPYs, minus .dockerignore, as `docker build` would send it."""
    rules = read_dockerignore(text(".dockerignore"))
    _, stages = dockerfile()
    context = tmp_path / "context"
    for copy in stages[0].all("COPY"):
        for source in copy.flags()[1].split()[:-1]:
            origin = ROOT / source
            files = [origin] if origin.is_file() else sorted(origin.rglob("*"))
            for file in files:
                relative = file.relative_to(ROOT).as_posix()
                if file.is_file() and not docker_ignored(relative, rules):
                    (context / relative).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(file, context / relative)
    return context


def test_the_wheel_built_from_the_docker_context_holds_every_file_and_migrates(
    tmp_path: Path,
) -> None:
    context = _build_context(tmp_path)
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(wheels), "."],
        cwd=context, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    (wheel,) = wheels.glob("timebot-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    package = context / "src"
    expected = {
        f.relative_to(package).as_posix()
        for f in package.rglob("*")
        if f.is_file() and "egg-info" not in f.as_posix()
    }
    assert expected - names == set(), "files the image would lack"
    assert any(n.startswith("timebot/storage/migrations/versions/0001") for n in names)

    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile", "--quiet",
         "--target", str(target), str(wheel)],
        check=True, capture_output=True,
    )  # fmt: skip
    env = clean_env(f"sqlite+aiosqlite:///{tmp_path / 'wheel.sqlite3'}")
    env["PYTHONPATH"] = str(target)
    where = subprocess.run(
        [sys.executable, "-c", "import timebot; print(timebot.__file__)"],
        env=env, cwd=tmp_path, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert Path(where.stdout.strip()).is_relative_to(target), "ran the installed wheel"
    migrated = subprocess.run(
        [sys.executable, "-m", "timebot.cli", "migrate"],
        env=env, cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert migrated.returncode == 0, migrated.stderr
    assert migrated.stdout.strip() == f"database at revision {head_revision()}"


# --- Commands named by every file ----------------------------------------------------------------


def test_every_timebot_command_in_the_deployment_files_is_accepted_by_the_cli() -> None:
    commands = _deployment_commands()
    seen = {where: _parse_command(argv, where) for where, argv in commands.items()}
    assert set(seen.values()) == {"timebot serve", "timebot worker", "timebot migrate"}
    assert seen["Dockerfile ENTRYPOINT+CMD"] == "timebot serve"
    # The installed entry point knows them too (what the image, Render and systemd run).
    for command in sorted(set(seen.values())):
        out = subprocess.run(
            [str(BIN / "timebot"), *command.split()[1:], "--help"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr


def test_environment_names_in_deployment_files_are_real_settings() -> None:
    files = ["compose.yaml", "render.yaml", "Dockerfile", "deploy/timebot.env.example",
             "docs/deploy.md", *[p.relative_to(ROOT).as_posix() for p in UNITS]]  # fmt: skip
    named = {n for f in files for n in re.findall(r"\bTIMEBOT_[A-Z_]+[A-Z]\b", text(f))}
    named -= {"TIMEBOT_TEST_POSTGRES_URL", "TIMEBOT_REQUIRE_ALL"}  # the test suite's own
    assert named - SETTINGS <= NOT_SETTINGS, named - SETTINGS - NOT_SETTINGS
    serve: Any = typer.main.get_command(cli_app).commands["serve"]  # type: ignore[attr-defined]
    envvars = {p.envvar for p in serve.params}
    assert "TIMEBOT_FORWARDED_ALLOW_IPS" in envvars
    assert "{$TIMEBOT_DOMAIN}" in text("deploy/caddy/Caddyfile")
    example = text("deploy/timebot.env.example")
    assert SETTINGS - set(re.findall(r"\bTIMEBOT_[A-Z_]+[A-Z]\b", example)) <= {
        # tuning knobs documented in the README only
        "TIMEBOT_POLL_INTERVAL_SECONDS",
        "TIMEBOT_OUTBOX_INTERVAL_SECONDS",
        "TIMEBOT_OUTBOX_MAX_ATTEMPTS",
        "TIMEBOT_OUTBOX_LEASE_SECONDS",
        "TIMEBOT_INBOX_LEASE_SECONDS",
        "TIMEBOT_INBOX_MAX_ATTEMPTS",
        "TIMEBOT_BITRIX_OAUTH_URL",
        "TIMEBOT_LOG_FORMAT",
    }


# --- Compose, Render, systemd --------------------------------------------------------------------


def test_compose_runs_postgres_then_migrate_then_web_and_worker() -> None:
    compose = load_yaml("compose.yaml")
    services = compose["services"]
    postgres = services["postgres"]
    assert postgres["image"].startswith("postgres:")
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    volume = postgres["volumes"][0].split(":")[0]
    assert volume in compose["volumes"], "the database lives in a named volume"

    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in ("web", "worker"):
        assert services[name]["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }, name
    assert services["web"]["command"][0] == "serve"
    worker = services["worker"]
    assert worker["command"][:2] == ["worker", "--metrics-port"]
    # The image's health check asks /health on TIMEBOT_PORT: the worker's probe listens there.
    assert "healthcheck" not in worker
    assert worker["command"][2] == worker["environment"]["TIMEBOT_PORT"]
    conditions = {"service_started", "service_healthy", "service_completed_successfully"}
    for name, service in services.items():
        for target, rule in service.get("depends_on", {}).items():
            assert target in services, (name, target)
            assert rule["condition"] in conditions, (name, target)
    for name in ("migrate", "web", "worker"):
        service = services[name]
        assert service["env_file"] == ".env"
        assert service["image"] == "timebot:latest"
        url = service["environment"]["TIMEBOT_DATABASE_URL"]
        assert url.startswith("postgresql://")
        assert "@postgres:5432/" in url
    assert services["web"]["ports"] == ["127.0.0.1:8000:8000"], "only the host's proxy reaches it"


def test_render_blueprint_wires_web_worker_and_database() -> None:
    blueprint = load_yaml("render.yaml")
    databases = {d["name"] for d in blueprint["databases"]}
    groups = {g["name"]: g for g in blueprint["envVarGroups"]}
    services = {s["name"]: s for s in blueprint["services"]}
    assert sorted(s["type"] for s in services.values()) == ["web", "worker"]
    web = next(s for s in services.values() if s["type"] == "web")
    assert web["healthCheckPath"] == "/health"
    for service in services.values():
        assert service["preDeployCommand"] == "timebot migrate"
        keys = {e.get("key") for e in service["envVars"]}
        assert "TIMEBOT_DATABASE_URL" in keys
        for entry in service["envVars"]:
            if "fromDatabase" in entry:
                assert entry["fromDatabase"]["name"] in databases
            if "fromGroup" in entry:
                assert entry["fromGroup"] in groups
            if "fromService" in entry:
                source = services[entry["fromService"]["name"]]
                assert entry["fromService"]["type"] == source["type"]
                assert entry["fromService"]["envVarKey"] in {
                    e.get("key") for e in source["envVars"]
                }
    shared = {e["key"]: e for e in groups["timebot-settings"]["envVars"]}
    assert shared["TIMEBOT_SECRET_KEY"] == {"key": "TIMEBOT_SECRET_KEY", "generateValue": True}
    assert all({"fromGroup": "timebot-settings"} in s["envVars"] for s in services.values())


@pytest.mark.parametrize("path", UNITS, ids=[p.name for p in UNITS])
def test_systemd_unit_is_hardened_and_restarts_on_failure(path: Path) -> None:
    unit = read_unit(path.read_text())

    def one(key: str) -> str:
        (value,) = unit_values(unit, "Service", key)
        return value

    assert one("User") == "timebot"
    assert one("EnvironmentFile") == "/etc/timebot/timebot.env"
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ReadWritePaths": "/var/lib/timebot",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
        "CapabilityBoundingSet": "",
    }.items():
        assert one(key) == value, key
    if path.name == "timebot-migrate.service":
        assert one("Type") == "oneshot"
    else:
        assert one("Restart") == "on-failure"
        assert unit_values(unit, "Unit", "Requires") == ["timebot-migrate.service"]
        assert "timebot-migrate.service" in unit_values(unit, "Unit", "After")[0].split()
        assert unit_values(unit, "Install", "WantedBy") == ["multi-user.target"]


def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    env_file = tmp_path / "timebot.env"
    env_file.write_text("TIMEBOT_ENVIRONMENT=production\n")
    for path in UNITS:
        unit = path.read_text().replace("/opt/timebot/venv/bin/timebot", str(BIN / "timebot"))
        unit = unit.replace("/etc/timebot/timebot.env", str(env_file))
        (tmp_path / path.name.replace("@.", "@1.")).write_text(unit)
    out = subprocess.run(
        [analyze, "verify", *sorted(str(p) for p in tmp_path.glob("*.service"))],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert out.stderr == ""
    assert out.returncode == 0


# --- docs ----------------------------------------------------------------------------------------


def _guide_commands(guide: str) -> list[list[str]]:
    """`timebot …` as the guide's shell blocks run it (also via a path, sudo or Compose)."""
    blocks = re.findall(r"```sh\n(.*?)```", guide, flags=re.S)
    commands = []
    for line in (ln for block in blocks for ln in block.replace("\\\n", " ").splitlines()):
        line = line.split(" #")[0].strip()
        compose = re.match(r"docker compose run --rm (?:web|worker) (.*)", line)
        # `timebot sub…` at the start, after a space or as …/bin/timebot, but not the value of
        # an option (`-u timebot`, `-g timebot`) or a directory (`/var/lib/timebot`).
        found = [
            m
            for m in re.finditer(r"(?:^|\s|/bin/)timebot\s+(?=[a-z])", line)
            if not re.search(r"(?:^|\s)-\w+\s*$", line[: m.start() + 1])
        ]
        if compose:
            rest = "timebot " + compose.group(1)
        elif found:
            rest = line[found[-1].start() :].lstrip().removeprefix("/bin/")
        else:
            continue
        if rest.count("'") % 2:  # the end of a quoted `sh -c '…'`
            rest = rest[: rest.rindex("'")]
        commands.append(shell_words(rest, _platform_env()))
    return commands


def test_deploy_guide_is_linked_and_its_commands_exist() -> None:
    guide = text("docs/deploy.md")
    assert "(docs/deploy.md)" in text("README.md")
    named = _guide_commands(guide)
    assert len(named) >= 8
    for argv in named:
        _parse_command(argv, "docs/deploy.md")
    for section in ("Bitrix24", "HTTPS", "Backups", "Migrations", "Secret rotation", "Scaling"):
        assert re.search(rf"^##+ .*{section}", guide, flags=re.M), section
