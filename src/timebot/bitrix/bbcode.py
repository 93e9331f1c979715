"""BB-code for bot messages. Helpers escape plain `str` arguments and return `BB` (text that is
already markup), so a user's name can never open a tag: `bold(name)` is safe, `bold(italic(x))`
nests. Build whole messages with `bb(...)` / `join(...)`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Final
from urllib.parse import quote

__all__ = [
    "BB",
    "bb",
    "bold",
    "br",
    "escape",
    "italic",
    "join",
    "put_command",
    "send_command",
    "strike",
    "timestamp",
    "underline",
    "url",
    "user_mention",
]

# A zero-width space after "[" keeps the text visible as typed but no longer a tag for the parser.
_ZWSP: Final = "\u200b"
_QUOTE_START = re.compile(r"(?m)^([ \t]*)>>")
_FORMAT = re.compile(r"[A-Z][A-Z0-9_]*")
_COMMAND = re.compile(r"/?[^\s\[\]][^\[\]\n]*")


class BB(str):
    """A string that is BB-code already: helpers pass it through instead of escaping it."""

    __slots__ = ()


def escape(text: str) -> BB:
    """User text as inert BB-code: tags (`[b]`, `[user=1]`, `[url=…]`) and `>>` quote markers are
    broken with a zero-width space. `BB` values are returned unchanged."""
    if isinstance(text, BB):
        return text
    text = text.replace("[", "[" + _ZWSP)
    return BB(_QUOTE_START.sub(lambda m: m.group(1) + ">" + _ZWSP + ">", text))


def bb(*parts: str) -> BB:
    """Concatenate message parts: `BB` parts as they are, plain strings escaped."""
    return BB("".join(escape(part) for part in parts))


def join(separator: str, parts: Iterable[str]) -> BB:
    """Like `separator.join(parts)`, escaping plain strings (the separator too)."""
    return BB(escape(separator).join(escape(part) for part in parts))


def _wrap(tag: str, text: str) -> BB:
    return BB(f"[{tag}]{escape(text)}[/{tag}]")


def bold(text: str) -> BB:
    """[b]text[/b]"""
    return _wrap("b", text)


def italic(text: str) -> BB:
    """[i]text[/i]"""
    return _wrap("i", text)


def underline(text: str) -> BB:
    """[u]text[/u]"""
    return _wrap("u", text)


def strike(text: str) -> BB:
    """[s]text[/s]"""
    return _wrap("s", text)


def br() -> BB:
    """A line break."""
    return BB("[br]")


def _safe_href(href: str) -> str:
    href = href.strip()
    if not (
        href.startswith(("https://", "http://"))
        or (href.startswith("/") and not href.startswith("//"))
    ):
        raise ValueError(f"links must be http(s) or relative to the portal: {href!r}")
    # Brackets, spaces and quotes would end the tag; percent-encode them (and only them).
    return quote(href, safe="".join(chr(c) for c in range(33, 127) if chr(c) not in "[]\"'<>\\"))


def url(href: str, text: str | None = None) -> BB:
    """[url=href]text[/url]; `href` must be http(s) or start with "/"."""
    safe = _safe_href(href)
    return BB(f"[url={safe}]{escape(text if text is not None else href)}[/url]")


def user_mention(user_id: int, name: str) -> BB:
    """[user=ID]name[/user]: a clickable mention that notifies the user."""
    if isinstance(user_id, bool) or not isinstance(user_id, int) or user_id <= 0:
        raise ValueError(f"not a user id: {user_id!r}")
    return BB(f"[user={user_id}]{escape(name)}[/user]")


def timestamp(dt: datetime, fmt: str = "SHORT_TIME_FORMAT") -> BB:
    """[timestamp=UNIX format=FMT]: each reader sees the instant in their own time zone."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("timestamp() needs an aware datetime")
    if not _FORMAT.fullmatch(fmt):
        raise ValueError(f"not a Bitrix24 format name: {fmt!r}")
    return BB(f"[timestamp={int(dt.timestamp())} format={fmt}]")


def _command(tag: str, command: str, text: str) -> BB:
    if not _COMMAND.fullmatch(command):
        raise ValueError(f"not a command: {command!r}")
    if not command.startswith("/"):
        command = "/" + command
    return BB(f"[{tag}={command}]{escape(text)}[/{tag}]")


def send_command(command: str, text: str) -> BB:
    """[send=/command]text[/send]: clicking the text sends the command at once."""
    return _command("send", command, text)


def put_command(command: str, text: str) -> BB:
    """[put=/command]text[/put]: clicking the text puts the command into the input field."""
    return _command("put", command, text)
