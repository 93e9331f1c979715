"""The check-in page behind a signed single-use link: `GET|POST /checkin/{token}`.

GET shows a phone-first page with one big button that asks the browser for the position
(`navigator.geolocation`, high accuracy, with a timeout) and posts it back; the first time it
asks for consent to location processing. POST verifies the link, judges the position against
the person's offices (`services.presence`), stores the fix, records the mark with the server's
time, uses up the link in the same transaction, answers in the person's private chat and mirrors
the mark into Bitrix24's Work Time. A replayed, expired, altered or foreign link gets a clear
page and records nothing.

The request IP is `request.client.host`: behind a reverse proxy, run uvicorn with
`--proxy-headers --forwarded-allow-ips=<proxy>` so that it is the client's (there is no
setting of our own for X-Forwarded-For).
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from timebot.bitrix import escape
from timebot.bitrix.bbcode import timestamp
from timebot.bootstrap import Container
from timebot.bot.i18n import Lang, lang_of
from timebot.bot.people import person_for, plan_for
from timebot.bot.replies import Reply
from timebot.bot.tracking import describe_recorded, describe_refusal, keyboard_for
from timebot.domain.marks import WorkState
from timebot.domain.presence_text import describe
from timebot.domain.workday import Refusal
from timebot.gateway.replies import enqueue_replies
from timebot.logs import get_logger
from timebot.services.checkin_links import (
    CheckinClaim,
    CheckinLinkError,
    CheckinLinkFailure,
    open_link,
    page_nonce,
    read_token,
)
from timebot.services.mirror import mirror_mark
from timebot.services.presence import (
    CheckinOutcome,
    CheckinResult,
    ConsentRequired,
    InvalidSubmission,
    load_places,
    parse_submission,
    submit_checkin,
)
from timebot.services.tracking import day_view
from timebot.storage import UnitOfWork
from timebot.storage.repositories.people import EmployeeRepository
from timebot.storage.tables import Employee, LinkToken, Portal

log = get_logger(__name__)

router = APIRouter(prefix="/checkin", tags=["checkin"])

TEMPLATES_DIR = Path(__file__).parent / "templates"
MAX_BODY_BYTES = 16 * 1024
# The page's own wait for a position; the browser gives up after this and the page says so.
GEOLOCATION_TIMEOUT_MS = 20_000

# --- Texts ---------------------------------------------------------------------------------------

TEXTS: dict[Lang, dict[str, str]] = {
    "ru": {
        "title_check_in": "Отметка прихода",
        "title_check_out": "Отметка ухода",
        "lead_check_in": "Подтвердите, что вы в офисе, — и приход будет отмечен.",
        "lead_check_out": "Подтвердите местоположение — и уход будет отмечен.",
        "valid_until": "Ссылка действует до {time}",
        "button": "📍 Отметиться здесь",
        "button_hint": "Браузер спросит разрешение на доступ к геолокации — нажмите «Разрешить».",
        "consent_title": "Согласие на обработку геоданных",
        "consent_text": (
            "Чтобы подтвердить присутствие в офисе, мы один раз определим ваше местоположение "
            "в момент отметки и сравним его с адресом офиса. Координаты, точность и IP-адрес "
            "хранятся вместе с отметкой и видны руководителю и администратору. "
            "В другое время местоположение не отслеживается."
        ),
        "consent_label": "Согласен(на) на обработку моего местоположения для отметок",
        "consent_missing": "Сначала отметьте согласие на обработку геоданных.",
        "locating": "Определяем местоположение…",
        "sending": "Отправляем…",
        "ip_title": "Нет GPS?",
        "ip_button": "🖥 Я за рабочим компьютером в офисе",
        "ip_hint": "Отметка по сети офиса: сработает, только если компьютер подключён к ней.",
        "denied_title": "Доступ к геолокации запрещён",
        "denied_text": (
            "Без местоположения отметку не подтвердить. Разрешите доступ для этого сайта "
            "и нажмите «Попробовать ещё раз»."
        ),
        "unavailable_title": "Не удалось определить местоположение",
        "unavailable_text": (
            "Включите геолокацию (службы определения местоположения) на устройстве "
            "и нажмите «Попробовать ещё раз»."
        ),
        "timeout_title": "Местоположение определяется слишком долго",
        "timeout_text": (
            "Подойдите к окну или выйдите из глубины здания, включите Wi-Fi "
            "(он помогает определить место) и попробуйте ещё раз."
        ),
        "insecure_title": "Страница открыта без защищённого соединения",
        "insecure_text": "Браузер даёт геолокацию только по https. Откройте ссылку из чата заново.",
        "network_title": "Нет связи с сервером",
        "network_text": "Проверьте интернет и нажмите «Попробовать ещё раз».",
        "retry": "Попробовать ещё раз",
        "help_android": "Android (Chrome)",
        "help_android_text": (
            "Нажмите на значок слева от адреса → «Разрешения» → «Местоположение» → «Разрешить». "
            "Проверьте, что геолокация включена: шторка уведомлений → «Местоположение». "
            "Если запрет был выбран раньше: «Настройки» Chrome → «Настройки сайтов» → "
            "«Местоположение»."
        ),
        "help_ios": "iPhone / iPad (Safari)",
        "help_ios_text": (
            "«Настройки» → «Конфиденциальность и безопасность» → «Службы геолокации» — включите; "
            "ниже «Сайты Safari» → «При использовании». Затем в Safari: «аА» слева от адреса → "
            "«Настройки веб-сайта» → «Геопозиция» → «Разрешить» и обновите страницу."
        ),
        "help_b24": "Приложение Битрикс24",
        "help_b24_text": (
            "Встроенному браузеру нужно разрешение самого приложения. Android: «Настройки» → "
            "«Приложения» → «Битрикс24» → «Разрешения» → «Местоположение» → «Разрешить». "
            "iPhone: «Настройки» → «Битрикс24» → «Геопозиция» → «При использовании». "
            "Или откройте ссылку в обычном браузере (меню «⋯» → «Открыть в браузере»)."
        ),
        "privacy": "Местоположение определяется только при нажатии кнопки.",
        "noscript": (
            "Для определения местоположения нужен JavaScript. Включите его в браузере "
            "или воспользуйтесь кнопкой отметки по сети офиса."
        ),
        # Results
        "recorded_check_in": "Приход отмечен в {time}",
        "recorded_check_out": "Уход отмечен в {time}",
        "flagged": "Отметка сохранена с пометкой — руководитель её увидит.",
        "chat_copy": "Ответ продублирован в чат с ботом — страницу можно закрыть.",
        "rejected_check_in": "Приход не отмечен",
        "rejected_check_out": "Уход не отмечен",
        "retry_hint": "Подойдите к офису и нажмите кнопку ещё раз — ссылка действует до {time}.",
        "retry_hint_ip": "Отметьтесь по геолокации кнопкой выше — ссылка действует до {time}.",
        "refused_already_working": "Вы уже отметили приход — рабочий день идёт с {start}.",
        "refused_already_off": "Рабочий день не начат — отмечать уход пока нечего.",
        "refused_other": "Сейчас это действие недоступно.",
        # Links that cannot be used
        "link_title": "Ссылка не работает",
        "link_expired": "Срок действия ссылки истёк.",
        "link_used": "Эта ссылка уже использована — отметка по ней сделана.",
        "link_invalid": "Ссылка недействительна или повреждена.",
        "link_hint": "Напишите боту «пришёл» (или нажмите «Пришёл»), чтобы получить новую ссылку.",
        "consent_required": "Нужно согласие на обработку геоданных.",
        "stale_page": "Страница устарела — обновите её и попробуйте ещё раз.",
        "bad_request": "Не удалось прочитать данные: {detail}",
    },
    "en": {
        "title_check_in": "Check in",
        "title_check_out": "Check out",
        "lead_check_in": "Confirm that you are at the office and your check-in is recorded.",
        "lead_check_out": "Confirm your location and your check-out is recorded.",
        "valid_until": "The link is valid until {time}",
        "button": "📍 Check in here",
        "button_hint": "Your browser will ask for access to your location: press “Allow”.",
        "consent_title": "Consent to location processing",
        "consent_text": (
            "To confirm that you are at the office, we take your position once, at the moment "
            "of the check-in, and compare it with the office's location. The coordinates, their "
            "accuracy and your IP address are kept with the check-in and are visible to your "
            "manager and the administrator. Your location is not tracked at any other time."
        ),
        "consent_label": "I agree to the processing of my location for check-ins",
        "consent_missing": "Please tick the consent box first.",
        "locating": "Finding your location…",
        "sending": "Sending…",
        "ip_title": "No GPS?",
        "ip_button": "🖥 I'm at my office computer",
        "ip_hint": "Checks in by the office network: works only on a computer connected to it.",
        "denied_title": "Location access is blocked",
        "denied_text": (
            "Without your location the check-in cannot be confirmed. Allow location access "
            "for this site and press “Try again”."
        ),
        "unavailable_title": "Your location could not be determined",
        "unavailable_text": "Turn on location services on your device and press “Try again”.",
        "timeout_title": "Finding your location took too long",
        "timeout_text": (
            "Move closer to a window or out of the depths of the building, turn on Wi-Fi "
            "(it helps to find the position) and try again."
        ),
        "insecure_title": "The page is not on a secure connection",
        "insecure_text": (
            "Browsers share location over https only. Open the link from the chat again."
        ),
        "network_title": "No connection to the server",
        "network_text": "Check your internet connection and press “Try again”.",
        "retry": "Try again",
        "help_android": "Android (Chrome)",
        "help_android_text": (
            "Tap the icon left of the address → Permissions → Location → Allow. Make sure "
            "location is on: notification shade → Location. If you blocked it before: Chrome "
            "Settings → Site settings → Location."
        ),
        "help_ios": "iPhone / iPad (Safari)",
        "help_ios_text": (
            "Settings → Privacy & Security → Location Services: turn on; below, Safari Websites "
            "→ While Using the App. Then in Safari: “aA” left of the address → Website Settings "
            "→ Location → Allow, and reload the page."
        ),
        "help_b24": "Bitrix24 app",
        "help_b24_text": (
            "The built-in browser needs the app's own permission. Android: Settings → Apps → "
            "Bitrix24 → Permissions → Location → Allow. iPhone: Settings → Bitrix24 → Location "
            "→ While Using the App. Or open the link in your usual browser (“⋯” menu → Open in "
            "browser)."
        ),
        "privacy": "Your location is taken only when you press the button.",
        "noscript": (
            "Finding your location needs JavaScript. Turn it on, or use the office network "
            "button below."
        ),
        "recorded_check_in": "Checked in at {time}",
        "recorded_check_out": "Checked out at {time}",
        "flagged": "The check-in is saved with a note for your manager.",
        "chat_copy": "The answer is also in your chat with the bot; you may close this page.",
        "rejected_check_in": "Check-in not recorded",
        "rejected_check_out": "Check-out not recorded",
        "retry_hint": "Come to the office and press the button again; the link works until {time}.",
        "retry_hint_ip": "Share your location with the button above; the link works until {time}.",
        "refused_already_working": "You are already checked in: the day runs since {start}.",
        "refused_already_off": "No work day is open: there is nothing to check out from.",
        "refused_other": "This cannot be done right now.",
        "link_title": "This link does not work",
        "link_expired": "The link has expired.",
        "link_used": "This link has already been used: the check-in was made with it.",
        "link_invalid": "The link is invalid or damaged.",
        "link_hint": "Write “I'm in” to the bot (or press “I'm in”) to get a new link.",
        "consent_required": "Consent to location processing is required.",
        "stale_page": "The page is out of date: reload it and try again.",
        "bad_request": "The data could not be read: {detail}",
    },
}

# Chat texts (BB-code) added to the bot's usual answers.
CHAT_TEXTS: dict[Lang, dict[str, str]] = {
    "ru": {
        "flagged": "Отметка сохранена с пометкой для руководителя.",
        "rejected_check_in": "Приход не отмечен.",
        "rejected_check_out": "Уход не отмечен.",
        "retry": "Подойдите к офису и откройте ссылку снова — она действует до {time}.",
        "retry_ip": "Отметьтесь по геолокации — ссылка действует до {time}.",
    },
    "en": {
        "flagged": "The mark is saved with a note for your manager.",
        "rejected_check_in": "Check-in not recorded.",
        "rejected_check_out": "Check-out not recorded.",
        "retry": "Come to the office and open the link again; it works until {time}.",
        "retry_ip": "Check in with your location; the link works until {time}.",
    },
}

LINK_STATUS: dict[CheckinLinkFailure, int] = {
    "expired": 410,
    "used": 410,
    "tampered": 404,
    "malformed": 404,
    "wrong_purpose": 404,
    "unknown": 404,
    "foreign": 404,
}


def _t(lang: Lang, key: str, **values: object) -> str:
    text = TEXTS[lang][key]
    return text.format(**values) if values else text


@cache
def _templates() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _render(template: str, **context: Any) -> str:
    return _templates().get_template(template).render(**context)


# --- Plumbing ------------------------------------------------------------------------------------


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def _secret(container: Container) -> str:
    return container.settings.secret_key.get_secret_value()


def client_ip(request: Request) -> str | None:
    """The caller's address as the server sees it (see the module note on proxies)."""
    return request.client.host if request.client else None


def _accept_lang(request: Request) -> Lang:
    header = request.headers.get("accept-language", "")
    return lang_of(*(part.split(";")[0] for part in header.split(",")))


def _local_time(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%H:%M")


def _headers(nonce: str) -> dict[str, str]:
    """No caching, no referrer (the URL is a credential), and only our own inline code."""
    return {
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": (
            f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
            "connect-src 'self'; form-action 'self'; img-src 'self' data:; base-uri 'none'"
        ),
    }


def _page(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    html = _render(template, csp_nonce=nonce, **context)
    return HTMLResponse(html, status_code=status, headers=_headers(nonce))


def _wants_json(request: Request) -> bool:
    content_type = request.headers.get("content-type", "")
    accept = request.headers.get("accept", "")
    return "json" in content_type or "application/json" in accept


def _message(
    *, tone: str, title: str, lines: list[str], hint: str | None = None, retry: bool = False
) -> dict[str, Any]:
    """What a result block shows: tone "ok" | "warn" | "error"."""
    return {"tone": tone, "title": title, "lines": lines, "hint": hint, "retry": retry}


def _respond(
    request: Request,
    lang: Lang,
    message: dict[str, Any],
    *,
    status: int = 200,
    outcome: str,
    extra: Mapping[str, Any] | None = None,
) -> Response:
    """The result as JSON (the page's fetch) or as a whole page (a plain form post or GET)."""
    if request.method == "POST" and _wants_json(request):
        body = {
            "ok": outcome == CheckinOutcome.RECORDED.value,
            "outcome": outcome,
            "title": message["title"],
            "message": " ".join([*message["lines"], message["hint"] or ""]).strip(),
            "retry": message["retry"],
            "html": _render("checkin_result.html", message=message),
            **(extra or {}),
        }
        return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})
    return _page("checkin_message.html", status, lang=lang, message=message, t=TEXTS[lang])


def _link_refused(request: Request, reason: CheckinLinkFailure, lang: Lang) -> Response:
    key = {"expired": "link_expired", "used": "link_used"}.get(reason, "link_invalid")
    message = _message(
        tone="error",
        title=_t(lang, "link_title"),
        lines=[_t(lang, key)],
        hint=_t(lang, "link_hint"),
    )
    return _respond(
        request,
        lang,
        message,
        status=LINK_STATUS[reason],
        outcome="invalid_link",
        extra={"reason": reason},
    )


def _lang_for(employee: Employee | None, portal: Portal | None) -> Lang:
    return lang_of(employee.language if employee else None, portal.language if portal else None)


async def _load(uow: UnitOfWork, claim: CheckinClaim) -> tuple[Portal, Employee] | None:
    portal = await uow.portals.get(claim.portal_id)
    employee = await EmployeeRepository(uow.session).get(claim.employee_id)
    if (
        portal is None
        or portal.status != "active"
        or employee is None
        or employee.portal_id != portal.id
        or not employee.active
    ):
        return None
    return portal, employee


async def _open(
    request: Request, uow: UnitOfWork, token: str, now: datetime
) -> tuple[CheckinClaim, LinkToken, Portal, Employee] | Response:
    """The link and its people, or the refusal page to answer with."""
    secret = _secret(_container(request))
    try:
        claim = read_token(secret, token, now)
    except CheckinLinkError as bad:
        return _link_refused(request, bad.reason, _accept_lang(request))
    lang = _accept_lang(request)
    try:
        claim, row = await open_link(uow, secret, token, now)
    except CheckinLinkError as bad:
        loaded = await _load(uow, claim) if bad.reason in ("used", "expired") else None
        if loaded is not None:
            lang = _lang_for(loaded[1], loaded[0])
        return _link_refused(request, bad.reason, lang)
    loaded = await _load(uow, claim)
    if loaded is None:
        return _link_refused(request, "unknown", lang)
    return claim, row, *loaded


# --- GET -----------------------------------------------------------------------------------------


@router.get("/{token}", response_class=HTMLResponse, include_in_schema=True)
async def checkin_page(token: str, request: Request) -> Response:
    """The check-in page for a signed single-use link (from the bot's «Подтвердить
    местоположение» button)."""
    container = _container(request)
    now = container.clock.now()
    async with container.database.unit_of_work() as uow:
        opened = await _open(request, uow, token, now)
        if isinstance(opened, Response):
            return opened
        claim, row, portal, employee = opened
        lang = _lang_for(employee, portal)
        person = await person_for(uow, portal, employee)
        places = await load_places(uow, employee)
        name, needs_consent = employee.name, employee.consented_at is None
        expires_at = row.expires_at
    texts = TEXTS[lang]
    js_texts = {
        key: texts[key]
        for key in (
            "locating",
            "sending",
            "consent_missing",
            "denied_title",
            "denied_text",
            "unavailable_title",
            "unavailable_text",
            "timeout_title",
            "timeout_text",
            "insecure_title",
            "insecure_text",
            "network_title",
            "network_text",
            "stale_page",
        )
    }
    return _page(
        "checkin.html",
        lang=lang,
        t=texts,
        action=claim.action,
        title=texts[f"title_{claim.action}"],
        lead=texts[f"lead_{claim.action}"],
        name=name,
        valid_until=_t(lang, "valid_until", time=_local_time(expires_at, person.tz)),
        needs_consent=needs_consent,
        offer_ip=places.has_networks,
        nonce=page_nonce(_secret(container), claim.jti),
        config={"texts": js_texts, "timeout": GEOLOCATION_TIMEOUT_MS},
    )


# --- POST ----------------------------------------------------------------------------------------


async def _body(request: Request) -> Mapping[str, Any]:
    """The JSON object or form fields of the request; InvalidSubmission when unreadable."""
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise InvalidSubmission("the body is too large")
    content_type = request.headers.get("content-type", "")
    if "json" in content_type:
        try:
            data = json.loads(raw or b"null")
        except (ValueError, UnicodeDecodeError):
            raise InvalidSubmission("the body is not JSON") from None
        if not isinstance(data, dict):
            raise InvalidSubmission("expected a JSON object")
        return data
    if "form" in content_type:
        form = await request.form()
        return {k: v for k, v in form.items() if isinstance(v, str)}
    raise InvalidSubmission("send JSON or a form")


def _bad_request(request: Request, lang: Lang, key: str, status: int, **values: str) -> Response:
    message = _message(tone="error", title=_t(lang, key, **values), lines=[], retry=True)
    return _respond(request, lang, message, status=status, outcome=key)


def _refusal_line(result: CheckinResult, lang: Lang, tz: ZoneInfo) -> str:
    refused = result.refused
    assert refused is not None
    day = refused.view.day
    if refused.reason is Refusal.ALREADY_WORKING and day is not None:
        return _t(lang, "refused_already_working", start=_local_time(day.started_at, tz))
    if refused.reason is Refusal.ALREADY_OFF:
        return _t(lang, "refused_already_off")
    return _t(lang, "refused_other")


def _page_message(
    result: CheckinResult, lang: Lang, tz: ZoneInfo, retry_until: datetime
) -> dict[str, Any]:
    action = result.kind.value
    verdict_text = describe(result.verdict, lang)
    if result.outcome is CheckinOutcome.RECORDED:
        assert result.recorded is not None
        lines = [verdict_text]
        if result.flagged:
            lines.append(_t(lang, "flagged"))
        return _message(
            tone="warn" if result.flagged else "ok",
            title=_t(lang, f"recorded_{action}", time=_local_time(result.recorded.at, tz)),
            lines=lines,
            hint=_t(lang, "chat_copy"),
        )
    if result.outcome is CheckinOutcome.REJECTED:
        hint_key = "retry_hint_ip" if result.ip_only else "retry_hint"
        return _message(
            tone="error",
            title=_t(lang, f"rejected_{action}"),
            lines=[verdict_text],
            hint=_t(lang, hint_key, time=_local_time(retry_until, tz)),
            retry=True,
        )
    return _message(
        tone="error",
        title=_t(lang, f"rejected_{action}"),
        lines=[_refusal_line(result, lang, tz)],
    )


def _chat_text(result: CheckinResult, lang: Lang, retry_until: datetime) -> str:
    chat = CHAT_TEXTS[lang]
    verdict_text = escape(describe(result.verdict, lang))
    if result.outcome is CheckinOutcome.RECORDED:
        assert result.recorded is not None
        lines = [describe_recorded(result.recorded, lang), verdict_text]
        if result.flagged:
            lines.append(chat["flagged"])
        return "[br]".join(lines)
    if result.outcome is CheckinOutcome.REFUSED:
        assert result.refused is not None
        return describe_refusal(result.refused, lang)
    retry = chat["retry_ip" if result.ip_only else "retry"].format(time=timestamp(retry_until))
    return "[br]".join([chat[f"rejected_{result.kind.value}"], verdict_text, retry])


@router.post("/{token}", response_class=HTMLResponse)
async def checkin_submit(token: str, request: Request) -> Response:
    """Submit a position (or "I'm at my office computer") for a check-in link."""
    container = _container(request)
    now = container.clock.now()
    secret = _secret(container)
    lang = _accept_lang(request)
    try:
        body = await _body(request)
        submission = parse_submission(body, ip=client_ip(request))
    except InvalidSubmission as bad:
        return _bad_request(request, lang, "bad_request", 400, detail=str(bad))
    if submission.token is not None and not hmac.compare_digest(submission.token, token):
        return _bad_request(request, lang, "bad_request", 400, detail="token mismatch")
    async with container.database.unit_of_work() as uow:
        opened = await _open(request, uow, token, now)
        if isinstance(opened, Response):
            return opened
        claim, row, portal, employee = opened
        lang = _lang_for(employee, portal)
        if not hmac.compare_digest(submission.nonce, page_nonce(secret, claim.jti)):
            return _bad_request(request, lang, "stale_page", 403)
        person = await person_for(uow, portal, employee)
        today = now.astimezone(person.tz).date()
        plan = await plan_for(
            uow,
            portal,
            person,
            start=today - timedelta(days=3),
            end=today,
            country=container.gateway.bot.country,
        )
        try:
            result = await submit_checkin(
                uow,
                employee=employee,
                person=person,
                plan=plan,
                claim=claim,
                submission=submission,
                settings=portal.settings,
                now=now,
            )
        except ConsentRequired:
            return _bad_request(request, lang, "consent_required", 400)
        except CheckinLinkError as bad:
            return _link_refused(request, bad.reason, lang)
        if result.recorded is not None:
            state = result.recorded.view.state
        elif result.refused is not None:
            state = result.refused.view.state
        else:
            state = (await day_view(uow, person, plan=plan, now=now)).state
        retry_until = row.expires_at
        await _after(uow, portal, employee, result, lang, state, retry_until, now, container)
        await uow.commit()
        log.info(
            "checkin.submitted",
            portal_id=portal.id,
            employee_id=employee.id,
            outcome=result.outcome.value,
            verdict=result.verdict.kind.value,
            flags=[f.value for f in result.verdict.flags],
        )
    message = _page_message(result, lang, person.tz, retry_until)
    return _respond(
        request,
        lang,
        message,
        outcome=result.outcome.value,
        extra={
            "verdict": result.verdict.kind.value,
            "decision": result.decision.kind.value,
            "flags": [f.value for f in result.verdict.flags],
            "distance_m": result.verdict.distance_m,
            "mark_id": result.recorded.mark_id if result.recorded else None,
        },
    )


async def _after(
    uow: UnitOfWork,
    portal: Portal,
    employee: Employee,
    result: CheckinResult,
    lang: Lang,
    state: WorkState,
    retry_until: datetime,
    now: datetime,
    container: Container,
) -> None:
    """Chat answer, audit entry and the Work Time mirror, in the check-in's transaction."""
    reply = Reply(
        str(employee.bitrix_user_id),
        _chat_text(result, lang, retry_until),
        keyboard_for(state, lang),
    )
    await enqueue_replies(uow, portal, [reply], now=now, config=container.gateway)
    actor = f"user:{employee.bitrix_user_id}"
    if result.recorded is None:
        uow.audit.record(
            portal_id=portal.id,
            at=now,
            actor=actor,
            action=f"checkin.{result.outcome.value}",
            entity="location_fix",
            entity_id=result.fix_id,
            details={"verdict": result.verdict.kind.value, "kind": result.kind.value},
        )
        return
    recorded = result.recorded
    uow.audit.record(
        portal_id=portal.id,
        at=now,
        actor=actor,
        action=f"mark.{result.kind.value}",
        entity="mark",
        entity_id=recorded.mark_id,
        details={
            "source": "checkin_page",
            "verdict": result.verdict.kind.value,
            "decision": result.decision.kind.value,
            "flags": [f.value for f in result.verdict.flags],
        },
    )
    point = result.point
    await mirror_mark(
        uow,
        portal,
        user_id=employee.bitrix_user_id,
        kind=result.kind.value,
        mark_id=recorded.mark_id,
        at=recorded.at,
        now=now,
        tz=recorded.view.tz,
        location={"lat": point.lat, "lon": point.lon} if point else None,
    )
