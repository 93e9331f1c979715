"""What bot handlers need from settings, handed over by the composition root."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BotConfig:
    public_url: str | None = None  # where timebot's own pages (charts, check-in) are served
    secret_key: str = ""  # signs links to those pages
    country: str = "RU"  # production calendar
