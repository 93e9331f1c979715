"""Connecting portals: OAuth install (ONAPPINSTALL), incoming-webhook connect, bot registration."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from timebot.bitrix import AppInstalled, BitrixClient
from timebot.bot.i18n import lang_of
from timebot.domain.clock import Clock
from timebot.gateway.auth import portal_auth
from timebot.gateway.config import GatewayConfig
from timebot.gateway.limits import refresh_plan_limits
from timebot.logs import get_logger
from timebot.storage import Database
from timebot.storage.tables import Portal

log = get_logger(__name__)

# Commands with localized titles; keyboard buttons fire the same commands.
COMMANDS: dict[str, dict[str, str]] = {
    "checkin": {"ru": "Пришёл на работу", "en": "Start the work day"},
    "break": {"ru": "Перерыв", "en": "Start a break"},
    "back": {"ru": "Вернулся с перерыва", "en": "Back from the break"},
    "checkout": {"ru": "Ушёл с работы", "en": "End the work day"},
    "status": {"ru": "Мой статус", "en": "My status"},
    "week": {"ru": "Моя неделя", "en": "My week"},
    "lang": {"ru": "Язык (ru/en)", "en": "Language (ru/en)"},
    "me": {"ru": "Мои данные", "en": "My data"},
    "help": {"ru": "Помощь", "en": "Help"},
    "admin": {"ru": "Панель управления", "en": "Admin panel"},
    # Buttons on reminders and approval cards (registered so the portal routes them to us).
    "stillworking": {"ru": "Ещё работаю", "en": "Still working"},
    "leftat": {"ru": "Ушёл в указанное время", "en": "Left at the stated time"},
    "forgot": {"ru": "Забыл отметиться", "en": "Forgot to check out"},
    "approve": {"ru": "Одобрить", "en": "Approve"},
    "reject": {"ru": "Отклонить", "en": "Reject"},
    "explain": {"ru": "Запросить объяснение", "en": "Ask for an explanation"},
    "reason": {"ru": "Причина", "en": "Reason"},
    "accept": {"ru": "Принять объяснение", "en": "Accept the explanation"},
    "decline": {"ru": "Не принять объяснение", "en": "Decline the explanation"},
}


# portal.settings key: the Bitrix user who installed the app or owns the webhook (an admin).
INSTALLED_BY = "installed_by"

# ORM defaults apply only at flush; set them up front so code can use the fresh object.
NEW_PORTAL_DEFAULTS: dict[str, Any] = {
    "token_version": 0,
    "event_offset": 0,
    "status": "active",
    "bot_code": "timebot",
    "scope": "",
    "rate_limit": 2.0,
    "rate_burst": 50,
}


async def install_portal(
    database: Database, event: AppInstalled, *, clock: Clock, config: GatewayConfig
) -> int:
    """Store (or on reinstall, update) the portal and its tokens; returns its id."""
    auth = event.auth
    if not (auth.member_id and auth.access_token and auth.application_token):
        raise ValueError("install data must carry member_id, access_token and application_token")
    now = clock.now()
    expires = now + timedelta(seconds=auth.expires_in or 3600)
    async with database.unit_of_work() as uow:
        portal = await uow.portals.by_member_id(auth.member_id)
        if portal is not None:  # a reinstall changes settings: hold the row
            portal = await uow.portals.lock(portal.id)
        if portal is None:
            portal = Portal(
                member_id=auth.member_id,
                domain=auth.domain,
                client_endpoint=auth.client_endpoint or f"https://{auth.domain}/rest/",
                connection="oauth",
                language=lang_of(event.language, config.default_language),
                timezone=config.default_timezone,
                event_mode=config.event_mode if config.public_url else "fetch",
                installed_at=now,
                updated_at=now,
                settings={},
                **NEW_PORTAL_DEFAULTS,
            )
            uow.portals.add(portal)
            action = "portal.installed"
        else:
            action = "portal.reinstalled"
            if portal.status != "active":
                portal.bot_id = None  # the old bot went with the uninstall
        portal.domain = auth.domain or portal.domain
        portal.client_endpoint = auth.client_endpoint or portal.client_endpoint
        portal.access_token = auth.access_token
        if auth.refresh_token:
            portal.refresh_token = auth.refresh_token
        portal.access_expires_at = expires
        portal.application_token = auth.application_token
        portal.scope = ",".join(auth.scope)
        if auth.user_id:  # only an administrator can install an application
            portal.settings = {**(portal.settings or {}), INSTALLED_BY: int(auth.user_id)}
        portal.status = "active"
        portal.connection = "oauth"
        portal.updated_at = now
        portal.token_version += 1
        await uow.flush()
        uow.audit.record(
            portal_id=portal.id,
            at=now,
            actor="bitrix",
            action=action,
            entity="portal",
            entity_id=portal.id,
            details={"domain": portal.domain},
        )
        await uow.commit()
        log.info(action, member_id=portal.member_id, domain=portal.domain)
        return portal.id


def webhook_member_id(webhook_url: str) -> str:
    """A stable tenant key for an incoming-webhook portal (it has no OAuth member_id)."""
    parts = urlsplit(webhook_url)
    user = parts.path.strip("/").split("/")[1] if parts.path.count("/") >= 3 else "0"
    return f"webhook:{parts.netloc}:{user}"


async def connect_webhook(
    database: Database,
    webhook_url: str,
    bot_token: str,
    *,
    clock: Clock,
    config: GatewayConfig,
) -> int:
    """Single-portal mode: store the incoming webhook and the bot token (fetch-mode bot)."""
    parts = urlsplit(webhook_url)
    if parts.scheme not in ("http", "https") or "/rest/" not in parts.path:
        raise ValueError("the webhook URL looks like https://x.bitrix24.ru/rest/1/secret/")
    if not bot_token or len(bot_token) > 40:
        raise ValueError("the bot token must be 1 to 40 characters")
    base = webhook_url if webhook_url.endswith("/") else webhook_url + "/"
    member_id = webhook_member_id(base)
    now = clock.now()
    async with database.unit_of_work() as uow:
        portal = await uow.portals.by_member_id(member_id)
        if portal is not None:  # settings change below: hold the row
            portal = await uow.portals.lock(portal.id)
        if portal is None:
            portal = Portal(
                member_id=member_id,
                domain=parts.netloc,
                client_endpoint=f"{parts.scheme}://{parts.netloc}/rest/",
                connection="webhook",
                language=config.default_language,
                timezone=config.default_timezone,
                event_mode="fetch",
                installed_at=now,
                updated_at=now,
                settings={},
                **NEW_PORTAL_DEFAULTS,
            )
            uow.portals.add(portal)
        if portal.bot_token and portal.bot_token != bot_token:
            portal.bot_id = None  # a new token means a new bot owner
        portal.webhook_url = base
        portal.bot_token = bot_token
        owner = urlsplit(base).path.strip("/").split("/")
        if len(owner) >= 2 and owner[1].isdigit():  # /rest/<user>/<secret>/: the webhook's owner
            portal.settings = {**(portal.settings or {}), INSTALLED_BY: int(owner[1])}
        portal.status = "active"
        portal.updated_at = now
        await uow.commit()
        return portal.id


async def ensure_bot(
    database: Database,
    client: BitrixClient,
    portal_id: int,
    *,
    clock: Clock,
    config: GatewayConfig,
) -> int | None:
    """Register the v2 bot and its commands if the portal has none yet; returns the bot id."""
    async with database.unit_of_work() as uow:
        portal = await uow.portals.get(portal_id)
        if portal is None or portal.status != "active":
            return None
        if portal.bot_id is not None:
            return portal.bot_id
        auth = portal_auth(portal)
        webhook_mode = portal.event_mode == "webhook" and config.events_url is not None
        token = portal.bot_token if portal.connection == "webhook" else None
        lang = portal.language
        code = portal.bot_code or config.bot_code
    fields: dict[str, Any] = {
        "code": code,
        "type": "bot",
        "eventMode": "webhook" if webhook_mode else "fetch",
        "properties": {
            "name": "timebot",
            "workPosition": "Учёт рабочего времени" if lang == "ru" else "Working time",
            "color": "AQUA",
        },
    }
    if webhook_mode:
        fields["webhookUrl"] = config.events_url
    params: dict[str, Any] = {"fields": fields}
    if token:
        params["botToken"] = token
    response = await client.call(auth, "imbot.v2.Bot.register", params)
    result = response.result if isinstance(response.result, dict) else {}
    nested = result.get("bot")
    bot: dict[str, Any] = nested if isinstance(nested, dict) else result
    bot_id = int(bot.get("id") or bot.get("ID") or 0)
    if not bot_id:
        raise ValueError(f"imbot.v2.Bot.register returned no bot id: {response.result!r}")
    commands = {
        f"c_{name}": (
            "imbot.v2.Command.register",
            {
                "botId": bot_id,
                **({"botToken": token} if token else {}),
                "fields": {"command": name, "title": titles, "common": False},
            },
        )
        for name, titles in COMMANDS.items()
    }
    await client.batch(auth, commands)
    async with database.unit_of_work() as uow:
        portal = await uow.portals.get(portal_id)
        assert portal is not None
        portal.bot_id = bot_id
        portal.event_mode = "webhook" if webhook_mode else "fetch"
        portal.updated_at = clock.now()
        uow.audit.record(
            portal_id=portal.id,
            at=clock.now(),
            actor="system",
            action="bot.registered",
            entity="portal",
            entity_id=portal.id,
            details={"bot_id": bot_id},
        )
        await uow.commit()
    log.info("bot.registered", portal_id=portal_id, bot_id=bot_id, webhook=webhook_mode)
    # Once per registration: the plan's rate limits (a failure keeps the defaults).
    await refresh_plan_limits(database, client, portal_id, clock=clock)
    return bot_id
