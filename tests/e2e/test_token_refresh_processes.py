"""Several worker processes on PostgreSQL find the portal's access token expired at the same
instant and all refresh it against the sandbox's single-use refresh tokens: exactly one refresh
reaches the OAuth server per expiry, the others reuse its result, and the chain stays alive.

Each process is a real Python interpreter (`tests/support/refresh_worker.py`) with its own
connection pool, HTTP client and `DatabaseTokenRefresher`; a file barrier releases them at once.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.stack import Stack, timebot_with_sandbox, wait_installed, wait_until
from timebot.bitrix import BitrixClient, RateLimiter
from timebot.domain.clock import SystemClock
from timebot.gateway.auth import portal_auth
from timebot.gateway.tokens import DatabaseTokenRefresher
from timebot.storage import Database

pytestmark = pytest.mark.postgres

PROCESSES = 4
ROUNDS = 3
ROOT = Path(__file__).resolve().parents[2]


async def token_state(database: Database, member_id: str) -> tuple[int, str, str]:
    async with database.unit_of_work() as uow:
        portal = await uow.portals.by_member_id(member_id)
        assert portal is not None
        return portal.token_version, portal.refresh_token or "", portal.status


async def race(stack: Stack, folder: Path) -> list[dict[str, Any]]:
    """Start the processes, wait until every one is ready, release them, collect outcomes."""
    await asyncio.to_thread(folder.mkdir)
    go = folder / "go"
    procs = []
    for i in range(PROCESSES):
        procs.append(
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.support.refresh_worker",
                "--database",
                stack.database_url,
                "--member-id",
                stack.portal.member_id,
                "--oauth-url",
                stack.portal.oauth_url,
                "--client-id",
                stack.config.client_id,
                "--client-secret",
                stack.config.client_secret,
                "--ready",
                str(folder / f"ready-{i}"),
                "--go",
                str(go),
                "--out",
                str(folder / f"out-{i}.json"),
                cwd=ROOT,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
        )
    try:
        await wait_until(
            lambda: (
                all((folder / f"ready-{i}").exists() for i in range(PROCESSES))
                or any(p.returncode is not None for p in procs)
            ),
            within=40,
        )
        go.touch()
        errors = await asyncio.wait_for(
            asyncio.gather(*(p.communicate() for p in procs)), timeout=40
        )
    finally:
        for p in procs:
            if p.returncode is None:
                p.kill()
                await p.wait()
    outcomes = []
    for i, (_, stderr) in enumerate(errors):
        out = folder / f"out-{i}.json"
        assert out.exists(), f"process {i} wrote no outcome: {stderr.decode()[-2000:]}"
        outcomes.append(json.loads(out.read_text(encoding="utf-8")))
    return outcomes


async def test_concurrent_refreshes_from_processes_keep_the_chain(
    postgres_url: str, tmp_path: Path
) -> None:
    with timebot_with_sandbox(postgres_url) as stack:
        await wait_installed(stack)
        sandbox = stack.portal
        database = Database.from_url(postgres_url)
        try:
            for round_no in range(ROUNDS):
                version, refresh_token, _ = await token_state(database, sandbox.member_id)
                refreshes = sandbox.stats.oauth_refreshes
                expired_answers = sandbox.stats.statuses[401]
                assert sandbox.expire_access_tokens() > 0

                outcomes = await race(stack, tmp_path / f"round-{round_no}")

                assert outcomes == [{"ok": True, "code": stack.config.app_code}] * PROCESSES
                # Every process met the expired token, yet the OAuth server saw one refresh.
                assert sandbox.stats.statuses[401] - expired_answers == PROCESSES
                assert sandbox.stats.oauth_refreshes - refreshes == 1
                assert stack.oauth.errors() == []
                new_version, new_refresh, status = await token_state(database, sandbox.member_id)
                assert new_version == version + 1
                assert new_refresh != refresh_token
                assert status == "active"

            # The refresh token stored by the last round still works.
            version, _, _ = await token_state(database, sandbox.member_id)
            sandbox.expire_access_tokens()
            async with httpx.AsyncClient(timeout=30) as http:
                refresher = DatabaseTokenRefresher(
                    database,
                    http,
                    oauth_url=sandbox.oauth_url,
                    client_id=stack.config.client_id,
                    client_secret=stack.config.client_secret,
                    clock=SystemClock(),
                )
                client = BitrixClient(http, RateLimiter(), refresher=refresher)
                async with database.unit_of_work() as uow:
                    portal = await uow.portals.by_member_id(sandbox.member_id)
                    assert portal is not None
                    auth = portal_auth(portal)
                response = await client.call(auth, "app.info")
            assert response.result["CODE"] == stack.config.app_code
            assert (await token_state(database, sandbox.member_id))[0] == version + 1
            assert stack.oauth.errors() == []
            assert sandbox.stats.oauth_refreshes == ROUNDS + 1
        finally:
            await database.dispose()
