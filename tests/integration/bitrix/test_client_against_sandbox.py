"""timebot's Bitrix24 client against the sandbox portal over real HTTP: the portal's rate limit is
respected without losing calls, batch works, and the OAuth refresh chain holds under concurrency."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from timebot.bitrix import (
    AppInstalled,
    BitrixClient,
    InvalidGrant,
    PortalAuth,
    RateLimiter,
    parse_event,
    parse_form,
    refresh_tokens,
    send_message_params,
)
from timebot.sandbox import Portal

from .conftest import Recorder, StartSandbox

BOT_TOKEN = "timebot-integration"


def webhook_auth(portal: Portal) -> PortalAuth:
    return PortalAuth.webhook(portal.member_id, portal.webhook_url())


async def register_bot(client: BitrixClient, auth: PortalAuth, code: str = "timebot") -> int:
    fields = {"code": code, "properties": {"name": "Таймбот"}}
    response = await client.call(
        auth, "imbot.v2.Bot.register", {"botToken": BOT_TOKEN, "fields": fields}
    )
    return int(response.result["bot"]["id"])


async def send_many(client: BitrixClient, auth: PortalAuth, bot_id: int, count: int) -> list[int]:
    async def send(n: int) -> int:
        method, params = send_message_params(
            "v2", bot_id, "3", f"Сообщение {n}", bot_token=BOT_TOKEN
        )
        return int((await client.call(auth, method, params)).result["id"])

    return await asyncio.gather(*(send(n) for n in range(count)))


async def test_pacing_to_the_portals_limit_meets_no_refusal_and_loses_nothing(
    start_sandbox: StartSandbox, http: httpx.AsyncClient
) -> None:
    portal = start_sandbox(rate=20.0, burst=5)
    # A little under the portal's bucket: our clock and the portal's never tick together.
    client = BitrixClient(http, RateLimiter(18.0, 4))
    auth = webhook_auth(portal)
    bot_id = await register_bot(client, auth)
    started = time.monotonic()
    ids = await send_many(client, auth, bot_id, 30)
    elapsed = time.monotonic() - started
    assert len(set(ids)) == 30
    assert portal.stats.rate_limited == 0
    assert portal.stats.messages_by_bot[bot_id] == 30
    assert [m.text for m in portal.messages("3", bot_id=bot_id)].count("Сообщение 7") == 1
    # 31 requests with a burst of 4 at 18/s cannot take less than (31 - 4) / 18 seconds.
    assert elapsed >= (31 - 4) / 18 - 0.1


async def test_when_others_fill_the_portals_bucket_refusals_are_retried_and_nothing_is_lost(
    start_sandbox: StartSandbox, http: httpx.AsyncClient
) -> None:
    portal = start_sandbox(rate=25.0, burst=5)
    # Our own bucket thinks there is plenty of room, as when other processes share the portal.
    client = BitrixClient(http, RateLimiter(1000.0, 1000), max_retries=12, backoff_base=0.05)
    auth = webhook_auth(portal)
    bot_id = await register_bot(client, auth)
    ids = await send_many(client, auth, bot_id, 30)
    assert len(set(ids)) == 30
    assert portal.stats.rate_limited > 0
    assert portal.stats.messages_by_bot[bot_id] == 30


async def test_a_batch_runs_commands_and_references_earlier_results(
    start_sandbox: StartSandbox, http: httpx.AsyncClient
) -> None:
    portal = start_sandbox(rate=1000.0, burst=1000)
    client = BitrixClient(http, RateLimiter())
    response = await client.batch(
        webhook_auth(portal),
        {
            "me": ("user.current", {}),
            "dept": ("department.get", {"ID": "$result[me][UF_DEPARTMENT][0]"}),
            "sales": ("user.get", {"FILTER": {"UF_DEPARTMENT": 2}}),
            "bad": ("no.such.method", {}),
        },
    )
    assert response.results["me"]["ID"] == "1"
    assert response.results["dept"][0]["NAME"] == "ООО «Ромашка»"
    assert {u["ID"] for u in response.results["sales"]} >= {"2", "3", "4"}
    assert set(response.errors) == {"bad"}
    assert portal.stats.batch_calls == 1


async def test_call_all_reads_every_page_of_a_list(
    start_sandbox: StartSandbox, http: httpx.AsyncClient
) -> None:
    portal = start_sandbox(rate=1000.0, burst=1000)
    client = BitrixClient(http, RateLimiter())
    users = await client.call_all(webhook_auth(portal), "user.get", {"FILTER": {"ACTIVE": True}})
    assert [u["ID"] for u in users][:11] == [str(n) for n in range(1, 12)]


class RowLockRefresher:
    """What the storage layer does with a database row lock, in memory: one refresh at a time,
    and a caller holding a stale token gets the token someone else already refreshed."""

    def __init__(self, http: httpx.AsyncClient, portal: Portal, access: str, refresh: str) -> None:
        self.http = http
        self.portal = portal
        self.access = access
        self.refresh_token = refresh
        self.lock = asyncio.Lock()
        self.refreshes = 0

    def auth(self) -> PortalAuth:
        return PortalAuth.oauth(self.portal.member_id, self.portal.client_endpoint, self.access)

    async def refresh(self, member_id: str, stale_access_token: str) -> PortalAuth:
        async with self.lock:
            if self.access != stale_access_token:
                return self.auth()
            config = self.portal.config
            tokens = await refresh_tokens(
                self.http,
                self.portal.oauth_url,
                config.client_id,
                config.client_secret,
                self.refresh_token,
            )
            assert tokens.member_id == member_id
            self.access, self.refresh_token = tokens.access_token, tokens.refresh_token
            self.refreshes += 1
            return self.auth()


async def test_expired_tokens_are_refreshed_once_for_many_callers_and_the_chain_holds(
    start_sandbox: StartSandbox, recorder: Recorder, http: httpx.AsyncClient
) -> None:
    portal = start_sandbox(rate=1000.0, burst=1000)
    await portal.install_app(recorder.url("/install"))
    (body,) = recorder.received("/install")
    installed = parse_event(parse_form(body))
    assert isinstance(installed, AppInstalled)
    assert installed.member_id == portal.member_id
    refresher = RowLockRefresher(
        http, portal, installed.auth.access_token, installed.auth.refresh_token
    )
    first_refresh_token = refresher.refresh_token
    client = BitrixClient(http, RateLimiter(), refresher=refresher)

    me = await client.call(refresher.auth(), "user.current")
    assert me.result["ID"] == str(installed.auth.user_id)

    for round_number in (1, 2):
        portal.expire_access_tokens()
        stale = refresher.auth()
        results = await asyncio.gather(*(client.call(stale, "user.current") for _ in range(8)))
        assert all(r.result["ID"] == me.result["ID"] for r in results)
        assert refresher.refreshes == round_number
    assert portal.stats.oauth_refreshes == 2

    # The first refresh token died with its first use: a branch of the chain is refused.
    config = portal.config
    with pytest.raises(InvalidGrant):
        await refresh_tokens(
            http, portal.oauth_url, config.client_id, config.client_secret, first_refresh_token
        )
