"""`timebot token issue|list|revoke` as separate processes: the printed token works against the
API served from the same database and secret, and stops working once revoked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.rows import migrated_with, portal_row
from tests.support.servers import free_port, serve_asgi
from timebot.config import Settings
from timebot.web.app import create_app

SECRET = "cli-token-secret-0123456789"
TIMEBOT = [sys.executable, "-m", "timebot.cli"]


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TIMEBOT, *args], capture_output=True, text=True, env=env, timeout=120)


async def test_a_token_from_the_command_line_works_until_revoked(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'tb.sqlite3'}"
    db, _ = await migrated_with(url, portal_row(member_id="cli-portal"))
    await db.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMEBOT_")}
    env.update(TIMEBOT_DATABASE_URL=url, TIMEBOT_SECRET_KEY=SECRET)

    issued = run(
        env,
        "token",
        "issue",
        "--portal",
        "cli-portal",
        "--name",
        "Kiosk",
        "--scope",
        "marks:read,offices:read",
        "--days",
        "7",
    )
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    assert token.count(".") == 2
    assert "marks:read, offices:read" in issued.stderr

    bad = run(env, "token", "issue", "--portal", "cli-portal", "--name", "X", "--scope", "root")
    assert bad.returncode != 0
    assert "unknown scope" in bad.stderr
    assert (
        run(env, "token", "issue", "--portal", "nope", "--name", "X", "--scope", "all").returncode
        != 0
    )

    listed = run(env, "token", "list", "--portal", "cli-portal")
    assert listed.returncode == 0, listed.stderr
    (line,) = listed.stdout.strip().splitlines()
    jti, status = line.split()[:2]
    assert status == "active"
    assert "Kiosk" in line

    app = create_app(settings=Settings(database_url=url, secret_key=SECRET))
    with serve_asgi(app, port=free_port()) as base:
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=base, headers=headers) as c:
            assert (await c.get("/api/v1/offices")).status_code == 200
            assert (await c.get("/api/v1/employees")).status_code == 403
            revoked = run(env, "token", "revoke", jti)
            assert revoked.returncode == 0, revoked.stderr
            assert "revoked" in revoked.stdout
            assert (await c.get("/api/v1/offices")).status_code == 401
    assert run(env, "token", "revoke", "no-such-jti").returncode != 0
    assert "revoked" in run(env, "token", "list", "--portal", "cli-portal").stdout
