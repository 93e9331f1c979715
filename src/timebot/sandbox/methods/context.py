"""What a REST method handler gets: the caller (webhook user or OAuth token), tolerant parameter
access (camelCase, UPPER_CASE and snake_case name the same parameter; "Y"/"N", 1/0 and JSON
booleans all work), and the event sink for what the call triggers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from timebot.sandbox.errors import RestError
from timebot.sandbox.events import EventSink
from timebot.sandbox.state import Owner

if TYPE_CHECKING:
    from timebot.sandbox.portal import Portal

__all__ = ["CallContext", "Caller", "ListResult", "MethodSpec", "Params"]


def _norm(name: str) -> str:
    return name.replace("_", "").lower()


_TRUE = {"y", "yes", "true", "1", "on"}


class Params:
    """Method parameters with forgiving names and types."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.raw: dict[str, Any] = dict(data)
        self._index = {_norm(k): k for k in self.raw}

    def has(self, name: str) -> bool:
        """Whether the parameter was passed."""
        return _norm(name) in self._index

    def get(self, name: str, default: Any = None) -> Any:
        """The raw value, or `default`."""
        key = self._index.get(_norm(name))
        return self.raw[key] if key is not None else default

    def text(self, name: str, default: str = "") -> str:
        """The value as a string."""
        value = self.get(name)
        return default if value is None else str(value)

    def integer(self, name: str, default: int | None = None) -> int | None:
        """The value as an int; None (or `default`) when absent or not a number."""
        value = self.get(name)
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value.strip())
        return default

    def flag(self, name: str, default: bool = False) -> bool:
        """The value as a boolean (true/false, "Y"/"N", 1/0)."""
        value = self.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in _TRUE

    def mapping(self, name: str) -> Params:
        """A nested object as Params (empty when absent)."""
        value = self.get(name)
        return Params(value if isinstance(value, Mapping) else {})

    def number(self, name: str) -> float | None:
        """The value as a float, or None."""
        value = self.get(name)
        if value is None or value == "" or isinstance(value, bool):
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            return None


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: an incoming webhook (acting as its user) or an application's token."""

    user_id: int
    kind: str  # "webhook" | "oauth"
    client_id: str
    scopes: tuple[str, ...]

    @property
    def is_webhook(self) -> bool:
        """True for incoming-webhook calls."""
        return self.kind == "webhook"

    def app_owner(self) -> Owner:
        """The owner of bots registered by this OAuth application."""
        return Owner("app", self.client_id)


@dataclass(slots=True)
class CallContext:
    """Everything one method call needs."""

    portal: Portal
    caller: Caller
    params: Params
    sink: EventSink
    ip: str = ""

    @property
    def user_id(self) -> int:
        """The acting user."""
        return self.caller.user_id

    def fail(self, code: str, description: str, status: int = 400) -> RestError:
        """An error to raise."""
        return RestError(code, description, status)


@dataclass(frozen=True, slots=True)
class ListResult:
    """A page of a list method: `result`, `total` and, when more remain, `next`."""

    items: list[Any]
    total: int | None
    next: int | None = None


@dataclass(frozen=True, slots=True)
class MethodSpec:
    """A REST method: its scope and handler."""

    name: str
    scope: str
    handler: Callable[[CallContext], Any]
