"""Corrections in the chat: "ушла в 18:10, забыла отметиться" → a card for the head → a decision.

The person writes what happened in their own words; the bot checks the request, sends it to
the people who may decide it (heads of the person's departments, else portal administrators)
as a card with *Одобрить* / *Отклонить*, and tells the person the outcome. A request without a
reason is kept in the dialog state (the database, so any process continues it) while the bot
asks for one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from timebot.bitrix import BotMessageAdded, Keyboard, escape
from timebot.bitrix.bbcode import timestamp, user_mention
from timebot.bot.i18n import Lang, lang_of, t
from timebot.bot.people import context_person, person_for, plan_for
from timebot.bot.replies import Reply
from timebot.bot.router import Context, Router, command_of, strip_mentions
from timebot.bot.tracking import intent_of, keyboard_for, normalize, private_dialog
from timebot.domain.marks import Mark, MarkKind
from timebot.services.corrections import (
    CorrectionPlan,
    CorrectionRefused,
    DecisionProblem,
    DecisionRefused,
    claimed_instant,
    decide,
    plan_correction,
    request_correction,
)
from timebot.services.tracking import Person, day_view
from timebot.storage import UnitOfWork
from timebot.storage.repositories.corrections import ConversationRepository
from timebot.storage.repositories.people import EmployeeRepository
from timebot.storage.tables import Employee, Portal

__all__ = [
    "ParsedCorrection",
    "parse_correction",
    "router",
]

router = Router("corrections")

# --- Words ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParsedCorrection:
    """ "вчера ушла в 18:10, забыла отметиться" as data."""

    kind: MarkKind
    at: time  # the local wall time
    days_ago: int | None  # 0 today, 1 yesterday, 2 the day before; None: not said
    reason: str  # as written, "" when none was given


# Phrases that only make sense with a time ("left at 18:05"), on top of tracking's ALIASES.
EXTRA_WORDS: dict[str, MarkKind] = {
    normalize(word): kind
    for kind, words in {
        MarkKind.CHECK_IN: (
            "пришел в офис",
            "пришла в офис",
            "начал работать",
            "начала работать",
            "came",
            "came in",
            "got in",
            "arrived at work",
            "started",
            "started work",
        ),
        MarkKind.BREAK_START: ("ушел на перерыв", "went to lunch", "went on break"),
        MarkKind.BREAK_END: ("came back", "got back", "returned"),
        MarkKind.CHECK_OUT: (
            "ушел с работы",
            "ушла с работы",
            "закончил работать",
            "закончила работать",
            "left",
            "left work",
            "went home",
            "finished",
            "finished work",
        ),
    }.items()
    for word in words
}
# Words a phrase may start with that change nothing ("я ушла в 18:10").
FILLERS = {"я", "ну", "а", "и", "i", "so", "well", "ok"}

_TIME = re.compile(
    r"(?<!\S)(?:(?P<prep>во|в|at|@)\s*)?(?P<h>\d{1,2})(?:[:.](?P<m>\d{2}))?(?![:.]?\d)"
    r"(?:\s*(?:ч|час|часа|часов|h)(?!\w)\.?)?"  # "в 6 ч", "at 6h"
    r"(?:\s*(?P<part>am|pm|утра|дня|вечера|ночи)(?!\w))?"  # "в 6 вечера", "at 6pm"
    r"(?!\w)",
    re.IGNORECASE,
)
_AFTERNOON = {"pm", "дня", "вечера"}
_DAYS = {
    "сегодня": 0,
    "today": 0,
    "вчера": 1,
    "yesterday": 1,
    "позавчера": 2,
    "day before yesterday": 2,
}
_DAY = re.compile(
    r"(?<!\w)(позавчера|вчера|сегодня|day before yesterday|yesterday|today)(?!\w)", re.IGNORECASE
)
_LEADING_DAY = re.compile(r"^[\s,]*(позавчера|вчера|сегодня|yesterday|today)(?!\w)", re.I)
_SEGMENTS = re.compile(r"[,;—–]|\s-\s")
_LEAD = re.compile(r"^[\s,;:.!?\-—–(]+")
_CONNECTOR = re.compile(
    r"^(?:потому что|так как|т\.\s*к\.|т к|причина|because(?! of)|since|as|reason)(?!\w)"
    r"[\s,:\-—–]*",
    re.IGNORECASE,
)


def _kind_of(text: str) -> MarkKind | None:
    words = normalize(text).split()
    while words:
        phrase = " ".join(words)
        found = intent_of(phrase) or EXTRA_WORDS.get(phrase)
        if isinstance(found, MarkKind):
            return found
        if words[0] not in FILLERS:
            return None
        words = words[1:]
    return None


def _clean_reason(text: str) -> str:
    text = _LEAD.sub("", text)
    text = _CONNECTOR.sub("", text)
    return text.strip().rstrip(".)").strip()


def parse_correction(text: str) -> ParsedCorrection | None:
    """A correction request in plain words, or None when the text is not one.

    The action comes before the time ("ушла в 18:10", "out at 18:05", "на обед в 13:00"), the
    time is H:MM or H.MM (a bare hour only after "в"/"at"), "вчера"/"yesterday" may stand
    anywhere before it or right after it, and everything else is the reason.
    """
    text = text.strip()
    for match in _TIME.finditer(text):
        prep, minutes = match.group("prep"), match.group("m")
        if prep is None and minutes is None and match.group("part") is None:
            continue
        hour, minute = int(match.group("h")), int(minutes or 0)
        part = (match.group("part") or "").lower()
        if part and not 1 <= hour <= 12:
            continue  # "в 18 вечера" is no time
        if part in _AFTERNOON and hour < 12:
            hour += 12
        elif part in ("am", "ночи") and hour == 12:
            hour = 0
        if hour > 23 or minute > 59:
            continue
        head, rest = text[: match.start()], text[match.end() :]
        days_ago: int | None = None
        day = _DAY.search(head)
        if day is not None:
            days_ago = _DAYS[" ".join(day.group(1).lower().split())]
            head = head[: day.start()] + " " + head[day.end() :]
        leading = _LEADING_DAY.match(rest)
        if leading is not None:
            days_ago = _DAYS[leading.group(1).lower()] if days_ago is None else days_ago
            rest = rest[leading.end() :]
        segments = [s for s in _SEGMENTS.split(head) if s.strip()]
        if not segments:
            continue
        kind = _kind_of(segments[-1])
        if kind is None:
            continue
        before = ", ".join(_clean_reason(s) for s in segments[:-1] if _clean_reason(s))
        reason = ", ".join(p for p in (before, _clean_reason(rest)) if p)
        return ParsedCorrection(kind, time(hour, minute), days_ago, reason)
    return None


# --- Formatting ----------------------------------------------------------------------------------


def kind_name(kind: MarkKind | str, lang: Lang) -> str:
    return t(f"correction_kind_{MarkKind(kind).value}", lang)


def when(at: datetime, lang: Lang) -> str:
    return t(
        "correction_when",
        lang,
        date=timestamp(at, "DAY_MONTH_FORMAT"),
        time=timestamp(at),
    )


def change_text(kind: MarkKind | str, claimed_at: datetime, target: Mark | None, lang: Lang) -> str:
    """ "отметить уход 23 ноября в 18:10" or "перенести приход 24 ноября: 09:40 → 09:00"."""
    if target is None:
        return t("correction_add", lang, kind=kind_name(kind, lang), when=when(claimed_at, lang))
    text = t(
        "correction_move",
        lang,
        kind=kind_name(kind, lang),
        date=timestamp(claimed_at, "DAY_MONTH_FORMAT"),
        old=timestamp(target.at),
        new=timestamp(claimed_at),
    )
    return text + (t("correction_was_auto", lang) if target.provisional else "")


def marks_line(marks: Sequence[Mark], lang: Lang) -> str:
    if not marks:
        return t("correction_day_empty", lang)
    listed = ", ".join(f"{kind_name(m.kind, lang)} {timestamp(m.at)}" for m in marks)
    return t("correction_day", lang, marks=listed)


def refusal_text(refused: CorrectionRefused, lang: Lang) -> str:
    problem = refused.problem.value
    text = t(
        f"correction_refused_{problem}",
        lang,
        kind=kind_name(refused.kind, lang),
        when=when(refused.claimed_at, lang),
        id=refused.pending_id or "",
    )
    if problem in ("unchanged", "no_day", "conflict"):
        text += "[br]" + marks_line(refused.day_marks, lang)
    return text


async def _employee(uow: UnitOfWork, portal: Portal, user_id: int) -> Employee | None:
    return await EmployeeRepository(uow.session).by_bitrix_id(portal.id, user_id)


async def mention(uow: UnitOfWork, portal: Portal, user_id: int) -> str:
    employee = await _employee(uow, portal, user_id)
    return user_mention(user_id, employee.name if employee else f"#{user_id}")


async def _lang_of_user(uow: UnitOfWork, portal: Portal, user_id: int) -> Lang:
    employee = await _employee(uow, portal, user_id)
    return lang_of(employee.language if employee else None, portal.language)


async def _keyboard(ctx: Context, person: Person, lang: Lang) -> Keyboard:
    """The tracking keyboard for the person's state now."""
    today = ctx.now.astimezone(person.tz).date()
    plan = await plan_for(
        ctx.uow, ctx.portal, person, start=today, end=today, country=ctx.config.country
    )
    view = await day_view(ctx.uow, person, plan=plan, now=ctx.now)
    return keyboard_for(view.state, lang)


def _answer(ctx: Context, text: str, keyboard: Keyboard | None) -> None:
    """Answer in the person's private dialog; in a group chat leave a short note there."""
    event_dialog = str(getattr(ctx.event, "dialog_id", ""))
    dialog = private_dialog(ctx)
    if dialog != event_dialog and ctx.employee is not None:
        who = user_mention(ctx.employee.bitrix_user_id, ctx.employee.name)
        ctx.reply(Reply(event_dialog, t("correction_group_ack", ctx.lang, who=who)))
    ctx.reply(Reply(dialog, text, keyboard))


# --- Asking --------------------------------------------------------------------------------------

REASON_STATE = "correction_reason"
REASON_WAIT = timedelta(minutes=30)
CANCEL_WORDS = {"отмена", "отменить", "не надо", "cancel", "stop", "стоп", "never mind"}


async def _submit(
    ctx: Context, person: Person, kind: MarkKind, claimed_at: datetime, reason: str
) -> None:
    assert ctx.employee is not None
    result = await request_correction(
        ctx.uow,
        person,
        kind,
        claimed_at,
        reason=reason,
        requested_by=ctx.employee.bitrix_user_id,
        now=ctx.now,
    )
    keyboard = await _keyboard(ctx, person, ctx.lang)
    if isinstance(result, CorrectionRefused):
        _answer(ctx, refusal_text(result, ctx.lang), keyboard)
        return
    plan = result.plan
    who = await mention(ctx.uow, ctx.portal, ctx.employee.bitrix_user_id)
    approvers = [await mention(ctx.uow, ctx.portal, uid) for uid in plan.approvers]
    _answer(
        ctx,
        t(
            "correction_sent",
            ctx.lang,
            id=result.correction_id,
            change=change_text(kind, plan.claimed_at, plan.target, ctx.lang),
            reason=escape(result.reason),
            approvers=", ".join(approvers),
        ),
        keyboard,
    )
    for uid in plan.approvers:
        lang = await _lang_of_user(ctx.uow, ctx.portal, uid)
        ctx.reply(
            Reply(
                str(uid),
                card_text(result.correction_id, who, plan, result.reason, lang),
                card_keyboard(result.correction_id, lang),
            )
        )


def card_text(correction_id: int, who: str, plan: CorrectionPlan, reason: str, lang: Lang) -> str:
    return t(
        "correction_card",
        lang,
        id=correction_id,
        who=who,
        change=change_text(plan.kind, plan.claimed_at, plan.target, lang),
        reason=escape(reason),
        day=marks_line(plan.day_marks, lang),
    )


def card_keyboard(correction_id: int, lang: Lang) -> Keyboard:
    return (
        Keyboard()
        .command(
            t("button_approve", lang), "approve", str(correction_id), color="primary", block=True
        )
        .command(t("button_reject", lang), "reject", str(correction_id), color="alert", block=True)
    )


@router.text(lambda text: parse_correction(text) is not None)
async def by_word(ctx: Context) -> None:
    event = ctx.event
    assert isinstance(event, BotMessageAdded)
    parsed = parse_correction(strip_mentions(event.text))
    assert parsed is not None
    person = await context_person(ctx)
    if person is None or ctx.employee is None:
        ctx.reply(Reply(str(event.dialog_id), t("no_person", ctx.lang)))
        return
    claimed_at = claimed_instant(parsed.at, person.tz, ctx.now, parsed.days_ago)
    if parsed.reason:
        await _submit(ctx, person, parsed.kind, claimed_at, parsed.reason)
        return
    plan = await plan_correction(ctx.uow, person, parsed.kind, claimed_at, now=ctx.now)
    if isinstance(plan, CorrectionRefused):
        _answer(ctx, refusal_text(plan, ctx.lang), await _keyboard(ctx, person, ctx.lang))
        return
    await ConversationRepository(ctx.uow.session).put(
        ctx.portal.id,
        str(event.dialog_id),
        ctx.employee.bitrix_user_id,
        state=REASON_STATE,
        data={"kind": parsed.kind.value, "claimed_at": claimed_at.isoformat()},
        now=ctx.now,
    )
    _answer(
        ctx,
        t(
            "correction_ask_reason",
            ctx.lang,
            change=change_text(plan.kind, plan.claimed_at, plan.target, ctx.lang),
        ),
        None,
    )


@router.pending()
async def take_reason(ctx: Context) -> bool:
    """The reason a pending request waits for (before any other text handler sees it)."""
    event = ctx.event
    if not isinstance(event, BotMessageAdded) or ctx.employee is None:
        return False
    if command_of(event) is not None:
        return False
    states = ConversationRepository(ctx.uow.session)
    user_id, dialog = ctx.employee.bitrix_user_id, str(event.dialog_id)
    state = await states.get(ctx.portal.id, dialog, user_id)
    if state is None or state.state != REASON_STATE:
        return False
    await states.clear(ctx.portal.id, dialog, user_id)
    if ctx.now - state.updated_at > REASON_WAIT:
        return False
    text = strip_mentions(event.text).strip()
    person = await context_person(ctx)
    if person is None or not text:
        return False
    if normalize(text) in CANCEL_WORDS:
        _answer(ctx, t("correction_cancelled", ctx.lang), await _keyboard(ctx, person, ctx.lang))
        return True
    kind = MarkKind(str(state.data["kind"]))
    claimed_at = datetime.fromisoformat(str(state.data["claimed_at"]))
    await _submit(ctx, person, kind, claimed_at, _clean_reason(text) or text)
    return True


# --- Deciding ------------------------------------------------------------------------------------


def _dialog(ctx: Context) -> str:
    return str(getattr(ctx.event, "dialog_id", ""))


async def _decide(ctx: Context, *, approve: bool) -> None:
    command = command_of(ctx.event)
    params = command[1] if command else ""
    number, _, comment = params.strip().partition(" ")
    if not number.lstrip("#№").isdigit():
        ctx.reply(Reply(_dialog(ctx), t("correction_bad_id", ctx.lang)))
        return
    if ctx.employee is None:
        ctx.reply(Reply(_dialog(ctx), t("no_person", ctx.lang)))
        return
    correction_id = int(number.lstrip("#№"))
    result = await decide(
        ctx.uow,
        ctx.portal.id,
        correction_id,
        approve=approve,
        by_user_id=ctx.employee.bitrix_user_id,
        now=ctx.now,
        comment=comment,
    )
    if isinstance(result, DecisionRefused):
        ctx.reply(Reply(_dialog(ctx), await _decision_refusal(ctx, correction_id, result)))
        return
    correction, employee = result.correction, result.employee
    outcome = "approved" if result.approved else "rejected"
    who = await mention(ctx.uow, ctx.portal, employee.bitrix_user_id)
    decider = await mention(ctx.uow, ctx.portal, ctx.employee.bitrix_user_id)
    ctx.reply(
        Reply(
            _dialog(ctx),
            t(
                f"correction_done_{outcome}",
                ctx.lang,
                id=correction.id,
                who=who,
                change=change_text(correction.kind, correction.claimed_at, result.target, ctx.lang),
            ),
        )
    )
    lang = lang_of(employee.language, ctx.portal.language)
    person = await person_for(ctx.uow, ctx.portal, employee)
    text = t(
        f"correction_told_{outcome}",
        lang,
        id=correction.id,
        who=decider,
        change=change_text(correction.kind, correction.claimed_at, result.target, lang),
    )
    if result.decision.comment:
        text += "[br]" + t("correction_comment", lang, comment=escape(result.decision.comment))
    ctx.reply(Reply(str(employee.bitrix_user_id), text, await _keyboard(ctx, person, lang)))


async def _decision_refusal(ctx: Context, correction_id: int, refused: DecisionRefused) -> str:
    lang = ctx.lang
    if refused.problem is DecisionProblem.ALREADY_DECIDED and refused.decision is not None:
        decision = refused.decision
        return t(
            "correction_already",
            lang,
            id=correction_id,
            outcome=t(f"correction_outcome_{decision.decision}", lang),
            who=await mention(ctx.uow, ctx.portal, decision.decided_by),
        )
    return t(f"correction_decision_{refused.problem.value}", lang, id=correction_id)


@router.command("approve")
async def approve(ctx: Context) -> None:
    await _decide(ctx, approve=True)


@router.command("reject")
async def reject(ctx: Context) -> None:
    await _decide(ctx, approve=False)
