"""The FastAPI application, built by a factory with a lifespan (nothing at import time)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator

from fastapi import FastAPI

import timebot
from timebot.bootstrap import Container, build_container, prepare_database
from timebot.config import Settings
from timebot.domain.clock import Clock
from timebot.jobs.inbox import Inbox
from timebot.logs import get_logger
from timebot.web import admin, bitrix, charts, checkin, health
from timebot.web.api import router as api_router
from timebot.web.api.ratelimit import ApiRateLimitMiddleware
from timebot.web.cors import ApiCorsMiddleware
from timebot.web.middleware import MetricsMiddleware

log = get_logger(__name__)


def create_app(
    container: Container | None = None,
    *,
    settings: Settings | None = None,
    with_worker: bool = False,
    migrate: bool = False,
    clock: Clock | None = None,
) -> FastAPI:
    """Build the web app. Without a container, one is built from settings at startup.

    SQLite is migrated on start; other databases only with `migrate=True` (`timebot demo`).
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = container is None
        c = container or build_container(settings, clock=clock)
        app.state.container = c
        await prepare_database(c, force=migrate)
        # Events are stored by requests and applied by this task, woken by each commit.
        inbox = Inbox(c)
        inbox.start()
        app.state.inbox = inbox
        worker_task: asyncio.Task[None] | None = None
        if with_worker:
            from timebot.jobs.worker import Worker

            worker = Worker(c)
            worker_task = asyncio.create_task(worker.run(), name="timebot-worker")
            app.state.worker = worker
        # What startup built lives as long as the process: keep it out of the collector's full
        # passes, which otherwise walk it all and stall every request for 50-200 ms.
        gc.collect()
        gc.freeze()
        log.info("app.started", version=timebot.__version__, with_worker=with_worker)
        try:
            yield
        finally:
            gc.unfreeze()
            if worker_task is not None:
                app.state.worker.stop()
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait_for(worker_task, timeout=10)
            await inbox.aclose()
            if own:
                await c.aclose()
            log.info("app.stopped")

    app = FastAPI(
        title="timebot",
        version=timebot.__version__,
        description="Working-time tracking for Bitrix24: chat-bot, geofenced check-in, reports.",
        lifespan=lifespan,
    )
    app.add_middleware(ApiRateLimitMiddleware)  # inside CORS: a 429 gets CORS headers
    app.add_middleware(ApiCorsMiddleware)
    app.add_middleware(MetricsMiddleware)
    app.include_router(health.router)
    app.include_router(bitrix.router)
    app.include_router(charts.router)
    app.include_router(checkin.router)
    app.include_router(api_router)
    app.include_router(admin.router)
    app.add_exception_handler(admin.AdminDenied, admin.denied_page)
    return app
