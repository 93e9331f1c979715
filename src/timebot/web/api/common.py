"""What every `/api/v1` route shares: the error model and how errors are answered, the route
class that turns any failure into that model, bearer-token authentication with scopes, the
pagination envelope and the input types that keep bad values out of the database.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from fastapi import Depends, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from timebot.bootstrap import Container
from timebot.logs import get_logger
from timebot.services.api_tokens import (
    ApiPrincipal,
    TokenError,
    record_use,
    signing_key_from_secret,
    verify_token,
)
from timebot.storage import UnitOfWork

log = get_logger(__name__)

__all__ = [
    "MAX_ID",
    "READ_ERRORS",
    "WRITE_ERRORS",
    "ApiContext",
    "ApiError",
    "ApiModel",
    "ApiProblem",
    "ApiRoute",
    "Day",
    "Instant",
    "Page",
    "Text",
    "TimeZoneName",
    "audit",
    "authenticate",
    "found",
    "not_found",
    "require",
]

# The largest id the API accepts: JavaScript's largest exact integer (far above any real id,
# and within a BIGINT and SQLite's INTEGER, so a bigger number is a 422, not a database error).
MAX_ID = 2**53 - 1
# Dates the API accepts: wide enough for any real period, narrow enough for date arithmetic.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)


# --- Errors --------------------------------------------------------------------------------------


class FieldError(BaseModel):
    """One problem with one input field."""

    loc: list[str | int] = Field(description="Where: `body`, `query` or `path`, then the field.")
    message: str
    type: str = Field(description="A machine-readable code (pydantic's error type).")


class ApiError(BaseModel):
    """Every 4xx answer of the API: a code to branch on and a sentence to show."""

    error: str = Field(description="A machine-readable code, e.g. `not_found`, `invalid_token`.")
    detail: str = Field(description="What went wrong, in English.")
    errors: list[FieldError] | None = Field(
        default=None, description="The invalid fields (validation errors only)."
    )
    state: str | None = Field(
        default=None, description="The person's work state (refused marks only)."
    )
    verdict: dict[str, Any] | None = Field(
        default=None, description="The location verdict (marks refused by the location policy)."
    )


ERROR_TEXTS: Mapping[int, str] = {
    400: "Malformed request (unreadable JSON, an impossible period, …)",
    401: "Missing, malformed, expired or revoked token",
    403: "The token lacks the scope this operation needs",
    404: "No such object in this token's portal",
    409: "Conflicts with the current state",
    422: "Invalid input: see `errors`",
    429: "Too many requests from this token (or, without a valid token, this address): "
    "wait `Retry-After` seconds",
}


def _integer_header(text: str) -> dict[str, Any]:
    return {"description": text, "schema": {"type": "integer", "minimum": 0}}


# Sent with every API response while the limit is on; `Retry-After` with the 429 only.
RATE_LIMIT_HEADERS: Mapping[str, dict[str, Any]] = {
    "RateLimit-Limit": _integer_header("Requests allowed at once (the burst)."),
    "RateLimit-Remaining": _integer_header("Requests allowed right now."),
    "RateLimit-Reset": _integer_header("Seconds until the full burst is available again."),
    "Retry-After": _integer_header("Seconds to wait before the next request (at least 1)."),
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry documenting these error statuses with the common model."""
    found: dict[int | str, dict[str, Any]] = {
        code: {"model": ApiError, "description": ERROR_TEXTS[code]} for code in codes
    }
    if 429 in found:
        found[429]["headers"] = dict(RATE_LIMIT_HEADERS)
    return found


READ_ERRORS = errors(400, 401, 403, 404, 422, 429)
WRITE_ERRORS = errors(400, 401, 403, 404, 409, 422, 429)


class ApiProblem(Exception):
    """Raised anywhere in an API route: answered as `ApiError` with `status`."""

    def __init__(
        self,
        status: int,
        error: str,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = extra

    def response(self) -> JSONResponse:
        body = ApiError(error=self.error, detail=self.detail, **self.extra)
        return JSONResponse(
            body.model_dump(mode="json", exclude_none=True),
            status_code=self.status,
            headers=self.headers,
        )


def not_found(what: str) -> ApiProblem:
    return ApiProblem(404, "not_found", f"no such {what} in this portal")


RowT = TypeVar("RowT")


def found(row: RowT | None, what: str) -> RowT:
    """`row`, or the 404 `not_found(what)` when there is none."""
    if row is None:
        raise not_found(what)
    return row


def _validation_response(exc: RequestValidationError) -> JSONResponse:
    found = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in found):
        problem = ApiProblem(400, "malformed_json", "the body is not valid JSON")
        return problem.response()
    fields = [
        FieldError(
            loc=[p if isinstance(p, int) else str(p) for p in e.get("loc", ())],
            message=str(e.get("msg", "invalid")),
            type=str(e.get("type", "invalid")),
        )
        for e in found
    ]
    summary = "; ".join(
        f"{'.'.join(str(p) for p in f.loc[1:]) or f.loc[0] if f.loc else 'input'}: {f.message}"
        for f in fields[:5]
    )
    body = ApiError(error="validation_failed", detail=summary or "invalid input", errors=fields)
    return JSONResponse(body.model_dump(mode="json", exclude_none=True), status_code=422)


class ApiRoute(APIRoute):
    """Answers every failure of an API route with `ApiError`: our own problems, validation
    errors (422, or 400 for unreadable JSON), framework HTTP errors."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiProblem as problem:
                return problem.response()
            except RequestValidationError as exc:
                return _validation_response(exc)
            except HTTPException as exc:
                status = exc.status_code if exc.status_code in ERROR_TEXTS else 400
                return ApiProblem(status, "bad_request", str(exc.detail)).response()

        return answer


# --- Input types ---------------------------------------------------------------------------------


def _clean_text(value: str) -> str:
    """Refuse what no database column should hold: NUL, lone surrogates, other controls."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("the text is not valid Unicode") from None
    if any(unicodedata.category(ch) == "Cc" and ch not in "\t\n\r" for ch in value):
        raise ValueError("the text contains control characters")
    return value


def _day_in_range(value: date) -> date:
    if not FIRST_DAY <= value <= LAST_DAY:
        raise ValueError(f"the date must lie between {FIRST_DAY} and {LAST_DAY}")
    return value


def _zone_name(value: str) -> str:
    try:
        resolve = ZoneInfo(value)
    except Exception:  # ValueError, ZoneInfoNotFoundError, IsADirectoryError, …
        raise ValueError(f"unknown time zone {value!r}") from None
    return resolve.key


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("the time needs a UTC offset")
    if not FIRST_DAY <= value.date() <= LAST_DAY:
        raise ValueError(f"the time must lie between {FIRST_DAY} and {LAST_DAY}")
    return value


Text = Annotated[str, AfterValidator(_clean_text)]
# The pattern tells generators (and readers) the range; the validator enforces it.
DAY_PATTERN = r"^(20[0-9]{2}|2100)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
Day = Annotated[
    date,
    AfterValidator(_day_in_range),
    Field(json_schema_extra={"pattern": DAY_PATTERN}, examples=["2026-11-18"]),
]
Instant = Annotated[datetime, AfterValidator(_aware)]
TimeZoneName = Annotated[
    str,
    Field(min_length=1, max_length=64, examples=["Europe/Moscow"]),
    AfterValidator(_zone_name),
]


class ApiModel(BaseModel):
    """Request bodies: unknown fields, NaN and infinity are refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """A page of a list: `items`, how many match in all, and where the next page starts."""

    items: list[T]
    total: int = Field(description="How many items match the filters in all.")
    limit: int
    offset: int
    next_offset: int | None = Field(description="The `offset` of the next page; null at the end.")

    @classmethod
    def of(cls, items: list[T], *, total: int, limit: int, offset: int) -> Page[T]:
        following = offset + len(items)
        return cls(
            items=items,
            total=total,
            limit=limit,
            offset=offset,
            next_offset=following if following < total and items else None,
        )


# --- Authentication ------------------------------------------------------------------------------

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearerAuth",
    bearerFormat="JWT",
    description="A token issued by the portal's admin (admin UI → Tokens, or `timebot token "
    "issue`). Send `Authorization: Bearer <token>`.",
)


def container_of(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def _unauthorized(error: str, detail: str) -> ApiProblem:
    return ApiProblem(
        401,
        error,
        detail,
        headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{error}"'},
    )


TOKEN_TEXTS: Mapping[str, str] = {
    "missing": "send `Authorization: Bearer <token>`",
    "malformed": "the token is not a timebot API token",
    "bad_signature": "the token's signature does not hold",
    "wrong_audience": "the token is not for this API",
    "expired": "the token has expired",
    "unknown": "the token is not on record",
    "revoked": "the token has been revoked",
    "portal_mismatch": "the token does not match its record",
    "portal_inactive": "the token's portal is not active",
}


@dataclass(frozen=True, slots=True)
class ApiContext:
    """What a route works with: the verified token, the container and the request's time."""

    principal: ApiPrincipal
    container: Container
    now: datetime

    @property
    def portal_id(self) -> int:
        return self.principal.portal_id


# request.state key: (token, claims) the rate limiter already decoded for this request.
DECODED_CLAIMS = "api_token_claims"


async def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> ApiContext:
    """The verified token of the request; 401 without a valid one."""
    if credentials is None or not credentials.credentials:
        raise _unauthorized("missing_token", TOKEN_TEXTS["missing"])
    container = container_of(request)
    key = signing_key_from_secret(container.settings.secret_key.get_secret_value())
    decoded = getattr(request.state, DECODED_CLAIMS, None)
    claims = decoded[1] if decoded and decoded[0] == credentials.credentials else None
    async with container.database.unit_of_work() as uow:
        try:
            principal = await verify_token(
                uow, credentials.credentials, signing_key=key, clock=container.clock, claims=claims
            )
        except TokenError as bad:
            log.info("api.token_refused", reason=bad.reason)
            raise _unauthorized(
                "expired_token" if bad.reason == "expired" else "invalid_token",
                TOKEN_TEXTS.get(bad.reason, "invalid token"),
            ) from None
        if await record_use(uow, principal, clock=container.clock):
            await uow.commit()
    return ApiContext(principal=principal, container=container, now=container.clock.now())


def require(scope: str) -> Callable[..., Coroutine[Any, Any, ApiContext]]:
    """A dependency: the request's context when its token has `scope`, else 403."""

    async def dependency(ctx: Annotated[ApiContext, Depends(authenticate)]) -> ApiContext:
        if not ctx.principal.allows(scope):
            raise ApiProblem(
                403, "insufficient_scope", f"the token lacks the scope {scope!r} for this"
            )
        return ctx

    dependency.__name__ = f"require_{scope.replace(':', '_')}"
    return dependency


def audit(
    uow: UnitOfWork, ctx: ApiContext, action: str, entity: str, entity_id: int, **details: Any
) -> None:
    """Record what the token's holder did, at the request's time."""
    uow.audit.record(
        portal_id=ctx.portal_id,
        at=ctx.now,
        actor=ctx.principal.actor,
        action=action,
        entity=entity,
        entity_id=entity_id,
        details=details,
    )
