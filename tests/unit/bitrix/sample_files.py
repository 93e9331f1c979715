"""Loading the Bitrix24 sample payloads kept next to these tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).parent / "samples"


def sample_text(name: str) -> str:
    """A sample file without its leading '#' source lines."""
    lines = (SAMPLES / name).read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines if not line.startswith("#")).strip()


def sample_json(name: str) -> Any:
    """A *_docs.json sample, decoded."""
    return json.loads(sample_text(name))


def as_form_strings(value: Any) -> Any:
    """What a PHP form makes of a JSON value: scalars become strings, true/false "1"/"0"."""
    if isinstance(value, dict):
        return {str(k): as_form_strings(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [as_form_strings(v) for v in value]
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)
