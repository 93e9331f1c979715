"""Liveness with database status, and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

import timebot
from timebot.metrics import DB_UP

router = APIRouter(tags=["operations"])


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
    """Prometheus metrics in the text exposition format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
