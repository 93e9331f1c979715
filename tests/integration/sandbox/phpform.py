"""An independent PHP form reader for tests (parse_qsl + bracket splitting, no list folding) and
helpers to compare pushed bodies with the docs samples in /work/shared/bitrix24/samples/."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

SAMPLES = Path("/work/shared/bitrix24/samples")
_KEY = re.compile(r"^([^\[]+)((?:\[[^\]]*\])*)$")


def sample_text(name: str) -> str:
    """A sample file without its leading `#` source lines."""
    lines = (SAMPLES / name).read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines if not line.startswith("#")).strip()


def sample_json(name: str) -> Any:
    """A `*_docs.json` sample."""
    return json.loads(sample_text(name))


def parse_form(body: str) -> dict[str, Any]:
    """PHP's `parse_str`: nested dicts keyed by strings, every value a string."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True, strict_parsing=True):
        match = _KEY.match(key)
        assert match, f"not a PHP key: {key!r}"
        parts = [match.group(1), *re.findall(r"\[([^\]]*)\]", match.group(2))]
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            assert isinstance(node, dict), f"{key!r} collides with a scalar"
        node[parts[-1]] = value
    return root


def php_wire(value: Any) -> Any:
    """What survives `http_build_query` of JSON data: strings everywhere, lists as numbered
    keys, null as "" (v2 webhook rule), empty arrays dropped (returned as None)."""
    if isinstance(value, dict | list):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        out = {str(k): php_wire(v) for k, v in items}
        out = {k: v for k, v in out.items() if v is not None}
        return out or None
    if value is None:
        return ""
    if value is True:
        return "1"
    if value is False:
        return "0"
    return str(value)


def key_paths(tree: Any, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Every key path of a nested dict."""
    if not isinstance(tree, dict):
        return {prefix}
    paths: set[tuple[str, ...]] = set()
    for key, value in tree.items():
        paths |= key_paths(value, (*prefix, key))
    return paths


def generic(paths: set[tuple[str, ...]], ids: dict[str, str]) -> set[tuple[str, ...]]:
    """Replace concrete ids in key paths (e.g. data[BOT][567]) by placeholders."""
    return {tuple(ids.get(p, p) for p in path) for path in paths}
