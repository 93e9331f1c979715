"""Bot texts in Russian (default) and English, picked per portal and per person."""

from __future__ import annotations

from typing import Literal

Lang = Literal["ru", "en"]

TEXTS: dict[str, dict[Lang, str]] = {
    "welcome": {
        "ru": (
            "Здравствуйте, {name}! Я [b]timebot[/b] — веду учёт рабочего времени.[br]"
            "Отмечайтесь кнопками под сообщениями или словами: «пришёл», «перерыв», "
            "«вернулся», «ушёл». Напишите «помощь», чтобы увидеть все команды."
        ),
        "en": (
            "Hello, {name}! I am [b]timebot[/b], I keep track of working time.[br]"
            "Use the buttons under my messages or words: “in”, “break”, “back”, “out”. "
            "Write “help” to see every command."
        ),
    },
    "welcome_group": {
        "ru": (
            "Всем привет! Я [b]timebot[/b]. Отмечаться удобнее в личном чате со мной; "
            "здесь я отвечаю, только когда меня упоминают."
        ),
        "en": (
            "Hello everyone! I am [b]timebot[/b]. Checking in is easiest in a private chat "
            "with me; here I answer only when mentioned."
        ),
    },
    "help": {
        "ru": (
            "[b]Что я умею[/b][br]"
            "/checkin — пришёл на работу[br]"
            "/break — ушёл на перерыв[br]"
            "/back — вернулся с перерыва[br]"
            "/checkout — ушёл с работы[br]"
            "/status — мой статус сегодня[br]"
            "/week — моя неделя[br]"
            "/lang — язык (ru / en)[br]"
            "/me — что я о вас храню[br]"
            "/help — эта справка[br][br]"
            "Можно писать и словами: «пришёл», «на обед», «вернулся», «ушёл». "
            "Забыли отметиться? Напишите, например: «ушёл в 18:05, забыл отметиться» — "
            "запрос уйдёт руководителю."
        ),
        "en": (
            "[b]What I can do[/b][br]"
            "/checkin — start the work day[br]"
            "/break — start a break[br]"
            "/back — back from the break[br]"
            "/checkout — end the work day[br]"
            "/status — my status today[br]"
            "/week — my week[br]"
            "/lang — language (ru / en)[br]"
            "/me — what I keep about you[br]"
            "/help — this help[br][br]"
            "Words work too: “in”, “lunch”, “back”, “out”. Forgot a mark? Write, for example: "
            "“out at 18:05, forgot to check out”; your manager will be asked to approve it."
        ),
    },
    "not_understood": {
        "ru": "Не понял сообщение «{text}». Напишите «помощь», чтобы увидеть команды.",
        "en": "I did not understand “{text}”. Write “help” to see the commands.",
    },
    "button_help": {"ru": "Помощь", "en": "Help"},
    # --- time tracking ---
    "button_checkin": {"ru": "Пришёл", "en": "I'm in"},
    "button_break": {"ru": "Перерыв", "en": "Break"},
    "button_back": {"ru": "Вернулся", "en": "Back"},
    "button_checkout": {"ru": "Ушёл", "en": "I'm out"},
    "button_status": {"ru": "Статус", "en": "Status"},
    "button_week": {"ru": "Моя неделя", "en": "My week"},
    "checked_in": {
        "ru": "✅ Приход отмечен в {time}. Хорошего дня!",
        "en": "✅ Checked in at {time}. Have a good day!",
    },
    "late": {
        "ru": "Опоздание: {late} (начало по графику {start}).",
        "en": "Late by {late} (scheduled start {start}).",
    },
    "schedule_today": {
        "ru": "По графику: {start}–{end}, норма {norm}.",
        "en": "Schedule: {start}–{end}, {norm} to work.",
    },
    "norm_today": {"ru": "Норма на сегодня: {norm}.", "en": "Today's norm: {norm}."},
    "day_off_today": {
        "ru": "Сегодня по графику выходной — время всё равно учтётся.",
        "en": "Today is a day off by your schedule; the time still counts.",
    },
    "norm_done_at": {
        "ru": "Норма будет выполнена примерно в {time}.",
        "en": "You will have worked the norm at about {time}.",
    },
    "norm_done": {"ru": "Норма на сегодня выполнена 👍", "en": "Today's norm is done 👍"},
    "break_started": {
        "ru": "☕ Перерыв с {time}. Отработано: {worked}.",
        "en": "☕ Break from {time}. Worked so far: {worked}.",
    },
    "break_ended": {
        "ru": "▶️ С возвращением! Перерыв длился {pause}. Отработано: {worked}.",
        "en": "▶️ Welcome back! The break took {pause}. Worked so far: {worked}.",
    },
    "checked_out": {
        "ru": "🏁 Рабочий день завершён в {time}. Отработано: {worked}, перерывы: {breaks}.",
        "en": "🏁 Work day ended at {time}. Worked: {worked}, breaks: {breaks}.",
    },
    "versus_norm_more": {
        "ru": "Это на {diff} больше нормы ({norm}).",
        "en": "That is {diff} over the norm ({norm}).",
    },
    "versus_norm_less": {
        "ru": "До нормы ({norm}) не хватило {diff}.",
        "en": "That is {diff} short of the norm ({norm}).",
    },
    "versus_norm_equal": {"ru": "Ровно норма ({norm}).", "en": "Exactly the norm ({norm})."},
    "status_off": {"ru": "Сейчас вы не на работе.", "en": "You are not at work now."},
    "status_off_today": {
        "ru": "Сейчас вы не на работе. Сегодня отработано: {worked} ({start}–{end}).",
        "en": "You are not at work now. Worked today: {worked} ({start}–{end}).",
    },
    "status_working": {
        "ru": "🟢 Работаете с {start}. Отработано: {worked}, перерывы: {breaks}.",
        "en": "🟢 Working since {start}. Worked: {worked}, breaks: {breaks}.",
    },
    "status_on_break": {
        "ru": "☕ На перерыве с {since}. Отработано: {worked}, перерывы: {breaks}.",
        "en": "☕ On a break since {since}. Worked: {worked}, breaks: {breaks}.",
    },
    "refused_already_working": {
        "ru": "Вы уже отметились: рабочий день идёт с {start}. Чтобы закончить — нажмите «Ушёл».",
        "en": "You are already checked in: the day runs since {start}. Press “I'm out” to end it.",
    },
    "refused_already_on_break_checkin": {
        "ru": "Вы на перерыве с {since} — рабочий день ещё идёт. Нажмите «Вернулся».",
        "en": "You are on a break since {since}; the day is still open. Press “Back”.",
    },
    "refused_not_working": {
        "ru": "Перерыв можно начать только во время рабочего дня. Сначала отметьте приход.",
        "en": "A break can only start during the work day. Check in first.",
    },
    "refused_already_on_break": {
        "ru": "Вы уже на перерыве с {since}. Вернулись — нажмите «Вернулся».",
        "en": "You are already on a break since {since}. Back? Press “Back”.",
    },
    "refused_not_on_break": {
        "ru": "Вы не на перерыве — рабочий день продолжается.",
        "en": "You are not on a break; the work day goes on.",
    },
    "refused_not_on_break_off": {
        "ru": "Рабочий день ещё не начат, возвращаться неоткуда. Отметьте приход.",
        "en": "The work day has not started, there is nothing to come back from. Check in.",
    },
    "refused_already_off": {
        "ru": (
            "Рабочий день не начат — отмечать уход пока нечего. Если забыли отметиться, "
            "напишите, например: «ушёл в 18:05, забыл отметиться»."
        ),
        "en": (
            "The work day has not started, so there is nothing to end. If you forgot to "
            "check out, write for example: “out at 18:05, forgot to check out”."
        ),
    },
    "group_ack": {
        "ru": "{who}, отметил. Подробности — в личном чате со мной.",
        "en": "{who}, done. Details are in our private chat.",
    },
    "no_person": {
        "ru": "Не получилось определить, кто пишет. Напишите мне в личный чат.",
        "en": "I could not tell who is writing. Please write to me in a private chat.",
    },
    "lang_set": {
        "ru": "Язык: русский. Для английского напишите /lang en.",
        "en": "Language: English. For Russian write /lang ru.",
    },
    "week_title": {"ru": "Моя неделя", "en": "My week"},
    # --- reminders and the automatic close ---
    "button_still_working": {"ru": "Ещё работаю", "en": "Still working"},
    "button_left_at": {"ru": "Ушёл в {time}", "en": "Left at {time}"},
    "button_forgot": {"ru": "Забыл отметиться", "en": "Forgot to check out"},
    "remind_checkin": {
        "ru": (
            "☀️ Рабочий день по графику начался в {start}, а отметки о приходе пока нет. "
            "Если вы на месте — нажмите «Пришёл»."
        ),
        "en": (
            "☀️ Your work day started at {start} by the schedule, and you have not checked in "
            "yet. If you are at work, press “I'm in”."
        ),
    },
    "remind_checkout": {
        "ru": "⏰ Рабочий день по графику закончился в {end}, а ухода нет. Вы ещё работаете?",
        "en": "⏰ Your work day ended at {end} by the schedule, but you have not checked out. "
        "Still working?",
    },
    "remind_checkout_no_end": {
        "ru": "⏰ Рабочий день идёт с {start}, а ухода нет. Вы ещё работаете?",
        "en": "⏰ Your work day has been open since {start}. Still working?",
    },
    "remind_checkout_cutoff": {
        "ru": "Если не ответите, в {cutoff} день закроется автоматически в {close}.",
        "en": "Without an answer the day will be closed at {close} automatically at {cutoff}.",
    },
    "still_working_ok": {
        "ru": "👍 Хорошо, работайте. Напомню об уходе в {remind}.",
        "en": "👍 Fine, keep going. I will remind you to check out at {remind}.",
    },
    "still_working_ok_no_remind": {
        "ru": "👍 Хорошо, работайте. Не забудьте отметить уход.",
        "en": "👍 Fine, keep going. Do not forget to check out.",
    },
    "still_working_cutoff": {
        "ru": "Без отметки день закроется автоматически в {cutoff}.",
        "en": "Without a check-out the day will be closed automatically at {cutoff}.",
    },
    "forgot_ask": {
        "ru": ("Когда вы ушли? Нажмите кнопку или напишите время, например «ушёл в 18:05»."),
        "en": "When did you leave? Press a button or write the time, e.g. “left at 18:05”.",
    },
    "stated_time_note": {
        "ru": "Время указано вами — отметка предварительная, руководитель её увидит.",
        "en": "You stated the time, so the mark is provisional; your manager will see it.",
    },
    "left_at_future": {
        "ru": "Время {time} ещё не наступило. Напишите, когда вы ушли, например «ушёл в 18:05».",
        "en": "{time} has not come yet. Write when you left, e.g. “left at 18:05”.",
    },
    "left_at_too_early": {
        "ru": (
            "Уход не может быть раньше последней отметки ({last}). Напишите время позже, "
            "например «ушёл в 18:05»."
        ),
        "en": (
            "The check-out cannot be earlier than your last mark ({last}). Write a later time, "
            "e.g. “left at 18:05”."
        ),
    },
    "left_at_unreadable": {
        "ru": "Не понял время «{text}». Напишите, например: «ушёл в 18:05».",
        "en": "I could not read the time “{text}”. Write, for example: “left at 18:05”.",
    },
    "no_open_day": {
        "ru": "Открытого рабочего дня нет — отмечать уход не нужно.",
        "en": "There is no open work day, nothing to check out from.",
    },
    "auto_closed": {
        "ru": (
            "🌙 Рабочий день закрыт автоматически в {time}: отметки об уходе не было. "
            "Отработано: {worked}. Отметка предварительная — руководитель её увидит."
        ),
        "en": (
            "🌙 Your work day was closed automatically at {time}: there was no check-out. "
            "Worked: {worked}. The mark is provisional; your manager will see it."
        ),
    },
    # --- corrections with approval ---
    "correction_kind_check_in": {"ru": "приход", "en": "check-in"},
    "correction_kind_break_start": {"ru": "начало перерыва", "en": "break start"},
    "correction_kind_break_end": {"ru": "конец перерыва", "en": "break end"},
    "correction_kind_check_out": {"ru": "уход", "en": "check-out"},
    "correction_when": {"ru": "{date} в {time}", "en": "{date} at {time}"},
    "correction_add": {"ru": "отметить {kind} {when}", "en": "add a {kind} on {when}"},
    "correction_move": {
        "ru": "перенести {kind} {date}: {old} → {new}",
        "en": "move the {kind} on {date}: {old} → {new}",
    },
    "correction_was_auto": {
        "ru": " (уход был отмечен автоматически)",
        "en": " (the check-out was set automatically)",
    },
    "correction_day": {"ru": "Отметки за этот день: {marks}.", "en": "Marks that day: {marks}."},
    "correction_day_empty": {
        "ru": "За этот день отметок нет.",
        "en": "There are no marks that day.",
    },
    "correction_refused_future": {
        "ru": "{when} ещё не наступило — исправить можно только прошедшее время.",
        "en": "{when} has not come yet; only past times can be corrected.",
    },
    "correction_refused_too_old": {
        "ru": "Это было слишком давно (больше месяца назад). Обратитесь к руководителю.",
        "en": "That was too long ago (over a month). Please ask your manager.",
    },
    "correction_refused_unchanged": {
        "ru": "Исправлять нечего: отметка «{kind}» {when} уже есть.",
        "en": "Nothing to correct: the {kind} on {when} is already recorded.",
    },
    "correction_refused_no_day": {
        "ru": (
            "Не получится отметить {kind} {when}: в это время рабочий день не был начат. "
            "Сначала попросите исправить приход, например: «вчера пришёл в 9:00, забыл "
            "отметиться»."
        ),
        "en": (
            "I cannot add a {kind} on {when}: no work day was open then. Ask to correct the "
            "check-in first, for example: “yesterday in at 9:00, forgot to check in”."
        ),
    },
    "correction_refused_conflict": {
        "ru": "Отметка «{kind}» {when} не сходится с другими отметками этого дня.",
        "en": "A {kind} on {when} does not fit the other marks of that day.",
    },
    "correction_refused_pending": {
        "ru": "Такой запрос (№{id}) уже ждёт решения руководителя.",
        "en": "The same request (#{id}) is already waiting for your manager.",
    },
    "correction_refused_no_approver": {
        "ru": (
            "Некому одобрить исправление: у вас не указан руководитель отдела, а других "
            "администраторов нет (свои исправления одобрять нельзя). Попросите администратора "
            "Bitrix24 назначить руководителя отдела."
        ),
        "en": (
            "Nobody can approve the correction: your department has no head and there is no "
            "other administrator (nobody approves their own corrections). Ask the Bitrix24 "
            "administrator to set a head for your department."
        ),
    },
    "correction_ask_reason": {
        "ru": (
            "Понял: {change}. Напишите причину одним сообщением (например, «был у "
            "клиента») — и я отправлю запрос руководителю. Передумали — напишите «отмена»."
        ),
        "en": (
            "Got it: {change}. Write the reason in one message (for example, “I was at a "
            "client's”) and I will send the request to your manager. Changed your mind? "
            "Write “cancel”."
        ),
    },
    "correction_cancelled": {
        "ru": "Хорошо, запрос на исправление отменён.",
        "en": "All right, the correction request is cancelled.",
    },
    "correction_sent": {
        "ru": (
            "📨 Запрос №{id} отправлен руководителю ({approvers}): {change}.[br]"
            "Причина: {reason}[br]Я сообщу, когда он будет рассмотрен."
        ),
        "en": (
            "📨 Request #{id} is sent to your manager ({approvers}): {change}.[br]"
            "Reason: {reason}[br]I will let you know the decision."
        ),
    },
    "correction_group_ack": {
        "ru": "{who}, запрос на исправление — в личном чате со мной.",
        "en": "{who}, the correction request is in our private chat.",
    },
    "correction_card": {
        "ru": (
            "📝 [b]Исправление отметки №{id}[/b][br]{who} просит {change}.[br]"
            "Причина: {reason}[br]{day}"
        ),
        "en": (
            "📝 [b]Mark correction #{id}[/b][br]{who} asks to {change}.[br]"
            "Reason: {reason}[br]{day}"
        ),
    },
    "button_approve": {"ru": "Одобрить", "en": "Approve"},
    "button_reject": {"ru": "Отклонить", "en": "Reject"},
    "correction_done_approved": {
        "ru": "✅ Исправление №{id} одобрено: {who} — {change}. Отметка записана.",
        "en": "✅ Correction #{id} approved: {who}, {change}. The mark is recorded.",
    },
    "correction_done_rejected": {
        "ru": "❌ Исправление №{id} отклонено: {who} — {change}.",
        "en": "❌ Correction #{id} rejected: {who}, {change}.",
    },
    "correction_told_approved": {
        "ru": "✅ Исправление №{id} одобрено ({who}): {change}. Отметка записана.",
        "en": "✅ Correction #{id} is approved ({who}): {change}. The mark is recorded.",
    },
    "correction_told_rejected": {
        "ru": "❌ Исправление №{id} отклонено ({who}): {change}. Отметки не изменились.",
        "en": "❌ Correction #{id} is rejected ({who}): {change}. Your marks stay as they were.",
    },
    "correction_comment": {"ru": "Комментарий: {comment}", "en": "Comment: {comment}"},
    "correction_outcome_approved": {"ru": "одобрено", "en": "approved"},
    "correction_outcome_rejected": {"ru": "отклонено", "en": "rejected"},
    "correction_already": {
        "ru": "Запрос №{id} уже рассмотрен: {outcome} ({who}).",
        "en": "Request #{id} is already decided: {outcome} ({who}).",
    },
    "correction_decision_already_decided": {
        "ru": "Запрос №{id} уже рассмотрен.",
        "en": "Request #{id} is already decided.",
    },
    "correction_decision_not_found": {
        "ru": "Запроса №{id} нет.",
        "en": "There is no request #{id}.",
    },
    "correction_decision_self": {
        "ru": (
            "Свои исправления одобрять нельзя: запрос №{id} решает руководитель "
            "или администратор портала."
        ),
        "en": (
            "You cannot decide your own correction: request #{id} is for your manager "
            "or a portal administrator."
        ),
    },
    "correction_decision_not_allowed": {
        "ru": (
            "Извините, решать запрос №{id} могут только руководитель сотрудника "
            "или администратор портала."
        ),
        "en": (
            "Sorry, only the employee's manager or a portal administrator can decide request #{id}."
        ),
    },
    "correction_decision_stale": {
        "ru": (
            "Отметки за этот день изменились после запроса №{id}, и исправление к ним уже "
            "не подходит. Его можно отклонить."
        ),
        "en": (
            "The marks of that day changed after request #{id}, and the correction no "
            "longer fits them. You can reject it."
        ),
    },
    "correction_bad_id": {
        "ru": "Укажите номер запроса, например: /approve 12.",
        "en": "Give the request number, for example: /approve 12.",
    },
}


def lang_of(*candidates: str | None) -> Lang:
    """The first supported language among candidates (person, event, portal), else Russian."""
    for c in candidates:
        if c:
            code = c.strip().lower()[:2]
            if code in ("ru", "en"):
                return code  # type: ignore[return-value]
    return "ru"


def t(key: str, lang: Lang, **values: object) -> str:
    text = TEXTS[key][lang]
    return text.format(**values) if values else text
