"""Schemathesis against the running API: every `/api/v1` operation, with positive and negative
inputs generated from the app's own OpenAPI document, sent over real HTTP with a valid token to
the seeded two-portal world. Checks: no server errors, every status documented, every
response's content type and body as documented. The number of examples is bounded so the run
stays within about a minute and a half per database.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.api.world import World

EXAMPLES = 20
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


class Tally:
    """What the run did: calls and statuses per operation."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.calls: collections.Counter[str] = collections.Counter()
        self.statuses: dict[str, collections.Counter[int]] = collections.defaultdict(
            collections.Counter
        )

    def add(self, label: str, status: int) -> None:
        self.calls[label] += 1
        self.statuses[label][status] += 1

    def report(self) -> str:
        total = sum(self.calls.values())
        codes: collections.Counter[int] = collections.Counter()
        for found in self.statuses.values():
            codes.update(found)
        lines = [
            f"schemathesis: {total} requests over {len(self.calls)} operations in "
            f"{time.monotonic() - self.started:.1f} s; statuses {dict(sorted(codes.items()))}"
        ]
        lines += [
            f"  {label}: {n} {dict(sorted(self.statuses[label].items()))}"
            for label, n in sorted(self.calls.items())
        ]
        return "\n".join(lines)


def hypothesis_run(operation: Any, mode: GenerationMode, call: Callable[[Any], None]) -> Any:
    """A bounded Hypothesis test of one operation in one generation mode."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        call(case)

    return run


def test_the_api_conforms_to_its_documentation(world: World) -> None:
    """Schemathesis's Python API, driven directly: one Hypothesis run per operation and
    generation mode (its pytest plugin's lazy loading does not work with this pytest)."""
    schema = schemathesis.openapi.from_url(f"{world.base}/openapi.json", timeout=30)
    schema = schema.include(path_regex=r"^/api/v1/")
    headers = {"Authorization": f"Bearer {world.tokens['a']}"}
    tally = Tally()
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        label = f"{operation.method.upper()} {operation.path}"

        def call(case: Any, label: str = label) -> None:
            response = case.call_and_validate(
                base_url=world.base, headers=headers, checks=CHECKS, timeout=60
            )
            tally.add(label, response.status_code)

        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                hypothesis_run(operation, mode, call)()
            except Exception as exc:  # a check failed: collect, go on with the others
                failures.append(f"{label} ({mode.value}): {exc}")
    print("\n" + tally.report())  # the run's figures, shown with `-s`
    assert operations >= 30
    assert not failures, "\n\n".join(failures)
    codes = collections.Counter[int]()
    for found in tally.statuses.values():
        codes.update(found)
    assert not any(code >= 500 for code in codes)
    assert sum(n for code, n in codes.items() if code < 300) > 50  # the seed data was reached
