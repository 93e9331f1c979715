"""What the gateway needs to know from settings, handed over by the composition root."""

from __future__ import annotations

from dataclasses import dataclass, field

from timebot.bot.config import BotConfig

# The inbox's defaults (TIMEBOT_INBOX_LEASE_SECONDS, TIMEBOT_INBOX_MAX_ATTEMPTS): applying one
# event takes milliseconds, so a claim's lease is short; a failing event is claimed this many
# times (with a doubling wait in between) before it is parked as dead.
INBOX_LEASE_SECONDS = 30.0
INBOX_MAX_ATTEMPTS = 5


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
    inbox_lease_seconds: float = INBOX_LEASE_SECONDS
    inbox_max_attempts: int = INBOX_MAX_ATTEMPTS
    bot: BotConfig = field(default_factory=BotConfig)

    @property
    def events_url(self) -> str | None:
        return f"{self.public_url.rstrip('/')}/bitrix/events" if self.public_url else None
