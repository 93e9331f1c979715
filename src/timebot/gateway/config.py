"""What the gateway needs to know from settings, handed over by the composition root."""

from __future__ import annotations

from dataclasses import dataclass, field

from timebot.bot.config import BotConfig


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    client_id: str | None = None
    client_secret: str | None = None
    oauth_url: str = "https://oauth.bitrix.info/oauth/token/"
    public_url: str | None = None
    event_mode: str = "fetch"  # for newly registered bots: "fetch" | "webhook"
    default_language: str = "ru"
    default_timezone: str = "Europe/Moscow"
    bot_code: str = "timebot"
    outbox_max_attempts: int = 8
    bot: BotConfig = field(default_factory=BotConfig)

    @property
    def events_url(self) -> str | None:
        return f"{self.public_url.rstrip('/')}/bitrix/events" if self.public_url else None
