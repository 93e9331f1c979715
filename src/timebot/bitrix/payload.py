"""Tolerant reading of Bitrix24 payloads: one view over UPPER_SNAKE, lower_snake and camelCase keys,
and coercions that accept both JSON types and the strings PHP forms turn them into.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = ["Fields", "to_bool", "to_datetime", "to_int", "to_int_list", "to_str"]

_TRUE = frozenset({"1", "y", "yes", "true", "on"})


def _norm(key: Any) -> str:
    return str(key).replace("_", "").lower()


def to_int(value: Any) -> int | None:
    """An integer from 789, "789", " 789 " or 789.0; None for anything else (incl. booleans)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        text = value.strip()
        digits = text[1:] if text[:1] in "+-" else text
        if digits.isdigit() and digits.isascii():
            return int(text)
    return None


def to_bool(value: Any) -> bool:
    """True for true/1/"1"/"Y"/"true"; False for everything else ("0", "N", "", None, ...)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        return value.strip().lower() in _TRUE
    return False


def to_str(value: Any) -> str:
    """A string; None becomes "" (PHP's http_build_query sends null as "" or not at all)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Mapping | list):
        return ""
    return str(value)


def to_int_list(value: Any) -> tuple[int, ...]:
    """Integers from a JSON list, a PHP form array ({"0": "1", ...}) or a single scalar."""
    items: list[Any]
    if isinstance(value, Mapping):
        items = list(value.values())
    elif isinstance(value, list | tuple):
        items = list(value)
    elif value in (None, "", False):
        items = []
    else:
        items = [value]
    return tuple(n for n in (to_int(item) for item in items) if n is not None)


def to_datetime(value: Any) -> datetime | None:
    """An aware UTC datetime from a Unix timestamp (int or digit string) or an ISO 8601 string;
    an ISO string without offset is taken as UTC."""
    seconds = to_int(value)
    if seconds is not None:
        return datetime.fromtimestamp(seconds, UTC)
    if isinstance(value, float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str) and value.strip():
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    return None


class Fields:
    """A read-only view of a mapping where `dialog_id`, `DIALOG_ID` and `dialogId` are one key."""

    __slots__ = ("_map", "raw")

    def __init__(self, data: Any) -> None:
        self.raw: Mapping[str, Any] = data if isinstance(data, Mapping) else {}
        self._map = {_norm(k): v for k, v in self.raw.items()}

    def __bool__(self) -> bool:
        return bool(self._map)

    def get(self, *names: str) -> Any:
        """The value of the first of `names` that is present (None when none is)."""
        for name in names:
            key = _norm(name)
            if key in self._map:
                return self._map[key]
        return None

    def has(self, name: str) -> bool:
        """True when `name` is present (in any key style)."""
        return _norm(name) in self._map

    def text(self, *names: str) -> str:
        """The first present value as a string ("" when none is)."""
        return to_str(self.get(*names))

    def integer(self, *names: str) -> int | None:
        """The first of `names` that holds an integer."""
        for name in names:
            number = to_int(self.get(name))
            if number is not None:
                return number
        return None

    def flag(self, *names: str) -> bool:
        """The first present value as a boolean."""
        return to_bool(self.get(*names))

    def sub(self, *names: str) -> Fields:
        """The nested mapping under the first of `names` that holds one (empty when none does)."""
        for name in names:
            value = self.get(name)
            if isinstance(value, Mapping):
                return Fields(value)
        return Fields(None)
