"""Keyboards under bot messages: command buttons (which come back as command events with context
"keyboard"), link buttons, client-side action buttons and line breaks. Immutable and fluent:
`Keyboard().command("Пришёл", "checkin").newline().link("Отметиться", url)`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

__all__ = ["Action", "Button", "ColorToken", "Display", "Keyboard"]

ColorToken = Literal["primary", "secondary", "alert", "base"]
Display = Literal["LINE", "BLOCK"]
Action = Literal["PUT", "SEND", "COPY", "CALL", "DIALOG"]


def _check_link(href: str) -> str:
    href = href.strip()
    if href.startswith(("https://", "http://")) or (
        href.startswith("/") and not href.startswith("//")
    ):
        return href
    raise ValueError(f"button links must be http(s) or relative to the portal: {href!r}")


@dataclass(frozen=True, slots=True)
class Button:
    """One keyboard button (or a line break when `newline`)."""

    text: str = ""
    command: str = ""
    command_params: str = ""
    link: str = ""
    action: Action | None = None
    action_value: str = ""
    color: ColorToken | None = None
    block: bool = False
    disabled: bool = False
    display: Display | None = None
    width: int | None = None
    newline: bool = False

    def to_wire(self) -> dict[str, Any]:
        """The button as Bitrix24 expects it (upper-case keys in both API generations)."""
        if self.newline:
            return {"TYPE": "NEWLINE"}
        wire: dict[str, Any] = {"TEXT": self.text}
        if self.command:
            wire["COMMAND"] = self.command
            if self.command_params:
                wire["COMMAND_PARAMS"] = self.command_params
            # BLOCK only has an effect on command buttons: it disables the button once pressed.
            wire["BLOCK"] = "Y" if self.block else "N"
        elif self.link:
            wire["LINK"] = self.link
        elif self.action:
            wire["ACTION"] = self.action
            wire["ACTION_VALUE"] = self.action_value
        if self.color:
            wire["BG_COLOR_TOKEN"] = self.color
        if self.disabled:
            wire["DISABLED"] = "Y"
        if self.display:
            wire["DISPLAY"] = self.display
        if self.width is not None:
            wire["WIDTH"] = self.width
        return wire


@dataclass(frozen=True, slots=True)
class Keyboard:
    """An ordered set of buttons; every method returns a new keyboard."""

    buttons: tuple[Button, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.buttons)

    def _add(self, button: Button) -> Keyboard:
        return replace(self, buttons=(*self.buttons, button))

    def command(
        self,
        text: str,
        command: str,
        params: str = "",
        *,
        color: ColorToken | None = None,
        block: bool = False,
        disabled: bool = False,
        display: Display | None = None,
        width: int | None = None,
    ) -> Keyboard:
        """A button that sends `command` (registered for the bot, without "/") with `params`."""
        name = command.strip().lstrip("/")
        if not text or not name or any(c.isspace() for c in name):
            raise ValueError("a command button needs text and a one-word command")
        return self._add(
            Button(
                text=text,
                command=name,
                command_params=params,
                color=color,
                block=block,
                disabled=disabled,
                display=display,
                width=width,
            )
        )

    def link(
        self,
        text: str,
        href: str,
        *,
        color: ColorToken | None = None,
        display: Display | None = None,
        width: int | None = None,
    ) -> Keyboard:
        """A button that opens `href` (http(s), or a path on the portal)."""
        if not text:
            raise ValueError("a link button needs text")
        return self._add(
            Button(text=text, link=_check_link(href), color=color, display=display, width=width)
        )

    def action(
        self,
        text: str,
        action: Action,
        value: str,
        *,
        color: ColorToken | None = None,
        display: Display | None = None,
        width: int | None = None,
    ) -> Keyboard:
        """A client-side button: put/send text, copy, call a number or open a dialog. It raises
        no event for the bot."""
        if not text:
            raise ValueError("an action button needs text")
        return self._add(
            Button(
                text=text,
                action=action,
                action_value=value,
                color=color,
                display=display,
                width=width,
            )
        )

    def newline(self) -> Keyboard:
        """Start a new row of buttons."""
        return self._add(Button(newline=True))

    def to_wire(self, bot_id: int | None = None) -> dict[str, Any]:
        """`{"BOT_ID": bot_id, "BUTTONS": [...]}`; BOT_ID routes command presses to the right bot
        (the docs ask for it on updates)."""
        wire: dict[str, Any] = {}
        if bot_id is not None:
            wire["BOT_ID"] = bot_id
        wire["BUTTONS"] = [button.to_wire() for button in self.buttons]
        return wire
