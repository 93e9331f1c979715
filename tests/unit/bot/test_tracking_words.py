"""Plain words and keyboards of the time-tracking dialogue."""

from __future__ import annotations

import pytest

from timebot.bot.tracking import ALIASES, intent_of, keyboard_for, normalize
from timebot.domain.marks import MarkKind, WorkState


@pytest.mark.parametrize(("key", "word"), [(k, w) for k, ws in ALIASES.items() for w in ws])
def test_every_alias_means_its_action(key: MarkKind | str, word: str) -> None:
    assert intent_of(word) == key
    assert intent_of(word.upper() + "!") == key
    assert intent_of(f"  {word.capitalize()}...  ") == key


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Пришёл", MarkKind.CHECK_IN),
        ("пришла 🙂", MarkKind.CHECK_IN),
        ("I'm in", MarkKind.CHECK_IN),
        ("на обед", MarkKind.BREAK_START),
        ("Ушёл на обед", MarkKind.BREAK_START),
        ("вернулась с обеда!", MarkKind.BREAK_END),
        ("ушла", MarkKind.CHECK_OUT),
        ("Check-out", MarkKind.CHECK_OUT),
        ("мой статус?", "status"),
        # Anything longer is not a bare action (it may be a correction: "ушёл в 18:05").
        ("ушёл в 18:05", None),
        ("пришёл вчера в 9", None),
        ("привет", None),
        ("", None),
    ],
)
def test_messages_are_understood_only_as_whole_phrases(
    text: str, expected: MarkKind | str | None
) -> None:
    assert intent_of(text) == expected


def test_normalize_folds_case_yo_and_punctuation() -> None:
    assert normalize("  Ушёл,   ДОМОЙ!!! ") == "ушел домой"
    assert normalize("I’m  in") == "im in"


@pytest.mark.parametrize(
    ("state", "commands"),
    [
        (WorkState.OFF, ["checkin", "week"]),
        (WorkState.WORKING, ["break", "checkout", "status", "week"]),
        (WorkState.ON_BREAK, ["back", "checkout", "status"]),
    ],
)
def test_keyboard_matches_the_state(state: WorkState, commands: list[str]) -> None:
    for lang in ("ru", "en"):
        wire = keyboard_for(state, lang).to_wire()
        buttons = wire if isinstance(wire, list) else wire.get("BUTTONS", wire.get("buttons", []))
        names = [
            b.get("COMMAND") or b.get("command") for b in buttons if b.get("TYPE") != "NEWLINE"
        ]
        assert [n for n in names if n] == commands
