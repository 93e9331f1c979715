"""The REST client against a scripted portal at the transport edge (httpx.MockTransport): request
shape, retries with backoff, token refresh, batch and pagination. No real sleeping."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from timebot.bitrix import (
    AccessDenied,
    Attempt,
    BitrixClient,
    ExpiredToken,
    InvalidGrant,
    MethodNotFound,
    OperationTimeLimit,
    PortalAuth,
    RateLimiter,
    ServerError,
    TransportError,
    parse_form,
)
from timebot.domain.clock import FixedClock

from .fake_time import FakeMonotonic

WEBHOOK = PortalAuth.webhook("m1", "https://x.bitrix24.ru/rest/1/secret/")
OAUTH = PortalAuth.oauth("m2", "https://y.bitrix24.ru/rest/", "old-token")
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

Reply = httpx.Response | Exception
Handler = Callable[[httpx.Request], Reply]


class FakePortal:
    """Answers requests from a script (one reply per request, the last one repeating)."""

    def __init__(self, *replies: Reply | Handler) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if callable(reply) and not isinstance(reply, httpx.Response | Exception):
            reply = reply(request)
        if isinstance(reply, Exception):
            raise reply
        return reply

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]


def ok(result: Any, **extra: Any) -> httpx.Response:
    return httpx.Response(200, json={"result": result, "time": {"duration": 0.01}, **extra})


def error(status: int, code: str, description: str = "", **extra: Any) -> httpx.Response:
    return httpx.Response(status, json={"error": code, "error_description": description, **extra})


class Refresher:
    def __init__(self, *results: PortalAuth | Exception) -> None:
        self.results = list(results)
        self.calls: list[tuple[str, str]] = []

    async def refresh(self, member_id: str, stale_access_token: str) -> PortalAuth:
        self.calls.append((member_id, stale_access_token))
        result = self.results.pop(0)
        if isinstance(result, Exception):
            raise result
        return result


@pytest.fixture
def clock() -> FakeMonotonic:
    return FakeMonotonic()


def make_client(
    portal: FakePortal,
    clock: FakeMonotonic,
    *,
    refresher: Refresher | None = None,
    limiter: RateLimiter | None = None,
    attempts: list[Attempt] | None = None,
    max_retries: int = 3,
) -> BitrixClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(portal))
    return BitrixClient(
        http,
        limiter or RateLimiter(monotonic=clock, sleep=clock.sleep),
        refresher=refresher,
        max_retries=max_retries,
        backoff_base=1.0,
        backoff_max=8.0,
        sleep=clock.sleep,
        jitter=lambda: 0.0,
        clock=FixedClock(NOW),
        monotonic=clock,
        on_attempt=attempts.append if attempts is not None else None,
    )


# --- request shape ----------------------------------------------------------------------------


async def test_a_webhook_call_posts_json_to_the_webhook_url(clock: FakeMonotonic) -> None:
    portal = FakePortal(ok({"ID": 7}, total=1))
    response = await make_client(portal, clock).call(WEBHOOK, "user.get", {"FILTER": {"ID": 7}})
    (request,) = portal.requests
    assert request.method == "POST"
    assert str(request.url) == "https://x.bitrix24.ru/rest/1/secret/user.get"
    assert request.headers["content-type"] == "application/json"
    assert portal.bodies() == [{"FILTER": {"ID": 7}}]
    assert (response.result, response.total, response.next) == ({"ID": 7}, 1, None)
    assert response.time == {"duration": 0.01}


async def test_an_oauth_call_carries_the_access_token_in_the_body(clock: FakeMonotonic) -> None:
    portal = FakePortal(ok(True))
    await make_client(portal, clock).call(OAUTH, "imbot.v2.Chat.Message.send", {"botId": 1})
    assert str(portal.requests[0].url) == "https://y.bitrix24.ru/rest/imbot.v2.Chat.Message.send"
    assert portal.bodies() == [{"botId": 1, "auth": "old-token"}]


async def test_a_refusal_that_retrying_cannot_fix_raises_at_once(clock: FakeMonotonic) -> None:
    portal = FakePortal(error(403, "ACCESS_DENIED", "Bot is not a participant in the chat"))
    with pytest.raises(AccessDenied) as caught:
        await make_client(portal, clock).call(WEBHOOK, "imbot.v2.Chat.Message.send")
    assert caught.value.status == 403
    assert caught.value.description == "Bot is not a participant in the chat"
    assert len(portal.requests) == 1
    assert clock.sleeps == []


async def test_an_unknown_method_raises_method_not_found(clock: FakeMonotonic) -> None:
    portal = FakePortal(error(404, "ERROR_METHOD_NOT_FOUND", "Method not found!"))
    with pytest.raises(MethodNotFound):
        await make_client(portal, clock).call(WEBHOOK, "nope.nope")


async def test_an_error_inside_a_200_answer_is_still_an_error(clock: FakeMonotonic) -> None:
    portal = FakePortal(error(200, "BOT_NOT_FOUND", "Bot not found"))
    with pytest.raises(Exception, match="BOT_NOT_FOUND"):
        await make_client(portal, clock).call(WEBHOOK, "imbot.v2.Bot.get")


# --- retries ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [503, 429])
async def test_the_query_limit_is_retried_with_exponential_backoff(
    clock: FakeMonotonic, status: int
) -> None:
    portal = FakePortal(
        error(status, "QUERY_LIMIT_EXCEEDED", "Too many requests"),
        error(status, "QUERY_LIMIT_EXCEEDED", "Too many requests"),
        ok("done"),
    )
    limiter = RateLimiter(monotonic=clock, sleep=clock.sleep)
    response = await make_client(portal, clock, limiter=limiter).call(WEBHOOK, "user.current")
    assert response.result == "done"
    assert len(portal.requests) == 3
    # Backoff 0.5 s then 1 s (jitter 0); the limiter was held for the same time, not longer.
    assert clock.sleeps == pytest.approx([0.5, 1.0])


async def test_a_query_limit_makes_other_callers_of_the_portal_wait_too(
    clock: FakeMonotonic,
) -> None:
    portal = FakePortal(error(503, "QUERY_LIMIT_EXCEEDED"), ok(1))
    limiter = RateLimiter(monotonic=clock, sleep=clock.sleep)
    await make_client(portal, clock, limiter=limiter).call(WEBHOOK, "user.current")
    # The portal said its bucket was full: ours now counts as full as well (minus the drain).
    assert limiter.level("m1") > 45


async def test_server_errors_and_network_errors_are_retried(clock: FakeMonotonic) -> None:
    portal = FakePortal(
        httpx.Response(502, text="<html>Bad gateway</html>"),
        httpx.ConnectError("connection refused"),
        httpx.ReadTimeout("slow"),
        ok(42),
    )
    attempts: list[Attempt] = []
    response = await make_client(portal, clock, attempts=attempts).call(WEBHOOK, "server.time")
    assert response.result == 42
    assert [a.outcome for a in attempts] == [
        "INTERNAL_SERVER_ERROR",
        "TRANSPORT_ERROR",
        "TRANSPORT_ERROR",
        "ok",
    ]
    assert [a.retry_in for a in attempts] == [0.5, 1.0, 2.0, None]


async def test_when_retries_run_out_the_last_error_is_raised(clock: FakeMonotonic) -> None:
    portal = FakePortal(error(500, "INTERNAL_SERVER_ERROR", "Internal server error"))
    with pytest.raises(ServerError):
        await make_client(portal, clock, max_retries=2).call(WEBHOOK, "user.current")
    assert len(portal.requests) == 3


async def test_a_connect_failure_is_reported_as_never_sent(clock: FakeMonotonic) -> None:
    portal = FakePortal(httpx.ConnectError("refused"))
    with pytest.raises(TransportError) as caught:
        await make_client(portal, clock, max_retries=0).call(WEBHOOK, "user.current")
    assert caught.value.sent is False


async def test_operation_time_limit_waits_until_the_method_is_released(
    clock: FakeMonotonic,
) -> None:
    reset_at = NOW.timestamp() + 20
    portal = FakePortal(
        error(
            429, "OPERATION_TIME_LIMIT", "Method is blocked", time={"operating_reset_at": reset_at}
        ),
        ok("fine"),
    )
    response = await make_client(portal, clock).call(WEBHOOK, "crm.deal.list")
    assert response.result == "fine"
    assert clock.sleeps == [pytest.approx(20.5)]


async def test_operation_time_limit_far_away_is_not_waited_for(clock: FakeMonotonic) -> None:
    reset_at = NOW.timestamp() + 600
    portal = FakePortal(
        error(429, "OPERATION_TIME_LIMIT", "blocked", time={"operating_reset_at": reset_at})
    )
    with pytest.raises(OperationTimeLimit) as caught:
        await make_client(portal, clock).call(WEBHOOK, "crm.deal.list")
    assert caught.value.reset_at == reset_at
    assert len(portal.requests) == 1


# --- token refresh ----------------------------------------------------------------------------


async def test_an_expired_token_is_refreshed_once_and_the_call_repeated(
    clock: FakeMonotonic,
) -> None:
    fresh = PortalAuth.oauth("m2", "https://y.bitrix24.ru/rest/", "new-token")
    refresher = Refresher(fresh)
    portal = FakePortal(
        error(401, "expired_token", "The access token provided has expired."), ok(1)
    )
    response = await make_client(portal, clock, refresher=refresher).call(OAUTH, "user.current")
    assert response.result == 1
    assert refresher.calls == [("m2", "old-token")]
    assert [body["auth"] for body in portal.bodies()] == ["old-token", "new-token"]
    assert clock.sleeps == []


async def test_a_token_refreshed_by_another_process_is_used_as_is(clock: FakeMonotonic) -> None:
    # The refresher found a newer token in the database and returns it without refreshing.
    stored = PortalAuth.oauth("m2", "https://moved.bitrix24.ru/rest/", "someone-elses-fresh")
    portal = FakePortal(error(401, "expired_token"), ok(1))
    await make_client(portal, clock, refresher=Refresher(stored)).call(OAUTH, "user.current")
    assert str(portal.requests[1].url) == "https://moved.bitrix24.ru/rest/user.current"


async def test_a_second_expiry_after_refreshing_is_raised(clock: FakeMonotonic) -> None:
    fresh = PortalAuth.oauth("m2", "https://y.bitrix24.ru/rest/", "new-token")
    refresher = Refresher(fresh, fresh)
    portal = FakePortal(error(401, "expired_token"))
    with pytest.raises(ExpiredToken):
        await make_client(portal, clock, refresher=refresher).call(OAUTH, "user.current")
    assert len(refresher.calls) == 1
    assert len(portal.requests) == 2


async def test_a_broken_refresh_chain_surfaces_as_invalid_grant(clock: FakeMonotonic) -> None:
    refresher = Refresher(InvalidGrant("invalid_grant", "", 400))
    portal = FakePortal(error(401, "expired_token"))
    with pytest.raises(InvalidGrant):
        await make_client(portal, clock, refresher=refresher).call(OAUTH, "user.current")


async def test_a_webhook_cannot_be_refreshed(clock: FakeMonotonic) -> None:
    refresher = Refresher()
    portal = FakePortal(error(401, "expired_token"))
    with pytest.raises(ExpiredToken):
        await make_client(portal, clock, refresher=refresher).call(WEBHOOK, "user.current")
    assert refresher.calls == []


# --- rate limiting ----------------------------------------------------------------------------


async def test_every_call_passes_the_portals_rate_limiter(clock: FakeMonotonic) -> None:
    portal = FakePortal(ok(1))
    limiter = RateLimiter(2.0, 3, monotonic=clock, sleep=clock.sleep)
    client = make_client(portal, clock, limiter=limiter)
    for _ in range(5):
        await client.call(WEBHOOK, "user.current")
    assert len(portal.requests) == 5
    assert clock.sleeps == pytest.approx([0.5, 0.5])


# --- batch ------------------------------------------------------------------------------------


async def test_a_batch_sends_php_encoded_commands_and_splits_the_answer(
    clock: FakeMonotonic,
) -> None:
    answer = {
        "result": {"me": {"ID": "1"}, "dep": [{"ID": "1", "NAME": "DEMO"}]},
        "result_error": {"bad": {"error": "insufficient_scope", "error_description": "no"}},
        "result_total": {"dep": 1},
        "result_next": [],
        "result_time": {},
    }
    portal = FakePortal(ok(answer))
    response = await make_client(portal, clock).batch(
        WEBHOOK,
        {
            "me": ("user.current", {}),
            "dep": ("department.get", {"ID": "$result[me][UF_DEPARTMENT][0]"}),
            "bad": ("timeman.settings", {"USER_ID": 5, "FULL": True}),
        },
        halt=True,
    )
    (body,) = portal.bodies()
    assert str(portal.requests[0].url).endswith("/batch")
    assert body == {
        "halt": 1,
        "cmd": {
            "me": "user.current?",
            "dep": "department.get?ID=%24result%5Bme%5D%5BUF_DEPARTMENT%5D%5B0%5D",
            "bad": "timeman.settings?USER_ID=5&FULL=1",
        },
    }
    # Each command query decodes back to its parameters the way the portal reads them.
    assert parse_form(body["cmd"]["dep"].split("?", 1)[1]) == {
        "ID": "$result[me][UF_DEPARTMENT][0]"
    }
    assert response.results["me"] == {"ID": "1"}
    assert response.totals == {"dep": 1}
    assert response.nexts == {}
    assert isinstance(response.errors["bad"], AccessDenied)
    assert response.ok is False


async def test_a_batch_answer_with_empty_php_arrays_is_understood(clock: FakeMonotonic) -> None:
    answer = {"result": [], "result_error": [], "result_total": [], "result_next": []}
    response = await make_client(FakePortal(ok(answer)), clock).batch(
        WEBHOOK, {"a": ("user.current", {})}
    )
    assert (response.results, response.errors, response.ok) == ({}, {}, True)


async def test_a_batch_of_more_than_fifty_commands_is_refused(clock: FakeMonotonic) -> None:
    portal = FakePortal(ok({}))
    commands = {f"c{i}": ("user.current", {}) for i in range(51)}
    with pytest.raises(ValueError, match="50"):
        await make_client(portal, clock).batch(WEBHOOK, commands)
    assert portal.requests == []


async def test_batches_cannot_be_nested_and_empty_ones_cost_nothing(clock: FakeMonotonic) -> None:
    portal = FakePortal(ok({}))
    client = make_client(portal, clock)
    with pytest.raises(ValueError, match="nested"):
        await client.batch(WEBHOOK, {"b": ("batch", {"cmd": {}})})
    assert (await client.batch(WEBHOOK, {})).results == {}
    assert portal.requests == []


# --- pagination -------------------------------------------------------------------------------


async def test_call_all_follows_next_through_every_page(clock: FakeMonotonic) -> None:
    def page(request: httpx.Request) -> httpx.Response:
        start = json.loads(request.content)["start"]
        rows = [{"ID": str(n)} for n in range(start, min(start + 50, 120))]
        extra = {"total": 120}
        if start + 50 < 120:
            extra["next"] = start + 50
        return ok(rows, **extra)

    portal = FakePortal(page)
    rows = await make_client(portal, clock).call_all(
        WEBHOOK, "user.get", {"FILTER": {"ACTIVE": True}}
    )
    assert [r["ID"] for r in rows] == [str(n) for n in range(120)]
    assert [b["start"] for b in portal.bodies()] == [0, 50, 100]
    assert all(b["FILTER"] == {"ACTIVE": True} for b in portal.bodies())


async def test_call_all_finds_the_list_inside_an_object_result(clock: FakeMonotonic) -> None:
    portal = FakePortal(ok({"tasks": [{"id": 1}, {"id": 2}]}))
    rows = await make_client(portal, clock).call_all(WEBHOOK, "tasks.task.list")
    assert rows == [{"id": 1}, {"id": 2}]


async def test_call_all_with_an_explicit_items_key_and_page_cap(clock: FakeMonotonic) -> None:
    portal = FakePortal(ok({"items": [1, 2], "other": [9]}, next=2))
    rows = await make_client(portal, clock).call_all(
        WEBHOOK, "crm.item.list", items_key="items", max_pages=2
    )
    assert rows == [1, 2, 1, 2]
    assert len(portal.requests) == 2


# --- credentials ------------------------------------------------------------------------------


def test_portal_auth_needs_exactly_one_way_to_authenticate() -> None:
    with pytest.raises(ValueError, match="either"):
        PortalAuth(
            "m",
            webhook_base="https://a/rest/1/s/",
            client_endpoint="https://a/rest/",
            access_token="t",
        )
    with pytest.raises(ValueError, match="either"):
        PortalAuth("m")
    with pytest.raises(ValueError, match="both"):
        PortalAuth("m", client_endpoint="https://a/rest/")
    with pytest.raises(ValueError, match="member_id"):
        PortalAuth("", webhook_base="https://a/rest/1/s/")
    with pytest.raises(ValueError, match="URL"):
        PortalAuth("m", webhook_base="ftp://a/")


def test_portal_auth_keeps_secrets_out_of_its_repr() -> None:
    text = repr(PortalAuth.oauth("m", "https://a/rest/", "secret-token"))
    assert "secret-token" not in text
    assert "secret" not in repr(PortalAuth.webhook("m", "https://a/rest/1/secret/"))


def test_method_urls_tolerate_a_missing_trailing_slash() -> None:
    auth = PortalAuth.webhook("m", "https://a.bitrix24.ru/rest/1/abc")
    assert auth.method_url("user.get") == "https://a.bitrix24.ru/rest/1/abc/user.get"
