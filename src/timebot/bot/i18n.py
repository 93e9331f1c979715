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
            "/help — эта справка"
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
            "/help — this help"
        ),
    },
    "not_understood": {
        "ru": "Не понял сообщение «{text}». Напишите «помощь», чтобы увидеть команды.",
        "en": "I did not understand “{text}”. Write “help” to see the commands.",
    },
    "button_help": {"ru": "Помощь", "en": "Help"},
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
