"""Fixtures of the fault tests: the accounting lines every test publishes (shown as they come,
without `-s`, and again together at the end of the run), and a private PostgreSQL cluster for
the restart test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.conftest import skip_or_fail
from tests.support.fleet import PrivatePostgres

LINES = pytest.StashKey[list[str]]()


@pytest.fixture
def publish(
    request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> Callable[[str], None]:
    """`publish(line)`: print an accounting line past pytest's capture and keep it for the
    run's summary."""

    def write(line: str) -> None:
        request.config.stash.setdefault(LINES, []).append(line)
        with capsys.disabled():
            print(f"\n{line}", flush=True)

    return write


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = terminalreporter.config.stash.get(LINES, [])
    if lines:
        terminalreporter.section("fault tests: accounting")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A throw-away PostgreSQL server of our own (the shared one must never be restarted)."""
    try:
        server = PrivatePostgres()
    except (FileNotFoundError, LookupError, PermissionError) as exc:
        skip_or_fail(f"cannot run a private PostgreSQL cluster: {exc}")
        raise
    with server:
        yield server
