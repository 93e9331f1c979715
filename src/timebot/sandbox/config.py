"""Settings of one sandbox portal: its public address, identity, limits, application credentials,
incoming webhook and fault injection. Values only; what changes at runtime lives in `Portal`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ALL_SCOPES", "FaultConfig", "SandboxConfig"]

ALL_SCOPES: tuple[str, ...] = (
    "basic",
    "imbot",
    "im",
    "user",
    "user_basic",
    "user_brief",
    "department",
    "timeman",
    "placement",
)


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """Injected failures for REST calls (not for the OAuth server) and for pushed bot events.

    `error_rate` is the share of calls answered with an error whose HTTP status is drawn from
    `error_statuses` (503 → QUERY_LIMIT_EXCEEDED, 500 → INTERNAL_SERVER_ERROR, others →
    INTERNAL_SERVER_ERROR with that status); `latency` seconds are added to every call;
    `outage_seconds` > 0 starts an outage in which every call gets a 503 HTML page, the way a
    proxy in front of a broken portal answers.

    Pushed bot events (not install/uninstall): each waits a random 0..`event_jitter` seconds
    before it is POSTed, so the events of different actions overtake each other (one action's
    events keep their order); `event_duplicate_rate` is the share of events POSTed a second
    time, unchanged, 0..`event_replay_delay` seconds after the first copy — by then the person
    may have acted again, so a copy can arrive after that person's later events.
    """

    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (503, 500)
    latency: float = 0.0
    outage_seconds: float = 0.0
    seed: int | None = None
    event_jitter: float = 0.0
    event_duplicate_rate: float = 0.0
    event_replay_delay: float = 2.0


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    """Everything a sandbox portal needs to start.

    `base_url` is the public address of the sandbox (no trailing slash); `client_endpoint`
    (`{base_url}/rest/`) and the OAuth server (`{base_url}/oauth/token/`) are derived from it.
    """

    base_url: str = "http://127.0.0.1:8000"
    member_id: str = "5a9c3b1e0d7f4c2a8b6e9d1f3a5c7e90"
    domain: str = ""  # "" = the host[:port] of base_url, so DOMAIN-built URLs reach the sandbox
    language: str = "ru"
    portal_timezone: str = "Europe/Moscow"
    license: str = "ru_pro100"
    rate: float = 2.0
    burst: int = 50
    token_ttl: int = 3600
    refresh_token_ttl: int = 180 * 86400
    client_id: str = "local.6650d1f0a1b2c3.45678901"
    client_secret: str = "Xq7RkT2mVn9pLs4wYc8bJd3fHg6aZe1uQo5iKr0tMy"  # noqa: S105 - demo
    app_code: str = "local.timebot"
    app_version: int = 1
    app_scopes: tuple[str, ...] = ALL_SCOPES
    install_url: str | None = None
    handler_url: str | None = None
    webhook_user_id: int = 1
    webhook_secret: str = "s4ndb0xw3bh00k5ecret"  # noqa: S105 - demo
    webhook_scopes: tuple[str, ...] = ALL_SCOPES
    faults: FaultConfig = field(default_factory=FaultConfig)
    seed_demo: bool = True
    # Extra synthetic employees for load and fault tests, in departments ("teams") of
    # `staff_team_size` under the company root, each headed by its first member.
    staff: int = 0
    staff_team_size: int = 10
    auto_join_group_chats: bool = True
    delivery_timeout: float = 10.0
    # Over 50 batch commands: "error" = the whole call fails with 400 ERROR_BATCH_LENGTH_EXCEEDED
    # (error-code tables in the docs); "per_command" = the first 50 run and the rest come back
    # in result_error with that code (what client authors report seeing on live portals).
    batch_overflow: str = "error"
