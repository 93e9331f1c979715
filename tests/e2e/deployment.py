"""Deployment files read as their tools read them, and their commands run as platforms run them.

The readers are small and honest: each takes the subset of its format that timebot's files use
and fails loudly on anything else. `Process` starts a Procfile-style command line through bash
in its own process group and stops it with SIGTERM to the group, as Heroku, Render and
`docker stop` do.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def text(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


def load_yaml(name: str) -> Any:
    return yaml.safe_load(text(name))


# --- Dockerfile ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Instruction:
    keyword: str  # upper case: FROM, RUN, COPY, ...
    args: str  # the rest of the logical line, continuations joined
    line: int  # where it starts (1-based)

    def exec_form(self) -> list[str] | None:
        """The JSON array form (`["a", "b"]`), or None for the shell form."""
        text = self.args.strip()
        if not text.startswith("["):
            return None
        value = json.loads(text)
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise ValueError(f"line {self.line}: not a JSON array of strings: {text}")
        return value

    def flags(self) -> tuple[dict[str, str], str]:
        """Leading `--name=value` flags, and what follows them."""
        found: dict[str, str] = {}
        rest = self.args.strip()
        while rest.startswith("--"):
            token, _, rest = rest.partition(" ")
            name, _, value = token[2:].partition("=")
            found[name] = value
            rest = rest.lstrip()
        return found, rest


@dataclass(slots=True)
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None


KEYWORDS = frozenset(
    {
        "FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME",
        "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
    }
)  # fmt: skip


def read_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARGs (before the first FROM) and the stages, with their instructions."""
    logical: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        # Comments (and parser directives) are whole lines, also inside a continuation.
        if stripped.startswith("#") or (not stripped and not pending):
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        logical.append((start, " ".join(p for p in pending if p)))
        pending = []
    if pending:
        raise ValueError("the Dockerfile ends inside a line continuation")

    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for number, line in logical:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword not in KEYWORDS:
            raise ValueError(f"line {number}: unknown instruction {keyword}")
        instruction = Instruction(keyword, args.strip(), number)
        if keyword == "FROM":
            words = args.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            if len(words) not in (1, 3):
                raise ValueError(f"line {number}: FROM image [AS name], got {args!r}")
            stages.append(Stage(base=words[0], name=name))
        elif not stages:
            if keyword != "ARG":
                raise ValueError(f"line {number}: only ARG may come before FROM")
            key, _, value = args.partition("=")
            global_args[key.strip()] = value.strip()
            continue
        stages[-1].instructions.append(instruction)
    return global_args, stages


def dockerfile() -> tuple[dict[str, str], list[Stage]]:
    return read_dockerfile(text("Dockerfile"))


def healthcheck_argv() -> list[str]:
    """The runtime image's HEALTHCHECK command (exec form)."""
    _, stages = dockerfile()
    check = stages[-1].last("HEALTHCHECK")
    if check is None:
        raise ValueError("the runtime stage has no HEALTHCHECK")
    keyword, _, rest = check.flags()[1].partition(" ")
    if keyword != "CMD":
        raise ValueError(f"HEALTHCHECK {keyword}: expected CMD")
    argv = json.loads(rest)
    assert isinstance(argv, list)
    return [str(a) for a in argv]


def env_pairs(instruction: Instruction) -> dict[str, str]:
    """`ENV a=1 b=2` (the key=value form; values without spaces)."""
    pairs = {}
    for token in shlex.split(instruction.args):
        key, sep, value = token.partition("=")
        if not sep:
            raise ValueError(f"line {instruction.line}: use ENV key=value")
        pairs[key] = value
    return pairs


# --- .dockerignore -------------------------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out)


def docker_ignored(relative: str, rules: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; a pattern also covers what is below it."""
    parts = relative.strip("/").split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for rule in rules:
        negate = rule.startswith("!")
        regex = _pattern_regex(rule.removeprefix("!").strip("/"))
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            ignored = not negate
    return ignored


def read_dockerignore(text: str) -> list[str]:
    return [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


# --- Procfile, systemd units, shell expansion ----------------------------------------------------


def read_procfile(text: str) -> dict[str, str]:
    processes: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        found = re.fullmatch(r"([A-Za-z0-9_-]+):\s*(\S.*)", line)
        if found is None:
            raise ValueError(f"Procfile line {number} is not `name: command`: {line!r}")
        processes[found.group(1)] = found.group(2)
    return processes


def read_unit(text: str) -> dict[str, list[tuple[str, str]]]:
    """A systemd unit as {section: [(key, value), ...]} (keys may repeat)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        if current is None or "=" not in line or line.endswith("\\"):
            raise ValueError(f"unit line {number} is not key=value in a section: {raw!r}")
        key, _, value = line.partition("=")
        current.append((key.strip(), value.strip()))
    return sections


def unit_values(unit: Mapping[str, list[tuple[str, str]]], section: str, key: str) -> list[str]:
    return [v for k, v in unit.get(section, []) if k == key]


def shell_words(command: str, env: Mapping[str, str]) -> list[str]:
    """The argv a POSIX shell makes of `command` (variables expanded, quotes removed).

    Only words: a command substitution, redirection, pipe or list would run something here.
    """
    if re.search(r"`|\$\(|[<>|;&]", command):
        raise ValueError(f"not a plain command line: {command!r}")
    out = subprocess.run(
        ["sh", "-c", f'set -- {command}; printf "%s\\0" "$@"'],
        env=dict(env),
        capture_output=True,
        check=True,
    )
    return out.stdout.decode().split("\0")[:-1]


# --- Running commands as the platforms do --------------------------------------------------------


def clean_env(database_url: str) -> dict[str, str]:
    """This environment without TIMEBOT_* or platform variables; the venv's bin on PATH."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TIMEBOT_") and k not in ("PORT", "WEB_CONCURRENCY")
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["TIMEBOT_DATABASE_URL"] = database_url
    return env


def group_alive(pgid: int) -> bool:
    """Whether any process of the group still runs (zombies excluded)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


class Process:
    """A Procfile-style process: `bash -c LINE` in its own process group, output in a file."""

    def __init__(self, line: str, env: Mapping[str, str], cwd: Path, log: Path) -> None:
        self.log = log
        self._out = log.open("wb")
        self.proc = subprocess.Popen(
            ["bash", "-c", line], env=dict(env), cwd=cwd, stdout=self._out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def running(self) -> bool:
        return self.proc.poll() is None

    def wait_for_log(self, needle: str, within: float = 60) -> None:
        deadline = time.monotonic() + within
        while needle not in self.text():
            assert self.running(), f"exited with {self.proc.returncode}:\n{self.text()}"
            assert time.monotonic() < deadline, f"no {needle!r} in:\n{self.text()}"
            time.sleep(0.1)

    def wait_for_health(self, port: int, within: float = 60) -> httpx.Response:
        deadline = time.monotonic() + within
        while True:
            assert self.running(), f"exited early:\n{self.text()}"
            try:
                return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
            except httpx.TransportError:
                assert time.monotonic() < deadline, f"no answer on /health:\n{self.text()}"
                time.sleep(0.2)

    def stop(self) -> int:
        """SIGTERM to the whole group; wait until every process of it has exited."""
        if self.running():
            os.killpg(self.proc.pid, signal.SIGTERM)
        code = self.proc.wait(timeout=60)
        deadline = time.monotonic() + 60
        while group_alive(self.proc.pid):
            assert time.monotonic() < deadline, "processes outlived the shutdown"
            time.sleep(0.1)
        self._out.close()
        return code
