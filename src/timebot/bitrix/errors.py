"""Typed Bitrix24 errors and the mapping from an HTTP status plus `{"error", "error_description"}`
body to them; the client decides what to retry by type.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "AccessDenied",
    "BitrixError",
    "ExpiredToken",
    "InvalidGrant",
    "InvalidToken",
    "MethodNotFound",
    "OperationTimeLimit",
    "PaymentRequired",
    "PortalDeleted",
    "QueryLimitExceeded",
    "ServerError",
    "TransportError",
    "from_error",
    "from_response",
]


class BitrixError(Exception):
    """An error reported by a Bitrix24 portal or the OAuth server (or on the way to them).

    `status` is the HTTP status (None inside a batch result, 0 for network failures).
    """

    def __init__(self, code: str, description: str = "", status: int | None = None) -> None:
        super().__init__(f"{code}: {description}" if description else code)
        self.code = code
        self.description = description
        self.status = status

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.description!r}, {self.status!r})"


class ExpiredToken(BitrixError):
    """The OAuth access token has expired (401 `expired_token`): refresh and repeat."""


class InvalidToken(BitrixError):
    """The credentials are wrong or missing (`invalid_token`, `NO_AUTH_FOUND`, ...)."""


class InvalidGrant(BitrixError):
    """The refresh token is no longer valid: the chain is broken and the portal must reinstall."""


class AccessDenied(BitrixError):
    """The token lacks the right or scope (`ACCESS_DENIED`, `insufficient_scope`, ...)."""


class QueryLimitExceeded(BitrixError):
    """The portal's leaky bucket overflowed (503, or 429 on some v2 pages)."""


class OperationTimeLimit(BitrixError):
    """The method used up its time budget (429 `OPERATION_TIME_LIMIT`) until `reset_at`
    (a Unix timestamp, when the portal said)."""

    def __init__(
        self,
        code: str,
        description: str = "",
        status: int | None = None,
        reset_at: float | None = None,
    ) -> None:
        super().__init__(code, description, status)
        self.reset_at = reset_at


class MethodNotFound(BitrixError):
    """No such REST method on this portal (misspelt, missing module or scope)."""


class PortalDeleted(BitrixError):
    """The portal is deleted or closed to the public."""


class PaymentRequired(BitrixError):
    """The application's paid or trial period on this portal has ended."""


class TransportError(BitrixError):
    """The request did not get an HTTP answer (DNS, connect, timeout, broken connection).

    `sent` is False when the request surely never reached the server (connect failures), so
    repeating it cannot duplicate an effect.
    """

    def __init__(self, description: str, *, sent: bool = True) -> None:
        super().__init__("TRANSPORT_ERROR", description, 0)
        self.sent = sent


class ServerError(BitrixError):
    """The portal answered 5xx (other than the query limit) or something that is not its API."""


_BY_CODE: dict[str, type[BitrixError]] = {
    "expired_token": ExpiredToken,
    "invalid_token": InvalidToken,
    "no_auth_found": InvalidToken,
    "invalid_credentials": InvalidToken,
    "wrong_auth_type": InvalidToken,
    "invalid_client": InvalidToken,
    "invalid_grant": InvalidGrant,
    "access_denied": AccessDenied,
    "insufficient_scope": AccessDenied,
    "invalid_scope": AccessDenied,
    "user_access_error": AccessDenied,
    "query_limit_exceeded": QueryLimitExceeded,
    "operation_time_limit": OperationTimeLimit,
    "error_method_not_found": MethodNotFound,
    "method_not_found": MethodNotFound,
    "portal_deleted": PortalDeleted,
    "payment_required": PaymentRequired,
}


def from_error(
    code: str, description: str = "", status: int | None = None, *, reset_at: float | None = None
) -> BitrixError:
    """The typed error for an error `code` (codes compare case-insensitively)."""
    cls = _BY_CODE.get(code.lower())
    if cls is OperationTimeLimit:
        return OperationTimeLimit(code, description, status, reset_at)
    if cls is not None:
        return cls(code, description, status)
    if status is not None and status >= 500:
        return ServerError(code, description, status)
    return BitrixError(code, description, status)


def _reset_at(body: Mapping[str, Any]) -> float | None:
    time_info = body.get("time")
    if isinstance(time_info, Mapping):
        value = time_info.get("operating_reset_at")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def from_response(status: int, body: Any) -> BitrixError:
    """The typed error for an HTTP response: `body` is the decoded JSON (or anything else when the
    response was not JSON, e.g. a proxy's HTML page)."""
    if isinstance(body, Mapping) and body.get("error"):
        code = str(body["error"])
        description = str(body.get("error_description") or "")
        return from_error(code, description, status, reset_at=_reset_at(body))
    if status >= 500:
        return ServerError("INTERNAL_SERVER_ERROR", f"HTTP {status}", status)
    if status == 401:
        return InvalidToken("NO_AUTH_FOUND", f"HTTP {status}", status)
    return BitrixError("UNEXPECTED_ANSWER", f"HTTP {status}", status)
