"""Signed single-use check-in links: `{public_url}/checkin/{token}`.

The token is a signed payload (`services.links.sign`, purpose "checkin") naming a random
`jti`, the portal, the employee and the action, with an expiry. The same facts are stored in
`link_tokens`; a link is honoured only when the signature holds, the stored row agrees with the
payload, and the row is unused and unexpired. Using it sets `used_at` with a conditional UPDATE
in the transaction that records the mark, so a replay or a concurrent second request fails.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from timebot.domain.marks import MarkKind
from timebot.services.links import BadLink, sign, verify
from timebot.storage import UnitOfWork
from timebot.storage.repositories.offices import LinkTokenRepository
from timebot.storage.tables import LinkToken

__all__ = [
    "ACTIONS",
    "CHECKIN",
    "DEFAULT_TTL",
    "CheckinClaim",
    "CheckinLinkError",
    "CheckinLinkFailure",
    "IssuedLink",
    "check_row",
    "checkin_url",
    "claim_link",
    "issue_link",
    "link_ttl",
    "open_link",
    "page_nonce",
    "read_token",
    "release_link",
]

CHECKIN: Final = "checkin"
# What a link may record, by its `action`.
ACTIONS: Final[Mapping[str, MarkKind]] = {
    "check_in": MarkKind.CHECK_IN,
    "check_out": MarkKind.CHECK_OUT,
}
DEFAULT_TTL: Final = timedelta(minutes=10)
MIN_TTL: Final = timedelta(minutes=1)
MAX_TTL: Final = timedelta(hours=24)
TTL_SETTING: Final = "checkin_link_minutes"

CheckinLinkFailure = Literal[
    "expired",  # past its expiry (signed or stored)
    "tampered",  # signature does not hold (altered, or signed with another key)
    "malformed",  # not a token of ours, or a payload of the wrong shape
    "wrong_purpose",  # a signed link for something else (a chart)
    "unknown",  # signed, but no such link was issued (or it was erased)
    "foreign",  # the stored link belongs to another portal, person or action
    "used",  # already used once
]


class CheckinLinkError(Exception):
    """A check-in link that cannot be honoured; `reason` says why."""

    def __init__(self, reason: CheckinLinkFailure) -> None:
        super().__init__(reason)
        self.reason: CheckinLinkFailure = reason


@dataclass(frozen=True, slots=True)
class CheckinClaim:
    """What a valid token names."""

    jti: str
    portal_id: int
    employee_id: int
    action: str

    @property
    def kind(self) -> MarkKind:
        return ACTIONS[self.action]


@dataclass(frozen=True, slots=True)
class IssuedLink:
    token: str
    url: str
    jti: str
    expires_at: datetime


def link_ttl(settings: Mapping[str, Any] | None) -> timedelta:
    """How long a new link lives: `checkin_link_minutes` from the portal's settings (1 min to
    24 h), else 10 minutes."""
    value = (settings or {}).get(TTL_SETTING)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return DEFAULT_TTL
    if math.isnan(value):
        return DEFAULT_TTL
    try:
        ttl = timedelta(minutes=value)
    except OverflowError:
        return MAX_TTL
    return min(MAX_TTL, max(MIN_TTL, ttl))


def checkin_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/checkin/{token}"


async def issue_link(
    uow: UnitOfWork,
    *,
    secret: str,
    public_url: str,
    portal_id: int,
    employee_id: int,
    action: str,
    now: datetime,
    ttl: timedelta = DEFAULT_TTL,
) -> IssuedLink:
    """Store a new single-use link (in the caller's transaction) and return its URL."""
    if action not in ACTIONS:
        raise ValueError(f"unknown check-in action {action!r}")
    if ttl <= timedelta(0):
        raise ValueError("a link must live for some time")
    jti = secrets.token_urlsafe(16)
    # Whole seconds: the signed expiry is an integer timestamp, the stored one must agree.
    expires_at = (now + ttl).replace(microsecond=0)
    token = sign(
        secret,
        CHECKIN,
        {"j": jti, "p": portal_id, "e": employee_id, "a": action},
        expires_at,
    )
    LinkTokenRepository(uow.session).add(
        LinkToken(
            jti=jti,
            portal_id=portal_id,
            employee_id=employee_id,
            action=action,
            created_at=now,
            expires_at=expires_at,
        )
    )
    await uow.flush()
    return IssuedLink(
        token=token, url=checkin_url(public_url, token), jti=jti, expires_at=expires_at
    )


def read_token(secret: str, token: str, now: datetime) -> CheckinClaim:
    """The claim in a signed, unexpired check-in token; CheckinLinkError otherwise.

    Pure: says nothing about whether the link was issued or used (see `open_link`).
    """
    try:
        payload = verify(secret, CHECKIN, token, now)
    except BadLink as bad:
        raise CheckinLinkError(bad.reason) from None
    jti, portal_id = payload.get("j"), payload.get("p")
    employee_id, action = payload.get("e"), payload.get("a")
    if not (
        isinstance(jti, str)
        and jti
        and isinstance(portal_id, int)
        and isinstance(employee_id, int)
        and isinstance(action, str)
        and action in ACTIONS
    ):
        raise CheckinLinkError("malformed")
    return CheckinClaim(jti=jti, portal_id=portal_id, employee_id=employee_id, action=action)


def check_row(claim: CheckinClaim, row: LinkToken | None, now: datetime) -> LinkToken:
    """The stored link for `claim`, if it matches and is still usable; CheckinLinkError with
    "unknown", "foreign", "used" or "expired" otherwise (in that order)."""
    if row is None:
        raise CheckinLinkError("unknown")
    if (
        row.portal_id != claim.portal_id
        or row.employee_id != claim.employee_id
        or row.action != claim.action
    ):
        raise CheckinLinkError("foreign")
    if row.used_at is not None:
        raise CheckinLinkError("used")
    if now >= row.expires_at:
        raise CheckinLinkError("expired")
    return row


async def open_link(
    uow: UnitOfWork, secret: str, token: str, now: datetime
) -> tuple[CheckinClaim, LinkToken]:
    """Verify `token` and its stored row; CheckinLinkError says what is wrong with it."""
    claim = read_token(secret, token, now)
    row = await LinkTokenRepository(uow.session).by_jti(claim.jti)
    return claim, check_row(claim, row, now)


async def claim_link(uow: UnitOfWork, claim: CheckinClaim, now: datetime) -> bool:
    """Use the link now, in the caller's transaction; False when it was already used (by a
    concurrent request too) or has expired."""
    return await LinkTokenRepository(uow.session).claim(claim.jti, now)


async def release_link(uow: UnitOfWork, claim: CheckinClaim, used_at: datetime) -> None:
    """Give back a claim made in this transaction (nothing was recorded; it may be retried)."""
    await LinkTokenRepository(uow.session).release(claim.jti, used_at)


def page_nonce(secret: str, jti: str) -> str:
    """A value only the page served for this link carries; a POST must send it back."""
    digest = hmac.new(
        secret.encode(), b"timebot.checkin-page.v1\x00" + jti.encode(), hashlib.sha256
    ).hexdigest()
    return digest[:32]
