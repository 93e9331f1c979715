"""The REST endpoint: both auth styles, parameters in every encoding, the envelope and errors."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

from tests.integration.sandbox.conftest import Receiver, Sandbox
from timebot.sandbox.state import User


def test_webhook_call_returns_result_and_time(sandbox: Sandbox) -> None:
    r = httpx.post(sandbox.rest("user.current"), json={})
    assert r.status_code == 200
    body = r.json()
    assert body["result"]["ID"] == "1"
    assert {"start", "finish", "duration", "processing", "date_start", "date_finish"} <= set(
        body["time"]
    )


def test_json_suffix_and_get_work_like_the_bare_method(sandbox: Sandbox) -> None:
    plain = httpx.get(sandbox.rest("profile")).json()["result"]
    suffixed = httpx.get(sandbox.rest("profile.json")).json()["result"]
    assert (
        plain
        == suffixed
        == {
            "ID": "1",
            "ADMIN": True,
            "NAME": "Анна",
            "LAST_NAME": "Смирнова",
            "PERSONAL_GENDER": "F",
            "TIME_ZONE": "",
        }
    )


def test_method_names_are_case_insensitive(sandbox: Sandbox) -> None:
    assert httpx.post(sandbox.rest("USER.ADMIN")).json()["result"] is True


def test_json_form_multipart_and_query_parameters_are_equivalent(sandbox: Sandbox) -> None:
    url = sandbox.rest("user.get")
    by_json = httpx.post(url, json={"FILTER": {"UF_DEPARTMENT": [4, 5]}}).json()
    by_form = httpx.post(
        url, data={"FILTER[UF_DEPARTMENT][0]": "4", "FILTER[UF_DEPARTMENT][1]": "5"}
    )
    by_multipart = httpx.post(
        url, files={"FILTER[UF_DEPARTMENT][]": (None, "4")}, data={"FILTER[UF_DEPARTMENT][]": "5"}
    )
    by_query = httpx.get(
        url + "?FILTER%5BUF_DEPARTMENT%5D%5B%5D=4&FILTER%5BUF_DEPARTMENT%5D%5B%5D=5"
    )
    ids = [u["ID"] for u in by_json["result"]]
    assert ids == ["6", "7", "8", "9", "10", "11"]
    for response in (by_form, by_multipart, by_query):
        assert [u["ID"] for u in response.json()["result"]] == ids


def test_unknown_method_is_404_method_not_found(sandbox: Sandbox) -> None:
    r = httpx.post(sandbox.rest("crm.deal.list"))
    assert r.status_code == 404
    assert r.json() == {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"}


def test_wrong_webhook_secret_is_401_invalid_credentials(sandbox: Sandbox) -> None:
    r = httpx.post(f"{sandbox.base_url}/rest/1/wrong-secret/profile")
    assert r.status_code == 401
    assert r.json()["error"] == "INVALID_CREDENTIALS"


def test_missing_auth_is_401_no_auth_found(sandbox: Sandbox) -> None:
    r = httpx.post(sandbox.oauth("profile"), json={})
    assert r.status_code == 401
    assert r.json()["error"] == "NO_AUTH_FOUND"


def test_unknown_token_is_401_invalid_token(sandbox: Sandbox) -> None:
    r = httpx.post(sandbox.oauth("profile"), json={"auth": "0" * 52})
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_token"


def test_oauth_token_works_in_query_and_body(sandbox: Sandbox, receiver: Receiver) -> None:
    installed = asyncio.run(sandbox.portal.install_app(receiver.url("/install")))
    token = installed.access_token
    by_query = httpx.get(sandbox.oauth("user.current"), params={"auth": token})
    by_body = httpx.post(sandbox.oauth("user.current"), data={"auth": token})
    by_json = httpx.post(sandbox.oauth("user.current.json"), json={"auth": token})
    for r in (by_query, by_body, by_json):
        assert r.status_code == 200
        assert r.json()["result"]["ID"] == "1"


def test_lists_page_by_fifty_with_total_and_next(sandbox: Sandbox) -> None:
    box = sandbox
    state = box.portal.state
    for uid in range(100, 160):
        state.users[uid] = User(uid, f"Сотрудник{uid}", "Тестов", departments=[3])
    first = httpx.post(box.rest("user.get"), json={}).json()
    assert len(first["result"]) == 50
    assert first["total"] == 71
    assert first["next"] == 50
    second = httpx.post(box.rest("user.get"), json={"start": first["next"]}).json()
    assert len(second["result"]) == 21
    assert "next" not in second


def test_insufficient_scope_when_the_webhook_lacks_it(
    sandbox_factory: Callable[..., Sandbox],
) -> None:
    box = sandbox_factory(webhook_scopes=("imbot",))
    r = httpx.post(box.rest("timeman.status"))
    assert r.status_code == 401
    assert r.json()["error"] == "insufficient_scope"
    assert httpx.post(box.rest("profile")).status_code == 200  # basic needs no scope


def test_invalid_json_body_is_a_clear_400(sandbox: Sandbox) -> None:
    r = httpx.post(
        sandbox.rest("profile"), content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400
    assert r.json()["error"] == "ERROR_ARGUMENT"
