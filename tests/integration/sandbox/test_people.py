"""The demo company through user.get, user.current, profile and department.get."""

from __future__ import annotations

import asyncio

import httpx

from tests.integration.sandbox.conftest import Receiver, Sandbox


def users(box: Sandbox, **params: object) -> list[dict[str, object]]:
    r = httpx.post(box.rest("user.get"), json=params)
    assert r.status_code == 200, r.text
    return r.json()["result"]  # type: ignore[no-any-return]


def test_demo_company_has_employees_in_two_zones_and_one_admin(sandbox: Sandbox) -> None:
    everyone = users(sandbox, FILTER={"ACTIVE": True, "USER_TYPE": "employee"})
    assert 10 <= len(everyone) <= 12
    zones = {u["TIME_ZONE"] for u in everyone}
    assert zones == {"", "Europe/Moscow", "Asia/Yekaterinburg"}
    assert all(u["EMAIL"] for u in everyone)
    first = everyone[0]
    assert isinstance(first["ID"], str)
    assert first["UF_DEPARTMENT"] == [1]
    admins = [u.id for u in sandbox.portal.state.employees() if u.is_admin]
    assert admins == [1]
    assert httpx.post(sandbox.rest("user.admin")).json()["result"] is True  # the webhook's user


def test_user_get_filters_with_documented_prefixes(sandbox: Sandbox) -> None:
    assert [u["ID"] for u in users(sandbox, FILTER={"UF_DEPARTMENT": 5})] == ["9", "10", "11"]
    assert [u["ID"] for u in users(sandbox, UF_DEPARTMENT=2)] == ["2", "3", "4"]
    assert [u["ID"] for u in users(sandbox, FILTER={">ID": 9})] == ["10", "11"]
    assert [u["ID"] for u in users(sandbox, FILTER={"@ID": [2, 5]})] == ["2", "5"]
    assert [u["LAST_NAME"] for u in users(sandbox, filter={"NAME": "Ан%"})] == ["Смирнова"]
    no_ova = users(sandbox, filter={"!%LAST_NAME": "ова"})
    assert no_ova
    assert all("ова" not in str(u["LAST_NAME"]) for u in no_ova)
    ids = [u["ID"] for u in users(sandbox, SORT="ID", ORDER="DESC")]
    assert ids[:2] == ["11", "10"]


def test_bots_are_not_users_for_user_get(sandbox: Sandbox) -> None:
    httpx.post(
        sandbox.rest("imbot.v2.Bot.register"),
        json={"botToken": "t", "fields": {"code": "b", "properties": {"name": "Бот"}}},
    )
    assert all(u["NAME"] != "Бот" for u in users(sandbox))


def test_departments_have_heads_and_a_parent_hierarchy(sandbox: Sandbox) -> None:
    r = httpx.post(sandbox.rest("department.get"), json={})
    body = r.json()
    assert body["total"] == 5
    by_id = {d["ID"]: d for d in body["result"]}
    assert "PARENT" not in by_id["1"]
    assert by_id["4"]["PARENT"] == "3"
    assert all("UF_HEAD" in d for d in body["result"])
    children = httpx.post(sandbox.rest("department.get"), json={"PARENT": 1}).json()["result"]
    assert sorted(d["ID"] for d in children) == ["2", "3", "5"]
    by_name = httpx.post(sandbox.rest("department.get"), json={"sort": "NAME"}).json()["result"]
    assert by_name[0]["NAME"] == "Бэкенд"


def test_user_current_and_profile_follow_the_token(sandbox: Sandbox, receiver: Receiver) -> None:
    asyncio.run(sandbox.portal.install_app(receiver.url("/install")))
    token = sandbox.portal.issue_tokens(9).access_token
    me = httpx.post(sandbox.oauth("user.current"), json={"auth": token}).json()["result"]
    assert (me["ID"], me["TIME_ZONE"], me["UF_DEPARTMENT"]) == ("9", "Asia/Yekaterinburg", [5])
    profile = httpx.post(sandbox.oauth("profile"), json={"auth": token}).json()["result"]
    assert profile["ADMIN"] is False
