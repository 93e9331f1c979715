"""Bitrix24 endpoints: application install and event intake (form or JSON bodies)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from timebot.bitrix import (
    AppInstalled,
    AppUninstalled,
    BitrixError,
    BitrixEvent,
    EventAuth,
    MalformedEvent,
    PortalAuth,
    parse_app_frame,
    parse_event,
    parse_form,
)
from timebot.bootstrap import Container
from timebot.gateway.install import ensure_bot, install_portal
from timebot.gateway.intake import Outcome, accept_event
from timebot.jobs.inbox import Inbox
from timebot.logs import get_logger
from timebot.metrics import EVENTS_RECEIVED

log = get_logger(__name__)
router = APIRouter(prefix="/bitrix", tags=["bitrix"])

MAX_BODY = 2_000_000

INSTALL_PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>timebot</title>
<script src="//api.bitrix24.com/api/v1/"></script></head>
<body style="font-family: system-ui, sans-serif; padding: 1.5rem">
<h1>timebot</h1><p>{text}</p>
<script>
if (window.BX24) {{ BX24.init(function () {{ BX24.installFinish(); }}); }}
</script></body></html>"""


class BadRequest(Exception):
    pass


async def read_payload(request: Request) -> dict[str, Any]:
    """The body as a nested mapping: JSON, or a PHP-style bracket form (all values strings)."""
    body = await request.body()
    if len(body) > MAX_BODY:
        raise BadRequest("body too large")
    if not body:
        raise BadRequest("empty body")
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json" or body.lstrip()[:1] == b"{":
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise BadRequest(f"invalid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise BadRequest("the JSON body must be an object")
        if b"\\u" in body and _has_lone_surrogate(data):
            # JSON may escape half a UTF-16 pair (a backslash-u D800 escape); no text column
            # can hold it, so such an event could be neither verified nor stored.
            raise BadRequest("the JSON body holds an unpaired surrogate (\\uD800-\\uDFFF)")
        return data
    try:
        return parse_form(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"invalid form body: {exc}") from exc


def _has_lone_surrogate(data: Any) -> bool:
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def container_of(request: Request) -> Container:
    c: Container = request.app.state.container
    return c


def inbox_of(request: Request) -> Inbox:
    inbox: Inbox = request.app.state.inbox
    return inbox


def bad_request(reason: str) -> JSONResponse:
    return JSONResponse({"error": "bad_request", "detail": reason}, status_code=400)


@router.post(
    "/events",
    responses={
        400: {"description": "Malformed body"},
        401: {"description": "Unknown portal"},
        403: {"description": "Application token does not match"},
    },
)
async def events(request: Request) -> Response:
    """Bitrix24 event intake: verify, de-duplicate and store; answers once the event is durable
    (the bot handles it right after)."""
    try:
        payload = await read_payload(request)
        event = parse_event(payload)
    except (BadRequest, MalformedEvent) as exc:
        EVENTS_RECEIVED.labels("webhook", "malformed").inc()
        return bad_request(str(exc))
    if isinstance(event, AppInstalled):
        return await _install(request, event, page=False)
    return await _accept(request, event, payload)


async def _accept(request: Request, event: BitrixEvent, payload: dict[str, Any]) -> Response:
    inbox = inbox_of(request)
    if isinstance(event, AppUninstalled):
        # Rare and final: handled at once, so no event of the portal is accepted after it.
        c = container_of(request)
        outcome = await accept_event(
            c.database, event, clock=c.clock, dispatcher=c.dispatcher, config=c.gateway
        )
        inbox.portals.forget(event.member_id)
    else:
        try:
            outcome = await inbox.receive(event, payload)
        except Exception:
            log.exception("event.not_stored", event_name=event.event_name)
            EVENTS_RECEIVED.labels("webhook", "unavailable").inc()
            return JSONResponse(
                {"error": "unavailable", "detail": "the event could not be stored; retry"},
                status_code=503,
            )
    EVENTS_RECEIVED.labels("webhook", outcome.value).inc()
    if outcome is Outcome.UNKNOWN_PORTAL:
        return JSONResponse({"error": "unknown_portal"}, status_code=401)
    if outcome is Outcome.FORGED:
        return JSONResponse({"error": "invalid_application_token"}, status_code=403)
    return JSONResponse({"result": outcome.value})


@router.post(
    "/install",
    responses={
        400: {"description": "Malformed install data"},
        403: {"description": "Reinstall could not be verified"},
    },
)
async def install(request: Request) -> Response:
    """Application install: ONAPPINSTALL (form or JSON) or the install page opened by Bitrix24."""
    try:
        payload = await read_payload(request)
        if "event" in payload:
            event = parse_event(payload)
            if not isinstance(event, AppInstalled):
                # Bitrix24 sends ONAPPUNINSTALL to the install URL unless a handler is bound.
                return await _accept(request, event, payload)
            page = False
        else:
            frame = parse_app_frame(payload, dict(request.query_params))
            event = AppInstalled(
                event_name="ONAPPINSTALL",
                auth=EventAuth(
                    member_id=frame.member_id,
                    domain=frame.domain,
                    client_endpoint=frame.client_endpoint,
                    server_endpoint=frame.server_endpoint,
                    application_token=frame.application_token,
                    access_token=frame.access_token,
                    refresh_token=frame.refresh_token,
                    expires_in=frame.expires_in,
                    scope=frame.scope,
                    status=frame.status,
                ),
                ts=None,
                dedupe_key=f"install:{frame.member_id}",
                language=frame.language,
            )
            page = True
    except (BadRequest, MalformedEvent, ValueError) as exc:
        return bad_request(str(exc))
    return await _install(request, event, page=page)


async def _install(request: Request, event: AppInstalled, *, page: bool) -> Response:
    c = container_of(request)
    auth = event.auth
    async with c.database.unit_of_work() as uow:
        existing = await uow.portals.by_member_id(auth.member_id)
        known_endpoint = existing.client_endpoint if existing else None
        same_token = bool(existing and existing.application_token == auth.application_token)
    if known_endpoint and not same_token:
        # Reinstall with a new application token: prove the tokens are the real portal's by
        # calling it at the endpoint we already know (a forger cannot mint its tokens).
        try:
            await c.bitrix.call(
                PortalAuth.oauth(auth.member_id, known_endpoint, auth.access_token), "app.info"
            )
        except BitrixError as exc:
            log.warning("install.unverified", member_id=auth.member_id, error=str(exc))
            return JSONResponse({"error": "reinstall_not_verified"}, status_code=403)
    try:
        portal_id = await install_portal(c.database, event, clock=c.clock, config=c.gateway)
    except ValueError as exc:
        return bad_request(str(exc))
    finally:
        inbox_of(request).portals.forget(auth.member_id)  # a new application token
    try:
        await ensure_bot(c.database, c.bitrix, portal_id, clock=c.clock, config=c.gateway)
        done = True
    except Exception:
        # The worker's setup loop retries; the install itself is stored.
        log.exception("install.bot_registration_failed", portal_id=portal_id)
        done = False
    if page:
        ru = (event.language or "ru").startswith("ru")
        text = (
            (
                "Приложение установлено. Откройте чат с ботом timebot."
                if done
                else "Приложение установлено; бот будет зарегистрирован через минуту."
            )
            if ru
            else (
                "Installed. Open the chat with the timebot bot."
                if done
                else "Installed; the bot will be registered in a minute."
            )
        )
        return HTMLResponse(INSTALL_PAGE.format(lang="ru" if ru else "en", text=text))
    return JSONResponse({"result": "installed", "bot_registered": done})
