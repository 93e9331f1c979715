"""Installing and uninstalling the application, and opening its page (placement DEFAULT)."""

from __future__ import annotations

import asyncio
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.integration.sandbox.conftest import Receiver, Sandbox
from tests.integration.sandbox.phpform import key_paths, parse_form, php_wire, sample_json


def test_install_posts_onappinstall_with_working_tokens(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    result = asyncio.run(sandbox.portal.install_app(receiver.url("/install")))
    assert result.status == 200
    [body] = receiver.bodies("/install")
    assert body == result.body
    form = parse_form(body)
    assert key_paths(php_wire(sample_json("ONAPPINSTALL_docs.json"))) <= key_paths(form)
    auth = form["auth"]
    assert form["event"] == "ONAPPINSTALL"
    assert auth["client_endpoint"] == f"{sandbox.base_url}/rest/"
    assert auth["member_id"] == sandbox.portal.member_id
    assert auth["domain"] == urlsplit(sandbox.base_url).netloc
    assert auth["refresh_token"] == result.refresh_token
    assert auth["application_token"] == result.application_token
    token = auth["access_token"]
    me = httpx.post(auth["client_endpoint"] + "user.current", json={"auth": token}).json()
    assert me["result"]["ID"] == "1"
    admin = httpx.post(auth["client_endpoint"] + "user.admin", json={"auth": token}).json()
    assert admin["result"] is True


def test_app_info_describes_the_application_and_its_license(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    result = asyncio.run(sandbox.portal.install_app(receiver.url("/install")))
    info = httpx.post(sandbox.oauth("app.info"), json={"auth": result.access_token}).json()
    assert info["result"] | {"ID": 0} == {
        "ID": 0,
        "CODE": "local.timebot",
        "VERSION": 1,
        "STATUS": "L",
        "INSTALLED": True,
        "PAYMENT_EXPIRED": "N",
        "DAYS": None,
        "LANGUAGE_ID": "ru",
        "LICENSE": "ru_pro100",
        "LICENSE_TYPE": "pro100",
        "LICENSE_FAMILY": "pro",
    }
    by_webhook = httpx.post(sandbox.rest("app.info")).json()["result"]
    assert set(by_webhook) == {"SCOPE", "LICENSE"}
    assert "imbot" in by_webhook["SCOPE"]


def test_uninstall_sends_only_the_application_token(sandbox: Sandbox, receiver: Receiver) -> None:
    result = asyncio.run(sandbox.portal.install_app(receiver.url("/install")))
    record = asyncio.run(sandbox.portal.uninstall_app(clean=False, url=receiver.url("/events")))
    assert record.status == 200
    [body] = receiver.bodies("/events")
    form = parse_form(body)
    assert form["event"] == "ONAPPUNINSTALL"
    assert form["data"] == {"LANGUAGE_ID": "ru", "CLEAN": "0"}
    assert set(form["auth"]) == {
        "domain",
        "server_endpoint",
        "client_endpoint",
        "member_id",
        "application_token",
    }
    assert form["auth"]["application_token"] == result.application_token


def test_uninstall_goes_to_the_handler_bound_with_event_bind(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    result = asyncio.run(sandbox.portal.install_app(receiver.url("/install")))
    bind = httpx.post(
        sandbox.oauth("event.bind"),
        json={
            "auth": result.access_token,
            "event": "ONAPPUNINSTALL",
            "handler": receiver.url("/u"),
        },
    )
    assert bind.json()["result"] is True
    bound = httpx.post(sandbox.oauth("event.get"), json={"auth": result.access_token})
    assert bound.json()["result"][0]["handler"] == receiver.url("/u")
    asyncio.run(sandbox.portal.uninstall_app(clean=True))
    [body] = receiver.bodies("/u")
    assert parse_form(body)["data"]["CLEAN"] == "1"
    assert httpx.post(sandbox.rest("event.bind"), json={}).json()["error"] == "WRONG_AUTH_TYPE"


def _frame(html: str) -> tuple[str, dict[str, str]]:
    action = unescape(re.search(r'<form id="placement" method="post" action="([^"]+)"', html)[1])  # type: ignore[index]
    fields = {
        unescape(k): unescape(v)
        for k, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html)
    }
    return action, fields


def test_app_page_posts_placement_default_with_a_token_of_that_user(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    closed = httpx.get(f"{sandbox.base_url}/sandbox/app?user=5")
    assert closed.status_code == 409
    sandbox.portal.configure_app(handler_url=receiver.url("/bitrix/app"))
    asyncio.run(sandbox.portal.install_app(receiver.url("/install")))
    page = httpx.get(f"{sandbox.base_url}/sandbox/app?user=5")
    assert page.status_code == 200
    action, fields = _frame(page.text)
    split = urlsplit(action)
    assert f"{split.scheme}://{split.netloc}{split.path}" == receiver.url("/bitrix/app")
    query = parse_qs(split.query)
    assert query["DOMAIN"] == [urlsplit(sandbox.base_url).netloc]
    assert query["PROTOCOL"] == ["0"]
    assert query["LANG"] == ["ru"]
    assert {
        "AUTH_ID",
        "AUTH_EXPIRES",
        "REFRESH_ID",
        "member_id",
        "APPLICATION_TOKEN",
        "PLACEMENT",
        "status",
        "SERVER_ENDPOINT",
    } <= set(fields)
    assert fields["PLACEMENT"] == "DEFAULT"
    assert fields["member_id"] == sandbox.portal.member_id
    me = httpx.post(sandbox.oauth("user.current"), json={"auth": fields["AUTH_ID"]}).json()
    assert me["result"]["ID"] == "5"
    admin = httpx.post(sandbox.oauth("user.admin"), json={"auth": fields["AUTH_ID"]}).json()
    assert admin["result"] is False
