"""batch: at most 50 commands, `$result[…]` references, `halt`, the documented result arrays."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.integration.sandbox.conftest import Sandbox


def test_batch_resolves_references_to_earlier_results(sandbox: Sandbox) -> None:
    r = httpx.post(
        sandbox.rest("batch"),
        json={
            "halt": 0,
            "cmd": {
                "get_user": "user.current",
                "get_department": "department.get?ID=$result[get_user][UF_DEPARTMENT][0]",
            },
        },
    )
    assert r.status_code == 200
    result = r.json()["result"]
    assert set(result) == {"result", "result_error", "result_total", "result_next", "result_time"}
    assert result["result"]["get_user"]["ID"] == "1"
    assert result["result"]["get_department"][0]["NAME"] == "ООО «Ромашка»"
    assert result["result_total"] == {"get_department": 1}
    assert result["result_error"] == []
    assert result["result_next"] == []
    assert set(result["result_time"]) == {"get_user", "get_department"}


def test_batch_accepts_url_encoded_form_commands(sandbox: Sandbox) -> None:
    # As in the docs' HTTP example: the sub-query is URL-encoded once more inside the form.
    body = (
        "halt=0&cmd[get_user]=user.current%3F"
        "&cmd[get_department]=department.get%3FID%3D%2524result%255Bget_user%255D"
        "%255BUF_DEPARTMENT%255D%255B0%255D"
    )
    r = httpx.post(
        sandbox.rest("batch"),
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.json()["result"]["result"]["get_department"][0]["ID"] == "1"


def test_errors_without_halt_do_not_stop_the_batch(sandbox: Sandbox) -> None:
    r = httpx.post(
        sandbox.rest("batch"),
        json={"halt": 0, "cmd": {"a": "no.such.method", "b": "user.admin"}},
    )
    result = r.json()["result"]
    assert result["result"] == {"b": True}
    assert result["result_error"]["a"]["error"] == "ERROR_METHOD_NOT_FOUND"


def test_halt_stops_at_the_first_error(sandbox: Sandbox) -> None:
    r = httpx.post(
        sandbox.rest("batch"),
        json={"halt": 1, "cmd": {"a": "no.such.method", "b": "user.admin"}},
    )
    result = r.json()["result"]
    assert result["result"] == []
    assert list(result["result_error"]) == ["a"]


def test_a_list_of_commands_gives_lists_back(sandbox: Sandbox) -> None:
    r = httpx.post(sandbox.rest("batch"), json={"cmd": ["user.admin", "profile"]})
    result = r.json()["result"]
    assert result["result"][0] is True
    assert result["result"][1]["ID"] == "1"


def test_more_than_fifty_commands_are_refused(sandbox: Sandbox) -> None:
    cmd = {f"c{i}": "profile" for i in range(51)}
    r = httpx.post(sandbox.rest("batch"), json={"cmd": cmd})
    assert r.status_code == 400
    assert r.json()["error"] == "ERROR_BATCH_LENGTH_EXCEEDED"


def test_overflow_can_come_back_per_command_instead(
    sandbox_factory: Callable[..., Sandbox],
) -> None:
    box = sandbox_factory(batch_overflow="per_command")
    cmd = {f"c{i}": "profile" for i in range(52)}
    result = httpx.post(box.rest("batch"), json={"cmd": cmd}).json()["result"]
    assert len(result["result"]) == 50
    assert set(result["result_error"]) == {"c50", "c51"}
    assert result["result_error"]["c50"]["error"] == "ERROR_BATCH_LENGTH_EXCEEDED"


def test_fifty_commands_are_fine(sandbox: Sandbox) -> None:
    cmd = {f"c{i}": "profile" for i in range(50)}
    r = httpx.post(sandbox.rest("batch"), json={"cmd": cmd})
    assert r.status_code == 200
    assert len(r.json()["result"]["result"]) == 50


def test_nested_batch_is_not_allowed(sandbox: Sandbox) -> None:
    r = httpx.post(sandbox.rest("batch"), json={"cmd": {"inner": "batch?cmd[x]=profile"}})
    error = r.json()["result"]["result_error"]["inner"]
    assert error["error"] == "ERROR_BATCH_METHOD_NOT_ALLOWED"


def test_batch_sub_commands_carry_nested_parameters(sandbox: Sandbox) -> None:
    r = httpx.post(
        sandbox.rest("batch"),
        json={
            "cmd": {
                "sales": "user.get?FILTER[UF_DEPARTMENT]=2&SORT=ID&ORDER=DESC",
                "boss": "user.get?FILTER[ID]=$result[sales][0][ID]",
            }
        },
    )
    result = r.json()["result"]["result"]
    assert [u["ID"] for u in result["sales"]] == ["4", "3", "2"]
    assert [u["ID"] for u in result["boss"]] == ["4"]
