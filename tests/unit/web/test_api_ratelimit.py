"""The API's rate limiter on a hand-moved clock: the burst, the refill, what the headers say,
idle keys forgotten, the key count capped, client addresses grouped; and its two settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from timebot.config import Settings
from timebot.web.api.ratelimit import RateLimiter, client_key


class Clock:
    """Monotonic seconds that move only when told."""

    def __init__(self, at: float = 1000.0) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


def test_a_burst_passes_then_one_request_per_interval() -> None:
    clock = Clock()
    limiter = RateLimiter(10, 50, monotonic=clock)
    verdicts = [limiter.take("k") for _ in range(50)]
    assert all(v.allowed for v in verdicts)
    assert [v.remaining for v in verdicts] == list(range(49, -1, -1))
    assert verdicts[0].headers() == {
        "RateLimit-Limit": "50",
        "RateLimit-Remaining": "49",
        "RateLimit-Reset": "1",
    }
    refused = limiter.take("k")
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(0.1)
    assert refused.reset_after == pytest.approx(5.0)
    assert refused.headers() == {
        "RateLimit-Limit": "50",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "5",
        "Retry-After": "1",  # whole seconds, at least 1
    }
    # A refusal costs nothing: after one interval exactly one more request passes.
    clock.at += 0.1
    assert limiter.take("k").allowed
    assert not limiter.take("k").allowed
    # After the whole span the full burst is back.
    clock.at += 5.0
    assert limiter.take("k").remaining == 49


def test_retry_after_is_the_wait_rounded_up() -> None:
    clock = Clock()
    limiter = RateLimiter(0.4, 2, monotonic=clock)  # one request every 2.5 s
    assert [limiter.take("k").allowed for _ in range(2)] == [True, True]
    refused = limiter.take("k")
    assert refused.headers()["Retry-After"] == "3"
    assert refused.headers()["RateLimit-Reset"] == "5"
    clock.at += 2.4
    assert not limiter.take("k").allowed
    clock.at += 0.1
    assert limiter.take("k").allowed


def test_keys_do_not_share_a_bucket() -> None:
    clock = Clock()
    limiter = RateLimiter(1, 2, monotonic=clock)
    assert [limiter.take("a").allowed for _ in range(2)] == [True, True]
    assert not limiter.take("a").allowed
    assert limiter.take("b").remaining == 1


def test_the_whole_burst_passes_after_days_of_uptime() -> None:
    # Monotonic seconds grow large; the float sums of 1/rate must not cost the last request.
    limiter = RateLimiter(3, 50, monotonic=Clock(9_876_543.21))
    assert sum(limiter.take("k").allowed for _ in range(51)) == 50


def test_idle_keys_are_forgotten() -> None:
    clock = Clock()
    limiter = RateLimiter(10, 5, monotonic=clock)
    for i in range(1000):
        limiter.take(f"k{i}")
    assert len(limiter) == 1000
    clock.at += 0.5  # one request refills in 0.1 s: every bucket is full again
    limiter.take("late")
    assert len(limiter) == 1


def test_a_flood_of_keys_stays_within_the_cap() -> None:
    clock = Clock()
    limiter = RateLimiter(1, 3, max_keys=100, monotonic=clock)
    for _ in range(3):
        limiter.take("busy")
    for i in range(100_000):
        limiter.take(f"flood-{i}")
        assert len(limiter) <= 100
    assert len(limiter) == 100
    # The least recently used key went first; an evicted key starts afresh, never refused.
    assert limiter.take("busy").remaining == 2


def test_bad_limits_are_refused() -> None:
    for rate, burst in ((0, 5), (5, 0), (-1, 5)):
        with pytest.raises(ValueError, match="rate"):
            RateLimiter(rate, burst)


@pytest.mark.parametrize(
    ("client", "key"),
    [
        (("203.0.113.7", 5000), "ip:203.0.113.7"),
        (("2001:db8:1:2:aaaa::1", 5000), "ip:2001:db8:1:2::/64"),
        (("2001:db8:1:2:bbbb::9", 5001), "ip:2001:db8:1:2::/64"),
        (("::ffff:198.51.100.4", 5000), "ip:198.51.100.4"),
        (("testclient", 50000), "ip:testclient"),
        (None, "ip:unknown"),
    ],
)
def test_clients_are_keyed_by_address(client: tuple[str, int] | None, key: str) -> None:
    assert client_key({"type": "http", "client": client}) == key


def test_the_limit_comes_from_two_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = Settings()
    assert (defaults.api_rate_per_second, defaults.api_rate_burst) == (10.0, 50)
    monkeypatch.setenv("TIMEBOT_API_RATE_PER_SECOND", "0.5")
    monkeypatch.setenv("TIMEBOT_API_RATE_BURST", "0")
    chosen = Settings()
    assert (chosen.api_rate_per_second, chosen.api_rate_burst) == (0.5, 0)
    for name, value in (("api_rate_per_second", -1), ("api_rate_burst", -1)):
        with pytest.raises(ValidationError, match=name):
            Settings(**{name: value})
    with pytest.raises(ValidationError, match="api_rate_per_second"):
        Settings(api_rate_per_second=float("inf"))
