"""The leaky bucket (503 QUERY_LIMIT_EXCEEDED, batch counts once) and fault injection."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from tests.integration.sandbox.conftest import Sandbox
from timebot.sandbox import FaultConfig, SandboxConfig


def test_burst_passes_then_503_then_draining_restores(
    sandbox_factory: Callable[..., Sandbox],
) -> None:
    box = sandbox_factory(SandboxConfig(rate=5.0, burst=10))
    with httpx.Client() as http:
        statuses = [http.post(box.rest("profile")).status_code for _ in range(12)]
        assert statuses[:10] == [200] * 10
        assert statuses[10:] == [503, 503]
        refused = http.post(box.rest("profile"))
        assert refused.json() == {
            "error": "QUERY_LIMIT_EXCEEDED",
            "error_description": "Too many requests",
        }
        time.sleep(0.45)  # drains a little over two at 5/s
        assert [http.post(box.rest("profile")).status_code for _ in range(2)] == [200, 200]
        assert 503 in [http.post(box.rest("profile")).status_code for _ in range(3)]
    stats = httpx.get(f"{box.base_url}/sandbox/control").json()["stats"]
    assert stats["rate_limited"] >= 4
    assert stats["responses_503"] == stats["rate_limited"]
    assert stats["requests"] == sum(stats["responses_by_status"].values())


def test_default_limits_are_two_per_second_and_fifty(
    sandbox_factory: Callable[..., Sandbox],
) -> None:
    box = sandbox_factory(SandboxConfig())
    snapshot = httpx.get(f"{box.base_url}/sandbox/control").json()
    assert (snapshot["rate"], snapshot["burst"]) == (2.0, 50)


def test_a_batch_of_fifty_counts_as_one_request(sandbox_factory: Callable[..., Sandbox]) -> None:
    box = sandbox_factory(SandboxConfig(rate=0.01, burst=2))
    cmd = {f"c{i}": "user.current" for i in range(50)}
    with httpx.Client() as http:
        first = http.post(box.rest("batch"), json={"cmd": cmd})
        second = http.post(box.rest("batch"), json={"cmd": cmd})
        third = http.post(box.rest("batch"), json={"cmd": cmd})
    assert first.status_code == second.status_code == 200
    assert len(first.json()["result"]["result"]) == 50
    assert third.status_code == 503


def test_rate_can_change_at_runtime(sandbox_factory: Callable[..., Sandbox]) -> None:
    box = sandbox_factory(SandboxConfig(rate=0.01, burst=1))
    control = f"{box.base_url}/sandbox/control"
    with httpx.Client() as http:
        assert http.post(box.rest("profile")).status_code == 200
        assert http.post(box.rest("profile")).status_code == 503
        http.post(control, json={"rate": 100, "burst": 5, "reset_bucket": True})
        assert [http.post(box.rest("profile")).status_code for _ in range(5)] == [200] * 5


def test_error_rate_one_fails_every_call_with_the_configured_statuses(
    sandbox_factory: Callable[..., Sandbox],
) -> None:
    faults = FaultConfig(error_rate=1.0, error_statuses=(500,), seed=1)
    box = sandbox_factory(faults=faults)
    r = httpx.post(box.rest("profile"))
    assert r.status_code == 500
    assert r.json()["error"] == "INTERNAL_SERVER_ERROR"
    httpx.post(f"{box.base_url}/sandbox/control", json={"faults": {"error_statuses": [503]}})
    r = httpx.post(box.rest("profile"))
    assert (r.status_code, r.json()["error"]) == (503, "QUERY_LIMIT_EXCEEDED")


def test_partial_error_rate_fails_some_calls(sandbox_factory: Callable[..., Sandbox]) -> None:
    box = sandbox_factory(faults=FaultConfig(error_rate=0.5, seed=7))
    with httpx.Client() as http:
        statuses = [http.post(box.rest("profile")).status_code for _ in range(60)]
    failures = sum(1 for s in statuses if s in (500, 503))
    assert 10 < failures < 50
    assert set(statuses) <= {200, 500, 503}
    stats = httpx.get(f"{box.base_url}/sandbox/control").json()["stats"]
    assert stats["faults_injected"] == failures


def test_latency_is_added_to_every_call(sandbox_factory: Callable[..., Sandbox]) -> None:
    box = sandbox_factory(faults=FaultConfig(latency=0.3))
    started = time.monotonic()
    assert httpx.post(box.rest("profile")).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_outage_window_fails_every_call_with_an_html_503_until_it_ends(
    sandbox: Sandbox,
) -> None:
    control = f"{sandbox.base_url}/sandbox/control"
    httpx.post(control, json={"faults": {"outage_seconds": 0.6}})
    r = httpx.post(sandbox.rest("profile"))
    assert r.status_code == 503
    assert r.headers["content-type"].startswith("text/html")
    assert "503 Service Temporarily Unavailable" in r.text
    time.sleep(0.7)
    assert httpx.post(sandbox.rest("profile")).status_code == 200
    snapshot = httpx.get(control).json()
    assert snapshot["stats"]["outage_rejections"] == 1
    assert snapshot["faults"]["outage_remaining"] == 0


def test_control_endpoint_validates_fault_settings(sandbox: Sandbox) -> None:
    r = httpx.post(f"{sandbox.base_url}/sandbox/control", json={"faults": {"bogus": 1}})
    assert r.status_code == 400
