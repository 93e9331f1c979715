"""OAuth refresh against a scripted oauth.bitrix.info, and the error mapping it relies on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from timebot.bitrix import (
    DEFAULT_OAUTH_URL,
    AccessDenied,
    BitrixError,
    ExpiredToken,
    InvalidGrant,
    InvalidToken,
    MethodNotFound,
    OperationTimeLimit,
    PaymentRequired,
    PortalDeleted,
    QueryLimitExceeded,
    ServerError,
    TransportError,
    from_response,
    refresh_tokens,
)
from timebot.domain.clock import FixedClock

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

# The docs' example answer (settings/oauth/auto-renewal.md).
REFRESHED = {
    "access_token": "ydtj8pho532wydb5ixk78ol7uqlb7sch",
    "client_endpoint": "https://account.bitrix24.com/rest/",
    "domain": "oauth.bitrix.info",
    "expires_in": 3600,
    "member_id": "a223c6b3710f85df22e9377d6c4f7553",
    "refresh_token": "3s6lr4kr3cv2od4v853gvrchb875bwxb",
    "scope": "app",
    "server_endpoint": "https://oauth.bitrix.info/rest/",
    "status": "T",
}


async def refresh_with(response: httpx.Response | Exception) -> tuple[object, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if isinstance(response, Exception):
            raise response
        return response

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        result = await refresh_tokens(
            http, DEFAULT_OAUTH_URL, "app.1", "s3cr3t", "old-refresh", clock=FixedClock(NOW)
        )
    return result, seen


async def test_refresh_is_a_get_with_the_documented_query_parameters() -> None:
    tokens, seen = await refresh_with(httpx.Response(200, json=REFRESHED))
    (request,) = seen
    assert request.method == "GET"
    assert request.url.host == "oauth.bitrix.info"
    assert request.url.path == "/oauth/token/"
    assert dict(request.url.params) == {
        "grant_type": "refresh_token",
        "client_id": "app.1",
        "client_secret": "s3cr3t",
        "refresh_token": "old-refresh",
    }
    assert tokens.access_token == "ydtj8pho532wydb5ixk78ol7uqlb7sch"
    assert tokens.refresh_token == "3s6lr4kr3cv2od4v853gvrchb875bwxb"
    assert tokens.member_id == "a223c6b3710f85df22e9377d6c4f7553"
    assert tokens.client_endpoint == "https://account.bitrix24.com/rest/"
    # The answer's "domain" is the OAuth server; the portal's host comes from client_endpoint.
    assert tokens.domain == "account.bitrix24.com"
    assert tokens.expires_in == 3600
    assert tokens.expires_at == NOW + timedelta(hours=1)
    assert tokens.scope == ("app",)
    assert "ydtj8pho" not in repr(tokens)


async def test_a_dead_refresh_token_raises_invalid_grant() -> None:
    response = httpx.Response(
        400, json={"error": "invalid_grant", "error_description": "Invalid grant"}
    )
    with pytest.raises(InvalidGrant):
        await refresh_with(response)


async def test_an_expired_subscription_raises_payment_required() -> None:
    response = httpx.Response(
        200, json={"error": "PAYMENT_REQUIRED", "error_description": "Payment required"}
    )
    with pytest.raises(PaymentRequired):
        await refresh_with(response)


async def test_no_answer_is_a_transport_error_and_is_not_retried() -> None:
    with pytest.raises(TransportError):
        await refresh_with(httpx.ReadTimeout("slow"))


async def test_an_answer_without_tokens_is_refused() -> None:
    with pytest.raises(BitrixError, match="refresh_token"):
        await refresh_with(httpx.Response(200, json={"access_token": "a"}))


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (401, "expired_token", ExpiredToken),
        (401, "invalid_token", InvalidToken),
        (401, "NO_AUTH_FOUND", InvalidToken),
        (401, "INVALID_CREDENTIALS", InvalidToken),
        (400, "invalid_grant", InvalidGrant),
        (403, "ACCESS_DENIED", AccessDenied),
        (401, "insufficient_scope", AccessDenied),
        (503, "QUERY_LIMIT_EXCEEDED", QueryLimitExceeded),
        (429, "QUERY_LIMIT_EXCEEDED", QueryLimitExceeded),
        (429, "OPERATION_TIME_LIMIT", OperationTimeLimit),
        (404, "ERROR_METHOD_NOT_FOUND", MethodNotFound),
        (403, "PORTAL_DELETED", PortalDeleted),
        (402, "PAYMENT_REQUIRED", PaymentRequired),
        (500, "INTERNAL_SERVER_ERROR", ServerError),
        (500, "ERROR_UNEXPECTED_ANSWER", ServerError),
    ],
)
def test_error_codes_map_to_typed_errors(status: int, code: str, kind: type[BitrixError]) -> None:
    error = from_response(status, {"error": code, "error_description": "text"})
    assert type(error) is kind
    assert (error.code, error.description, error.status) == (code, "text", status)


def test_an_unknown_error_code_stays_a_plain_bitrix_error() -> None:
    error = from_response(400, {"error": "EMPTY_MESSAGE", "error_description": "Message is empty"})
    assert type(error) is BitrixError
    assert str(error) == "EMPTY_MESSAGE: Message is empty"


def test_non_json_answers_are_classified_by_status() -> None:
    assert isinstance(from_response(502, None), ServerError)
    assert isinstance(from_response(401, "<html>"), InvalidToken)
    assert type(from_response(418, None)) is BitrixError
