"""PHP-compatible `application/x-www-form-urlencoded` bodies: `parse_form` reads them the way PHP's
`parse_str` fills `$_POST`, `build_query` writes them the way PHP's `http_build_query` does.

Bitrix24 builds its event POSTs with `http_build_query`, so bracket keys (`data[PARAMS][MESSAGE]`)
nest and every scalar arrives as a string.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_to_bytes

__all__ = ["build_query", "parse_form", "php_urlencode"]

# PHP's urlencode() leaves only these bytes alone; unlike Python's quote_plus it encodes "~".
_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
# Keys PHP's symbol tables store as integers ("symtable" semantics): canonical decimal longs.
_INT_KEY = re.compile(r"(?:0|-?[1-9][0-9]*)")
_MAX_NESTING = 64  # PHP's max_input_nesting_level default: deeper variables are dropped


def php_urlencode(text: str) -> str:
    """Encode like PHP's urlencode(): UTF-8, spaces as '+', upper-case %XX for the rest."""
    out: list[str] = []
    for byte in text.encode("utf-8"):
        if byte in _SAFE:
            out.append(chr(byte))
        elif byte == 0x20:
            out.append("+")
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def _urldecode(raw: bytes) -> bytes:
    """PHP's urldecode(): '+' is a space, %XX a byte, malformed escapes stay as they are
    (as `unquote_to_bytes` leaves them; '+' is replaced first, so "%2B" stays a plus)."""
    if b"%" not in raw and b"+" not in raw:
        return raw
    return unquote_to_bytes(raw.replace(b"+", b" "))


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


class _PhpArray:
    """An ordered PHP array: string keys, plus the next free integer index for `a[]` appends."""

    __slots__ = ("items", "next_index")

    def __init__(self) -> None:
        self.items: dict[str, _PhpArray | str] = {}
        self.next_index = 0

    def store(self, key: str | None, value: _PhpArray | str) -> None:
        if key is None:
            key = str(self.next_index)
        if _INT_KEY.fullmatch(key) and len(key) < 20:
            number = int(key)
            if number >= self.next_index:
                self.next_index = number + 1
        self.items[key] = value

    def child(self, key: str | None) -> _PhpArray:
        """The array at `key`, creating it, or replacing a scalar as PHP does."""
        if key is not None:
            existing = self.items.get(key)
            if isinstance(existing, _PhpArray):
                return existing
        created = _PhpArray()
        self.store(key, created)
        return created

    def to_python(self) -> dict[str, Any] | list[Any]:
        """Like json_encode: keys exactly 0..n-1 in order become a list, anything else a dict."""
        values = [v.to_python() if isinstance(v, _PhpArray) else v for v in self.items.values()]
        keys = list(self.items)
        if keys and keys == [str(i) for i in range(len(keys))]:
            return values
        return dict(zip(keys, values, strict=True))


# How one decoded variable name is stored, worked out once per distinct raw name (Bitrix24's
# bodies repeat the same few dozen names, so parsing a body is mostly cache hits):
#   (base, path, last): store the value at root[base][path...][last] (last None appends);
#   (base, None, None): a top-level scalar root[base];
#   (base,): nested deeper than PHP allows, drop root[base]; None: the name is ignored.
_Plan = tuple[str, tuple[str | None, ...] | None, str | None] | tuple[str] | None
_PLANS: dict[bytes, _Plan] = {}
_PLAN_CACHE_SIZE = 4096  # distinct names remembered; a flood of random names only refills it


def _plan(name: str) -> _Plan:
    """Where php_register_variable_ex() would store the variable `name`."""
    name = name.split("\x00", 1)[0].lstrip(" ")  # C strings end at NUL; leading spaces ignored
    bracket = name.find("[")
    base = name if bracket < 0 else name[:bracket]
    # PHP cannot have ' ' or '.' in a variable name, so it turns them into '_' (top level only).
    base = base.replace(" ", "_").replace(".", "_")
    if not base:
        return None
    if bracket < 0:
        return (base, None, None)

    path: list[str | None] = []
    rest = name[bracket:]
    while rest.startswith("["):
        inner = rest[1:]
        probe = inner[1:] if inner.startswith(" ") else inner
        if probe.startswith("]"):
            path.append(None)  # "a[]" (or "a[ ]") appends
            rest = probe[1:]
            continue
        close = inner.find("]")
        if close < 0:
            # Unterminated "[": not an index; PHP folds it into the name with '_'.
            if path:
                # Only the previous segment is kept as the plain key in this case.
                last = path.pop()
                return (base, tuple(path), last)
            tail = re.sub(r"[ .\[]", "_", inner)
            return (base + "_" + tail, None, None)
        path.append(inner[:close])
        rest = inner[close + 1 :]
    if len(path) > _MAX_NESTING:
        return (base,)  # PHP drops the whole variable when nested too deep
    last = path.pop()
    return (base, tuple(path), last)


def _plan_of(raw_name: bytes) -> _Plan:
    try:
        return _PLANS[raw_name]
    except KeyError:
        plan = _plan(_text(_urldecode(raw_name)))
        if len(_PLANS) >= _PLAN_CACHE_SIZE:
            _PLANS.clear()
        _PLANS[raw_name] = plan
        return plan


def _apply(root: _PhpArray, plan: _Plan, value: str) -> None:
    """Store one decoded `name=value` pair the way php_register_variable_ex() does."""
    if plan is None:
        return
    if len(plan) == 1:
        root.items.pop(plan[0], None)
        return
    base, path, last = plan
    if path is None:
        root.store(base, value)
        return
    node = root.child(base)
    for key in path:
        node = node.child(key)
    node.store(last, value)


def parse_form(body: bytes | str) -> dict[str, Any]:
    """Parse a form body as PHP fills `$_POST`: bracket keys nest, `a[]` appends, later keys win,
    every value is a string; arrays indexed exactly 0..n-1 come back as lists (json_encode's view).
    """
    raw = body.encode("utf-8") if isinstance(body, str) else body
    root = _PhpArray()
    for pair in raw.split(b"&"):
        if not pair:
            continue
        key, sep, value = pair.partition(b"=")
        if not key:
            continue
        _apply(root, _plan_of(key), _text(_urldecode(value)) if sep else "")
    result = root.to_python()
    # The top level is a symbol table, never a list, even for keys like "0".
    if isinstance(result, list):
        return {str(i): v for i, v in enumerate(result)}
    return result


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _php_float(value)
    return str(value)


def _php_float(value: float) -> str:
    """PHP 8 float to string with serialize_precision=-1 (shortest round-trip form)."""
    if math.isnan(value):
        return "NAN"
    if math.isinf(value):
        return "INF" if value > 0 else "-INF"
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        if "." not in mantissa:
            mantissa += ".0"
        sign = "-" if exponent.startswith("-") else "+"
        return f"{mantissa}E{sign}{exponent.lstrip('+-').lstrip('0') or '0'}"
    if text.endswith(".0"):
        return text[:-2]
    return text


def _walk(prefix: str, value: Any, out: list[str]) -> None:
    if value is None:
        return
    if isinstance(value, Mapping):
        items: list[tuple[Any, Any]] = list(value.items())
    elif isinstance(value, list | tuple):
        items = list(enumerate(value))
    else:
        out.append(f"{prefix}={php_urlencode(_scalar(value))}")
        return
    for key, item in items:
        _walk(f"{prefix}%5B{php_urlencode(_scalar(key))}%5D", item, out)


def build_query(data: Mapping[str, Any]) -> str:
    """Encode `data` like PHP's http_build_query(): nested keys as `a%5Bb%5D`, True→"1",
    False→"0", None omitted, empty arrays omitted, spaces as '+'.
    """
    out: list[str] = []
    for key, value in data.items():
        _walk(php_urlencode(_scalar(key)), value, out)
    return "&".join(out)
