"""The `admin` chat command: a single-use signed link that signs the person in to the admin UI
outside Bitrix24 (`{public_url}/bitrix/app/login/{token}`).

The token (`services.links.sign`, purpose "admin-login") names a random `jti`, the portal and the
employee; the same facts are stored in `link_tokens` (action "admin_login"). The web side honours
a link once: the signature holds, the stored row agrees, and a conditional UPDATE uses it up.
What the person may do there is decided at sign-in from the stored employee (administrator
flag, departments they head), not by the link.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from timebot.bitrix import Keyboard
from timebot.bitrix.bbcode import timestamp
from timebot.bot.i18n import Lang
from timebot.bot.replies import Reply
from timebot.bot.router import Context, Router, strip_mentions
from timebot.services.links import BadLink, sign, verify
from timebot.storage import UnitOfWork
from timebot.storage.repositories.offices import LinkTokenRepository
from timebot.storage.tables import LinkToken

__all__ = [
    "ACTION",
    "LINK_TTL",
    "PURPOSE",
    "AdminLinkClaim",
    "AdminLinkError",
    "IssuedAdminLink",
    "issue_admin_link",
    "read_admin_token",
    "router",
    "use_admin_link",
]

PURPOSE: Final = "admin-login"
ACTION: Final = "admin_login"
LINK_TTL: Final = timedelta(minutes=10)

router = Router("admin")

WORDS = re.compile(r"^\s*(admin|админка|панель управления|настройки timebot)\s*[.!]*\s*$", re.I)

TEXTS: dict[str, dict[Lang, str]] = {
    "link": {
        "ru": (
            "Ссылка для входа в панель timebot (работает один раз, до {time}). "
            "Внутри Битрикс24 панель открывается и из меню приложений."
        ),
        "en": (
            "Your sign-in link to the timebot panel (works once, until {time}). "
            "Inside Bitrix24 the panel also opens from the applications menu."
        ),
    },
    "button": {"ru": "🔐 Открыть панель timebot", "en": "🔐 Open the timebot panel"},
    "no_url": {
        "ru": (
            "Панель открывается из меню приложений Битрикс24: у этой установки нет "
            "публичного адреса для ссылок (TIMEBOT_PUBLIC_URL)."
        ),
        "en": (
            "Open the panel from the Bitrix24 applications menu: this installation has no "
            "public address for links (TIMEBOT_PUBLIC_URL)."
        ),
    },
    "no_person": {
        "ru": "Не удалось определить, кто вы. Напишите мне в личный чат.",
        "en": "I could not tell who you are. Write to me in a private chat.",
    },
    "sent_privately": {
        "ru": "Отправил ссылку в личный чат.",
        "en": "I sent the link to our private chat.",
    },
}


class AdminLinkError(Exception):
    """A sign-in link that cannot be honoured: expired, used, altered, unknown or foreign."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class AdminLinkClaim:
    jti: str
    portal_id: int
    employee_id: int


@dataclass(frozen=True, slots=True)
class IssuedAdminLink:
    token: str
    url: str
    jti: str
    expires_at: datetime


def login_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/bitrix/app/login/{token}"


async def issue_admin_link(
    uow: UnitOfWork,
    *,
    secret: str,
    public_url: str,
    portal_id: int,
    employee_id: int,
    now: datetime,
    ttl: timedelta = LINK_TTL,
) -> IssuedAdminLink:
    """Store a new single-use sign-in link (in the caller's transaction)."""
    jti = secrets.token_urlsafe(16)
    expires_at = (now + ttl).replace(microsecond=0)
    token = sign(secret, PURPOSE, {"j": jti, "p": portal_id, "e": employee_id}, expires_at)
    LinkTokenRepository(uow.session).add(
        LinkToken(
            jti=jti,
            portal_id=portal_id,
            employee_id=employee_id,
            action=ACTION,
            created_at=now,
            expires_at=expires_at,
        )
    )
    await uow.flush()
    return IssuedAdminLink(token, login_url(public_url, token), jti, expires_at)


def read_admin_token(secret: str, token: str, now: datetime) -> AdminLinkClaim:
    """The claim of a signed, unexpired sign-in token (says nothing about its use)."""
    try:
        payload = verify(secret, PURPOSE, token, now)
    except BadLink as bad:
        raise AdminLinkError(bad.reason) from None
    jti, portal_id, employee_id = payload.get("j"), payload.get("p"), payload.get("e")
    if not (isinstance(jti, str) and jti and isinstance(portal_id, int)):
        raise AdminLinkError("malformed")
    if not isinstance(employee_id, int):
        raise AdminLinkError("malformed")
    return AdminLinkClaim(jti, portal_id, employee_id)


async def check_admin_link(uow: UnitOfWork, claim: AdminLinkClaim, now: datetime) -> LinkToken:
    """The stored, still usable link of `claim`; AdminLinkError otherwise."""
    row = await LinkTokenRepository(uow.session).by_jti(claim.jti)
    if row is None:
        raise AdminLinkError("unknown")
    if (
        row.action != ACTION
        or row.portal_id != claim.portal_id
        or row.employee_id != claim.employee_id
    ):
        raise AdminLinkError("foreign")
    if row.used_at is not None:
        raise AdminLinkError("used")
    if now >= row.expires_at:
        raise AdminLinkError("expired")
    return row


async def use_admin_link(uow: UnitOfWork, claim: AdminLinkClaim, now: datetime) -> None:
    """Use the link up now (in the caller's transaction); AdminLinkError when it cannot be."""
    await check_admin_link(uow, claim, now)
    if not await LinkTokenRepository(uow.session).claim(claim.jti, now):
        raise AdminLinkError("used")


def _text(key: str, lang: Lang, **values: object) -> str:
    phrase = TEXTS[key][lang]
    return phrase.format(**values) if values else phrase


@router.command("admin", "админка")
async def admin_link(ctx: Context) -> None:
    """Send a sign-in link to the person's private chat."""
    dialog = str(getattr(ctx.event, "dialog_id", ""))
    employee = ctx.employee
    if employee is None:
        ctx.reply(Reply(dialog, _text("no_person", ctx.lang)))
        return
    private = str(employee.bitrix_user_id)
    public_url, secret = ctx.config.public_url, ctx.config.secret_key
    if not (public_url and secret):
        ctx.reply(Reply(private, _text("no_url", ctx.lang)))
        return
    link = await issue_admin_link(
        ctx.uow,
        secret=secret,
        public_url=public_url,
        portal_id=ctx.portal.id,
        employee_id=employee.id,
        now=ctx.now,
    )
    keyboard = Keyboard().link(_text("button", ctx.lang), link.url, color="primary")
    ctx.reply(Reply(private, _text("link", ctx.lang, time=timestamp(link.expires_at)), keyboard))
    if dialog and dialog != private:
        ctx.reply(Reply(dialog, _text("sent_privately", ctx.lang)))
    ctx.uow.audit.record(
        portal_id=ctx.portal.id,
        at=ctx.now,
        actor=f"user:{employee.bitrix_user_id}",
        action="admin_link.issued",
        entity="link_token",
        entity_id=link.jti,
        details={"expires_at": link.expires_at.isoformat()},
    )


@router.text(lambda text: bool(WORDS.match(strip_mentions(text))))
async def admin_link_by_word(ctx: Context) -> None:
    await admin_link(ctx)
