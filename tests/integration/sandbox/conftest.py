"""Fixtures: a sandbox portal served over real HTTP, and a receiver that records pushed events."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from fastapi import FastAPI

from tests.support.servers import free_port, serve_asgi
from timebot.domain.clock import Clock
from timebot.sandbox import Portal, SandboxConfig, create_sandbox_app

# Generous limits so functional tests never meet the leaky bucket; limit tests set their own.
FAST = SandboxConfig(rate=1000.0, burst=1000)


@dataclass
class Sandbox:
    """A running sandbox."""

    base_url: str
    app: FastAPI

    @property
    def portal(self) -> Portal:
        return self.app.state.portal  # type: ignore[no-any-return]

    @property
    def webhook(self) -> str:
        return self.portal.webhook_url()

    def rest(self, method: str) -> str:
        """The incoming-webhook URL of a method."""
        return self.webhook + method

    def oauth(self, method: str) -> str:
        """The OAuth-style URL of a method (pass `auth`)."""
        return f"{self.base_url}/rest/{method}"


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., Sandbox]]:
    """Start sandboxes with config overrides; all stop after the test."""
    with ExitStack() as stack:

        def start(
            config: SandboxConfig = FAST, *, clock: Clock | None = None, **overrides: Any
        ) -> Sandbox:
            port = free_port()
            cfg = replace(config, base_url=f"http://127.0.0.1:{port}", **overrides)
            app = create_sandbox_app(cfg, clock=clock)
            base = stack.enter_context(serve_asgi(app, port=port))
            return Sandbox(base, app)

        yield start


@pytest.fixture
def sandbox(sandbox_factory: Callable[..., Sandbox]) -> Sandbox:
    """A sandbox with the demo company and generous limits."""
    return sandbox_factory()


@dataclass
class Received:
    """One request the receiver got."""

    path: str
    content_type: str
    body: str


@dataclass
class Receiver:
    """A tiny HTTP server that records every POST (an application's event handler)."""

    base_url: str = ""
    status: int = 200
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return self.base_url + path

    def bodies(self, path: str | None = None) -> list[str]:
        with self.lock:
            return [r.body for r in self.requests if path is None or r.path == path]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        with self.lock:
            self.requests.append(
                Received(scope["path"], headers.get("content-type", ""), body.decode())
            )
        await send(
            {
                "type": "http.response.start",
                "status": self.status,
                "headers": [(b"content-type", b"text/plain")],
            }
        )
        await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """An event handler that records what it gets."""
    recv = Receiver()
    with serve_asgi(recv) as base:
        recv.base_url = base
        yield recv
