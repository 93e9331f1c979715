"""The time-tracking dialogue: check-in, break, back, check-out, status, language.

Every answer carries a keyboard that matches the person's state after the action, and shows
times as `[timestamp=…]` so each reader sees them in their own zone. Plain words work as well as
buttons and commands. In a group chat a personal action is recorded, acknowledged briefly, and
answered in full in the private chat.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from timebot.bitrix import Attach, BotMessageAdded, Keyboard, escape
from timebot.bitrix.bbcode import timestamp
from timebot.bot.i18n import Lang, t
from timebot.bot.people import context_person, plan_around, plan_for
from timebot.bot.replies import Reply
from timebot.bot.router import Context, Router, command_of, strip_mentions
from timebot.domain.marks import MarkKind, WorkState
from timebot.domain.workday import Refusal
from timebot.reports.week import format_duration, week_attach, week_text
from timebot.services.links import week_chart_url
from timebot.services.mirror import mirror_mark
from timebot.services.tracking import (
    DayView,
    Person,
    Recorded,
    Refused,
    day_view,
    record_mark,
    summarize_days,
    week_start,
)
from timebot.storage.tables import Employee

router = Router("tracking")


# --- Words ---------------------------------------------------------------------------------------


def normalize(text: str) -> str:
    """Lower case, ё → е, punctuation and emoji dropped, spaces collapsed."""
    text = unicodedata.normalize("NFC", text).lower().replace("ё", "е")
    text = re.sub(r"['’`]", "", text)  # i'm → im
    text = re.sub(r"[^\w\s-]", " ", text)
    return " ".join(text.replace("-", " ").split())


ALIASES: dict[MarkKind | str, tuple[str, ...]] = {
    MarkKind.CHECK_IN: (
        "пришел",
        "пришла",
        "пришел на работу",
        "пришла на работу",
        "на работе",
        "на месте",
        "я на месте",
        "я на работе",
        "начал",
        "начала",
        "начинаю",
        "начал работу",
        "начала работу",
        "начинаю работу",
        "в офисе",
        "я в офисе",
        "приход",
        "старт дня",
        "in",
        "im in",
        "i am in",
        "check in",
        "checkin",
        "clock in",
        "arrived",
        "start work",
        "start the day",
        "at work",
    ),
    MarkKind.BREAK_START: (
        "перерыв",
        "на перерыв",
        "ушел на перерыв",
        "ушла на перерыв",
        "на обед",
        "обед",
        "ушел на обед",
        "ушла на обед",
        "пошел на обед",
        "пошла на обед",
        "отошел",
        "отошла",
        "пауза",
        "перекур",
        "break",
        "lunch",
        "pause",
        "on break",
        "taking a break",
        "break start",
        "lunch break",
    ),
    MarkKind.BREAK_END: (
        "вернулся",
        "вернулась",
        "вернулся с обеда",
        "вернулась с обеда",
        "с обеда",
        "вернулся с перерыва",
        "вернулась с перерыва",
        "снова на месте",
        "продолжаю",
        "back",
        "im back",
        "i am back",
        "back from lunch",
        "back from break",
        "resume",
        "break end",
    ),
    MarkKind.CHECK_OUT: (
        "ушел",
        "ушла",
        "ухожу",
        "ушел домой",
        "ушла домой",
        "ухожу домой",
        "до свидания",
        "до завтра",
        "всем пока",
        "конец дня",
        "конец рабочего дня",
        "закончил",
        "закончила",
        "закончил работу",
        "закончила работу",
        "уход",
        "out",
        "im out",
        "i am out",
        "check out",
        "checkout",
        "clock out",
        "leaving",
        "going home",
        "bye",
        "done for today",
        "end of day",
    ),
    "status": ("статус", "мой статус", "сколько отработал", "сколько отработала", "status"),
    "week": ("неделя", "моя неделя", "итоги недели", "week", "my week"),
}
_BY_WORDS: dict[str, MarkKind | str] = {
    normalize(word): key for key, words in ALIASES.items() for word in words
}


def intent_of(text: str) -> MarkKind | str | None:
    """The action a plain message asks for, or None (whole message must match an alias)."""
    return _BY_WORDS.get(normalize(text))


# --- Formatting ----------------------------------------------------------------------------------


def duration(td: timedelta, lang: Lang) -> str:
    return format_duration(max(td, timedelta()), lang)


def at(dt: datetime) -> str:
    return timestamp(dt)


def keyboard_for(state: WorkState, lang: Lang) -> Keyboard:
    """The buttons that make sense in `state`."""
    kb = Keyboard()
    if state is WorkState.OFF:
        kb = kb.command(t("button_checkin", lang), "checkin", color="primary")
        kb = kb.newline().command(t("button_week", lang), "week")
    elif state is WorkState.WORKING:
        kb = kb.command(t("button_break", lang), "break").command(
            t("button_checkout", lang), "checkout", color="alert"
        )
        kb = kb.newline().command(t("button_status", lang), "status")
        kb = kb.command(t("button_week", lang), "week")
    else:
        kb = kb.command(t("button_back", lang), "back", color="primary")
        kb = kb.newline().command(t("button_checkout", lang), "checkout", color="alert")
        kb = kb.command(t("button_status", lang), "status")
    return kb


def _plan_lines(view: DayView, lang: Lang) -> list[str]:
    lines: list[str] = []
    e = view.expectation
    if e is None:
        return [t("day_off_today", lang)]
    late = view.late_by
    if late is not None and e.start is not None:
        lines.append(t("late", lang, late=duration(late, lang), start=at(e.start)))
    elif late is not None and e.core_start is not None:
        lines.append(t("late", lang, late=duration(late, lang), start=at(e.core_start)))
    if e.start is not None and e.end is not None:
        lines.append(
            t(
                "schedule_today",
                lang,
                start=at(e.start),
                end=at(e.end),
                norm=duration(e.minimum, lang),
            )
        )
    else:
        lines.append(t("norm_today", lang, norm=duration(e.minimum, lang)))
    return lines


def _progress_line(view: DayView, lang: Lang) -> str | None:
    if view.expectation is None:
        return None
    if view.remaining == timedelta():
        return t("norm_done", lang)
    done_at = view.norm_done_at
    return t("norm_done_at", lang, time=at(done_at)) if done_at else None


def describe_recorded(result: Recorded, lang: Lang) -> str:
    view = result.view
    worked = duration(view.worked, lang)
    lines: list[str] = []
    if result.kind is MarkKind.CHECK_IN:
        lines.append(t("checked_in", lang, time=at(result.at)))
        lines.extend(_plan_lines(view, lang))
        progress = _progress_line(view, lang)
        if progress:
            lines.append(progress)
    elif result.kind is MarkKind.BREAK_START:
        lines.append(t("break_started", lang, time=at(result.at), worked=worked))
    elif result.kind is MarkKind.BREAK_END:
        pause = view.day.breaks[-1].duration if view.day and view.day.breaks else timedelta()
        lines.append(t("break_ended", lang, pause=duration(pause, lang), worked=worked))
        progress = _progress_line(view, lang)
        if progress:
            lines.append(progress)
    else:
        lines.append(
            t(
                "checked_out",
                lang,
                time=at(result.at),
                worked=worked,
                breaks=duration(view.on_break, lang),
            )
        )
        if view.expectation is not None:
            norm = view.expectation.minimum
            diff = view.worked - norm
            key = "versus_norm_equal"
            if diff >= timedelta(minutes=1):
                key = "versus_norm_more"
            elif diff <= -timedelta(minutes=1):
                key = "versus_norm_less"
            lines.append(t(key, lang, diff=duration(abs(diff), lang), norm=duration(norm, lang)))
    return "[br]".join(lines)


def describe_status(view: DayView, lang: Lang) -> str:
    day = view.day
    worked, breaks = duration(view.worked, lang), duration(view.on_break, lang)
    if view.state is WorkState.OFF or day is None:
        if day is not None and day.ended_at is not None:
            return t(
                "status_off_today",
                lang,
                worked=worked,
                start=at(day.started_at),
                end=at(day.ended_at),
            )
        lines = [t("status_off", lang)]
        if view.expectation is not None:
            lines.extend(_plan_lines(view, lang))
        return "[br]".join(lines)
    if view.state is WorkState.ON_BREAK:
        since = day.breaks[-1].start if day.breaks else day.started_at
        lines = [t("status_on_break", lang, since=at(since), worked=worked, breaks=breaks)]
    else:
        lines = [t("status_working", lang, start=at(day.started_at), worked=worked, breaks=breaks)]
    lines.extend(line for line in _plan_lines(view, lang) if line)
    progress = _progress_line(view, lang)
    if progress:
        lines.append(progress)
    return "[br]".join(lines)


def describe_refusal(result: Refused, lang: Lang) -> str:
    view = result.view
    day = view.day
    start = at(day.started_at) if day else ""
    since = at(day.breaks[-1].start) if day and day.breaks else start
    reason = result.reason
    if reason is Refusal.ALREADY_WORKING and view.state is WorkState.ON_BREAK:
        return t("refused_already_on_break_checkin", lang, since=since)
    if reason is Refusal.NOT_ON_BREAK and view.state is WorkState.OFF:
        return t("refused_not_on_break_off", lang)
    return t(f"refused_{reason.value}", lang, start=start, since=since)


# --- Handlers ------------------------------------------------------------------------------------


def private_dialog(ctx: Context) -> str:
    """Where personal answers go: the chat itself when private, else the person's own dialog."""
    event = ctx.event
    if getattr(event, "chat_type", "private") == "group" and ctx.employee is not None:
        return str(ctx.employee.bitrix_user_id)
    return str(getattr(event, "dialog_id", ""))


def answer(
    ctx: Context, text: str, keyboard: Keyboard | None, attach: Attach | None = None
) -> None:
    """Answer personally; in a group chat leave a short note there and answer in private."""
    event = ctx.event
    dialog = private_dialog(ctx)
    if dialog != getattr(event, "dialog_id", dialog) and ctx.employee is not None:
        who = f"[user={ctx.employee.bitrix_user_id}]{escape(ctx.employee.name)}[/user]"
        ctx.reply(Reply(str(getattr(event, "dialog_id", "")), t("group_ack", ctx.lang, who=who)))
    ctx.reply(Reply(dialog, text, keyboard, attach))


async def _person(ctx: Context) -> Person | None:
    person = await context_person(ctx)
    if person is None:
        ctx.reply(Reply(str(getattr(ctx.event, "dialog_id", "")), t("no_person", ctx.lang)))
    return person


async def act(ctx: Context, kind: MarkKind) -> None:
    # Imported here: bot.presence builds its answer with this module's helpers.
    from timebot.bot.presence import location_gate

    if await location_gate(ctx, kind):
        return  # the portal wants a location proof: the check-in page records the mark
    person = await _person(ctx)
    if person is None:
        return
    plan = await plan_around(ctx.uow, ctx.portal, person, now=ctx.now, country=ctx.config.country)
    result = await record_mark(ctx.uow, person, kind, plan=plan, now=ctx.now, source="chat")
    if isinstance(result, Refused):
        text = describe_refusal(result, ctx.lang)
    else:
        ctx.uow.audit.record(
            portal_id=ctx.portal.id,
            at=ctx.now,
            actor=f"user:{person.user_id}",
            action=f"mark.{kind.value}",
            entity="mark",
            entity_id=result.mark_id,
        )
        await mirror_mark(
            ctx.uow,
            ctx.portal,
            user_id=person.user_id,
            kind=kind.value,
            mark_id=result.mark_id,
            at=result.at,
            now=ctx.now,
            tz=person.tz,
        )
        text = describe_recorded(result, ctx.lang)
    answer(ctx, text, keyboard_for(result.view.state, ctx.lang))


async def show_status(ctx: Context) -> None:
    person = await _person(ctx)
    if person is None:
        return
    plan = await plan_around(ctx.uow, ctx.portal, person, now=ctx.now, country=ctx.config.country)
    view = await day_view(ctx.uow, person, plan=plan, now=ctx.now)
    answer(ctx, describe_status(view, ctx.lang), keyboard_for(view.state, ctx.lang))


@router.command("week")
async def show_week(ctx: Context) -> None:
    """The current and the previous week, day by day, with totals and a chart."""
    person = await _person(ctx)
    if person is None:
        return
    today = ctx.now.astimezone(person.tz).date()
    first = week_start(today) - timedelta(days=7)
    last = first + timedelta(days=13)
    plan = await plan_for(
        ctx.uow,
        ctx.portal,
        person,
        start=first - timedelta(days=3),
        end=last,
        country=ctx.config.country,
    )
    days = await summarize_days(ctx.uow, person, plan=plan, first=first, last=last, now=ctx.now)
    chart = None
    if ctx.config.public_url and ctx.config.secret_key:
        chart = week_chart_url(
            ctx.config.public_url,
            ctx.config.secret_key,
            portal_id=ctx.portal.id,
            employee_id=person.employee_id,
            week=today,
            now=ctx.now,
        )
    view = await day_view(ctx.uow, person, plan=plan, now=ctx.now)
    answer(
        ctx,
        week_text(days, lang=ctx.lang),
        keyboard_for(view.state, ctx.lang),
        week_attach(days, lang=ctx.lang, tz=person.tz, chart_url=chart),
    )


def _action(kind: MarkKind) -> Callable[[Context], Awaitable[None]]:
    async def handle(ctx: Context) -> None:
        await act(ctx, kind)

    handle.__name__ = f"handle_{kind.value}"
    return handle


COMMAND_KINDS = {
    "checkin": MarkKind.CHECK_IN,
    "break": MarkKind.BREAK_START,
    "back": MarkKind.BREAK_END,
    "checkout": MarkKind.CHECK_OUT,
}
for _name, _kind in COMMAND_KINDS.items():
    router.command(_name)(_action(_kind))
router.command("status")(show_status)


@router.text(lambda text: intent_of(text) is not None)
async def by_word(ctx: Context) -> None:
    event = ctx.event
    assert isinstance(event, BotMessageAdded)
    intent = intent_of(strip_mentions(event.text))
    if isinstance(intent, MarkKind):
        await act(ctx, intent)
    elif intent == "week":
        await show_week(ctx)
    else:
        await show_status(ctx)


LANG_WORDS = {
    "ru": "ru",
    "рус": "ru",
    "русский": "ru",
    "en": "en",
    "eng": "en",
    "english": "en",
    "английский": "en",
}


@router.command("lang", "language", "язык")
async def set_language(ctx: Context) -> None:
    command = command_of(ctx.event)
    params = command[1] if command else ""
    wanted = LANG_WORDS.get(normalize(params))
    employee: Employee | None = ctx.employee
    if wanted is None:  # no or unknown argument: switch to the other language
        wanted = "en" if ctx.lang == "ru" else "ru"
    lang: Lang = "en" if wanted == "en" else "ru"
    if employee is not None:
        employee.language = lang
    ctx.lang = lang
    state = WorkState.OFF
    person = await context_person(ctx)
    if person is not None:
        plan = await plan_around(
            ctx.uow, ctx.portal, person, now=ctx.now, country=ctx.config.country
        )
        state = (await day_view(ctx.uow, person, plan=plan, now=ctx.now)).state
    answer(ctx, t("lang_set", lang), keyboard_for(state, lang))
