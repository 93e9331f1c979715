"""`/me` ("мои данные"): shows a person what timebot keeps about them — profile fields, how many
marks and location fixes, the latest fixes, how long coordinates are kept, and how to have the
data deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from timebot.bitrix import BB, escape
from timebot.bitrix.bbcode import timestamp, user_mention
from timebot.bot.i18n import Lang
from timebot.bot.people import person_for
from timebot.bot.replies import Reply
from timebot.bot.router import Context, Router
from timebot.bot.tracking import normalize
from timebot.services.retention import retention_days
from timebot.storage.tables import Department, Employee, LocationFix, Mark, Zone

__all__ = ["LATEST_FIXES", "MY_DATA_PHRASES", "TEXTS", "router", "show_my_data"]

router = Router("privacy")

# How many of the newest location fixes the answer lists.
LATEST_FIXES = 5

# Compared after `tracking.normalize` (lower case, no punctuation, ё → е).
MY_DATA_PHRASES = frozenset(
    {
        "мои данные",
        "мои персональные данные",
        "что вы храните",
        "что вы обо мне храните",
        "что ты хранишь",
        "что ты обо мне хранишь",
        "какие данные вы храните",
        "какие данные обо мне хранятся",
        "my data",
        "my personal data",
        "what do you store",
        "what do you store about me",
        "what do you keep about me",
        "what data do you keep",
        "what data do you store",
    }
)

TEXTS: dict[str, dict[Lang, str]] = {
    "title": {"ru": "[b]Что я храню о вас[/b]", "en": "[b]What I keep about you[/b]"},
    "name": {"ru": "Имя: {value}", "en": "Name: {value}"},
    "email": {"ru": "E-mail: {value}", "en": "E-mail: {value}"},
    "timezone": {"ru": "Часовой пояс: {value}", "en": "Time zone: {value}"},
    "departments": {"ru": "Отделы: {value}", "en": "Departments: {value}"},
    "language": {"ru": "Язык: {value}", "en": "Language: {value}"},
    "consent": {
        "ru": "Согласие на обработку геолокации: {value}",
        "en": "Consent to location processing: {value}",
    },
    "consent_given": {"ru": "дано {date}", "en": "given on {date}"},
    "consent_none": {"ru": "не давали", "en": "not given"},
    "not_set": {"ru": "не указан", "en": "not set"},
    "none": {"ru": "нет", "en": "none"},
    "inherited": {"ru": "{value} (по умолчанию)", "en": "{value} (default)"},
    "counts": {
        "ru": "Отметок прихода, ухода и перерывов: {marks}. Геоотметок: {fixes}.",
        "en": "Check-in, check-out and break marks: {marks}. Location fixes: {fixes}.",
    },
    "counts_erased": {
        "ru": "У {erased} из них координаты уже удалены.",
        "en": "{erased} of them already have their coordinates erased.",
    },
    "latest": {"ru": "[b]Последние геоотметки[/b]", "en": "[b]Latest location fixes[/b]"},
    "fix_distance": {"ru": "{value} до границы зоны", "en": "{value} from the zone boundary"},
    "fix_coordinates": {"ru": "координаты {value}", "en": "coordinates {value}"},
    "fix_erased": {"ru": "координаты удалены", "en": "coordinates erased"},
    "retention": {
        "ru": (
            "Координаты, точность, IP-адрес и время устройства хранятся {days} дн., потом "
            "удаляются; решение (в офисе или нет) и расстояние до зоны остаются."
        ),
        "en": (
            "Coordinates, accuracy, IP address and device time are kept for {days} days, then "
            "erased; the verdict (at the office or not) and the distance to the zone remain."
        ),
    },
    "delete_admins": {
        "ru": "Чтобы удалить данные о вас, напишите администратору: {admins}.",
        "en": "To have your data deleted, write to an administrator: {admins}.",
    },
    "delete_portal": {
        "ru": "Чтобы удалить данные о вас, обратитесь к администратору портала Битрикс24.",
        "en": "To have your data deleted, ask your Bitrix24 portal administrator.",
    },
    "sent_privately": {
        "ru": "Ответил в личном чате.",
        "en": "I answered in our private chat.",
    },
    "no_person": {
        "ru": "Я пока ничего о вас не храню.",
        "en": "I do not keep anything about you yet.",
    },
}

VERDICTS: dict[str, dict[Lang, str]] = {
    "inside": {"ru": "в офисе", "en": "at the office"},
    "outside": {"ru": "вне офиса", "en": "outside the office"},
    "uncertain": {"ru": "не определено", "en": "undecided"},
    "remote": {"ru": "удалённо", "en": "remote"},
}


def _t(key: str, lang: Lang, **values: object) -> str:
    text = TEXTS[key][lang]
    return text.format(**values) if values else text


@dataclass(frozen=True, slots=True)
class _Fix:
    at: datetime
    verdict: str
    distance_m: float | None
    lat: float | None
    lon: float | None
    erased: bool
    zone_name: str | None


@dataclass(frozen=True, slots=True)
class _Stored:
    departments: list[str]
    marks: int
    fixes: int
    erased: int
    latest: list[_Fix]
    admins: list[tuple[int, str]]


async def _stored(ctx: Context, employee: Employee) -> _Stored:
    session = ctx.uow.session
    portal_id = ctx.portal.id
    dept_ids = [int(d) for d in (employee.department_ids or []) if str(d).isdigit()]
    departments: list[str] = []
    if dept_ids:
        result = await session.execute(
            select(Department.bitrix_id, Department.name).where(
                Department.portal_id == portal_id, Department.bitrix_id.in_(dept_ids)
            )
        )
        names = {bitrix_id: name for bitrix_id, name in result}
        departments = [names.get(d, f"#{d}") for d in dept_ids]
    marks = await session.scalar(
        select(func.count(Mark.id)).where(
            Mark.portal_id == portal_id, Mark.employee_id == employee.id
        )
    )
    fixes, erased = (
        await session.execute(
            select(func.count(LocationFix.id), func.count(LocationFix.erased_at)).where(
                LocationFix.portal_id == portal_id, LocationFix.employee_id == employee.id
            )
        )
    ).one()
    rows = await session.execute(
        select(LocationFix, Zone.name)
        .outerjoin(Zone, Zone.id == LocationFix.zone_id)
        .where(LocationFix.portal_id == portal_id, LocationFix.employee_id == employee.id)
        .order_by(LocationFix.at.desc(), LocationFix.id.desc())
        .limit(LATEST_FIXES)
    )
    latest = [
        _Fix(
            at=fix.at,
            verdict=fix.verdict,
            distance_m=fix.distance_m,
            lat=fix.lat,
            lon=fix.lon,
            erased=fix.erased_at is not None,
            zone_name=zone_name,
        )
        for fix, zone_name in rows
    ]
    admins = (
        await session.execute(
            select(Employee.bitrix_user_id, Employee.name)
            .where(
                Employee.portal_id == portal_id,
                Employee.is_admin.is_(True),
                Employee.active.is_(True),
            )
            .order_by(Employee.bitrix_user_id)
            .limit(3)
        )
    ).all()
    return _Stored(
        departments=departments,
        marks=int(marks or 0),
        fixes=int(fixes or 0),
        erased=int(erased or 0),
        latest=latest,
        admins=[(int(uid), name) for uid, name in admins],
    )


def _metres(m: float, lang: Lang) -> str:
    m = abs(m)
    if m < 1000:
        return f"{m:.0f} {'м' if lang == 'ru' else 'm'}"
    km = f"{m / 1000:.1f}"
    return f"{km.replace('.', ',') if lang == 'ru' else km} {'км' if lang == 'ru' else 'km'}"


def _fix_line(fix: _Fix, lang: Lang) -> str:
    when = f"{timestamp(fix.at, 'SHORT_DATE_FORMAT')} {timestamp(fix.at)}"
    parts = [VERDICTS.get(fix.verdict, {}).get(lang) or escape(fix.verdict)]
    if fix.zone_name:
        name = escape(fix.zone_name)
        parts[0] += f" (зона «{name}»)" if lang == "ru" else f" (zone “{name}”)"
    if fix.distance_m is not None:
        parts.append(_t("fix_distance", lang, value=_metres(fix.distance_m, lang)))
    if fix.erased or fix.lat is None or fix.lon is None:
        parts.append(_t("fix_erased", lang))
    else:
        parts.append(_t("fix_coordinates", lang, value=f"{fix.lat:.4f}, {fix.lon:.4f}"))
    return f"• {when} — " + "; ".join(parts)


def _listing(values: Sequence[str], lang: Lang) -> str:
    return ", ".join(escape(v) for v in values) if values else _t("none", lang)


def my_data_text(ctx: Context, employee: Employee, stored: _Stored, tz_name: str, lang: Lang) -> BB:
    """The whole answer as BB-code."""
    portal = ctx.portal
    timezone = (
        escape(employee.timezone)
        if employee.timezone
        else _t("inherited", lang, value=escape(tz_name))
    )
    language = (
        escape(employee.language)
        if employee.language
        else _t("inherited", lang, value=escape(portal.language))
    )
    consent = (
        _t("consent_given", lang, date=timestamp(employee.consented_at, "SHORT_DATE_FORMAT"))
        if employee.consented_at is not None
        else _t("consent_none", lang)
    )
    lines = [
        _t("title", lang),
        _t("name", lang, value=escape(employee.name or "—")),
        _t("email", lang, value=escape(employee.email) if employee.email else _t("not_set", lang)),
        _t("timezone", lang, value=timezone),
        _t("departments", lang, value=_listing(stored.departments, lang)),
        _t("language", lang, value=language),
        _t("consent", lang, value=consent),
        "",
        _t("counts", lang, marks=stored.marks, fixes=stored.fixes),
    ]
    if stored.erased:
        lines[-1] += " " + _t("counts_erased", lang, erased=stored.erased)
    if stored.latest:
        lines += [_t("latest", lang), *(_fix_line(f, lang) for f in stored.latest)]
    lines += ["", _t("retention", lang, days=retention_days(portal.settings))]
    if stored.admins:
        admins = ", ".join(user_mention(uid, name or f"#{uid}") for uid, name in stored.admins)
        lines.append(_t("delete_admins", lang, admins=admins))
    else:
        lines.append(_t("delete_portal", lang))
    return BB("[br]".join(lines))


def _dialog(ctx: Context) -> str:
    return str(getattr(ctx.event, "dialog_id", ""))


@router.command("me")
async def show_my_data(ctx: Context) -> None:
    """What is stored about the author. In a group chat the answer goes to the private chat."""
    employee = ctx.employee
    if employee is None:
        ctx.reply(Reply(_dialog(ctx), _t("no_person", ctx.lang)))
        return
    person = await person_for(ctx.uow, ctx.portal, employee)
    stored = await _stored(ctx, employee)
    tz_name = getattr(person.tz, "key", None) or str(person.tz)
    text = my_data_text(ctx, employee, stored, tz_name, ctx.lang)
    # Personal data never goes to a group chat: the private dialog's id is the user's id.
    private = str(employee.bitrix_user_id)
    ctx.reply(Reply(private, text))
    dialog = _dialog(ctx)
    if dialog and dialog != private:
        ctx.reply(Reply(dialog, _t("sent_privately", ctx.lang)))


@router.text(lambda text: normalize(text) in MY_DATA_PHRASES)
async def my_data_by_words(ctx: Context) -> None:
    await show_my_data(ctx)
