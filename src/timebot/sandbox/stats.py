"""Counters of one portal, shown by the control endpoint."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

__all__ = ["Stats"]


@dataclass(slots=True)
class Stats:
    """Counters shown by the control endpoint."""

    requests: int = 0
    rate_limited: int = 0
    faults_injected: int = 0
    outage_rejections: int = 0
    batch_calls: int = 0
    batch_commands: int = 0
    errors: int = 0
    oauth_refreshes: int = 0
    messages_by_bot: Counter[int] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)

    def count_message(self, bot_id: int) -> None:
        """A bot posted a message."""
        self.messages_by_bot[bot_id] += 1
