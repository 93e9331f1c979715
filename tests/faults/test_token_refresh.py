"""The portal's access token expires again and again during the rush (a 4-second lifetime,
plus two forced expiries) while three workers send replies. Whether an expiry is met by one
process or by several at once depends on timing here (the race itself is forced
deterministically by tests/e2e/test_token_refresh_processes.py with bare processes); either
way the single-use refresh-token chain never branches — every refresh the OAuth server
performed is the one stored (a row lock serializes them, see gateway/tokens.py), every
refresh was caused by a call that met an expired token, no `invalid_grant`, the portal stays
active, and the books close.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.fleet import SCRIPT, Fleet

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

STAFF = 30
TOKEN_TTL = 4


async def test_concurrent_token_refresh_during_the_rush(
    postgres_url: str, tmp_path: Path, publish: Callable[[str], None]
) -> None:
    async with Fleet(
        postgres_url,
        tmp_path / "fleet",
        serve=2,
        workers=3,
        staff=STAFF,
        sandbox={"token_ttl": TOKEN_TTL},
    ) as fleet:

        async def chain() -> tuple[int, str]:
            async with fleet.db.unit_of_work() as uow:
                portal = await uow.portals.get(fleet.portal_id)
                assert portal is not None
                return portal.token_version, portal.status

        version_before, _ = await chain()
        refreshes_before = fleet.portal.stats.oauth_refreshes
        expired_before = fleet.portal.stats.statuses[401]

        async def expire_twice() -> None:
            for _ in range(2):
                await asyncio.sleep(3)
                await fleet.control(expire_access_tokens=True)

        actions = await fleet.people.run(fleet.staff, SCRIPT, during=expire_twice)
        report = await fleet.settle(actions, label="token refresh during the rush")
        version, status = await chain()
        refreshes = fleet.portal.stats.oauth_refreshes - refreshes_before
        expired = fleet.portal.stats.statuses[401] - expired_before
        report.extra["tokens"] = (
            f"{expired} calls met an expired token, {refreshes} refreshes at the OAuth server, "
            f"{version - version_before} stored, OAuth errors {fleet.oauth.errors()}"
        )
        publish(report.line())
        assert report.problems() == [], report.line() + "\n" + fleet.logs()
        assert fleet.oauth.errors() == [], report.line()
        assert status == "active"
        assert refreshes >= 2, report.line()
        assert refreshes == version - version_before, report.line()
        assert expired >= refreshes, "a refresh happened without an expired token"
