"""Explain & approve in the chat: the manager taps *Запросить объяснение* under the digest (or
types `/explain <employee_id>:<YYYY-MM-DD>:<kind>`), the person gets the violation in words
with quick answers (*Пробки/транспорт*, *Болел(а)*, …, *Другое…* for their own words), every
approver gets a card with the answer and *Принять* / *Не принимать*, one tap decides, and the
person hears the outcome. An accepted explanation excuses the violation in later digests.

Commands: `explain` ("<employee_id>:<date>:<kind>"), `reason` ("<explanation_id>:<code>"),
`accept` / `decline` ("<explanation_id>").
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Final

from timebot.bitrix import BotMessageAdded, Keyboard, escape
from timebot.bitrix.bbcode import user_mention
from timebot.bot.corrections import CANCEL_WORDS
from timebot.bot.i18n import Lang, lang_of
from timebot.bot.i18n import t as common_text
from timebot.bot.people import person_for, plan_for
from timebot.bot.replies import Reply
from timebot.bot.router import Context, Router, command_of, strip_mentions
from timebot.bot.tracking import intent_of, normalize
from timebot.domain.violations import Violation, ViolationKind
from timebot.reports.digest import details, kind_label
from timebot.reports.week import MONTHS_EN
from timebot.services.digest import digest_window
from timebot.services.explanations import (
    ACCEPTED,
    ANSWERED,
    QUICK_REASONS,
    REJECTED,
    REQUESTED,
    AnswerProblem,
    AnswerRefused,
    AskRefused,
    DecideProblem,
    DecideRefused,
    answer_explanation,
    decide_explanation,
    find_violation,
    parse_explain_params,
    parse_id,
    parse_reason_params,
    request_explanation,
)
from timebot.storage import UnitOfWork
from timebot.storage.repositories.corrections import ConversationRepository
from timebot.storage.repositories.explanations import ExplanationRepository
from timebot.storage.repositories.people import EmployeeRepository
from timebot.storage.tables import Employee, Explanation, Portal

__all__ = [
    "ACCEPT_COMMAND",
    "DECLINE_COMMAND",
    "EXPLAIN_COMMAND",
    "REASON_COMMAND",
    "REASON_STATE",
    "TEXTS",
    "card_keyboard",
    "day_words",
    "quick_keyboard",
    "router",
    "subject",
    "text",
]

router = Router("explanations")

EXPLAIN_COMMAND: Final = "explain"
REASON_COMMAND: Final = "reason"
ACCEPT_COMMAND: Final = "accept"
DECLINE_COMMAND: Final = "decline"
REASON_STATE: Final = "explanation_reason"
REASON_WAIT: Final = timedelta(minutes=30)

TEXTS: Final[dict[str, dict[Lang, str]]] = {
    # Quick answers (the stored reason is the label in the person's language).
    "reason_traffic": {"ru": "Пробки/транспорт", "en": "Traffic/transport"},
    "reason_sick": {"ru": "Болел(а)", "en": "I was ill"},
    "reason_remote": {"ru": "Работал(а) удалённо", "en": "I worked remotely"},
    "reason_client": {"ru": "Был(а) у клиента/на встрече", "en": "At a client/meeting"},
    "reason_agreed": {"ru": "Согласовано с руководителем", "en": "Agreed with my manager"},
    "reason_other": {"ru": "Другое…", "en": "Other…"},
    # The violation for the person themself ("you"); other kinds use the digest's words.
    "you_late_start": {
        "ru": "пришли в {actual}, допуск до {allowed}",
        "en": "you arrived at {actual}, tolerance until {allowed}",
    },
    "you_early_leave": {
        "ru": "ушли в {actual}, допуск с {allowed}",
        "en": "you left at {actual}, tolerance from {allowed}",
    },
    "you_absent": {
        "ru": "нет отметок в рабочий день",
        "en": "no check-in on a working day",
    },
    "you_forgotten_checkout": {
        "ru": "не отмечен уход, день открыт с {actual}",
        "en": "no check-out, the day is open since {actual}",
    },
    # Asking.
    "ask": {
        "ru": (
            "❓ Руководитель ({who}) просит объяснить: {subject}.[br]"
            "Выберите причину или нажмите «Другое…», чтобы написать свою."
        ),
        "en": (
            "❓ Your manager ({who}) asks you to explain: {subject}.[br]"
            "Pick a reason, or press “Other…” to write your own."
        ),
    },
    "sent": {
        "ru": "📨 Запрос отправлен: {who} — {subject}. Я пришлю ответ, когда он будет.",
        "en": "📨 Request sent: {who}, {subject}. I will forward the answer when it comes.",
    },
    "already_requested": {
        "ru": "Запрос уже отправлен, ответа пока нет: {who} — {subject}.",
        "en": "The request is sent already, no answer yet: {who}, {subject}.",
    },
    "already_accepted": {
        "ru": "Объяснение уже принято ({decider}): {who} — {subject}, «{reason}».",
        "en": "The explanation is accepted already ({decider}): {who}, {subject}, “{reason}”.",
    },
    "bad_target": {
        "ru": (
            "Не понял, о каком нарушении речь. Нажмите кнопку в сводке или напишите: "
            "/explain <номер сотрудника>:<ГГГГ-ММ-ДД>:<нарушение>."
        ),
        "en": (
            "I did not get which violation you mean. Press the button in the digest or write: "
            "/explain <employee number>:<YYYY-MM-DD>:<violation>."
        ),
    },
    "ask_not_found": {
        "ru": "Такого сотрудника нет.",
        "en": "There is no such employee.",
    },
    "ask_inactive": {
        "ru": "{who} больше не работает в компании: спросить не получится.",
        "en": "{who} no longer works here, so I cannot ask.",
    },
    "ask_self": {
        "ru": "Свои нарушения объясняют руководителю, а не себе 🙂",
        "en": "Your own violations are explained to your manager, not to yourself 🙂",
    },
    "ask_not_allowed": {
        "ru": (
            "Извините, запросить объяснение у {who} может только руководитель сотрудника "
            "или администратор портала."
        ),
        "en": (
            "Sorry, only the employee's manager or a portal administrator can ask {who} "
            "for an explanation."
        ),
    },
    "ask_future": {
        "ru": "Этот день ещё не наступил.",
        "en": "That day has not come yet.",
    },
    "ask_too_old": {
        "ru": "Это было слишком давно: объяснения запрашивают за последние три месяца.",
        "en": "That was too long ago: explanations cover the last three months.",
    },
    # Answering.
    "ask_own_words": {
        "ru": "Напишите причину одним сообщением (или «отмена»).",
        "en": "Write the reason in one message (or “cancel”).",
    },
    "own_words_cancelled": {
        "ru": "Хорошо, ответ не отправлен. Причину можно выбрать кнопкой в сообщении выше.",
        "en": "All right, nothing is sent. You can still pick a reason in the message above.",
    },
    "thanks": {
        "ru": "✅ Спасибо! Ответ «{reason}» отправлен руководителю ({approvers}).",
        "en": "✅ Thank you! Your answer “{reason}” is sent to your manager ({approvers}).",
    },
    "thanks_replaced": {
        "ru": "✅ Ответ изменён на «{reason}» и отправлен руководителю ({approvers}).",
        "en": "✅ Your answer is now “{reason}”; sent to your manager ({approvers}).",
    },
    "answer_not_found": {
        "ru": "Этого запроса больше нет.",
        "en": "That request is gone.",
    },
    "answer_not_yours": {
        "ru": "Этот запрос адресован другому сотруднику.",
        "en": "That request is for somebody else.",
    },
    "answer_decided": {
        "ru": "По этому объяснению уже есть решение: {outcome} ({decider}). Изменить ответ нельзя.",
        "en": "This explanation is decided already: {outcome} ({decider}). It cannot change now.",
    },
    "answer_empty": {
        "ru": "Причина пустая — напишите её словами.",
        "en": "The reason is empty; please write it in words.",
    },
    "bad_reason": {
        "ru": "Не понял ответ. Выберите причину кнопкой под запросом.",
        "en": "I did not get the answer. Pick a reason with a button under the request.",
    },
    # Deciding.
    "card": {
        "ru": "💬 [b]Объяснение №{id}[/b][br]{who} — {subject}.[br]Причина: {reason}",
        "en": "💬 [b]Explanation #{id}[/b][br]{who}: {subject}.[br]Reason: {reason}",
    },
    "card_replaced": {
        "ru": (
            "💬 [b]Объяснение №{id} (ответ изменён)[/b][br]{who} — {subject}.[br]Причина: {reason}"
        ),
        "en": (
            "💬 [b]Explanation #{id} (answer changed)[/b][br]{who}: {subject}.[br]Reason: {reason}"
        ),
    },
    "button_accept": {"ru": "Принять", "en": "Accept"},
    "button_decline": {"ru": "Не принимать", "en": "Decline"},
    "done_accepted": {
        "ru": (
            "✅ Объяснение №{id} принято: {who} — {subject}. "
            "В сводках это нарушение больше не учитывается."
        ),
        "en": (
            "✅ Explanation #{id} accepted: {who}, {subject}. "
            "Digests no longer count this violation."
        ),
    },
    "done_rejected": {
        "ru": "❌ Объяснение №{id} не принято: {who} — {subject}.",
        "en": "❌ Explanation #{id} declined: {who}, {subject}.",
    },
    "told_accepted": {
        "ru": (
            "✅ Ваше объяснение принято ({decider}): {subject} — «{reason}». "
            "Нарушение не учитывается."
        ),
        "en": (
            "✅ Your explanation is accepted ({decider}): {subject}, “{reason}”. "
            "The violation no longer counts."
        ),
    },
    "told_rejected": {
        "ru": "❌ Ваше объяснение не принято ({decider}): {subject} — «{reason}».",
        "en": "❌ Your explanation is declined ({decider}): {subject}, “{reason}”.",
    },
    "outcome_accepted": {"ru": "принято", "en": "accepted"},
    "outcome_rejected": {"ru": "не принято", "en": "declined"},
    "decide_already_decided": {
        "ru": "Объяснение №{id} уже рассмотрено: {outcome} ({decider}).",
        "en": "Explanation #{id} is decided already: {outcome} ({decider}).",
    },
    "decide_not_answered": {
        "ru": "Сотрудник ещё не ответил на запрос №{id}: решать пока нечего.",
        "en": "The employee has not answered request #{id} yet: nothing to decide.",
    },
    "decide_not_found": {
        "ru": "Объяснения №{id} нет.",
        "en": "There is no explanation #{id}.",
    },
    "decide_self": {
        "ru": "Свои объяснения принимать нельзя: №{id} решает руководитель.",
        "en": "You cannot decide your own explanation: #{id} is for your manager.",
    },
    "decide_not_allowed": {
        "ru": (
            "Извините, решать по объяснению №{id} могут только руководитель сотрудника "
            "или администратор портала."
        ),
        "en": (
            "Sorry, only the employee's manager or a portal administrator can decide "
            "explanation #{id}."
        ),
    },
    "bad_id": {
        "ru": "Укажите номер объяснения, например: /accept 12.",
        "en": "Give the explanation number, for example: /accept 12.",
    },
}


def text(key: str, lang: Lang, **values: object) -> str:
    template = TEXTS[key][lang]
    return template.format(**values) if values else template


# --- Words ---------------------------------------------------------------------------------------


def day_words(d: date, lang: Lang) -> str:
    """ "23.11" / "23 Nov"."""
    return f"{d.day} {MONTHS_EN[d.month - 1]}" if lang == "en" else f"{d:%d.%m}"


def _clock(at: datetime | None) -> str:
    return "—" if at is None else at.strftime("%H:%M")


def facts(violation: Violation, lang: Lang, *, you: bool) -> str:
    """What happened, for the person ("пришли в 09:40, …") or about them (the digest's words)."""
    key = f"you_{violation.kind.value}"
    if you and key in TEXTS:
        return text(key, lang, actual=_clock(violation.actual), allowed=_clock(violation.allowed))
    return details(violation, lang)


def subject(
    kind: ViolationKind | str,
    local_date: date,
    violation: Violation | None,
    lang: Lang,
    *,
    you: bool = False,
) -> str:
    """ "опоздание 23.11 (пришли в 09:40, допуск до 09:10)", BB-code safe."""
    words = f"{kind_label(ViolationKind(kind), lang).lower()} {day_words(local_date, lang)}"
    if violation is not None:
        words += f" ({facts(violation, lang, you=you)})"
    return escape(words)


def quick_keyboard(explanation_id: int, lang: Lang) -> Keyboard:
    """The quick answers, two a row; "other" asks for the person's own words."""
    keyboard = Keyboard()
    for i, code in enumerate(QUICK_REASONS):
        if i and i % 2 == 0:
            keyboard = keyboard.newline()
        keyboard = keyboard.command(
            text(f"reason_{code}", lang), REASON_COMMAND, f"{explanation_id}:{code}"
        )
    return keyboard


def card_keyboard(explanation_id: int, lang: Lang) -> Keyboard:
    return (
        Keyboard()
        .command(text("button_accept", lang), ACCEPT_COMMAND, str(explanation_id), color="primary")
        .command(text("button_decline", lang), DECLINE_COMMAND, str(explanation_id), color="alert")
    )


# --- Helpers -------------------------------------------------------------------------------------


def _dialog(ctx: Context) -> str:
    return str(getattr(ctx.event, "dialog_id", ""))


def _params(ctx: Context) -> str:
    command = command_of(ctx.event)
    return command[1] if command else ""


async def _mention(uow: UnitOfWork, portal: Portal, user_id: int | None) -> str:
    if not user_id:
        return "—"
    employee = await EmployeeRepository(uow.session).by_bitrix_id(portal.id, user_id)
    return user_mention(user_id, employee.name if employee else f"#{user_id}")


async def _lang_of_user(uow: UnitOfWork, portal: Portal, user_id: int) -> Lang:
    employee = await EmployeeRepository(uow.session).by_bitrix_id(portal.id, user_id)
    return lang_of(employee.language if employee else None, portal.language)


async def _violation(ctx: Context, employee: Employee, row: Explanation) -> Violation | None:
    """The violation the explanation is about, rebuilt from the record (None when it is gone)."""
    try:
        kind = ViolationKind(row.violation_kind)
    except ValueError:
        return None
    person = await person_for(ctx.uow, ctx.portal, employee)
    first, last = digest_window(row.local_date)
    plan = await plan_for(
        ctx.uow, ctx.portal, person, start=first, end=last, country=ctx.config.country
    )
    return await find_violation(ctx.uow, person, plan, row.local_date, kind, now=ctx.now)


def _reason(row: Explanation) -> str:
    return escape(row.reason or "")


async def _send_cards(
    ctx: Context,
    row: Explanation,
    employee: Employee,
    violation: Violation | None,
    approvers: tuple[int, ...],
    *,
    replaced: bool = False,
) -> None:
    who = user_mention(employee.bitrix_user_id, employee.name)
    for uid in approvers:
        lang = await _lang_of_user(ctx.uow, ctx.portal, uid)
        ctx.reply(
            Reply(
                str(uid),
                text(
                    "card_replaced" if replaced else "card",
                    lang,
                    id=row.id,
                    who=who,
                    subject=subject(row.violation_kind, row.local_date, violation, lang),
                    reason=_reason(row),
                ),
                card_keyboard(row.id, lang),
            )
        )


# --- Asking --------------------------------------------------------------------------------------


@router.command(EXPLAIN_COMMAND)
async def explain(ctx: Context) -> None:
    target = parse_explain_params(_params(ctx))
    if target is None:
        ctx.reply(Reply(_dialog(ctx), text("bad_target", ctx.lang)))
        return
    if ctx.employee is None:
        ctx.reply(Reply(_dialog(ctx), common_text("no_person", ctx.lang)))
        return
    result = await request_explanation(
        ctx.uow, ctx.portal.id, target, by_user_id=ctx.employee.bitrix_user_id, now=ctx.now
    )
    if isinstance(result, AskRefused):
        who = (
            user_mention(result.employee.bitrix_user_id, result.employee.name)
            if result.employee is not None
            else ""
        )
        ctx.reply(Reply(_dialog(ctx), text(f"ask_{result.problem.value}", ctx.lang, who=who)))
        return
    row, employee = result.explanation, result.employee
    violation = await _violation(ctx, employee, row)
    who = user_mention(employee.bitrix_user_id, employee.name)
    about = subject(target.kind, target.local_date, violation, ctx.lang)
    if result.fresh:
        lang = lang_of(employee.language, ctx.portal.language)
        asker = user_mention(ctx.employee.bitrix_user_id, ctx.employee.name)
        question = text(
            "ask",
            lang,
            who=asker,
            subject=subject(target.kind, target.local_date, violation, lang, you=True),
        )
        ctx.reply(Reply(str(employee.bitrix_user_id), question, quick_keyboard(row.id, lang)))
        ctx.reply(Reply(_dialog(ctx), text("sent", ctx.lang, who=who, subject=about)))
    elif row.status == ANSWERED:
        await _send_cards(ctx, row, employee, violation, (ctx.employee.bitrix_user_id,))
    elif row.status == ACCEPTED:
        decider = await _mention(ctx.uow, ctx.portal, row.decided_by)
        ctx.reply(
            Reply(
                _dialog(ctx),
                text(
                    "already_accepted",
                    ctx.lang,
                    decider=decider,
                    who=who,
                    subject=about,
                    reason=_reason(row),
                ),
            )
        )
    else:
        ctx.reply(Reply(_dialog(ctx), text("already_requested", ctx.lang, who=who, subject=about)))


# --- Answering -----------------------------------------------------------------------------------


async def _answer_refusal(ctx: Context, refused: AnswerRefused) -> str:
    row = refused.explanation
    if refused.problem is AnswerProblem.DECIDED and row is not None:
        status = row.status if row.status in (ACCEPTED, REJECTED) else REJECTED
        return text(
            "answer_decided",
            ctx.lang,
            outcome=text(f"outcome_{status}", ctx.lang),
            decider=await _mention(ctx.uow, ctx.portal, row.decided_by),
        )
    return text(f"answer_{refused.problem.value}", ctx.lang)


async def _answer(ctx: Context, explanation_id: int, reason: str) -> None:
    assert ctx.employee is not None
    result = await answer_explanation(
        ctx.uow,
        ctx.portal.id,
        explanation_id,
        by_user_id=ctx.employee.bitrix_user_id,
        reason=reason,
        now=ctx.now,
    )
    if isinstance(result, AnswerRefused):
        ctx.reply(Reply(_dialog(ctx), await _answer_refusal(ctx, result)))
        return
    row = result.explanation
    violation = await _violation(ctx, result.employee, row)
    await _send_cards(
        ctx, row, result.employee, violation, result.approvers, replaced=result.replaced
    )
    approvers = [await _mention(ctx.uow, ctx.portal, uid) for uid in result.approvers]
    ctx.reply(
        Reply(
            _dialog(ctx),
            text(
                "thanks_replaced" if result.replaced else "thanks",
                ctx.lang,
                reason=_reason(row),
                approvers=", ".join(approvers) or "—",
            ),
        )
    )


@router.command(REASON_COMMAND)
async def reason(ctx: Context) -> None:
    parsed = parse_reason_params(_params(ctx))
    if parsed is None:
        ctx.reply(Reply(_dialog(ctx), text("bad_reason", ctx.lang)))
        return
    if ctx.employee is None:
        ctx.reply(Reply(_dialog(ctx), common_text("no_person", ctx.lang)))
        return
    explanation_id, code = parsed
    states = ConversationRepository(ctx.uow.session)
    user_id, dialog = ctx.employee.bitrix_user_id, _dialog(ctx)
    if code != "other":
        state = await states.get(ctx.portal.id, dialog, user_id)
        if state is not None and state.state == REASON_STATE:
            await states.clear(ctx.portal.id, dialog, user_id)
        await _answer(ctx, explanation_id, text(f"reason_{code}", ctx.lang))
        return
    # "Other…": check now that an answer would be taken, then wait for the words.
    row = await ExplanationRepository(ctx.uow.session).get(explanation_id)
    problem: AnswerProblem | None = None
    if row is None or row.portal_id != ctx.portal.id:
        problem = AnswerProblem.NOT_FOUND
    elif row.employee_id != ctx.employee.id:
        problem = AnswerProblem.NOT_YOURS
    elif row.status not in (REQUESTED, ANSWERED):
        problem = AnswerProblem.DECIDED
    if problem is not None:
        ctx.reply(Reply(dialog, await _answer_refusal(ctx, AnswerRefused(problem, row))))
        return
    await states.put(
        ctx.portal.id,
        dialog,
        user_id,
        state=REASON_STATE,
        data={"explanation_id": explanation_id},
        now=ctx.now,
    )
    ctx.reply(Reply(dialog, text("ask_own_words", ctx.lang)))


@router.pending()
async def own_words(ctx: Context) -> bool:
    """The reason after "Other…" (before any other text handler sees it)."""
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
    words = strip_mentions(event.text).strip()
    if ctx.now - state.updated_at > REASON_WAIT:
        await states.clear(ctx.portal.id, dialog, user_id)
        return False
    if not words or intent_of(words) is not None:
        return False  # "пришёл", "статус": a tracking word, not the reason; keep waiting
    await states.clear(ctx.portal.id, dialog, user_id)
    if normalize(words) in CANCEL_WORDS:
        ctx.reply(Reply(dialog, text("own_words_cancelled", ctx.lang)))
        return True
    await _answer(ctx, int(state.data["explanation_id"]), words)
    return True


# --- Deciding ------------------------------------------------------------------------------------


async def _decide(ctx: Context, *, accept: bool) -> None:
    explanation_id = parse_id(_params(ctx))
    if explanation_id is None:
        ctx.reply(Reply(_dialog(ctx), text("bad_id", ctx.lang)))
        return
    if ctx.employee is None:
        ctx.reply(Reply(_dialog(ctx), common_text("no_person", ctx.lang)))
        return
    result = await decide_explanation(
        ctx.uow,
        ctx.portal.id,
        explanation_id,
        accept=accept,
        by_user_id=ctx.employee.bitrix_user_id,
        now=ctx.now,
    )
    if isinstance(result, DecideRefused):
        row = result.explanation
        if result.problem is DecideProblem.ALREADY_DECIDED and row is not None:
            message = text(
                "decide_already_decided",
                ctx.lang,
                id=explanation_id,
                outcome=text(f"outcome_{row.status}", ctx.lang),
                decider=await _mention(ctx.uow, ctx.portal, row.decided_by),
            )
        else:
            message = text(f"decide_{result.problem.value}", ctx.lang, id=explanation_id)
        ctx.reply(Reply(_dialog(ctx), message))
        return
    row, employee = result.explanation, result.employee
    violation = await _violation(ctx, employee, row)
    outcome = row.status  # accepted | rejected
    who = user_mention(employee.bitrix_user_id, employee.name)
    ctx.reply(
        Reply(
            _dialog(ctx),
            text(
                f"done_{outcome}",
                ctx.lang,
                id=row.id,
                who=who,
                subject=subject(row.violation_kind, row.local_date, violation, ctx.lang),
            ),
        )
    )
    lang = lang_of(employee.language, ctx.portal.language)
    decider = user_mention(ctx.employee.bitrix_user_id, ctx.employee.name)
    ctx.reply(
        Reply(
            str(employee.bitrix_user_id),
            text(
                f"told_{outcome}",
                lang,
                decider=decider,
                subject=subject(row.violation_kind, row.local_date, violation, lang, you=True),
                reason=_reason(row),
            ),
        )
    )


@router.command(ACCEPT_COMMAND)
async def accept(ctx: Context) -> None:
    await _decide(ctx, accept=True)


@router.command(DECLINE_COMMAND)
async def decline(ctx: Context) -> None:
    await _decide(ctx, accept=False)
