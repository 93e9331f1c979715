"""Answers to reminders: "still working", "left at …", "forgot to check out" (buttons, commands
and words), and the reminder messages themselves (built here, sent by the reminders job).

"Still working" does both things a person means by it: the check-out reminder comes again after
the portal's snooze (`remind_checkout_snooze_minutes`), and the cut-off moves — the automatic
close then counts from the answer and puts the check-out no earlier than the answer, because the
person vouched for working until then. The answer is kept in the audit log
(`reminder.still_working`), which every process reads, so any worker sees it.

"Left at" records the check-out at the stated time (a `HH:MM` wall time in the person's zone, or
an ISO instant from a button), provisional and flagged "stated_time" for the manager; it must lie
between the last mark and now.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from timebot.bitrix import BotMessageAdded, Keyboard, escape
from timebot.bot import corrections
from timebot.bot.corrections import parse_correction
from timebot.bot.i18n import Lang, t
from timebot.bot.people import context_person, plan_for
from timebot.bot.router import Context, Router, command_of, strip_mentions
from timebot.bot.tracking import answer, at, describe_recorded, duration, keyboard_for
from timebot.domain.marks import MarkKind, WorkState
from timebot.services.plans import WorkPlan
from timebot.services.reminders import (
    STATED_TIME_FLAG,
    Due,
    OpenDayTimeline,
    ReminderRules,
    open_day_timeline,
)
from timebot.services.tracking import (
    OPEN_DAY_LOOKBACK,
    DayView,
    Person,
    Recorded,
    day_view,
    record_mark,
)
from timebot.storage import UnitOfWork
from timebot.storage.tables import AuditEntry, Portal

router = Router("reminders")

STILL_WORKING_ACTION = "reminder.still_working"


# --- "Still working" answers, kept in the audit log -------------------------------------------


async def confirmations_of(
    uow: UnitOfWork, portal_id: int, *, since: datetime, employee_ids: Iterable[int] | None = None
) -> dict[int, list[datetime]]:
    """Every "still working" answer since `since`, per employee id (one query)."""
    query = select(AuditEntry.entity_id, AuditEntry.at).where(
        AuditEntry.portal_id == portal_id,
        AuditEntry.at >= since,
        AuditEntry.action == STILL_WORKING_ACTION,
    )
    if employee_ids is not None:
        query = query.where(AuditEntry.entity_id.in_([str(e) for e in employee_ids]))
    found: dict[int, list[datetime]] = {}
    for entity_id, when in (await uow.session.execute(query)).all():
        if entity_id and str(entity_id).isdigit():
            found.setdefault(int(entity_id), []).append(when)
    return found


async def rules_and_answers(
    uow: UnitOfWork, portal: Portal, person: Person, now: datetime
) -> tuple[ReminderRules, list[datetime]]:
    rules = ReminderRules.from_settings(portal.settings)
    answers = await confirmations_of(
        uow, portal.id, since=now - OPEN_DAY_LOOKBACK, employee_ids=[person.employee_id]
    )
    return rules, answers.get(person.employee_id, [])


# --- Reminder messages (used by the job) -------------------------------------------------------


def wall_time(moment: datetime, tz: ZoneInfo) -> str:
    """HH:MM in the person's zone (button captions cannot carry [timestamp])."""
    return moment.astimezone(tz).strftime("%H:%M")


def left_at_choice(timeline: OpenDayTimeline | None, now: datetime) -> datetime | None:
    """The scheduled end, offered as a "left at" button when it is a possible check-out."""
    if timeline is None or timeline.scheduled_end is None:
        return None
    end = timeline.scheduled_end
    return end if timeline.last_mark_at <= end <= now else None


def reminder_keyboard(
    lang: Lang, tz: ZoneInfo, timeline: OpenDayTimeline | None, now: datetime
) -> Keyboard:
    """*Ещё работаю / Ушёл в … / Забыл отметиться*."""
    kb = Keyboard().command(t("button_still_working", lang), "stillworking", color="primary")
    choice = left_at_choice(timeline, now)
    if choice is not None:
        kb = kb.command(
            t("button_left_at", lang, time=wall_time(choice, tz)),
            "leftat",
            choice.isoformat(),
        )
    return kb.newline().command(t("button_forgot", lang), "forgot", color="alert")


def checkin_reminder(due: Due, lang: Lang) -> tuple[str, Keyboard]:
    return t("remind_checkin", lang, start=at(due.anchor)), keyboard_for(WorkState.OFF, lang)


def checkout_reminder(view: DayView, due: Due, lang: Lang) -> tuple[str, Keyboard]:
    timeline = due.timeline
    assert timeline is not None
    assert view.day is not None
    if timeline.scheduled_end is not None:
        lines = [t("remind_checkout", lang, end=at(timeline.scheduled_end))]
    else:
        lines = [t("remind_checkout_no_end", lang, start=at(view.day.started_at))]
    if timeline.cutoff is not None:
        lines.append(
            t(
                "remind_checkout_cutoff",
                lang,
                cutoff=at(timeline.cutoff),
                close=at(timeline.close_at),
            )
        )
    return "[br]".join(lines), reminder_keyboard(lang, view.tz, timeline, view.now)


def auto_closed_message(result: Recorded, lang: Lang) -> tuple[str, Keyboard]:
    text = t("auto_closed", lang, time=at(result.at), worked=duration(result.view.worked, lang))
    return text, keyboard_for(result.view.state, lang)


# --- Stated times --------------------------------------------------------------------------------

_HHMM = re.compile(r"^\s*([01]?\d|2[0-3])\s*[:.hч]\s*([0-5]\d)\s*$")
_LEFT_AT = re.compile(
    r"^\s*(?:я\s+)?(?:ушел|ушла|ушли|вышел|вышла|left|out|i\s+left|checked\s+out)"
    r"\s+(?:в|во|at)\s+([01]?\d|2[0-3])\s*[:.hч]\s*([0-5]\d)(?:\D.*)?$",
    re.IGNORECASE | re.DOTALL,
)


def _plain(text: str) -> str:
    return unicodedata.normalize("NFC", strip_mentions(text)).lower().replace("ё", "е").strip()


def left_at_words(text: str) -> tuple[int, int] | None:
    """(hour, minute) from "ушёл в 18:05", "left at 6.05", "ушла в 18:05, забыла отметиться"."""
    m = _LEFT_AT.match(_plain(text))
    return (int(m.group(1)), int(m.group(2))) if m else None


def wall_instant(hour: int, minute: int, now: datetime, tz: ZoneInfo) -> tuple[datetime, bool]:
    """The latest instant at or before `now` that reads hour:minute in `tz`, and whether that is
    yesterday's ("left at 23:30" written after midnight means last night)."""
    local_now = now.astimezone(tz)
    candidate = datetime.combine(local_now.date(), time(hour, minute), tzinfo=tz)
    if candidate <= local_now:
        return candidate, False
    yesterday = local_now.date() - timedelta(days=1)
    return datetime.combine(yesterday, time(hour, minute), tzinfo=tz), True


def parse_stated(params: str, now: datetime, tz: ZoneInfo) -> tuple[datetime, bool] | None:
    """A button's ISO instant (naive = the person's wall time) or a typed HH:MM / "ушёл в HH:MM";
    with whether a wall time was taken from yesterday because today's is still to come."""
    text = params.strip()
    if not text:
        return None
    m = _HHMM.match(text)
    if m:
        return wall_instant(int(m.group(1)), int(m.group(2)), now, tz)
    words = left_at_words(text)
    if words:
        return wall_instant(*words, now, tz)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)), False


# --- Handlers ----------------------------------------------------------------------------------


async def _day(ctx: Context) -> tuple[Person, WorkPlan, DayView] | None:
    """The person, their plan and their day (None, answered, when the author is unknown)."""
    person = await context_person(ctx)
    if person is None:
        answer(ctx, t("no_person", ctx.lang), None)
        return None
    today = ctx.now.astimezone(person.tz).date()
    plan = await plan_for(
        ctx.uow,
        ctx.portal,
        person,
        start=today - timedelta(days=3),
        end=today,
        country=ctx.config.country,
    )
    return person, plan, await day_view(ctx.uow, person, plan=plan, now=ctx.now)


async def _open_day(ctx: Context) -> tuple[Person, WorkPlan, DayView] | None:
    """`_day`, answering "no open day" (and returning None) when no day is open."""
    found = await _day(ctx)
    if found is not None and (found[2].day is None or not found[2].day.is_open):
        answer(ctx, t("no_open_day", ctx.lang), keyboard_for(found[2].state, ctx.lang))
        return None
    return found


@router.command("stillworking")
async def still_working(ctx: Context) -> None:
    found = await _open_day(ctx)
    if found is None:
        return
    person, _, view = found
    assert view.day is not None
    rules, answers = await rules_and_answers(ctx.uow, ctx.portal, person, ctx.now)
    ctx.uow.audit.record(
        portal_id=ctx.portal.id,
        at=ctx.now,
        actor=f"user:{person.user_id}",
        action=STILL_WORKING_ACTION,
        entity="employee",
        entity_id=person.employee_id,
        details={"local_date": view.day.local_date.isoformat()},
    )
    timeline = open_day_timeline(view, rules, [*answers, ctx.now])
    assert timeline is not None
    lines = []
    if timeline.remind_at is not None:
        lines.append(t("still_working_ok", ctx.lang, remind=at(timeline.remind_at)))
    else:
        lines.append(t("still_working_ok_no_remind", ctx.lang))
    if timeline.cutoff is not None:
        lines.append(t("still_working_cutoff", ctx.lang, cutoff=at(timeline.cutoff)))
    answer(ctx, "[br]".join(lines), keyboard_for(view.state, ctx.lang))


@router.command("forgot")
async def forgot(ctx: Context) -> None:
    found = await _open_day(ctx)
    if found is None:
        return
    person, _, view = found
    rules, answers = await rules_and_answers(ctx.uow, ctx.portal, person, ctx.now)
    timeline = open_day_timeline(view, rules, answers)
    kb = Keyboard()
    choice = left_at_choice(timeline, ctx.now)
    if choice is not None:
        kb = kb.command(
            t("button_left_at", ctx.lang, time=wall_time(choice, person.tz)),
            "leftat",
            choice.isoformat(),
            color="primary",
        )
    kb = kb.command(t("button_still_working", ctx.lang), "stillworking")
    answer(ctx, t("forgot_ask", ctx.lang), kb)


async def _as_correction(ctx: Context, otherwise: str, keyboard: Keyboard | None) -> None:
    """Hand a typed statement to the corrections dialogue when it reads as one there."""
    event = ctx.event
    if isinstance(event, BotMessageAdded) and parse_correction(strip_mentions(event.text)):
        await corrections.by_word(ctx)
    else:
        answer(ctx, otherwise, keyboard)


async def _left_at(ctx: Context, stated_text: str, *, typed: bool) -> None:
    """Close the open day at the stated time. A typed "ушёл в 18:05" that does not fit an open
    day (none is open, or the time is before its last mark) is a correction request instead."""
    found = await (_day(ctx) if typed else _open_day(ctx))
    if found is None:
        return
    person, plan, view = found
    day = view.day
    parsed = parse_stated(stated_text, ctx.now, person.tz)
    if typed and (day is None or not day.is_open):
        await _as_correction(ctx, t("no_open_day", ctx.lang), keyboard_for(view.state, ctx.lang))
        return
    assert day is not None
    if parsed is None:
        answer(ctx, t("left_at_unreadable", ctx.lang, text=escape(stated_text[:40])), None)
        return
    stated, from_yesterday = parsed
    last = max(m.at for m in (*day.marks, *day.ignored))
    if stated > ctx.now or (from_yesterday and stated < last):
        shown = stated + timedelta(days=1) if from_yesterday else stated
        answer(ctx, t("left_at_future", ctx.lang, time=at(shown)), None)
        return
    if stated < last:
        too_early = t("left_at_too_early", ctx.lang, last=at(last))
        if typed:
            await _as_correction(ctx, too_early, None)
        else:
            answer(ctx, too_early, None)
        return
    result = await record_mark(
        ctx.uow,
        person,
        MarkKind.CHECK_OUT,
        plan=plan,
        now=ctx.now,
        at=stated,
        claimed_at=stated,
        provisional=True,
        flags=[STATED_TIME_FLAG],
        source="chat",
    )
    if not isinstance(result, Recorded):  # a race with another check-out
        answer(ctx, t("no_open_day", ctx.lang), keyboard_for(result.view.state, ctx.lang))
        return
    ctx.uow.audit.record(
        portal_id=ctx.portal.id,
        at=ctx.now,
        actor=f"user:{person.user_id}",
        action="mark.check_out",
        entity="mark",
        entity_id=result.mark_id,
        details={"stated_at": stated.isoformat(), "text": stated_text[:200]},
    )
    text = describe_recorded(result, ctx.lang) + "[br]" + t("stated_time_note", ctx.lang)
    answer(ctx, text, keyboard_for(result.view.state, ctx.lang))


@router.command("leftat")
async def left_at(ctx: Context) -> None:
    command = command_of(ctx.event)
    await _left_at(ctx, command[1] if command else "", typed=False)


@router.text(lambda text: left_at_words(text) is not None)
async def left_at_by_words(ctx: Context) -> None:
    event = ctx.event
    assert isinstance(event, BotMessageAdded)
    await _left_at(ctx, strip_mentions(event.text), typed=True)


WORDS: dict[str, Sequence[str]] = {
    "stillworking": ("еще работаю", "я еще работаю", "все еще работаю", "still working"),
    "forgot": (
        "забыл отметиться",
        "забыла отметиться",
        "забыл отметить уход",
        "забыла отметить уход",
        "forgot to check out",
        "i forgot to check out",
    ),
}
_BY_WORDS = {
    " ".join(re.sub(r"[^\w\s]", " ", w).split()): key for key, ws in WORDS.items() for w in ws
}


def intent_of(text: str) -> str | None:
    return _BY_WORDS.get(" ".join(re.sub(r"[^\w\s]", " ", _plain(text)).split()))


@router.text(lambda text: intent_of(text) is not None)
async def by_words(ctx: Context) -> None:
    event = ctx.event
    assert isinstance(event, BotMessageAdded)
    if intent_of(event.text) == "stillworking":
        await still_working(ctx)
    else:
        await forgot(ctx)
