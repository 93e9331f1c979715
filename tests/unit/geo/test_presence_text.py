"""Verdicts read as plain sentences in Russian and English, with distances, accuracy and every
flag phrased."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from timebot.domain.geo import Point
from timebot.domain.geofence import CircleZone, Office
from timebot.domain.presence import (
    Fix,
    PastFix,
    PresencePolicy,
    Reason,
    ReasonCode,
    Verdict,
    evaluate,
    evaluate_ip_only,
    remote_verdict,
)
from timebot.domain.presence_text import describe, describe_reason

from .places import travel

NOW = datetime(2025, 3, 3, 6, 0, tzinfo=UTC)
CENTRE = Point(55.7558, 37.6173)
HQ = Office("hq", "Центральный", (CircleZone("door", "Главный вход", CENTRE, 100.0),))
POLICY = PresencePolicy()


def judged(point: Point, accuracy: float | None) -> Verdict:
    return evaluate(Fix(point, accuracy, None, NOW), [HQ], policy=POLICY)


def test_inside_names_the_office_and_the_zone() -> None:
    verdict = judged(CENTRE, 10.0)
    assert describe(verdict) == "Вы в офисе «Центральный» (зона «Главный вход»)."
    assert describe(verdict, "en") == "You are at the office “Центральный” (zone “Главный вход”)."


def test_outside_says_how_far_in_metres_or_kilometres() -> None:
    near = judged(travel(CENTRE, 90.0, 450.0), 10.0)
    assert describe(near, "ru") == "Вы в 350 м от офиса «Центральный»."
    assert describe(near, "en") == "You are 350 m from the office “Центральный”."
    town = judged(travel(CENTRE, 90.0, 1_330.0), 10.0)
    assert describe(town) == "Вы в 1,2 км от офиса «Центральный»."
    assert describe(town, "en") == "You are 1.2 km from the office “Центральный”."
    city = judged(travel(CENTRE, 315.0, 634_100.0), 10.0)
    assert describe(city) == "Вы в 634 км от офиса «Центральный»."
    far = judged(Point(43.1155, 131.8855), 10.0)  # Vladivostok
    assert describe(far).startswith("Вы в 6 4")  # thousands grouped with a space
    assert describe(far, "en").startswith("You are 6,4")


def test_low_accuracy_says_it_is_too_low_to_decide() -> None:
    verdict = judged(CENTRE, 180.0)
    assert describe(verdict) == (
        "Точность GPS 180 м — слишком низкая, чтобы решить (нужно не хуже 100 м)."
    )
    assert describe(verdict, "en") == (
        "GPS accuracy 180 m is too low to decide (need 100 m or better)."
    )


def test_a_straddling_fix_says_it_is_at_the_edge() -> None:
    verdict = judged(travel(CENTRE, 0.0, 96.0), 40.0)
    assert describe(verdict) == (
        "Вы у самой границы офиса «Центральный»: до неё 4 м, а точность GPS 40 м — "
        "нельзя сказать, внутри вы или снаружи."
    )
    assert "cannot tell whether you are inside" in describe(verdict, "en")


def test_flags_follow_the_main_sentence() -> None:
    history = [PastFix(travel(CENTRE, 315.0, 634_000.0), 5.0, NOW - timedelta(minutes=30))]
    verdict = evaluate(
        Fix(CENTRE, 0.0, NOW + timedelta(minutes=7), NOW, "8.8.8.8"),
        [HQ],
        policy=POLICY,
        history=history,
        office_networks=["10.0.0.0/8"],
    )
    assert describe(verdict) == (
        "Вы в офисе «Центральный» (зона «Главный вход»). "
        "Подозрительно: с прошлой отметки пришлось бы преодолеть 634 км за 30 мин — "
        "это 1 268 км/ч (допустимо до 200 км/ч). "
        "Подозрительно: устройство сообщило нулевую погрешность — "
        "так бывает при подмене геолокации. "
        "Подозрительно: часы устройства спешат на 7 мин (допустимо 5 мин). "
        "Подозрительно: IP-адрес 8.8.8.8 не из сети офиса."
    )
    assert describe(verdict, "en") == (
        "You are at the office “Центральный” (zone “Главный вход”). "
        "Suspicious: since the previous check you would have covered 634 km in 30 min, "
        "that is 1,268 km/h (limit 200 km/h). "
        "Suspicious: the device reported zero error, which is typical of a faked location. "
        "Suspicious: the device clock is 7 min ahead (limit 5 min). "
        "Suspicious: IP address 8.8.8.8 is not on an office network."
    )


def test_repeated_coordinates_and_implausible_accuracy_read_naturally() -> None:
    repeated = Reason(code=ReasonCode.REPEATED_COORDINATES, day=date(2025, 3, 2))
    assert describe_reason(repeated) == (
        "Подозрительно: координаты до последней цифры совпадают с отметкой за 02.03.2025 — "
        "настоящий GPS так не повторяется."
    )
    assert "from 2025-03-02 to the last digit" in describe_reason(repeated, "en")
    tiny = Reason(code=ReasonCode.IMPLAUSIBLE_ACCURACY, accuracy_m=0.3, limit=1.0)
    assert describe_reason(tiny) == "Подозрительно: неправдоподобная точность координат — 0,30 м."
    assert describe_reason(tiny, "en") == "Suspicious: implausible position accuracy of 0.30 m."
    skew = Reason(code=ReasonCode.DEVICE_CLOCK_SKEW, value=-3 * 3600 - 300, limit=300)
    assert (
        describe_reason(skew)
        == "Подозрительно: часы устройства отстают на 3 ч 5 мин (допустимо 5 мин)."
    )


def test_remote_and_ip_verdicts_read_naturally() -> None:
    assert (
        describe(remote_verdict())
        == "Сегодня удалённый день — подтверждать местоположение не нужно."
    )
    assert (
        describe(remote_verdict(), "en")
        == "Today is a remote day: no need to confirm your location."
    )
    by_ip = evaluate_ip_only("10.1.2.3", {HQ: ["10.0.0.0/8"]})
    assert describe(by_ip) == "Вы в офисе «Центральный»: IP-адрес 10.1.2.3 — из сети офиса."
    off_net = evaluate_ip_only("8.8.8.8", {HQ: ["10.0.0.0/8"]})
    assert describe(off_net) == (
        "Геолокация недоступна, а IP-адрес 8.8.8.8 не из сети офиса — "
        "подтвердить, что вы в офисе, нельзя."
    )


FULL = {
    "office_id": "hq",
    "office_name": "Central",  # Latin names, so any Cyrillic comes from the sentence
    "zone_id": "door",
    "zone_name": "Entrance",
    "distance_m": 12.0,
    "accuracy_m": 30.0,
    "value": 400.0,
    "limit": 200.0,
    "elapsed": timedelta(seconds=45),
    "ip": "203.0.113.9",
    "day": date(2025, 3, 2),
}


@pytest.mark.parametrize("code", list(ReasonCode))
@pytest.mark.parametrize("lang", ["ru", "en"])
def test_every_reason_has_a_sentence_in_both_languages(code: ReasonCode, lang: str) -> None:
    text = describe_reason(Reason(code=code, **FULL), lang)  # type: ignore[arg-type]
    assert text.endswith(".")
    assert text[0].isupper()
    has_cyrillic = any("а" <= ch.lower() <= "я" for ch in text)
    assert has_cyrillic is (lang == "ru")
    bare = describe_reason(Reason(code=code), lang)  # type: ignore[arg-type]
    assert bare  # missing numbers never crash the text


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="'de'"):
        describe(remote_verdict(), "de")  # type: ignore[arg-type]
