"""The weekly statistics job: on Monday morning every active employee gets their previous week
in the chat, and every manager a summary of their team.

`send_weekly` is a plain coroutine for the scheduler: call it once a week (Monday, e.g. 09:00
in the portal's zone) under the scheduler's claim. It is safe to call again or from several
workers at once: every message goes to the outbox under a dedupe key unique per portal —
`weekly:{employee}:{iso week}` for a person, `weekly:team:{manager user}:{iso week}[:part]`
for a team — so each is queued once, and a rerun only fills in what a failed run missed.

Per portal the facts are read in a fixed number of queries (`services.weekly.gather_weekly`),
the messages rendered, and queued in transactions of `BATCH` rows. No REST calls: the outbox
dispatcher delivers. A portal can turn the statistics off with `"weekly_stats": false` in its
settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

from timebot.bitrix import Attach, GridRow, send_message_params
from timebot.bitrix.bbcode import BB, bb, bold, escape
from timebot.bot.config import BotConfig
from timebot.bot.i18n import lang_of
from timebot.bot.people import portal_calendar
from timebot.domain.clock import Clock
from timebot.domain.timezones import resolve_zone
from timebot.logs import get_logger
from timebot.reports.week import (
    MONTHS_EN,
    Lang,
    format_duration,
    format_signed_duration,
    week_attach,
)
from timebot.services.links import week_chart_url
from timebot.services.tracking import week_start
from timebot.services.weekly import (
    TeamWeek,
    WeeklyPerson,
    gather_weekly,
    reporting_week,
    team_key,
    weekly_enabled,
    weekly_key,
)
from timebot.storage import Database, UnitOfWork
from timebot.storage.repositories.reporting import ReportingRepository

__all__ = ["BATCH", "TEAM_ROWS", "Outgoing", "person_message", "send_weekly", "team_messages"]

log = get_logger(__name__)

BATCH: Final = 200  # outbox rows per transaction
TEAM_ROWS: Final = 40  # people per team message; a bigger team gets several parts

TEXTS: Final[dict[Lang, dict[str, str]]] = {
    "ru": {
        "week": "Итоги недели",
        "worked": "отработано",
        "of": "из",
        "late": "опозданий",
        "team": "Команда: итоги недели",
        "people": "чел.",
        "part": "часть",
    },
    "en": {
        "week": "Week in review",
        "worked": "worked",
        "of": "of",
        "late": "late days",
        "team": "Your team's week",
        "people": "people",
        "part": "part",
    },
}


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to queue."""

    key: str
    dialog_id: str
    text: str
    attach: Attach | None


@dataclass(frozen=True, slots=True)
class _Portal:
    """What queueing needs of the portal row (plain values: rows expire with their session)."""

    id: int
    bot_id: int
    bot_token: str | None
    language: str


def _span(monday: date, lang: Lang) -> str:
    sunday = monday + timedelta(days=6)
    if lang == "en":
        first = f"{monday.day} {MONTHS_EN[monday.month - 1]}"
        return f"{first} – {sunday.day} {MONTHS_EN[sunday.month - 1]}"
    return f"{monday:%d.%m} – {sunday:%d.%m}"


def _hours_line(worked: timedelta, norm: timedelta, late: int, lang: Lang) -> str:
    t = TEXTS[lang]
    text = f"{format_duration(worked, lang)}"
    if norm:
        text += f" {t['of']} {format_duration(norm, lang)}"
        text += f" ({format_signed_duration(worked - norm, lang)})"
    return f"{text} · {t['late']}: {late}"


def person_message(person: WeeklyPerson, *, lang: Lang, chart_url: str | None) -> Outgoing:
    """ "Итоги недели 16.11 – 22.11: отработано 38 ч из 40 ч (−2 ч) · опозданий: 1", and the
    «Моя неделя» table of that week and the current one, with the chart."""
    t = TEXTS[lang]
    headline = f"{t['week']} {_span(person.monday, lang)}:"
    text = bb(
        bold(headline),
        f" {t['worked']} {_hours_line(person.worked, person.norm, person.late_days, lang)}",
    )
    attach = week_attach(person.days, lang=lang, tz=person.tz, chart_url=chart_url)
    return Outgoing(
        weekly_key(person.employee_id, person.monday), str(person.user_id), text, attach
    )


def team_messages(team: TeamWeek, *, lang: Lang) -> list[Outgoing]:
    """The team's week: a headline with the sums and a grid row per person (name | worked /
    norm · late days; red when late or short of the norm), `TEAM_ROWS` people per message."""
    t = TEXTS[lang]
    members = team.members
    monday = members[0].monday
    worked = sum((m.worked for m in members), timedelta())
    norm = sum((m.norm for m in members), timedelta())
    late = sum(m.late_days for m in members)
    title = f"{t['team']} {_span(monday, lang)}"
    summary = (
        f" {len(members)} {t['people']}, {t['worked']} {_hours_line(worked, norm, late, lang)}"
    )
    parts = [members[i : i + TEAM_ROWS] for i in range(0, len(members), TEAM_ROWS)]
    out: list[Outgoing] = []
    for number, chunk in enumerate(parts, start=1):
        heading = title if len(parts) == 1 else f"{title} ({t['part']} {number}/{len(parts)})"
        rows = [
            GridRow(
                escape(m.name),
                _hours_line(m.worked, m.norm, m.late_days, lang),
                width=160,
                color="alert" if m.late_days or m.worked < m.norm else None,
            )
            for m in chunk
        ]
        attach = Attach(color="primary").message(bold(heading)).grid(rows)
        text: BB = bb(bold(heading + ":"), summary) if number == 1 else bold(heading)
        out.append(
            Outgoing(
                team_key(team.manager_user_id, monday, number),
                str(team.manager_user_id),
                text,
                attach,
            )
        )
    return out


async def _enqueue(uow: UnitOfWork, portal: _Portal, message: Outgoing, now: datetime) -> bool:
    method, params = send_message_params(
        "v2",
        portal.bot_id,
        message.dialog_id,
        message.text,
        attach=message.attach,
        bot_token=portal.bot_token,
        message_id_key=message.key,
    )
    return await uow.outbox.enqueue(
        portal_id=portal.id,
        kind="message",
        method=method,
        payload={"params": params},
        now=now,
        dedupe_key=message.key[:191],
    )


async def _portal_messages(
    database: Database,
    portal_id: int,
    *,
    now: datetime,
    config: BotConfig,
    week: date | None = None,
) -> tuple[_Portal | None, list[Outgoing]]:
    """Read one portal's week and render what is not queued yet."""
    async with database.unit_of_work() as uow:
        row = await uow.portals.get(portal_id)
        if row is None or row.status != "active" or row.bot_id is None or not weekly_enabled(row):
            return None, []
        portal = _Portal(
            id=row.id,
            bot_id=row.bot_id,
            bot_token=row.bot_token if row.connection == "webhook" else None,
            language=row.language,
        )
        if week is not None:
            monday = week_start(week)
        else:
            monday = reporting_week(now, resolve_zone(None, None, row.timezone))
        calendar = await portal_calendar(
            uow, row, country=config.country, start=monday, end=monday + timedelta(days=13)
        )
        digest = await gather_weekly(uow, row, now=now, calendar=calendar, monday=monday)
        keys = [weekly_key(p.employee_id, monday) for p in digest.people]
        keys += [team_key(t.manager_user_id, monday) for t in digest.teams]
        queued = await ReportingRepository(uow.session).queued_keys(portal_id, keys)
    messages: list[Outgoing] = []
    for person in digest.people:
        if weekly_key(person.employee_id, monday) in queued:
            continue
        chart = None
        if config.public_url and config.secret_key:
            chart = week_chart_url(
                config.public_url,
                config.secret_key,
                portal_id=portal_id,
                employee_id=person.employee_id,
                week=monday + timedelta(days=7),  # the chart shows that week and the one before
                now=now,
            )
        lang = lang_of(person.language, portal.language)
        messages.append(person_message(person, lang=lang, chart_url=chart))
    for team in digest.teams:
        if team_key(team.manager_user_id, monday) in queued:
            continue
        messages.extend(team_messages(team, lang=lang_of(team.language, portal.language)))
    return portal, messages


async def _queue(
    database: Database, portal: _Portal, messages: Sequence[Outgoing], now: datetime
) -> int:
    queued = 0
    for i in range(0, len(messages), BATCH):
        async with database.unit_of_work() as uow:
            for message in messages[i : i + BATCH]:
                queued += await _enqueue(uow, portal, message, now)
            await uow.commit()
    return queued


async def send_weekly(
    database: Database,
    *,
    clock: Clock,
    bot_config: BotConfig,
    portal_id: int | None = None,
    week: date | None = None,
) -> int:
    """Queue the weekly statistics of every active portal with a bot (or of one portal);
    returns how many messages were queued now (0 when everything was queued before). A failing
    portal is logged and skipped.

    `week` (any date in it) picks the week to report; by default the previous week in each
    portal's zone. The scheduler passes its occurrence's week (`services.weekly.week_monday`).
    """
    now = clock.now()
    async with database.unit_of_work() as uow:
        portal_ids = [
            p.id
            for p in await uow.portals.active()
            if p.bot_id is not None and (portal_id is None or p.id == portal_id)
        ]
    total = 0
    for pid in portal_ids:
        try:
            portal, messages = await _portal_messages(
                database, pid, now=now, config=bot_config, week=week
            )
            if portal is None:
                continue
            queued = await _queue(database, portal, messages, now)
        except Exception:
            log.exception("weekly.portal_failed", portal_id=pid)
            continue
        log.info("weekly.queued", portal_id=pid, messages=queued)
        total += queued
    return total
