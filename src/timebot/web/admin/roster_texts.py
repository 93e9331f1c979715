"""Texts of the roster pages (Russian and English), registered with the admin i18n."""

from __future__ import annotations

from timebot.web.admin.i18n import register

__all__: list[str] = []

register(
    {
        "ru": {
            "roster.title": "Расписание смен",
            "roster.heading": "Расписание смен: {name}",
            "roster.rules": "Правила графика",
            "roster.not_shift": "У этого графика нет расписания смен: он не сменный.",
            "roster.inactive": (
                "График не действует: бот не применяет эти смены, пока график снова не включат."
            ),
            "roster.read_only": "Просмотр: менять расписание могут администраторы портала.",
            "roster.period": "Период",
            "roster.period.week": "Неделя",
            "roster.period.2weeks": "Две недели",
            "roster.period.month": "Месяц",
            "roster.first": "Начиная с",
            "roster.show": "Показать",
            "roster.earlier": "← Раньше",
            "roster.later": "Позже →",
            "roster.person": "Сотрудник",
            "roster.hours": "Часы",
            "roster.none": (
                "В эти дни по этому графику никто не работает. Назначьте график сотрудникам "
                "или отделу на странице «Графики»."
            ),
            "roster.other_schedule": "в этот день действует другой график",
            "roster.next_day": "заканчивается на следующий день",
            "roster.add_here": "Добавить смену: {name}, {day}",
            "roster.add": "Добавить смену",
            "roster.edit": "Смена",
            "roster.employee": "Сотрудник",
            "roster.day": "Дата начала",
            "roster.start": "Начало",
            "roster.end": "Конец",
            "roster.times_hint": (
                "Время — местное время сотрудника (его пояс указан под именем). Конец раньше "
                "начала или равный ему — смена через полночь: она заканчивается на следующий день."
            ),
            "roster.break_note": (
                "Перерыв в смене — {minutes} мин: он задаётся в правилах графика и "
                "вычитается из нормы смены. У отдельной смены может быть свой перерыв."
            ),
            "roster.break": "Перерыв, мин",
            "roster.break_default": "по графику: {minutes}",
            "roster.break_hint": (
                "Перерыв, мин — пусто: как в правилах графика ({minutes} мин); 0 — смена без "
                "перерыва; иначе свой перерыв этой смены (до 720 мин)."
            ),
            "roster.own_break": "свой перерыв: {minutes} мин",
            "roster.line_break": (
                "«{value}» — не перерыв: укажите минуты от 0 до {max} в скобках, например (45)."
            ),
            "roster.save": "Сохранить смену",
            "roster.remove": "Удалить смену",
            "roster.back": "К расписанию",
            "roster.copy": "Копировать неделю",
            "roster.copy_week": "Неделя (любой её день)",
            "roster.copy_hint": (
                "Смены выбранной недели повторятся на следующей. Дни, где у сотрудника уже есть "
                "смена или действует другой график, пропускаются."
            ),
            "roster.copy_submit": "Скопировать на следующую неделю",
            "roster.copied": "Скопировано смен: {copied}, пропущено: {skipped}.",
            "roster.copy_empty": "В неделе с {day} нет смен этого графика — копировать нечего.",
            "roster.bulk": "Ввод списком",
            "roster.bulk_hint": (
                "По смене в строке: «2026-03-02 22:00-06:00 Иван Петров» или CSV "
                "«дата,начало,конец,сотрудник» (разделитель — запятая, точка с запятой или "
                "табуляция). Сотрудник — имя и фамилия, e-mail или ID в Битрикс24; без него "
                "строка относится к сотруднику, выбранному ниже. Дата — ГГГГ-ММ-ДД или "
                "ДД.ММ.ГГГГ. Свой перерыв смены — минуты в скобках сразу после времени: "
                "«2026-03-02 08:00-20:00 (90) Иван Петров», в CSV — отдельной ячейкой перед "
                "сотрудником: «2026-03-02,08:00,12:00,(0),7»; без скобок — перерыв из правил "
                "графика. Если хоть одна строка с ошибкой, ничего не сохраняется."
            ),
            "roster.bulk_lines": "Смены",
            "roster.bulk_person": "Сотрудник для строк без имени",
            "roster.bulk_from": "Период с",
            "roster.bulk_to": "по",
            "roster.bulk_replace": (
                "Заменить: сначала удалить смены названных сотрудников, начинающиеся в этом периоде"
            ),
            "roster.bulk_submit": "Сохранить список",
            "roster.bulk_nothing": "Нет ни одной строки со сменой.",
            "roster.bulk_failed": "Ничего не сохранено: ошибки в строках {lines}.",
            "roster.bulk_more": "…и ещё строк с ошибками: {count}.",
            "roster.bulk_too_many": "Не больше {max} строк за раз.",
            "roster.bulk_period": "Период — не длиннее {max} дней, конец не раньше начала.",
            "roster.imported": "Сохранено смен: {created}, удалено прежних: {removed}.",
            "roster.line": "Строка {n} («{text}»): {reason}",
            "roster.line_format": (
                "не похоже ни на «ГГГГ-ММ-ДД ЧЧ:ММ-ЧЧ:ММ [сотрудник]», "
                "ни на CSV «дата,начало,конец,сотрудник»."
            ),
            "roster.line_date": "«{value}» — не дата (ГГГГ-ММ-ДД или ДД.ММ.ГГГГ).",
            "roster.line_time": "«{value}» — не время (ЧЧ:ММ).",
            "roster.line_outside": "дата вне периода {first} — {last}.",
            "roster.person_unknown": (
                "нет такого сотрудника (укажите имя и фамилию, e-mail или ID в Битрикс24)."
            ),
            "roster.person_ambiguous": (
                "так зовут нескольких сотрудников — укажите e-mail или ID в Битрикс24."
            ),
            "roster.person_missing": (
                "не указан сотрудник: допишите его в строку или выберите в форме."
            ),
            "roster.unknown_person": "Нет такого сотрудника в этом портале.",
            "roster.day_range": "Дата — с {first} по {last}.",
            "roster.not_on_schedule": (
                "{name}: {day} действует другой график, смена не применилась бы. Назначьте "
                "этот график сотруднику с нужной даты."
            ),
            "roster.too_short": "{name}: смена {day} получается нулевой длины.",
            "roster.overlap": "{name}: смена {day} пересекается с другой сменой ({other}).",
            "roster.same_day": "{name}: на {day} уже есть смена (одна смена на дату начала).",
            "flash.roster_copied": "Неделя скопирована.",
            "flash.roster_imported": "Список смен сохранён.",
        },
        "en": {
            "roster.title": "Roster",
            "roster.heading": "Roster: {name}",
            "roster.rules": "Schedule rules",
            "roster.not_shift": "This schedule has no roster: it is not a shift schedule.",
            "roster.inactive": (
                "The schedule is not in use: the bot applies none of these shifts until it is "
                "switched on again."
            ),
            "roster.read_only": "Read only: portal administrators change the roster.",
            "roster.period": "Period",
            "roster.period.week": "Week",
            "roster.period.2weeks": "Two weeks",
            "roster.period.month": "Month",
            "roster.first": "Starting",
            "roster.show": "Show",
            "roster.earlier": "← Earlier",
            "roster.later": "Later →",
            "roster.person": "Person",
            "roster.hours": "Hours",
            "roster.none": (
                "Nobody works by this schedule on these days. Assign the schedule to people or "
                "a department on the Schedules page."
            ),
            "roster.other_schedule": "another schedule applies on this day",
            "roster.next_day": "ends the next day",
            "roster.add_here": "Add a shift: {name}, {day}",
            "roster.add": "Add a shift",
            "roster.edit": "Shift",
            "roster.employee": "Person",
            "roster.day": "Start date",
            "roster.start": "Start",
            "roster.end": "End",
            "roster.times_hint": (
                "Times are the person's local time (their zone is shown under the name). An end "
                "at or before the start means the shift crosses midnight and ends the next day."
            ),
            "roster.break_note": (
                "A shift has a {minutes} min break: it is set in the schedule's rules and "
                "taken off the shift's norm. A single shift may have a break of its own."
            ),
            "roster.break": "Break, min",
            "roster.break_default": "schedule's: {minutes}",
            "roster.break_hint": (
                "Break, min — empty: as in the schedule's rules ({minutes} min); 0: no break in "
                "this shift; otherwise this shift's own break (up to 720 min)."
            ),
            "roster.own_break": "own break: {minutes} min",
            "roster.line_break": (
                "“{value}” is not a break: give 0 to {max} minutes in parentheses, e.g. (45)."
            ),
            "roster.save": "Save the shift",
            "roster.remove": "Delete the shift",
            "roster.back": "Back to the roster",
            "roster.copy": "Copy a week",
            "roster.copy_week": "Week (any day of it)",
            "roster.copy_hint": (
                "The week's shifts are repeated in the next week. Days where a person already "
                "has a shift or another schedule applies are skipped."
            ),
            "roster.copy_submit": "Copy to the next week",
            "roster.copied": "Shifts copied: {copied}, skipped: {skipped}.",
            "roster.copy_empty": "The week from {day} has no shifts of this schedule to copy.",
            "roster.bulk": "Enter as a list",
            "roster.bulk_hint": (
                "One shift a line: “2026-03-02 22:00-06:00 Ivan Petrov” or CSV "
                "“date,start,end,person” (comma, semicolon or tab). A person is a full name, an "
                "e-mail or a Bitrix24 user id; a line without one is for the person chosen "
                "below. Dates are YYYY-MM-DD or DD.MM.YYYY. A shift's own break is minutes in "
                "parentheses right after the times: “2026-03-02 08:00-20:00 (90) Ivan Petrov”, "
                "in CSV a cell before the person: “2026-03-02,08:00,12:00,(0),7”; without one "
                "the shift has the schedule's break. If any line has an error, nothing is saved."
            ),
            "roster.bulk_lines": "Shifts",
            "roster.bulk_person": "Person for lines without a name",
            "roster.bulk_from": "Period from",
            "roster.bulk_to": "to",
            "roster.bulk_replace": (
                "Replace: first delete the named people's shifts that start in this period"
            ),
            "roster.bulk_submit": "Save the list",
            "roster.bulk_nothing": "There is no line with a shift.",
            "roster.bulk_failed": "Nothing was saved: errors in lines {lines}.",
            "roster.bulk_more": "…and {count} more lines with errors.",
            "roster.bulk_too_many": "At most {max} lines at a time.",
            "roster.bulk_period": "The period is at most {max} days and ends after it starts.",
            "roster.imported": "Shifts saved: {created}, earlier ones deleted: {removed}.",
            "roster.line": "Line {n} (“{text}”): {reason}",
            "roster.line_format": (
                "looks neither like “YYYY-MM-DD HH:MM-HH:MM [person]” nor like CSV "
                "“date,start,end,person”."
            ),
            "roster.line_date": "“{value}” is not a date (YYYY-MM-DD or DD.MM.YYYY).",
            "roster.line_time": "“{value}” is not a time (HH:MM).",
            "roster.line_outside": "the date is outside the period {first} — {last}.",
            "roster.person_unknown": (
                "no such person (give the full name, an e-mail or the Bitrix24 user id)."
            ),
            "roster.person_ambiguous": (
                "several people have this name: give an e-mail or the Bitrix24 user id."
            ),
            "roster.person_missing": (
                "no person given: add one to the line or choose one in the form."
            ),
            "roster.unknown_person": "No such person in this portal.",
            "roster.day_range": "The date must be from {first} to {last}.",
            "roster.not_on_schedule": (
                "{name}: another schedule applies on {day}, so the shift would not count. "
                "Assign this schedule to the person from that date."
            ),
            "roster.too_short": "{name}: the shift on {day} would last no time at all.",
            "roster.overlap": "{name}: the shift on {day} overlaps another shift ({other}).",
            "roster.same_day": "{name}: there is already a shift starting on {day} (one a day).",
            "flash.roster_copied": "The week was copied.",
            "flash.roster_imported": "The list of shifts was saved.",
        },
    }
)
