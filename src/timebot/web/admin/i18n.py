"""Texts of the admin UI in Russian (default) and English.

Each page module registers its own keys with `register({"ru": {...}, "en": {...}})` at import;
`translate(lang, key, **fmt)` looks a key up (English falls back to Russian, an unknown key
comes back as itself so a missing text is visible, never an error).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = ["LANGUAGES", "register", "translate"]

LANGUAGES: Final = ("ru", "en")

_CATALOG: dict[str, dict[str, str]] = {"ru": {}, "en": {}}


def register(messages: Mapping[str, Mapping[str, str]]) -> None:
    """Add texts: `{"ru": {key: text}, "en": {key: text}}`. A key registered twice with a
    different text is a programming error (two modules fighting over one key)."""
    for lang, texts in messages.items():
        if lang not in _CATALOG:
            raise ValueError(f"unknown language {lang!r}")
        catalog = _CATALOG[lang]
        for key, text in texts.items():
            if catalog.get(key, text) != text:
                raise ValueError(f"i18n key {key!r} ({lang}) is already registered")
            catalog[key] = text


def translate(lang: str, key: str, **fmt: object) -> str:
    """The text of `key` in `lang` with `{placeholders}` filled in."""
    text = _CATALOG.get(lang, _CATALOG["ru"]).get(key) or _CATALOG["ru"].get(key) or key
    if not fmt:
        return text
    try:
        return text.format(**fmt)
    except (KeyError, IndexError, ValueError):
        return text


def has(key: str) -> bool:
    """Whether `key` is known (in Russian, the language every key must have)."""
    return key in _CATALOG["ru"]


register(
    {
        "ru": {
            "app.title": "timebot — учёт рабочего времени",
            "app.brand": "timebot",
            "nav.today": "Сегодня",
            "nav.employees": "Сотрудники",
            "nav.offices": "Офисы",
            "nav.schedules": "Графики",
            "nav.calendar": "Календарь",
            "nav.rules": "Правила",
            "nav.queue": "Заявки",
            "nav.reports": "Отчёты",
            "nav.audit": "Журнал",
            "nav.health": "Подключение",
            "nav.tokens": "API-токены",
            "nav.menu": "Меню",
            "nav.logout": "Выйти",
            "lang.switch": "Язык",
            "lang.ru": "Русский",
            "lang.en": "English",
            "role.admin": "администратор",
            "role.head": "руководитель",
            "role.employee": "сотрудник",
            "common.save": "Сохранить",
            "common.add": "Добавить",
            "common.delete": "Удалить",
            "common.cancel": "Отмена",
            "common.back": "Назад",
            "common.yes": "да",
            "common.no": "нет",
            "common.none": "—",
            "common.search": "Найти",
            "common.all": "Все",
            "common.active": "Активен",
            "common.inactive": "Неактивен",
            "common.name": "Название",
            "common.actions": "Действия",
            "common.read_only": "Только просмотр",
            "common.form_errors": "Проверьте поля формы: {count} ошибк(и).",
            "flash.saved": "Сохранено.",
            "flash.deleted": "Удалено.",
            "flash.created": "Добавлено.",
            "flash.language": "Язык интерфейса изменён.",
            "flash.logged_out": "Вы вышли.",
            "flash.synced": "Сотрудники синхронизированы с Битрикс24.",
            "denied.title": "Нет доступа",
            "denied.no_session": (
                "Вы не вошли. Откройте приложение timebot в Битрикс24 или напишите боту "
                "«admin», чтобы получить ссылку для входа."
            ),
            "denied.expired": (
                "Сеанс истёк или недействителен. Откройте приложение в Битрикс24 заново "
                "или напишите боту «admin»."
            ),
            "denied.portal_gone": "Приложение timebot больше не установлено на этом портале.",
            "denied.admin_only": "Эта страница только для администраторов портала.",
            "denied.managers_only": "Эта страница только для администраторов и руководителей.",
            "denied.csrf": (
                "Форма устарела или отправлена не со страницы timebot (нет CSRF-токена). "
                "Обновите страницу и повторите."
            ),
            "denied.too_large": "Слишком большой запрос.",
            "denied.not_found": "Не найдено (или принадлежит другому порталу).",
            "denied.not_installed": (
                "Приложение timebot не установлено на этом портале (неизвестный member_id). "
                "Установите приложение и откройте его снова."
            ),
            "denied.domain_mismatch": (
                "Адрес портала (DOMAIN) не совпадает с тем, где установлено приложение."
            ),
            "denied.unverified": (
                "Битрикс24 не подтвердил вход (AUTH_ID недействителен или истёк). "
                "Откройте приложение в Битрикс24 заново."
            ),
            "denied.portal_unreachable": (
                "Портал Битрикс24 не отвечает, вход не проверен. Попробуйте через минуту."
            ),
            "denied.bad_request": "Некорректный запрос: {detail}",
            "denied.link_invalid": (
                "Ссылка для входа недействительна, истекла или уже использована. "
                "Напишите боту «admin», чтобы получить новую."
            ),
            "denied.hint": "Откройте приложение timebot из меню Битрикс24.",
            "login.title": "Вход в timebot",
            "login.button": "Войти",
            "login.lead": "Ссылка одноразовая и действует {minutes} мин.",
        },
        "en": {
            "app.title": "timebot — working time",
            "app.brand": "timebot",
            "nav.today": "Today",
            "nav.employees": "Employees",
            "nav.offices": "Offices",
            "nav.schedules": "Schedules",
            "nav.calendar": "Calendar",
            "nav.rules": "Rules",
            "nav.queue": "Requests",
            "nav.reports": "Reports",
            "nav.audit": "Audit log",
            "nav.health": "Connection",
            "nav.tokens": "API tokens",
            "nav.menu": "Menu",
            "nav.logout": "Log out",
            "lang.switch": "Language",
            "lang.ru": "Русский",
            "lang.en": "English",
            "role.admin": "administrator",
            "role.head": "department head",
            "role.employee": "employee",
            "common.save": "Save",
            "common.add": "Add",
            "common.delete": "Delete",
            "common.cancel": "Cancel",
            "common.back": "Back",
            "common.yes": "yes",
            "common.no": "no",
            "common.none": "—",
            "common.search": "Search",
            "common.all": "All",
            "common.active": "Active",
            "common.inactive": "Inactive",
            "common.name": "Name",
            "common.actions": "Actions",
            "common.read_only": "Read only",
            "common.form_errors": "Please check the form: {count} error(s).",
            "flash.saved": "Saved.",
            "flash.deleted": "Deleted.",
            "flash.created": "Added.",
            "flash.language": "Interface language changed.",
            "flash.logged_out": "You are logged out.",
            "flash.synced": "Employees synced from Bitrix24.",
            "denied.title": "Access denied",
            "denied.no_session": (
                "You are not signed in. Open the timebot application in Bitrix24, or write "
                "“admin” to the bot to get a sign-in link."
            ),
            "denied.expired": (
                "The session has expired or is invalid. Open the application in Bitrix24 "
                "again, or write “admin” to the bot."
            ),
            "denied.portal_gone": "The timebot application is no longer installed on this portal.",
            "denied.admin_only": "This page is for portal administrators only.",
            "denied.managers_only": "This page is for administrators and department heads only.",
            "denied.csrf": (
                "The form is out of date or was not sent from a timebot page (no CSRF token). "
                "Reload the page and try again."
            ),
            "denied.too_large": "The request is too large.",
            "denied.not_found": "Not found (or it belongs to another portal).",
            "denied.not_installed": (
                "The timebot application is not installed on this portal (unknown member_id). "
                "Install it and open it again."
            ),
            "denied.domain_mismatch": (
                "The portal address (DOMAIN) does not match the portal the application is "
                "installed on."
            ),
            "denied.unverified": (
                "Bitrix24 did not confirm the sign-in (AUTH_ID is invalid or expired). "
                "Open the application in Bitrix24 again."
            ),
            "denied.portal_unreachable": (
                "The Bitrix24 portal does not answer, so the sign-in could not be checked. "
                "Try again in a minute."
            ),
            "denied.bad_request": "Bad request: {detail}",
            "denied.link_invalid": (
                "The sign-in link is invalid, expired or already used. Write “admin” to the "
                "bot to get a new one."
            ),
            "denied.hint": "Open the timebot application from the Bitrix24 menu.",
            "login.title": "Sign in to timebot",
            "login.button": "Sign in",
            "login.lead": "The link works once and for {minutes} min.",
        },
    }
)
