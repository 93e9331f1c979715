"""Reading admin forms: typed fields with clear, translated messages instead of exceptions.

    form = await read_form(request, session)
    name = form.text("name", required=True, max_length=255)
    radius = form.number("radius_m", minimum=1, maximum=50_000)
    form.raise_if_invalid()   # `Invalid`: leave the unit of work, show the form again (400)

Each problem is recorded once per field as a translated message; the page shows them next to
the fields and in a summary. The accessors never raise on bad input. Never render a page from
inside an open unit of work: on SQLite the open transaction holds the write lock that the
page's own unit of work would wait for.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, time
from typing import Any

from fastapi import Request
from starlette.datastructures import FormData

from timebot.domain.timezones import zone_or_none
from timebot.web.admin.i18n import register, translate
from timebot.web.admin.session import MAX_FORM_BYTES, AdminDenied, AdminSession

__all__ = ["Form", "Invalid", "read_form"]


class Invalid(Exception):
    """The form has errors: leave the transaction, then show the form again."""


register(
    {
        "ru": {
            "form.required": "Обязательное поле.",
            "form.too_long": "Не длиннее {max} символов.",
            "form.not_number": "Нужно число.",
            "form.not_integer": "Нужно целое число.",
            "form.range": "Допустимо от {min} до {max}.",
            "form.not_date": "Нужна дата (ГГГГ-ММ-ДД).",
            "form.not_time": "Нужно время (ЧЧ:ММ).",
            "form.bad_choice": "Выберите значение из списка.",
            "form.bad_timezone": "Неизвестный часовой пояс (пример: Europe/Moscow).",
        },
        "en": {
            "form.required": "Required.",
            "form.too_long": "At most {max} characters.",
            "form.not_number": "A number is needed.",
            "form.not_integer": "A whole number is needed.",
            "form.range": "Allowed from {min} to {max}.",
            "form.not_date": "A date is needed (YYYY-MM-DD).",
            "form.not_time": "A time is needed (HH:MM).",
            "form.bad_choice": "Choose a value from the list.",
            "form.bad_timezone": "Unknown time zone (for example Europe/Moscow).",
        },
    }
)


class Form:
    """A submitted form with typed accessors that collect errors by field."""

    def __init__(self, data: FormData | Mapping[str, Any], lang: str) -> None:
        self._data = data
        self.lang = lang
        self.errors: dict[str, str] = {}
        self.values: dict[str, str] = {
            k: v for k, v in data.items() if isinstance(v, str) and k != "csrf_token"
        }

    def raise_if_invalid(self) -> None:
        if self.errors:
            raise Invalid

    def error(self, field: str, key: str, **fmt: object) -> None:
        """Record a problem with `field` (the first one per field stays)."""
        self.errors.setdefault(field, translate(self.lang, key, **fmt))

    def raw(self, field: str) -> str:
        value = self._data.get(field)
        return value.strip() if isinstance(value, str) else ""

    def many(self, field: str) -> list[str]:
        """Every value of a repeated field (checkbox groups, multi-selects)."""
        getlist = getattr(self._data, "getlist", None)
        values = getlist(field) if getlist else [self._data.get(field)]
        return [v.strip() for v in values if isinstance(v, str) and v.strip()]

    def text(self, field: str, *, required: bool = False, max_length: int = 255) -> str:
        value = self.raw(field)
        if required and not value:
            self.error(field, "form.required")
        elif len(value) > max_length:
            self.error(field, "form.too_long", max=max_length)
        return value

    def flag(self, field: str) -> bool:
        return self.raw(field).lower() in ("1", "on", "true", "yes", "y")

    def number(
        self,
        field: str,
        *,
        minimum: float,
        maximum: float,
        required: bool = True,
    ) -> float | None:
        text = self.raw(field).replace(",", ".")
        if not text:
            if required:
                self.error(field, "form.required")
            return None
        try:
            value = float(text)
        except ValueError:
            self.error(field, "form.not_number")
            return None
        if not math.isfinite(value) or not minimum <= value <= maximum:
            self.error(field, "form.range", min=f"{minimum:g}", max=f"{maximum:g}")
            return None
        return value

    def integer(
        self, field: str, *, minimum: int, maximum: int, required: bool = True
    ) -> int | None:
        text = self.raw(field)
        if not text:
            if required:
                self.error(field, "form.required")
            return None
        if not text.lstrip("-").isdigit():
            self.error(field, "form.not_integer")
            return None
        value = int(text)
        if not minimum <= value <= maximum:
            self.error(field, "form.range", min=minimum, max=maximum)
            return None
        return value

    def day(self, field: str, *, required: bool = True) -> date | None:
        text = self.raw(field)
        if not text:
            if required:
                self.error(field, "form.required")
            return None
        try:
            return date.fromisoformat(text)
        except ValueError:
            self.error(field, "form.not_date")
            return None

    def clock(self, field: str, *, required: bool = True) -> time | None:
        text = self.raw(field)
        if not text:
            if required:
                self.error(field, "form.required")
            return None
        try:
            parsed = time.fromisoformat(text)
        except ValueError:
            self.error(field, "form.not_time")
            return None
        if parsed.tzinfo is not None:
            self.error(field, "form.not_time")
            return None
        return parsed.replace(second=0, microsecond=0)

    def choice(self, field: str, options: Mapping[str, Any] | set[str] | tuple[str, ...]) -> str:
        value = self.raw(field)
        if value not in options:
            self.error(field, "form.bad_choice")
        return value

    def timezone(self, field: str) -> str | None:
        """An IANA zone name, or None when left empty (inherit)."""
        text = self.raw(field)
        if not text:
            return None
        if zone_or_none(text) is None or len(text) > 64:
            self.error(field, "form.bad_timezone")
            return None
        return text


async def read_form(request: Request, session: AdminSession) -> Form:
    """The request's form (already size-checked by `check_csrf`)."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_FORM_BYTES:
        raise AdminDenied(400, "denied.too_large", lang=session.language)
    return Form(await request.form(), session.language)
