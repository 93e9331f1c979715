"""Stateless signed links: a small payload, a purpose and an expiry, sealed with HMAC-SHA256.

For read-only things (charts); single-use links (check-in) also need the `link_tokens` table.
A token is `base64url(json).base64url(mac)`; the MAC covers the token's text itself, so any
change to it, even a non-canonical base64 spelling, reads as "tampered".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final, Literal

__all__ = [
    "WEEK_CHART",
    "BadLink",
    "LinkFailure",
    "Payload",
    "WeekChartLink",
    "read_week_chart",
    "sign",
    "verify",
    "week_chart_url",
]

LinkFailure = Literal["expired", "tampered", "malformed", "wrong_purpose"]
Payload = dict[str, str | int]

WEEK_CHART: Final = "week-chart"

_DOMAIN: Final = b"timebot.link.v1\x00"
# base64url of a 32-byte SHA-256 MAC without padding.
_MAC_CHARS: Final = 43
# Anything longer is no token of ours (and not worth hashing).
MAX_TOKEN_CHARS: Final = 4096


class BadLink(Exception):
    """A link that cannot be honoured; `reason` says why."""

    def __init__(self, reason: LinkFailure) -> None:
        super().__init__(reason)
        self.reason: LinkFailure = reason


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, signed: str) -> str:
    if not secret:
        raise ValueError("a signing secret is required")
    # A token is ASCII; anything else in a received one (even a lone surrogate, which strict
    # UTF-8 refuses) must make the MAC differ, not raise.
    message = _DOMAIN + signed.encode("utf-8", "surrogatepass")
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return _b64encode(digest)


def _check_payload(payload: object) -> Payload:
    if not isinstance(payload, dict):
        raise TypeError("the payload must be a mapping")
    for key, value in payload.items():
        if not isinstance(key, str):
            raise TypeError(f"payload keys must be strings: {key!r}")
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise TypeError(f"payload values must be str or int: {key}={value!r}")
    return payload


def sign(secret: str, purpose: str, payload: dict[str, str | int], expires_at: datetime) -> str:
    """A token carrying `payload` for `purpose`, valid until `expires_at` (whole seconds)."""
    if expires_at.tzinfo is None or expires_at.utcoffset() is None:
        raise ValueError("expires_at must be timezone-aware")
    if not purpose:
        raise ValueError("a purpose is required")
    body = {"u": purpose, "x": int(expires_at.timestamp()), "d": _check_payload(dict(payload))}
    encoded = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    signed = _b64encode(encoded) + "."
    return signed + _mac(secret, signed)


def verify(secret: str, purpose: str, token: str, now: datetime) -> Payload:
    """The payload of a valid, unexpired `purpose` token; BadLink with the reason otherwise."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if not (_MAC_CHARS + 2 <= len(token) <= MAX_TOKEN_CHARS):
        raise BadLink("malformed")
    signed, mac = token[:-_MAC_CHARS], token[-_MAC_CHARS:]
    expected = _mac(secret, signed).encode("ascii")
    if not hmac.compare_digest(expected, mac.encode("utf-8", "replace")):
        raise BadLink("tampered")
    # Past this point the token is ours: a bad shape means another version of this code.
    try:
        if not signed.endswith("."):
            raise ValueError("no separator")
        body = json.loads(_b64decode(signed[:-1]))
        token_purpose, expires, payload = body["u"], body["x"], _check_payload(body["d"])
        if not isinstance(token_purpose, str) or type(expires) is not int:
            raise ValueError("bad header")
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise BadLink("malformed") from exc
    if not hmac.compare_digest(token_purpose.encode(), purpose.encode()):
        raise BadLink("wrong_purpose")
    if now.timestamp() >= expires:
        raise BadLink("expired")
    return payload


@dataclass(frozen=True, slots=True)
class WeekChartLink:
    """What a week-chart link names: whose chart, and the Monday of the week it was sent in."""

    portal_id: int
    employee_id: int
    week: date


def _monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


def week_chart_url(
    public_url: str,
    secret: str,
    *,
    portal_id: int,
    employee_id: int,
    week: date,
    now: datetime,
    ttl: timedelta = timedelta(days=14),
) -> str:
    """The public URL of an employee's two-week chart (`week` is moved to its Monday)."""
    token = sign(
        secret,
        WEEK_CHART,
        {"p": portal_id, "e": employee_id, "w": _monday(week).isoformat()},
        now + ttl,
    )
    return f"{public_url.rstrip('/')}/charts/week/{token}.png"


def read_week_chart(secret: str, token: str, now: datetime) -> WeekChartLink:
    """The week-chart link in `token`; BadLink when it is invalid, expired or not one."""
    payload = verify(secret, WEEK_CHART, token, now)
    portal_id, employee_id, week = payload.get("p"), payload.get("e"), payload.get("w")
    if not (isinstance(portal_id, int) and isinstance(employee_id, int) and isinstance(week, str)):
        raise BadLink("malformed")
    try:
        monday = date.fromisoformat(week)
    except ValueError as exc:
        raise BadLink("malformed") from exc
    if monday.weekday() != 0:
        raise BadLink("malformed")
    return WeekChartLink(portal_id, employee_id, monday)
