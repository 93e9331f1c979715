"""Admin commands as a user runs them: calendar, webhook connect, outbox list/retry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from tests.support.servers import free_port, serve_asgi
from timebot.sandbox.app import create_sandbox_app
from timebot.sandbox.config import SandboxConfig
from timebot.storage import Database
from timebot.storage.migrate import upgrade
from timebot.storage.tables import OutboxMessage, Portal

TIMEBOT = [sys.executable, "-m", "timebot.cli"]


def run(args: list[str], db: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TIMEBOT_")}
    return subprocess.run(
        [*TIMEBOT, *args],
        capture_output=True,
        text=True,
        env={**clean, "TIMEBOT_DATABASE_URL": db, **env},
        timeout=120,
    )


def test_calendar_prints_the_official_2025_norms_as_json(tmp_path: Path) -> None:
    out = run(
        ["calendar", "--country", "RU", "--year", "2025", "--json"], f"sqlite:///{tmp_path}/x.db"
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    text = json.dumps(data)
    assert "1972" in text  # 2025: 247 working days, 1972 hours on a 40-hour week
    assert "247" in text


def test_calendar_refuses_an_unknown_country(tmp_path: Path) -> None:
    out = run(["calendar", "--country", "XX", "--year", "2025"], f"sqlite:///{tmp_path}/x.db")
    assert out.returncode != 0
    assert "XX" in out.stderr


def test_bitrix_connect_registers_a_fetch_mode_bot_through_the_webhook(tmp_path: Path) -> None:
    port = free_port()
    sandbox = create_sandbox_app(SandboxConfig(base_url=f"http://127.0.0.1:{port}"))
    portal = sandbox.state.portal
    db = f"sqlite+aiosqlite:///{tmp_path}/tb.sqlite3"
    with serve_asgi(sandbox, port=port):
        out = run(
            ["bitrix", "connect", "--webhook", portal.webhook_url(), "--bot-token", "tok-1"], db
        )
        assert out.returncode == 0, out.stderr
        assert "bot id" in out.stdout
        bots = portal.bots()
        assert len(bots) == 1
        assert bots[0].event_mode == "fetch"
        bad = run(["bitrix", "connect", "--webhook", "not a url", "--bot-token", "t"], db)
        assert bad.returncode != 0
        assert "webhook URL" in bad.stderr


async def test_outbox_list_shows_dead_letters_and_retry_requeues_them(tmp_path: Path) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path}/tb.sqlite3"
    await upgrade(db)
    database = Database.from_url(db)
    now = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    async with database.unit_of_work() as uow:
        p = Portal(
            member_id="m1",
            domain="x",
            client_endpoint="https://x/rest/",
            connection="oauth",
            installed_at=now,
            updated_at=now,
            settings={},
        )
        uow.session.add(p)
        await uow.flush()
        uow.session.add(
            OutboxMessage(
                portal_id=p.id,
                kind="message",
                method="imbot.v2.Chat.Message.send",
                payload={},
                status="dead",
                attempts=8,
                next_attempt_at=now,
                created_at=now,
                last_error="BOT_NOT_FOUND: gone",
            )
        )
        await uow.commit()
    await database.dispose()
    listed = run(["outbox", "list", "--status", "dead"], db)
    assert listed.returncode == 0, listed.stderr
    assert "dead=1" in listed.stdout
    assert "BOT_NOT_FOUND" in listed.stdout
    retried = run(["outbox", "retry"], db)
    assert "1 row(s) queued again" in retried.stdout
    assert "pending=1" in run(["outbox", "list"], db).stdout
