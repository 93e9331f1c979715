"""PHP-style query strings: an emulator of `http_build_query` (how Bitrix24 encodes pushed events)
and a `parse_str`-like reader for bracketed form keys (`a[b][]=1`).

Written independently from timebot.bitrix's parser so that the two check each other in tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote_plus, unquote_plus

__all__ = ["http_build_query", "parse_php_pairs", "parse_php_query", "php_scalar", "php_urlencode"]


def php_urlencode(text: str) -> str:
    """PHP `urlencode`: like `quote_plus` with nothing safe, except that PHP also encodes `~`."""
    return quote_plus(text, safe="").replace("~", "%7E")


def php_scalar(value: object) -> str | None:
    """The string PHP would emit for a scalar, or None when PHP would skip it (null)."""
    if value is None:
        return None
    if value is True:
        return "1"
    if value is False:
        return "0"
    if isinstance(value, float):
        # PHP >= 7.1 prints floats with the shortest round-trip form, as Python's repr does.
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return str(value)


def _items(value: Mapping[Any, Any] | Sequence[Any]) -> Iterable[tuple[str, Any]]:
    if isinstance(value, Mapping):
        return ((str(k), v) for k, v in value.items())
    return ((str(i), v) for i, v in enumerate(value))


def _is_container(value: object) -> bool:
    return isinstance(value, Mapping) or (
        isinstance(value, Sequence) and not isinstance(value, str | bytes)
    )


def _build(prefix: str, value: object, out: list[str]) -> None:
    if _is_container(value):
        for key, item in _items(value):  # type: ignore[arg-type]
            _build(f"{prefix}[{key}]", item, out)
        return
    text = php_scalar(value)
    if text is not None:
        out.append(f"{php_urlencode(prefix)}={php_urlencode(text)}")


def http_build_query(data: Mapping[str, Any] | Sequence[Any]) -> str:
    """Encode nested data exactly as PHP `http_build_query($data)` does (RFC 1738, `&`)."""
    out: list[str] = []
    for key, value in _items(data):
        _build(key, value, out)
    return "&".join(out)


def _split_key(key: str) -> list[str] | None:
    """`a[b][]` -> ["a", "b", ""]; None for keys PHP would drop (empty base)."""
    start = key.find("[")
    if start <= 0:
        return [key] if key else None
    parts = [key[:start]]
    pos = start
    while pos < len(key) and key[pos] == "[":
        end = key.find("]", pos)
        if end < 0:
            break  # PHP keeps an unterminated tail as part of the last segment; ignore it
        parts.append(key[pos + 1 : end])
        pos = end + 1
    return parts


def _listify(node: object) -> object:
    """Turn dicts keyed 0..n-1 (PHP lists) into Python lists, recursively."""
    if isinstance(node, dict):
        for k, v in node.items():
            node[k] = _listify(v)
        keys = list(node)
        if keys and keys == [str(i) for i in range(len(keys))]:
            return list(node.values())
    return node


def parse_php_pairs(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Build nested data from decoded (key, value) pairs with PHP bracket semantics."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = _split_key(key)
        if parts is None:
            continue
        node: dict[str, Any] = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if part == "" and i > 0:
                part = str(max((int(k) + 1 for k in node if k.isdigit()), default=0))
            if last:
                node[part] = value
                break
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
    for key, value in root.items():
        root[key] = _listify(value)
    return root


def parse_php_query(query: str) -> dict[str, Any]:
    """Parse an `application/x-www-form-urlencoded` string into nested dicts and lists."""
    pairs: list[tuple[str, str]] = []
    for chunk in query.split("&"):
        if not chunk:
            continue
        key, _, value = chunk.partition("=")
        pairs.append((unquote_plus(key), unquote_plus(value)))
    return parse_php_pairs(pairs)
