"""API tokens without a database: the signing key, scopes, the claims' checks, statuses."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from timebot.services.api_tokens import (
    AUDIENCE,
    ISSUER,
    SCOPES,
    InvalidTokenRequest,
    TokenError,
    TokenRecord,
    decode_claims,
    normalize_scopes,
    signing_key_from_secret,
)

NOW = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)
KEY = signing_key_from_secret("unit-test-secret")


def claims(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "api-token:7",
        "pid": 3,
        "jti": "abc",
        "scopes": ["marks:read"],
        "iat": int(NOW.timestamp()) - 60,
        "exp": int(NOW.timestamp()) + 3600,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def token(key: bytes = KEY, algorithm: str = "HS256", **changes: Any) -> str:
    return jwt.encode(claims(**changes), key, algorithm=algorithm)


def test_the_signing_key_is_derived_for_this_purpose_only() -> None:
    assert len(KEY) == 32
    assert signing_key_from_secret("unit-test-secret") == KEY
    assert signing_key_from_secret("another-secret") != KEY
    assert KEY != b"unit-test-secret"
    with pytest.raises(ValueError, match="secret key"):
        signing_key_from_secret("")


def test_scopes_come_back_in_canonical_order_without_repeats() -> None:
    assert normalize_scopes(["reports:read", "marks:read", "marks:read "]) == (
        "marks:read",
        "reports:read",
    )
    assert normalize_scopes(SCOPES) == tuple(SCOPES)


@pytest.mark.parametrize("scopes", [[], ["marks:delete"], ["admin"], ["*"]])
def test_unknown_or_missing_scopes_are_refused(scopes: list[str]) -> None:
    with pytest.raises(InvalidTokenRequest):
        normalize_scopes(scopes)


def test_a_valid_token_gives_its_claims() -> None:
    found = decode_claims(token(), signing_key=KEY, now=NOW)
    assert found["pid"] == 3
    assert found["jti"] == "abc"
    assert found["scopes"] == ["marks:read"]


def test_a_token_without_expiry_is_accepted() -> None:
    assert "exp" not in decode_claims(token(exp=None), signing_key=KEY, now=NOW)


def test_expiry_is_judged_by_the_given_clock_not_the_wall_clock() -> None:
    expires = NOW + timedelta(hours=1)
    good = token(exp=int(expires.timestamp()))
    assert decode_claims(good, signing_key=KEY, now=expires - timedelta(seconds=1))
    with pytest.raises(TokenError) as refused:
        decode_claims(good, signing_key=KEY, now=expires)
    assert refused.value.reason == "expired"
    # Long expired by the wall clock (2001), valid by the given clock.
    old = token(iat=978307200, exp=978310800)
    assert decode_claims(old, signing_key=KEY, now=datetime(2001, 1, 1, 0, 30, tzinfo=UTC))


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (token(key=signing_key_from_secret("someone-else")), "bad_signature"),
        (token(aud="another-api"), "wrong_audience"),
        (token(iss="someone"), "wrong_audience"),
        (token(pid=None), "malformed"),
        (token(scopes=None), "malformed"),
        (token(jti=None), "malformed"),
        (token(pid="3"), "malformed"),
        (token(pid=True), "malformed"),
        (token(scopes="marks:read"), "malformed"),
        (token(exp="tomorrow"), "malformed"),
        (token(key=KEY + KEY, algorithm="HS512"), "malformed"),
        (jwt.encode(claims(), None, algorithm="none"), "malformed"),
        ("not-a-token", "malformed"),
        ("a.b.c", "malformed"),
        ("", "malformed"),
        ("x" * 5000, "malformed"),
    ],
)
def test_anything_else_is_refused_with_the_reason(raw: str, reason: str) -> None:
    with pytest.raises(TokenError) as refused:
        decode_claims(raw, signing_key=KEY, now=NOW)
    assert refused.value.reason == reason


def test_an_altered_payload_breaks_the_signature() -> None:
    header, _, signature = token().split(".")
    forged = jwt.encode(claims(pid=4), KEY).split(".")[1]
    with pytest.raises(TokenError) as refused:
        decode_claims(f"{header}.{forged}.{signature}", signing_key=KEY, now=NOW)
    assert refused.value.reason == "bad_signature"


def test_a_record_tells_its_status() -> None:
    record = TokenRecord(
        id=1,
        portal_id=1,
        name="kiosk",
        jti="j",
        scopes=("marks:write",),
        created_by=None,
        created_at=NOW,
        expires_at=NOW + timedelta(days=1),
        revoked_at=None,
        last_used_at=None,
    )
    assert record.status(NOW) == "active"
    assert record.status(NOW + timedelta(days=1)) == "expired"
    assert replace(record, revoked_at=NOW).status(NOW) == "revoked"
    assert replace(record, expires_at=None).status(NOW + timedelta(days=3650)) == "active"
