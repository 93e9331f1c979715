"""The OAuth server: refresh tokens work once, access tokens expire, errors as documented."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx

from tests.integration.sandbox.conftest import Receiver, Sandbox


def _refresh(box: Sandbox, refresh_token: str, *, post: bool = False) -> httpx.Response:
    config = box.portal.config
    params = {
        "grant_type": "refresh_token",
        "client_id": config.client_id,
        "client_secret": config.client_secret,
        "refresh_token": refresh_token,
    }
    url = f"{box.base_url}/oauth/token/"
    return httpx.post(url, data=params) if post else httpx.get(url, params=params)


def test_refresh_returns_a_new_pair_in_the_documented_shape(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    installed = asyncio.run(sandbox.portal.install_app(receiver.url("/install")))
    r = _refresh(sandbox, installed.refresh_token)
    assert r.status_code == 200
    body = r.json()
    assert {
        "access_token",
        "client_endpoint",
        "domain",
        "expires_in",
        "member_id",
        "refresh_token",
        "scope",
        "server_endpoint",
        "status",
    } <= set(body)
    assert body["expires_in"] == 3600
    assert body["client_endpoint"] == f"{sandbox.base_url}/rest/"
    assert body["member_id"] == sandbox.portal.member_id
    assert body["refresh_token"] != installed.refresh_token
    me = httpx.get(sandbox.oauth("user.current"), params={"auth": body["access_token"]})
    assert me.json()["result"]["ID"] == "1"


def test_a_refresh_token_works_only_once(sandbox: Sandbox, receiver: Receiver) -> None:
    installed = asyncio.run(sandbox.portal.install_app(receiver.url("/install")))
    first = _refresh(sandbox, installed.refresh_token, post=True)
    assert first.status_code == 200
    second = _refresh(sandbox, installed.refresh_token, post=True)
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"
    # the chain continues from the new token
    assert _refresh(sandbox, first.json()["refresh_token"]).status_code == 200


def test_wrong_client_secret_is_invalid_client(sandbox: Sandbox) -> None:
    r = httpx.get(
        f"{sandbox.base_url}/oauth/token/",
        params={
            "grant_type": "refresh_token",
            "client_id": sandbox.portal.config.client_id,
            "client_secret": "guess",
            "refresh_token": "x",
        },
    )
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"


def test_access_tokens_expire_after_their_ttl(
    sandbox_factory: Callable[..., Sandbox], receiver: Receiver
) -> None:
    box = sandbox_factory(token_ttl=1)
    installed = asyncio.run(box.portal.install_app(receiver.url("/install")))
    assert (
        httpx.post(box.oauth("profile"), data={"auth": installed.access_token}).status_code == 200
    )
    time.sleep(1.2)
    r = httpx.post(box.oauth("profile"), data={"auth": installed.access_token})
    assert r.status_code == 401
    assert r.json() == {
        "error": "expired_token",
        "error_description": "The access token provided has expired.",
    }
    fresh = _refresh(box, installed.refresh_token).json()["access_token"]
    assert httpx.post(box.oauth("profile"), data={"auth": fresh}).status_code == 200


def test_control_endpoint_expires_all_access_tokens_now(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    installed = asyncio.run(sandbox.portal.install_app(receiver.url("/install")))
    r = httpx.post(f"{sandbox.base_url}/sandbox/control", json={"expire_access_tokens": True})
    assert r.status_code == 200
    assert r.json()["expired_tokens"] >= 1
    stale = httpx.post(sandbox.oauth("profile"), data={"auth": installed.access_token})
    assert stale.status_code == 401
    assert stale.json()["error"] == "expired_token"
    assert _refresh(sandbox, installed.refresh_token).status_code == 200


def test_uninstall_revokes_tokens(sandbox: Sandbox, receiver: Receiver) -> None:
    installed = asyncio.run(sandbox.portal.install_app(receiver.url("/install")))
    asyncio.run(sandbox.portal.uninstall_app(clean=True))
    assert (
        httpx.post(sandbox.oauth("profile"), data={"auth": installed.access_token}).json()["error"]
        == "invalid_token"
    )
    assert _refresh(sandbox, installed.refresh_token).json()["error"] == "invalid_grant"
