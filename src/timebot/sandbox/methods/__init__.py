"""REST methods of the sandbox, one module per family; `registry()` maps lower-case method
names (Bitrix24 method names are case-insensitive) to their specs."""

from __future__ import annotations

from timebot.sandbox.methods import imbot_v1, imbot_v2, people, platform, timeman
from timebot.sandbox.methods.context import MethodSpec

__all__ = ["registry"]


def registry() -> dict[str, MethodSpec]:
    """All methods by lower-case name."""
    specs = [
        *imbot_v2.specs(),
        *imbot_v1.specs(),
        *people.specs(),
        *platform.specs(),
        *timeman.specs(),
    ]
    return {spec.name.lower(): spec for spec in specs}
