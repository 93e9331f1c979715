"""What a handler answers: text (BB-code) with an optional keyboard and attachment."""

from __future__ import annotations

from dataclasses import dataclass

from timebot.bitrix import Attach, Keyboard


@dataclass(frozen=True, slots=True)
class Reply:
    dialog_id: str
    text: str
    keyboard: Keyboard | None = None
    attach: Attach | None = None
