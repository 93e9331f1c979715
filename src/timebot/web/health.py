"""Liveness with database status, and Prometheus metrics; the worker's own probe server."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import uvicorn
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse

import timebot
from timebot.jobs.liveness import STALL_SECONDS, verdict
from timebot.metrics import CONTENT_TYPE, DB_UP, exposition, process_exited

if TYPE_CHECKING:
    from timebot.jobs.worker import Worker


@contextlib.asynccontextmanager
async def _metrics_lifespan(app: Any) -> AsyncIterator[None]:
    yield
    # Multiprocess mode: this process's live gauges leave the aggregate (counters stay).
    process_exited()


router = APIRouter(tags=["operations"], lifespan=_metrics_lifespan)


@router.get(
    "/health",
    responses={503: {"description": "The database is unreachable"}},
)
async def health(request: Request) -> JSONResponse:
    """Service health: 200 when the database answers, 503 when it does not."""
    container = request.app.state.container
    db_ok = await container.database.ping()
    DB_UP.set(1 if db_ok else 0)
    body: dict[str, Any] = {
        "status": "ok" if db_ok else "unavailable",
        "version": timebot.__version__,
        "database": {
            "ok": db_ok,
            "backend": "sqlite" if container.database.is_sqlite else "postgresql",
        },
    }
    return JSONResponse(body, status_code=200 if db_ok else 503)


@router.get("/metrics", response_class=Response)
async def metrics() -> Response:
    """Prometheus metrics in the text exposition format (every process's, in multiprocess mode)."""
    return Response(exposition(), media_type=CONTENT_TYPE)


# --- `timebot worker --metrics-port`: /health and /metrics of a worker process -------------------


def create_worker_probe(worker: Worker, *, stall_after: float = STALL_SECONDS) -> FastAPI:
    """The worker's HTTP face: liveness of its loops and its metrics. No database call: a
    database outage is not a reason to restart the worker (its loops retry by themselves)."""
    probe = FastAPI(
        title="timebot worker",
        version=timebot.__version__,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )

    @probe.get("/health")
    async def worker_health() -> JSONResponse:
        """200 while every loop runs and none is stuck in one step; 503 otherwise."""
        alive, body = verdict(
            worker.beats, running=worker.running, now=time.monotonic(), stall_after=stall_after
        )
        body = {"version": timebot.__version__, "identity": worker.identity, **body}
        return JSONResponse(body, status_code=200 if alive else 503)

    probe.add_api_route("/metrics", metrics, response_class=Response)
    return probe


class ProbeServer(uvicorn.Server):
    """uvicorn inside the worker's event loop. The worker owns SIGINT/SIGTERM: stop the server
    with `should_exit = True` once the worker has stopped."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def probe_server(app: FastAPI, sock: socket.socket) -> ProbeServer:
    """A server for `app` on an already bound socket (`serve(sockets=[sock])`)."""
    host, port = sock.getsockname()[:2]
    config = uvicorn.Config(
        app, host=host, port=port, lifespan="off", log_config=None, access_log=False
    )
    return ProbeServer(config)
