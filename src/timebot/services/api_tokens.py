"""REST API tokens: JWTs an admin issues for one portal — scoped, expiring, revocable.

A token is a JWT signed with HS256 under a key derived from `TIMEBOT_SECRET_KEY` for this one
purpose (`signing_key_from_secret`), so no other signature of timebot (links, sessions) can pass
for a token and vice versa. Its claims:

- `iss` "timebot", `aud` "timebot-api";
- `sub` "api-token:<row id>", `pid` the portal's id (`portals.id`), `jti` a random id;
- `scopes` the list of granted scopes (see `SCOPES`);
- `iat` and, unless the token never expires, `exp` (seconds since the epoch).

Every token also has a row in `api_tokens`; verification checks the signature, the audience
and issuer, the expiry against the injected clock, and then the row: it must exist, belong to
the same portal, not be revoked or expired, and the portal must be active. Revoking is setting
`revoked_at` on the row: the token stops working on the next request, in every process.

The functions here work inside the caller's unit of work and do not commit: the caller commits
(`await uow.commit()`) to keep what was issued or revoked. Issuing and revoking write an audit
entry in the same transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal

import jwt

from timebot.domain.clock import Clock
from timebot.storage import UnitOfWork
from timebot.storage.repositories.api_tokens import ApiTokenRepository
from timebot.storage.tables import ApiToken

__all__ = [
    "ALGORITHM",
    "AUDIENCE",
    "ISSUER",
    "SCOPES",
    "ApiPrincipal",
    "InvalidTokenRequest",
    "TokenError",
    "TokenFailure",
    "TokenRecord",
    "TokenStatus",
    "decode_claims",
    "issue_token",
    "list_tokens",
    "normalize_scopes",
    "record_use",
    "revoke_token",
    "signing_key_from_secret",
    "verify_token",
]

ISSUER: Final = "timebot"
AUDIENCE: Final = "timebot-api"
ALGORITHM: Final = "HS256"

# Every scope a token may carry, with what it allows (the admin UI shows these texts).
SCOPES: Final[Mapping[str, str]] = {
    "marks:read": "Read marks (check-ins, breaks, check-outs)",
    "marks:write": "Record marks for employees (kiosks, integrations), with geolocation",
    "employees:read": "Read employees and departments",
    "employees:write": "Change employees' language, schedule, offices and remote days",
    "offices:read": "Read offices and their zones (geofences)",
    "offices:write": "Create, change and deactivate offices and zones",
    "schedules:read": "Read schedules and their assignments",
    "schedules:write": "Create, change and assign schedules",
    "reports:read": "Statistics, violations and timesheets (XLSX/CSV)",
}

NAME_MAX: Final = 128
MAX_TOKEN_CHARS: Final = 4096
# A client that keeps using a token costs one write a minute for `last_used_at`.
TOUCH_EVERY: Final = timedelta(minutes=1)
_KEY_PURPOSE: Final = b"timebot.api-token.v1"
_REQUIRED: Final = ["iss", "aud", "sub", "jti", "iat", "pid", "scopes"]

TokenStatus = Literal["active", "expired", "revoked"]
TokenFailure = Literal[
    "missing",  # no token presented (raised by the web layer)
    "malformed",  # not a JWT of ours, or claims of the wrong shape
    "bad_signature",  # signed with another key, or altered
    "wrong_audience",  # a JWT for another issuer or audience
    "expired",  # past `exp` (or the row's expiry)
    "unknown",  # signed by us, but no such token is on record
    "revoked",  # revoked by an admin
    "portal_mismatch",  # the record belongs to another portal than the claims say
    "portal_inactive",  # the portal is uninstalled or must reinstall
]


class TokenError(Exception):
    """A token that does not authenticate; `reason` says why (safe to show the caller)."""

    def __init__(self, reason: TokenFailure) -> None:
        super().__init__(reason)
        self.reason: TokenFailure = reason


class InvalidTokenRequest(ValueError):
    """Issuing was asked with bad input; the message says what is wrong, in English."""


def signing_key_from_secret(secret_key: str) -> bytes:
    """The HS256 key for API tokens, derived from `TIMEBOT_SECRET_KEY` for this purpose only."""
    if not secret_key:
        raise ValueError("a secret key is required")
    return hmac.new(secret_key.encode(), _KEY_PURPOSE, hashlib.sha256).digest()


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """What is on record about an issued token (never the token itself)."""

    id: int
    portal_id: int
    name: str
    jti: str
    scopes: tuple[str, ...]
    created_by: int | None  # Bitrix24 user id of the admin; None from the command line
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    def status(self, now: datetime) -> TokenStatus:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and now >= self.expires_at:
            return "expired"
        return "active"

    @classmethod
    def of(cls, row: ApiToken) -> TokenRecord:
        return cls(
            id=row.id,
            portal_id=row.portal_id,
            name=row.name,
            jti=row.jti,
            scopes=tuple(str(s) for s in row.scopes or ()),
            created_by=row.created_by,
            created_at=row.created_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
            last_used_at=row.last_used_at,
        )


@dataclass(frozen=True, slots=True)
class ApiPrincipal:
    """Who a verified token speaks for: one portal, with its scopes."""

    portal_id: int
    token_id: int
    jti: str
    name: str
    scopes: frozenset[str]
    expires_at: datetime | None
    last_used_at: datetime | None

    def allows(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def actor(self) -> str:
        """The audit log's actor for what this token does."""
        return f"api:{self.jti}"


def normalize_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """The scopes in `SCOPES` order without duplicates; InvalidTokenRequest on an unknown or
    empty list."""
    wanted = set()
    for scope in scopes:
        if not isinstance(scope, str) or scope.strip() not in SCOPES:
            raise InvalidTokenRequest(f"unknown scope {scope!r}; known scopes: {', '.join(SCOPES)}")
        wanted.add(scope.strip())
    if not wanted:
        raise InvalidTokenRequest("a token needs at least one scope")
    return tuple(s for s in SCOPES if s in wanted)


def _clean_name(name: str) -> str:
    cleaned = " ".join(str(name).split())
    if not cleaned:
        raise InvalidTokenRequest("a token needs a name")
    if len(cleaned) > NAME_MAX:
        raise InvalidTokenRequest(f"the name is longer than {NAME_MAX} characters")
    if "\x00" in cleaned:
        raise InvalidTokenRequest("the name contains a NUL character")
    return cleaned


def _actor(user_id: int | None) -> str:
    return "system" if user_id is None else f"user:{user_id}"


async def issue_token(
    uow: UnitOfWork,
    *,
    portal_id: int,
    name: str,
    scopes: Iterable[str],
    expires_at: datetime | None,
    created_by: int | None,
    clock: Clock,
    signing_key: bytes,
) -> tuple[str, TokenRecord]:
    """Issue a token for the portal; the token string (show it once: it is not stored) and its
    record. `expires_at` None: the token works until revoked. Caller commits.

    InvalidTokenRequest for an unknown or inactive portal, an empty or long name, unknown
    scopes, or an expiry that is not in the future.
    """
    now = clock.now()
    clean_name = _clean_name(name)
    granted = normalize_scopes(scopes)
    if expires_at is not None:
        if expires_at.tzinfo is None or expires_at.utcoffset() is None:
            raise InvalidTokenRequest("expires_at must be timezone-aware")
        if expires_at <= now:
            raise InvalidTokenRequest("expires_at must be in the future")
    portal = await uow.portals.get(portal_id)
    if portal is None or portal.status != "active":
        raise InvalidTokenRequest(f"no active portal #{portal_id}")
    row = ApiToken(
        portal_id=portal_id,
        name=clean_name,
        jti=secrets.token_urlsafe(24),
        scopes=list(granted),
        created_by=created_by,
        created_at=now,
        expires_at=expires_at,
        revoked_at=None,
        last_used_at=None,
    )
    ApiTokenRepository(uow.session).add(row)
    await uow.flush()
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": f"api-token:{row.id}",
        "pid": portal_id,
        "jti": row.jti,
        "scopes": list(granted),
        "iat": int(now.timestamp()),
    }
    if expires_at is not None:
        claims["exp"] = int(expires_at.timestamp())
    token = jwt.encode(claims, signing_key, algorithm=ALGORITHM)
    uow.audit.record(
        portal_id=portal_id,
        at=now,
        actor=_actor(created_by),
        action="api_token.issued",
        entity="api_token",
        entity_id=row.jti,
        details={
            "name": clean_name,
            "scopes": list(granted),
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return token, TokenRecord.of(row)


async def revoke_token(
    uow: UnitOfWork,
    *,
    clock: Clock,
    jti: str | None = None,
    token_id: int | None = None,
    portal_id: int | None = None,
    revoked_by: int | None = None,
) -> TokenRecord | None:
    """Revoke the token named by `jti` or `token_id`; its record (revoked), or None when there
    is no such token — or it belongs to another portal than `portal_id` (the admin UI passes
    its session's portal). Revoking a revoked token changes nothing. Caller commits."""
    if (jti is None) == (token_id is None):
        raise ValueError("name the token by jti or by token_id")
    tokens = ApiTokenRepository(uow.session)
    row = await tokens.by_jti(jti) if jti is not None else await tokens.get(token_id or 0)
    if row is None or (portal_id is not None and row.portal_id != portal_id):
        return None
    if row.revoked_at is not None:
        return TokenRecord.of(row)
    now = clock.now()
    if await tokens.revoke(row.id, now):
        uow.audit.record(
            portal_id=row.portal_id,
            at=now,
            actor=_actor(revoked_by),
            action="api_token.revoked",
            entity="api_token",
            entity_id=row.jti,
            details={"name": row.name},
        )
    fresh = await tokens.by_jti(row.jti)
    assert fresh is not None
    return TokenRecord.of(fresh)


async def list_tokens(uow: UnitOfWork, *, portal_id: int) -> list[TokenRecord]:
    """The portal's tokens, newest first (revoked and expired ones too: see `status`)."""
    return [TokenRecord.of(r) for r in await ApiTokenRepository(uow.session).of_portal(portal_id)]


def decode_claims(token: str, *, signing_key: bytes, now: datetime) -> dict[str, Any]:
    """The claims of a token signed by us for the API and not expired at `now` (no database
    look-up); TokenError otherwise."""
    if not token or len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
        raise TokenError("malformed")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            signing_key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            # Time is judged below against the injected clock, not the wall clock.
            options={
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "require": _REQUIRED,
            },
        )
    except jwt.InvalidSignatureError:
        raise TokenError("bad_signature") from None
    except (jwt.InvalidAudienceError, jwt.InvalidIssuerError):
        raise TokenError("wrong_audience") from None
    except jwt.InvalidTokenError:
        raise TokenError("malformed") from None
    pid, jti, scopes = claims.get("pid"), claims.get("jti"), claims.get("scopes")
    exp, iat = claims.get("exp"), claims.get("iat")
    if (
        type(pid) is not int
        or not isinstance(jti, str)
        or not isinstance(scopes, list)
        or not all(isinstance(s, str) for s in scopes)
        or type(iat) is not int
        or (exp is not None and type(exp) is not int)
    ):
        raise TokenError("malformed")
    if exp is not None and now.timestamp() >= exp:
        raise TokenError("expired")
    return claims


async def verify_token(
    uow: UnitOfWork,
    token: str,
    *,
    signing_key: bytes,
    clock: Clock,
    claims: Mapping[str, Any] | None = None,
) -> ApiPrincipal:
    """Who the token speaks for; TokenError with the reason when it does not authenticate.

    Checks the signature, issuer and audience, the expiry, and the record: it exists, is the
    same portal's, is neither revoked nor expired, and the portal is active. `claims` are the
    token's, already decoded by `decode_claims` earlier in the same request (the API's rate
    limiter does); only their expiry is checked again.
    """
    now = clock.now()
    if claims is None:
        claims = decode_claims(token, signing_key=signing_key, now=now)
    elif claims.get("exp") is not None and now.timestamp() >= claims["exp"]:
        raise TokenError("expired")
    row = await ApiTokenRepository(uow.session).by_jti(claims["jti"])
    if row is None:
        raise TokenError("unknown")
    if row.portal_id != claims["pid"] or claims["sub"] != f"api-token:{row.id}":
        raise TokenError("portal_mismatch")
    if row.revoked_at is not None:
        raise TokenError("revoked")
    if row.expires_at is not None and now >= row.expires_at:
        raise TokenError("expired")
    portal = await uow.portals.get(row.portal_id)
    if portal is None or portal.status != "active":
        raise TokenError("portal_inactive")
    # The record is the authority on scopes; the claims only repeat them.
    return ApiPrincipal(
        portal_id=row.portal_id,
        token_id=row.id,
        jti=row.jti,
        name=row.name,
        scopes=frozenset(str(s) for s in row.scopes or ()) & frozenset(claims["scopes"]),
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
    )


async def record_use(uow: UnitOfWork, principal: ApiPrincipal, *, clock: Clock) -> bool:
    """Note that the token was used now (at most once per `TOUCH_EVERY`); True when written.
    Caller commits."""
    now = clock.now()
    last = principal.last_used_at
    if last is not None and now - last < TOUCH_EVERY:
        return False
    return await ApiTokenRepository(uow.session).touch(
        principal.token_id, now, unless_since=now - TOUCH_EVERY
    )
