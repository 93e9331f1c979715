"""Fault injection: random errors, added latency and outage windows for REST calls; jitter and
duplicates for pushed bot events."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from timebot.sandbox.config import FaultConfig

__all__ = ["EventPlan", "Faults", "Verdict"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with one call: wait `delay`, then fail with `status` (0 = go ahead)."""

    delay: float
    status: int
    outage: bool


@dataclass(frozen=True, slots=True)
class EventPlan:
    """What to do with one pushed event: wait `delay`, POST it, and POST it again
    `replay_after` seconds later when that is not None."""

    delay: float
    replay_after: float | None


class Faults:
    """The current fault settings and the dice; settable at start and at runtime."""

    def __init__(self, config: FaultConfig, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._config = config
        self._random = random.Random(config.seed)  # test dice, not security
        self._outage_until = now() + config.outage_seconds if config.outage_seconds > 0 else 0.0

    @property
    def config(self) -> FaultConfig:
        """The settings in force."""
        return self._config

    def update(self, **changes: Any) -> FaultConfig:
        """Change some settings; `outage_seconds` (re)starts an outage from now (0 ends it)."""
        allowed = set(asdict(self._config))
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        if "error_statuses" in changes:
            changes["error_statuses"] = tuple(int(s) for s in changes["error_statuses"])
        self._config = replace(self._config, **changes)
        if "outage_seconds" in changes:
            seconds = float(changes["outage_seconds"])
            self._outage_until = self._now() + seconds if seconds > 0 else 0.0
        if "seed" in changes:
            self._random.seed(changes["seed"])
        return self._config

    def outage_remaining(self) -> float:
        """Seconds left in the current outage (0 when there is none)."""
        return max(0.0, self._outage_until - self._now())

    def decide(self) -> Verdict:
        """Roll for one REST call."""
        config = self._config
        if self.outage_remaining() > 0:
            return Verdict(config.latency, 503, True)
        errors = config.error_rate > 0 and config.error_statuses
        if errors and self._random.random() < config.error_rate:
            return Verdict(config.latency, self._random.choice(config.error_statuses), False)
        return Verdict(config.latency, 0, False)

    def plan_event(self) -> EventPlan:
        """Roll for one pushed bot event (jitter and duplication)."""
        config = self._config
        delay = self._random.uniform(0, config.event_jitter) if config.event_jitter > 0 else 0.0
        replay = None
        rate = config.event_duplicate_rate
        if rate > 0 and self._random.random() < rate:
            replay = self._random.uniform(0, max(config.event_replay_delay, 0.0))
        return EventPlan(delay, replay)

    def snapshot(self) -> dict[str, Any]:
        """Settings as JSON-friendly data, with the outage time left."""
        data = asdict(self._config)
        data["error_statuses"] = list(self._config.error_statuses)
        data["outage_remaining"] = round(self.outage_remaining(), 3)
        return data
