"""Signed links: payloads round-trip, any edit is caught, expiry and purpose are enforced."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from timebot.services.links import (
    WEEK_CHART,
    BadLink,
    read_week_chart,
    sign,
    verify,
    week_chart_url,
)

NOW = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
SECRET = "unit-test-secret"

payloads = st.dictionaries(
    st.text(max_size=12), st.one_of(st.text(max_size=40), st.integers()), max_size=6
)
purposes = st.text(min_size=1, max_size=20)
secrets_ = st.text(min_size=1, max_size=40)


def reason_of(secret: str, purpose: str, token: str, now: datetime = NOW) -> str:
    with pytest.raises(BadLink) as caught:
        verify(secret, purpose, token, now)
    return caught.value.reason


@given(secret=secrets_, purpose=purposes, payload=payloads)
def test_any_payload_round_trips(secret: str, purpose: str, payload: dict[str, str | int]) -> None:
    token = sign(secret, purpose, payload, LATER)
    assert re.fullmatch(r"[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]{43}", token)
    assert verify(secret, purpose, token, NOW) == payload


@given(payload=payloads, data=st.data())
def test_any_single_character_change_is_tampered(
    payload: dict[str, str | int], data: st.DataObject
) -> None:
    token = sign(SECRET, "p", payload, LATER)
    i = data.draw(st.integers(0, len(token) - 1), label="index")
    replacement = data.draw(st.characters().filter(lambda c: c != token[i]), label="char")
    changed = token[:i] + replacement + token[i + 1 :]
    assert reason_of(SECRET, "p", changed) == "tampered"


@given(secret=secrets_, other=secrets_)
def test_another_secret_reads_as_tampered(secret: str, other: str) -> None:
    assume(other != secret)
    token = sign(secret, "p", {"a": 1}, LATER)
    assert reason_of(other, "p", token) == "tampered"


def test_link_is_valid_until_its_expiry_second() -> None:
    token = sign(SECRET, "p", {"a": 1}, LATER)
    assert verify(SECRET, "p", token, LATER - timedelta(seconds=1)) == {"a": 1}
    assert reason_of(SECRET, "p", token, LATER) == "expired"
    assert reason_of(SECRET, "p", token, LATER + timedelta(days=3)) == "expired"


def test_purpose_must_match() -> None:
    token = sign(SECRET, "week-chart", {"a": 1}, LATER)
    assert reason_of(SECRET, "check-in", token) == "wrong_purpose"


@pytest.mark.parametrize("token", ["", "abc", "a." + "b" * 42, "x" * 5000])
def test_strings_shaped_like_no_token_are_malformed(token: str) -> None:
    assert reason_of(SECRET, "p", token) == "malformed"


def test_a_shortened_token_is_refused() -> None:
    token = sign(SECRET, "p", {"a": 1}, LATER)
    assert reason_of(SECRET, "p", token[:-1]) in {"tampered", "malformed"}
    assert reason_of(SECRET, "p", token[1:]) == "tampered"


def test_signing_refuses_what_it_cannot_carry() -> None:
    with pytest.raises(ValueError, match="aware"):
        sign(SECRET, "p", {}, datetime(2026, 1, 1))  # noqa: DTZ001
    with pytest.raises(ValueError, match="secret"):
        sign("", "p", {}, LATER)
    with pytest.raises(TypeError):
        sign(SECRET, "p", {"flag": True}, LATER)
    with pytest.raises(TypeError):
        sign(SECRET, "p", {"x": 1.5}, LATER)  # type: ignore[dict-item]


def test_week_chart_url_names_the_employee_and_the_monday() -> None:
    wednesday = date(2026, 11, 18)
    url = week_chart_url(
        "https://timebot.example/",
        SECRET,
        portal_id=3,
        employee_id=42,
        week=wednesday,
        now=NOW,
        ttl=timedelta(days=2),
    )
    prefix = "https://timebot.example/charts/week/"
    assert url.startswith(prefix)
    assert url.endswith(".png")
    token = url.removeprefix(prefix).removesuffix(".png")
    link = read_week_chart(SECRET, token, NOW)
    assert (link.portal_id, link.employee_id, link.week) == (3, 42, date(2026, 11, 16))
    assert verify(SECRET, WEEK_CHART, token, NOW) == {"p": 3, "e": 42, "w": "2026-11-16"}
    with pytest.raises(BadLink) as caught:
        read_week_chart(SECRET, token, NOW + timedelta(days=2))
    assert caught.value.reason == "expired"


@pytest.mark.parametrize(
    "payload",
    [{"p": 1, "e": 2}, {"p": "1", "e": 2, "w": "2026-11-16"}, {"p": 1, "e": 2, "w": "2026-11-17"}],
)
def test_week_chart_link_with_a_wrong_payload_is_malformed(payload: dict[str, str | int]) -> None:
    token = sign(SECRET, WEEK_CHART, payload, LATER)
    with pytest.raises(BadLink) as caught:
        read_week_chart(SECRET, token, NOW)
    assert caught.value.reason == "malformed"


@pytest.mark.parametrize("char", [chr(0xD800), chr(0xDFFF), "ё", "\x00"])
@pytest.mark.parametrize("index", [0, 10, -1])
def test_a_non_ascii_character_anywhere_is_tampered(char: str, index: int) -> None:
    token = sign(SECRET, "p", {"a": 1}, LATER)
    i = index % len(token)
    assert reason_of(SECRET, "p", token[:i] + char + token[i + 1 :]) == "tampered"
