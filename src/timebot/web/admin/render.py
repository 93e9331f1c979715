"""Rendering admin pages: one Jinja2 environment over `web/templates`, the context every page
gets, and the security headers (CSP with a per-response nonce, frame-ancestors limited to the
portal).

Every page extends `admin/base.html` and fills `title` and `content`. The context always holds
`session`, `t` (translate in the session's language), `csrf_token`, `nav`, `active`, `lang`,
`csp_nonce`, `flash` and `path`. Inline `<script>` and `<style>` need `nonce="{{ csp_nonce }}"`;
`style="…"` attributes are refused by the policy (use classes).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from timebot.web.admin.i18n import has, translate
from timebot.web.admin.nav import visible
from timebot.web.admin.session import AdminDenied, AdminSession

__all__ = [
    "MAP_TILES",
    "denied_page",
    "environment",
    "page_headers",
    "redirect",
    "render",
    "render_bare",
    "translator",
]

TEMPLATES_DIR: Final = Path(__file__).resolve().parent.parent / "templates"
# Map tiles load only when the browser is online; coordinates work without them.
MAP_TILES: Final = "https://tile.openstreetmap.org"


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        fmt_time=fmt_time,
        fmt_date=fmt_date,
        fmt_datetime=fmt_datetime,
        fmt_duration=fmt_duration,
    )
    return env


def fmt_time(at: datetime | None, tz: ZoneInfo | str | None = None) -> str:
    if at is None:
        return "—"
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    return (at.astimezone(zone) if zone else at).strftime("%H:%M")


def fmt_date(at: Any) -> str:
    return at.strftime("%d.%m.%Y") if at is not None else "—"


def fmt_datetime(at: datetime | None, tz: ZoneInfo | str | None = None) -> str:
    if at is None:
        return "—"
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    return (at.astimezone(zone) if zone else at).strftime("%d.%m.%Y %H:%M")


def fmt_duration(span: timedelta | None) -> str:
    if span is None:
        return "—"
    minutes = max(0, int(span.total_seconds()) // 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


def translator(lang: str) -> Callable[..., str]:
    def t(key: str, **fmt: object) -> str:
        return translate(lang, key, **fmt)

    return t


def page_headers(nonce: str, frame_host: str = "") -> dict[str, str]:
    """No caching, our own inline code only, framed only by ourselves and the portal."""
    ancestors = "'self'" + (f" {frame_host}" if frame_host else "")
    return {
        "Cache-Control": "no-store",
        "Referrer-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": (
            f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
            f"img-src 'self' data: {MAP_TILES}; connect-src 'self'; form-action 'self'; "
            f"base-uri 'none'; frame-ancestors {ancestors}"
        ),
    }


def _flash(request: Request, lang: str) -> str | None:
    key = request.query_params.get("flash", "")
    if key.startswith("flash.") and has(key):
        return translate(lang, key)
    return None


def render(
    request: Request,
    session: AdminSession,
    template_name: str,
    *,
    active: str,
    status_code: int = 200,
    **ctx: Any,
) -> HTMLResponse:
    """A page of the admin UI for the signed-in `session`."""
    nonce = secrets.token_urlsafe(16)
    lang = session.language
    context: dict[str, Any] = {
        "session": session,
        "t": translator(lang),
        "csrf_token": session.csrf_token,
        "nav": visible(session),
        "active": active,
        "lang": lang,
        "csp_nonce": nonce,
        "flash": _flash(request, lang),
        "path": request.url.path,
        **ctx,
    }
    html = environment().get_template(template_name).render(context)
    frame_host = str(getattr(request.state, "admin_frame_host", "") or "")
    return HTMLResponse(html, status_code=status_code, headers=page_headers(nonce, frame_host))


def render_bare(
    template_name: str,
    *,
    lang: str,
    status_code: int = 200,
    frame_host: str = "",
    **ctx: Any,
) -> HTMLResponse:
    """A page without a session (login, refusals): same look, no navigation."""
    nonce = secrets.token_urlsafe(16)
    context: dict[str, Any] = {"t": translator(lang), "lang": lang, "csp_nonce": nonce, **ctx}
    html = environment().get_template(template_name).render(context)
    headers = page_headers(nonce, frame_host)
    return HTMLResponse(html, status_code=status_code, headers=headers)


def redirect(path: str, *, flash: str | None = None, **query: str | int) -> RedirectResponse:
    """303 to `path` (an admin path), optionally with a flash message key."""
    params: dict[str, str | int] = dict(query)
    if flash:
        params["flash"] = flash
    target = f"{path}?{urlencode(params)}" if params else path
    return RedirectResponse(target, status_code=303)


async def denied_page(request: Request, exc: Exception) -> Response:
    """The exception handler for `AdminDenied`: a clear page with the status it names."""
    assert isinstance(exc, AdminDenied)
    frame_host = exc.frame_host or str(getattr(request.state, "admin_frame_host", "") or "")
    message = translate(exc.lang, exc.reason, detail=exc.detail)
    response = render_bare(
        "admin/denied.html",
        lang=exc.lang,
        status_code=exc.status,
        frame_host=frame_host,
        message=message,
        status=exc.status,
        reason=exc.reason,
    )
    response.headers["X-Timebot-Reason"] = exc.reason
    return response
