"""Settings: environment variables with the `TIMEBOT_` prefix (and an optional `.env`).

Built lazily by `get_settings()`; nothing reads the environment at import time.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# A well-known placeholder: accepted only in development, refused elsewhere.
DEFAULT_SECRET_KEY = "dev-insecure-secret-key-change-me"  # noqa: S105
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/timebot.sqlite3"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Every knob timebot reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="TIMEBOT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    environment: Environment = Environment.DEVELOPMENT
    database_url: str = DEFAULT_DATABASE_URL
    public_url: str | None = None
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET_KEY)

    # Single portal through an incoming webhook (fetch-mode bot, no public URL needed).
    bitrix_webhook_url: str | None = None
    bitrix_bot_token: SecretStr | None = None
    # OAuth application serving many portals.
    bitrix_client_id: str | None = None
    bitrix_client_secret: SecretStr | None = None
    bitrix_oauth_url: str = "https://oauth.bitrix.info/oauth/token/"
    bitrix_event_mode: Literal["fetch", "webhook"] = "fetch"

    smtp_url: SecretStr | None = None
    smtp_from: str = "timebot@localhost"

    log_level: str = "INFO"
    log_format: Literal["auto", "console", "json"] = "auto"

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)

    # Worker cadence.
    poll_interval_seconds: float = Field(default=2.0, gt=0)
    outbox_interval_seconds: float = Field(default=0.5, gt=0)
    outbox_max_attempts: int = Field(default=8, ge=1)
    # How long a claimed outbox row stays leased to its worker; a worker that dies mid-send
    # leaves rows that other workers take over once the lease runs out.
    outbox_lease_seconds: float = Field(default=120.0, gt=0)
    # The event inbox: how long an applier's claim on an event lasts (one that dies leaves it to
    # the others after this), and claims of a failing event before it is parked as dead.
    inbox_lease_seconds: float = Field(default=30.0, gt=0, le=86_400)
    inbox_max_attempts: int = Field(default=5, ge=1)

    # Prometheus: the directory of multiprocess metrics (`serve --workers N` makes one per run
    # when unset), and the port where `timebot worker` serves /metrics and /health (off if unset).
    metrics_dir: Path | None = None
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)

    # REST API rate limit (`web/api/ratelimit.py`): per token, or per client address for
    # requests without a valid token; `burst` requests at once, refilled at `per_second`.
    # Kept in each serve process's memory, so N processes allow N times this. 0 turns it off.
    api_rate_per_second: float = Field(default=10.0, ge=0, allow_inf_nan=False)
    api_rate_burst: int = Field(default=50, ge=0)

    default_language: Literal["ru", "en"] = "ru"
    default_timezone: str = "Europe/Moscow"

    @model_validator(mode="after")
    def _refuse_default_secret_outside_development(self) -> Self:
        if (
            self.environment == Environment.PRODUCTION
            and self.secret_key.get_secret_value() == DEFAULT_SECRET_KEY
        ):
            raise ValueError(
                "TIMEBOT_SECRET_KEY must be set to a random value outside development "
                "(for example: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        if self.environment == Environment.PRODUCTION and len(self.secret_key) < 16:
            raise ValueError("TIMEBOT_SECRET_KEY is too short: use at least 16 characters")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def json_logs(self) -> bool:
        if self.log_format == "auto":
            return self.environment == Environment.PRODUCTION
        return self.log_format == "json"

    def sqlite_path(self) -> Path | None:
        """The database file for a SQLite URL, None for other databases or memory."""
        if not self.is_sqlite:
            return None
        _, _, rest = self.database_url.partition(":///")
        return Path(rest) if rest and rest != ":memory:" else None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read on first use."""
    return Settings()
