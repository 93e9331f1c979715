"""One process calling a portal's REST with timebot's client and the database-backed refresher.

    python -m tests.support.refresh_worker --database URL --member-id M --oauth-url U \
        --client-id C --client-secret S --ready FILE --go FILE --out FILE [--method app.info]

Reads the portal's credentials from the database, creates `--ready`, waits for `--go` to exist
(so several processes call at the same instant), calls the method once — refreshing the token
through `DatabaseTokenRefresher` if it has expired — and writes a JSON outcome to `--out`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from timebot.bitrix import BitrixClient, RateLimiter
from timebot.domain.clock import SystemClock
from timebot.gateway.auth import portal_auth
from timebot.gateway.tokens import DatabaseTokenRefresher
from timebot.storage import Database


async def run(args: argparse.Namespace) -> dict[str, Any]:
    database = Database.from_url(args.database)
    clock = SystemClock()
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            refresher = DatabaseTokenRefresher(
                database,
                http,
                oauth_url=args.oauth_url,
                client_id=args.client_id,
                client_secret=args.client_secret,
                clock=clock,
            )
            client = BitrixClient(http, RateLimiter(), refresher=refresher, max_retries=3)
            async with database.unit_of_work() as uow:
                portal = await uow.portals.by_member_id(args.member_id)
                if portal is None:
                    return {"ok": False, "error": "portal not found"}
                auth = portal_auth(portal)
            # Warm the connection pool so the barrier is not followed by a slow connect.
            async with database.unit_of_work() as uow:
                await uow.portals.by_member_id(args.member_id)
            await asyncio.to_thread(Path(args.ready).touch)
            deadline = time.monotonic() + 30
            while not await asyncio.to_thread(Path(args.go).exists):
                if time.monotonic() > deadline:
                    return {"ok": False, "error": "no go signal"}
                await asyncio.sleep(0.002)
            try:
                response = await client.call(auth, args.method)
            except Exception as exc:
                return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            result = response.result
            code = result.get("CODE") if isinstance(result, dict) else None
            return {"ok": True, "code": code}
    finally:
        await database.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    for name in ("database", "member-id", "oauth-url", "client-id", "client-secret"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--ready", required=True)
    parser.add_argument("--go", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--method", default="app.info")
    args = parser.parse_args()
    outcome = asyncio.run(run(args))
    Path(args.out).write_text(json.dumps(outcome), encoding="utf-8")
    return 0 if outcome.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
