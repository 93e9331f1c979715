"""Location proof in the chat: when the portal requires it, «Пришёл» answers with a one-tap
link to the check-in page instead of recording the mark.

The mark is then recorded by the page (`web/checkin.py`) once the phone's position is judged.
Remote days and people, actions the person cannot take now (a second check-in), and an
installation without a public URL go through the ordinary chat flow.
"""

from __future__ import annotations

from datetime import timedelta

from timebot.bitrix import Keyboard
from timebot.bitrix.bbcode import timestamp
from timebot.bot.i18n import Lang
from timebot.bot.people import context_person, plan_for
from timebot.bot.router import Context
from timebot.bot.tracking import answer
from timebot.domain.marks import MarkKind
from timebot.services.checkin_links import issue_link, link_ttl
from timebot.services.presence import load_places, remote_reason, required_actions
from timebot.services.tracking import day_view

__all__ = ["TEXTS", "location_gate", "text"]

TEXTS: dict[str, dict[Lang, str]] = {
    "button": {"ru": "📍 Подтвердить местоположение", "en": "📍 Confirm location"},
    "ask_check_in": {
        "ru": (
            "Чтобы отметить приход, подтвердите, что вы в офисе: нажмите "
            "«Подтвердить местоположение» и разрешите доступ к геолокации."
        ),
        "en": (
            "To check in, confirm that you are at the office: press «Confirm location» "
            "and allow access to your location."
        ),
    },
    "ask_check_out": {
        "ru": (
            "Чтобы отметить уход, подтвердите местоположение: нажмите "
            "«Подтвердить местоположение» и разрешите доступ к геолокации."
        ),
        "en": (
            "To check out, confirm your location: press «Confirm location» "
            "and allow access to your location."
        ),
    },
    "valid_until": {
        "ru": "Ссылка работает один раз и действует до {time}.",
        "en": "The link works once and is valid until {time}.",
    },
    "desktop": {
        "ru": (
            "За рабочим компьютером без GPS? На странице есть кнопка "
            "«Я за рабочим компьютером в офисе» — её примут из сети офиса."
        ),
        "en": (
            "At an office computer without GPS? The page has an «I'm at my office computer» "
            "button that works from the office network."
        ),
    },
}


def text(key: str, lang: Lang, **values: object) -> str:
    phrase = TEXTS[key][lang]
    return phrase.format(**values) if values else phrase


async def location_gate(ctx: Context, kind: MarkKind) -> bool:
    """Send the check-in link instead of recording `kind` when the portal wants a location
    proof for it; True when the link was sent (the caller records nothing)."""
    action = kind.value
    portal, employee = ctx.portal, ctx.employee
    if employee is None or action not in required_actions(portal.settings):
        return False
    public_url, secret = ctx.config.public_url, ctx.config.secret_key
    if not (public_url and secret):
        return False  # no page to send the person to: keep the chat working
    person = await context_person(ctx)
    if person is None:
        return False
    today = ctx.now.astimezone(person.tz).date()
    if remote_reason(employee, today) is not None:
        return False
    plan = await plan_for(
        ctx.uow,
        portal,
        person,
        start=today - timedelta(days=3),
        end=today,
        country=ctx.config.country,
    )
    view = await day_view(ctx.uow, person, plan=plan, now=ctx.now)
    if kind not in view.allowed:
        return False  # the ordinary flow explains why it cannot be done now
    link = await issue_link(
        ctx.uow,
        secret=secret,
        public_url=public_url,
        portal_id=portal.id,
        employee_id=employee.id,
        action=action,
        now=ctx.now,
        ttl=link_ttl(portal.settings),
    )
    lang = ctx.lang
    lines = [
        text(f"ask_{action}", lang),
        text("valid_until", lang, time=timestamp(link.expires_at)),
    ]
    if (await load_places(ctx.uow, employee)).has_networks:
        lines.append(text("desktop", lang))
    keyboard = Keyboard().link(text("button", lang), link.url, color="primary")
    answer(ctx, "[br]".join(lines), keyboard)
    ctx.uow.audit.record(
        portal_id=portal.id,
        at=ctx.now,
        actor=f"user:{person.user_id}",
        action="checkin_link.issued",
        entity="link_token",
        entity_id=link.jti,
        details={"action": action, "expires_at": link.expires_at.isoformat()},
    )
    return True
