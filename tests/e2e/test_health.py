"""The web skeleton over real HTTP: /health reflects the database, /metrics is Prometheus text."""

from __future__ import annotations

import httpx

from tests.support.servers import serve_asgi
from timebot.bootstrap import build_container
from timebot.config import Settings
from timebot.web.app import create_app


async def test_health_is_200_with_database_status(database_url: str) -> None:
    container = build_container(Settings(database_url=database_url), configure_logs=False)
    from timebot.bootstrap import prepare_database

    await prepare_database(container, force=True)
    await container.aclose()
    app = create_app(settings=Settings(database_url=database_url))
    with serve_asgi(app) as base:
        async with httpx.AsyncClient(base_url=base) as http:
            r = await http.get("/health")
            assert r.status_code == 200
            body = r.json()
            assert body["status"] == "ok"
            assert body["database"]["ok"] is True
            assert body["database"]["backend"] in {"sqlite", "postgresql"}


async def test_health_is_503_when_the_database_is_down() -> None:
    # Port 1 on loopback refuses connections: the database is "down".
    settings = Settings(database_url="postgresql+asyncpg://postgres@127.0.0.1:1/none")
    app = create_app(settings=settings)
    with serve_asgi(app) as base:
        async with httpx.AsyncClient(base_url=base, timeout=20) as http:
            r = await http.get("/health")
    assert r.status_code == 503
    assert r.json()["database"]["ok"] is False


async def test_metrics_are_prometheus_text(sqlite_url: str) -> None:
    app = create_app(settings=Settings(database_url=sqlite_url))
    with serve_asgi(app) as base:
        async with httpx.AsyncClient(base_url=base) as http:
            await http.get("/health")
            r = await http.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    assert 'timebot_http_requests_total{method="GET",route="/health",status="200"}' in r.text
