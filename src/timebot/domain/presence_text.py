"""Plain-language sentences for presence verdicts and their reasons, in Russian and English."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta
from typing import Literal

from timebot.domain.presence import Reason, ReasonCode, Verdict

__all__ = ["Lang", "describe", "describe_reason"]

Lang = Literal["ru", "en"]


def describe(verdict: Verdict, lang: Lang = "ru") -> str:
    """The verdict as one paragraph: its main reason, then one sentence per suspicion flag."""
    return " ".join(describe_reason(r, lang) for r in verdict.reasons)


def describe_reason(reason: Reason, lang: Lang = "ru") -> str:
    """One sentence explaining `reason`."""
    if lang not in _PHRASES:
        raise ValueError(f"no texts in {lang!r}; use 'ru' or 'en'")
    return _PHRASES[lang][reason.code](reason, _Units(lang))


class _Units:
    """Numbers, distances and durations as a `lang` reader writes them."""

    def __init__(self, lang: Lang) -> None:
        self.ru = lang == "ru"

    def number(self, x: float, digits: int = 0) -> str:
        if not math.isfinite(x):
            return str(x)
        text = f"{x:,.{digits}f}"
        if self.ru:
            return text.replace(",", " ").replace(".", ",")
        return text

    def metres(self, m: float | None) -> str:
        m = abs(m or 0.0)
        if m < 999.5:
            # Zero metres reads as a glitch; anything that reaches a sentence is at least 1.
            return f"{self.number(max(1.0, m))} {'м' if self.ru else 'm'}"
        km = m / 1000
        return f"{self.number(km, 1 if km < 10 else 0)} {'км' if self.ru else 'km'}"

    def accuracy(self, m: float | None) -> str:
        """Like `metres`, but shows what is odd about an implausible value."""
        if m is None or not math.isfinite(m):
            return str(m)
        if m < 1:
            return f"{self.number(m, 2 if m > -1 else 0)} {'м' if self.ru else 'm'}"
        return self.metres(m)

    def duration(self, seconds: float) -> str:
        s = round(abs(seconds))
        if s < 60:
            return f"{s} {'с' if self.ru else 's'}"
        if s < 3600:
            return f"{s // 60} {'мин' if self.ru else 'min'}"
        h, rest = divmod(s, 3600)
        hours = f"{h} {'ч' if self.ru else 'h'}"
        return f"{hours} {rest // 60} {'мин' if self.ru else 'min'}" if rest >= 60 else hours


def _q(text: str | None, fallback: str | None, ru: bool) -> str:
    name = text or fallback or "?"
    return f"«{name}»" if ru else f"“{name}”"


def _office(r: Reason, ru: bool) -> str:
    return _q(r.office_name, r.office_id, ru)


def _zone_ru(r: Reason) -> str:
    return f" (зона {_q(r.zone_name, None, True)})" if r.zone_name else ""


def _zone_en(r: Reason) -> str:
    return f" (zone {_q(r.zone_name, None, False)})" if r.zone_name else ""


def _day(r: Reason, fmt: str) -> str:
    return r.day.strftime(fmt) if r.day is not None else "?"


def _seconds(delta: timedelta | None) -> float:
    return delta.total_seconds() if delta is not None else 0.0


_Phrase = Callable[[Reason, _Units], str]

_RU: dict[ReasonCode, _Phrase] = {
    ReasonCode.INSIDE_ZONE: lambda r, u: f"Вы в офисе {_office(r, True)}{_zone_ru(r)}.",
    ReasonCode.OUTSIDE_ZONES: lambda r, u: (
        f"Вы в {u.metres(r.distance_m)} от офиса {_office(r, True)}."
    ),
    ReasonCode.STRADDLES_BOUNDARY: lambda r, u: (
        f"Вы у самой границы офиса {_office(r, True)}: до неё {u.metres(r.distance_m)}, "
        f"а точность GPS {u.metres(r.accuracy_m)} — нельзя сказать, внутри вы или снаружи."
    ),
    ReasonCode.LOW_ACCURACY: lambda r, u: (
        f"Точность GPS {u.metres(r.accuracy_m)} — слишком низкая, чтобы решить "
        f"(нужно не хуже {u.metres(r.limit)})."
    ),
    ReasonCode.NO_ACCURACY: lambda r, u: (
        "Устройство не сообщило точность координат — нельзя решить, в офисе ли вы."
    ),
    ReasonCode.INVALID_ACCURACY: lambda r, u: (
        f"Устройство сообщило невозможную точность координат ({u.accuracy(r.accuracy_m)}) — "
        "нельзя решить, в офисе ли вы."
    ),
    ReasonCode.NO_ZONES: lambda r, u: (
        "У ваших офисов не задана геозона — проверить местоположение не по чему."
    ),
    ReasonCode.REMOTE_DAY: lambda r, u: (
        "Сегодня удалённый день — подтверждать местоположение не нужно."
    ),
    ReasonCode.NO_GEOFENCE_REQUIRED: lambda r, u: (
        "Вы работаете без привязки к офису — подтверждать местоположение не нужно."
    ),
    ReasonCode.IP_IN_OFFICE_NETWORK: lambda r, u: (
        f"Вы в офисе {_office(r, True)}: IP-адрес {r.ip} — из сети офиса."
    ),
    ReasonCode.NO_GPS_IP_OUTSIDE: lambda r, u: (
        f"Геолокация недоступна, а IP-адрес {r.ip} не из сети офиса — "
        "подтвердить, что вы в офисе, нельзя."
    ),
    ReasonCode.NO_GPS_NO_IP: lambda r, u: (
        "Геолокация недоступна, а IP-адрес неизвестен — подтвердить, что вы в офисе, нельзя."
    ),
    ReasonCode.NO_GPS_NO_NETWORKS: lambda r, u: (
        "Геолокация недоступна, а сети офисов не настроены — подтвердить, что вы в офисе, нельзя."
    ),
    ReasonCode.IMPLAUSIBLE_SPEED: lambda r, u: (
        f"Подозрительно: с прошлой отметки пришлось бы преодолеть {u.metres(r.distance_m)} "
        f"за {u.duration(_seconds(r.elapsed))} — это {u.number(r.value or 0)} км/ч "
        f"(допустимо до {u.number(r.limit or 0)} км/ч)."
    ),
    ReasonCode.REPEATED_COORDINATES: lambda r, u: (
        "Подозрительно: координаты до последней цифры совпадают с отметкой "
        f"за {_day(r, '%d.%m.%Y')} — настоящий GPS так не повторяется."
    ),
    ReasonCode.ZERO_ACCURACY: lambda r, u: (
        "Подозрительно: устройство сообщило нулевую погрешность — "
        "так бывает при подмене геолокации."
    ),
    ReasonCode.IMPLAUSIBLE_ACCURACY: lambda r, u: (
        f"Подозрительно: неправдоподобная точность координат — {u.accuracy(r.accuracy_m)}."
    ),
    ReasonCode.DEVICE_CLOCK_SKEW: lambda r, u: (
        f"Подозрительно: часы устройства {'спешат' if (r.value or 0) > 0 else 'отстают'} "
        f"на {u.duration(r.value or 0)} (допустимо {u.duration(r.limit or 0)})."
    ),
    ReasonCode.IP_OUTSIDE_OFFICE_NETWORKS: lambda r, u: (
        f"Подозрительно: IP-адрес {r.ip} не из сети офиса."
    ),
}

_EN: dict[ReasonCode, _Phrase] = {
    ReasonCode.INSIDE_ZONE: lambda r, u: f"You are at the office {_office(r, False)}{_zone_en(r)}.",
    ReasonCode.OUTSIDE_ZONES: lambda r, u: (
        f"You are {u.metres(r.distance_m)} from the office {_office(r, False)}."
    ),
    ReasonCode.STRADDLES_BOUNDARY: lambda r, u: (
        f"You are right at the edge of the office {_office(r, False)}: "
        f"{u.metres(r.distance_m)} from it with GPS accuracy {u.metres(r.accuracy_m)}, "
        "so we cannot tell whether you are inside."
    ),
    ReasonCode.LOW_ACCURACY: lambda r, u: (
        f"GPS accuracy {u.metres(r.accuracy_m)} is too low to decide "
        f"(need {u.metres(r.limit)} or better)."
    ),
    ReasonCode.NO_ACCURACY: lambda r, u: (
        "The device did not report how accurate its position is, "
        "so we cannot decide whether you are at the office."
    ),
    ReasonCode.INVALID_ACCURACY: lambda r, u: (
        f"The device reported an impossible accuracy ({u.accuracy(r.accuracy_m)}), "
        "so we cannot decide whether you are at the office."
    ),
    ReasonCode.NO_ZONES: lambda r, u: (
        "Your offices have no geofence, so there is nothing to check your position against."
    ),
    ReasonCode.REMOTE_DAY: lambda r, u: "Today is a remote day: no need to confirm your location.",
    ReasonCode.NO_GEOFENCE_REQUIRED: lambda r, u: (
        "You work without an office geofence: no need to confirm your location."
    ),
    ReasonCode.IP_IN_OFFICE_NETWORK: lambda r, u: (
        f"You are at the office {_office(r, False)}: IP address {r.ip} is on its network."
    ),
    ReasonCode.NO_GPS_IP_OUTSIDE: lambda r, u: (
        f"Location is unavailable and IP address {r.ip} is not on an office network, "
        "so we cannot confirm you are at the office."
    ),
    ReasonCode.NO_GPS_NO_IP: lambda r, u: (
        "Location is unavailable and your IP address is unknown, "
        "so we cannot confirm you are at the office."
    ),
    ReasonCode.NO_GPS_NO_NETWORKS: lambda r, u: (
        "Location is unavailable and no office networks are configured, "
        "so we cannot confirm you are at the office."
    ),
    ReasonCode.IMPLAUSIBLE_SPEED: lambda r, u: (
        f"Suspicious: since the previous check you would have covered "
        f"{u.metres(r.distance_m)} in {u.duration(_seconds(r.elapsed))}, "
        f"that is {u.number(r.value or 0)} km/h (limit {u.number(r.limit or 0)} km/h)."
    ),
    ReasonCode.REPEATED_COORDINATES: lambda r, u: (
        f"Suspicious: the coordinates match a check from {_day(r, '%Y-%m-%d')} to the last digit; "
        "real GPS readings never repeat exactly."
    ),
    ReasonCode.ZERO_ACCURACY: lambda r, u: (
        "Suspicious: the device reported zero error, which is typical of a faked location."
    ),
    ReasonCode.IMPLAUSIBLE_ACCURACY: lambda r, u: (
        f"Suspicious: implausible position accuracy of {u.accuracy(r.accuracy_m)}."
    ),
    ReasonCode.DEVICE_CLOCK_SKEW: lambda r, u: (
        f"Suspicious: the device clock is {u.duration(r.value or 0)} "
        f"{'ahead' if (r.value or 0) > 0 else 'behind'} (limit {u.duration(r.limit or 0)})."
    ),
    ReasonCode.IP_OUTSIDE_OFFICE_NETWORKS: lambda r, u: (
        f"Suspicious: IP address {r.ip} is not on an office network."
    ),
}

_PHRASES: dict[str, dict[ReasonCode, _Phrase]] = {"ru": _RU, "en": _EN}
