"""Check-in links: the signed token names one portal, person and action; expired, altered,
foreign and used links are refused with the right reason; the lifetime comes from settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from timebot.domain.marks import MarkKind
from timebot.services.checkin_links import (
    CHECKIN,
    DEFAULT_TTL,
    CheckinClaim,
    CheckinLinkError,
    check_row,
    checkin_url,
    link_ttl,
    page_nonce,
    read_token,
)
from timebot.services.links import sign, week_chart_url
from timebot.storage.tables import LinkToken

NOW = datetime(2026, 11, 23, 6, 5, tzinfo=UTC)
EXPIRES = NOW + timedelta(minutes=10)
SECRET = "unit-checkin-secret"
PAYLOAD: dict[str, str | int] = {"j": "abc123", "p": 7, "e": 42, "a": "check_in"}


def token_for(payload: dict[str, str | int] = PAYLOAD, expires: datetime = EXPIRES) -> str:
    return sign(SECRET, CHECKIN, payload, expires)


def reason(token: str, *, secret: str = SECRET, now: datetime = NOW) -> str:
    with pytest.raises(CheckinLinkError) as caught:
        read_token(secret, token, now)
    return caught.value.reason


def row(**overrides: object) -> LinkToken:
    values: dict[str, object] = {
        "jti": "abc123",
        "portal_id": 7,
        "employee_id": 42,
        "action": "check_in",
        "created_at": NOW,
        "expires_at": EXPIRES,
        "used_at": None,
    }
    values.update(overrides)
    return LinkToken(**values)


def test_a_valid_token_names_portal_person_and_action() -> None:
    claim = read_token(SECRET, token_for(), NOW)
    assert claim == CheckinClaim(jti="abc123", portal_id=7, employee_id=42, action="check_in")
    assert claim.kind is MarkKind.CHECK_IN
    out = read_token(SECRET, token_for({**PAYLOAD, "a": "check_out"}), NOW)
    assert out.kind is MarkKind.CHECK_OUT


def test_expiry_is_exact_to_the_second() -> None:
    token = token_for()
    assert read_token(SECRET, token, EXPIRES - timedelta(seconds=1)).jti == "abc123"
    assert reason(token, now=EXPIRES) == "expired"
    assert reason(token, now=EXPIRES + timedelta(days=1)) == "expired"


def test_any_altered_character_is_tampering() -> None:
    token = token_for()
    for i in range(0, len(token), 7):
        changed = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]
        assert reason(changed) in ("tampered", "malformed")
    # Swapping the payload for one naming another person, keeping the old MAC:
    body, mac = token.split(".")
    other_body = token_for({**PAYLOAD, "e": 43}).split(".")[0]
    assert reason(f"{other_body}.{mac}") == "tampered"
    assert body != other_body


def test_a_token_signed_with_another_key_is_refused() -> None:
    assert reason(token_for(), secret="another-installation") == "tampered"


def test_other_signed_links_are_not_check_in_links() -> None:
    chart = week_chart_url(
        "https://t.example",
        SECRET,
        portal_id=7,
        employee_id=42,
        week=NOW.date(),
        now=NOW,
    )
    token = chart.rsplit("/", 1)[1].removesuffix(".png")
    assert reason(token) == "wrong_purpose"


@pytest.mark.parametrize(
    "payload",
    [
        {"p": 7, "e": 42, "a": "check_in"},  # no jti
        {**PAYLOAD, "j": ""},
        {**PAYLOAD, "p": "7"},
        {**PAYLOAD, "e": "42"},
        {**PAYLOAD, "a": "break_start"},  # not an action a link may record
        {**PAYLOAD, "a": 1},
    ],
)
def test_payloads_of_the_wrong_shape_are_malformed(payload: dict[str, str | int]) -> None:
    assert reason(token_for(payload)) == "malformed"


def test_garbage_is_malformed() -> None:
    assert reason("") == "malformed"
    assert reason("x" * 10) == "malformed"
    assert reason("x" * 5000) == "malformed"


CLAIM = CheckinClaim(jti="abc123", portal_id=7, employee_id=42, action="check_in")


def test_the_stored_row_must_exist_and_agree() -> None:
    good = row()
    assert check_row(CLAIM, good, NOW) is good
    cases: list[tuple[LinkToken | None, str]] = [
        (None, "unknown"),
        (row(portal_id=8), "foreign"),  # the token was signed for another portal
        (row(employee_id=41), "foreign"),
        (row(action="check_out"), "foreign"),
        (row(used_at=NOW - timedelta(seconds=5)), "used"),
        (row(expires_at=NOW), "expired"),
    ]
    for stored, expected in cases:
        with pytest.raises(CheckinLinkError) as caught:
            check_row(CLAIM, stored, NOW)
        assert caught.value.reason == expected


def test_foreign_beats_used_so_a_replay_reveals_nothing_about_other_portals() -> None:
    with pytest.raises(CheckinLinkError) as caught:
        check_row(CLAIM, row(portal_id=8, used_at=NOW), NOW)
    assert caught.value.reason == "foreign"


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (None, DEFAULT_TTL),
        ({}, DEFAULT_TTL),
        ({"checkin_link_minutes": 5}, timedelta(minutes=5)),
        ({"checkin_link_minutes": 2.5}, timedelta(minutes=2, seconds=30)),
        ({"checkin_link_minutes": 0}, timedelta(minutes=1)),
        ({"checkin_link_minutes": -3}, timedelta(minutes=1)),
        ({"checkin_link_minutes": 10**9}, timedelta(hours=24)),
        ({"checkin_link_minutes": 1e300}, timedelta(hours=24)),
        ({"checkin_link_minutes": float("nan")}, DEFAULT_TTL),
        ({"checkin_link_minutes": "15"}, DEFAULT_TTL),
        ({"checkin_link_minutes": True}, DEFAULT_TTL),
    ],
)
def test_link_lifetime_from_portal_settings(
    settings: dict[str, object] | None, expected: timedelta
) -> None:
    assert link_ttl(settings) == expected


def test_page_nonce_depends_on_link_and_key() -> None:
    nonce = page_nonce(SECRET, "abc123")
    assert nonce == page_nonce(SECRET, "abc123")
    assert len(nonce) == 32
    assert all(c in "0123456789abcdef" for c in nonce)
    assert nonce != page_nonce(SECRET, "abc124")
    assert nonce != page_nonce("other", "abc123")


def test_checkin_url() -> None:
    assert checkin_url("https://t.example/", "T.K") == "https://t.example/checkin/T.K"
    assert checkin_url("https://t.example/base", "T") == "https://t.example/base/checkin/T"
