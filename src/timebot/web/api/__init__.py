"""The REST API under `/api/v1`: bearer JWTs an admin issues per portal (scoped, expiring,
revocable); every query is filtered by the token's portal. One router per resource; every
failure is answered with the `ApiError` model (see `common`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from timebot.web.api import employees, marks, offices, reports, schedules, token
from timebot.web.api.common import ApiProblem

PREFIX = "/api/v1"

router = APIRouter(prefix=PREFIX)
for part in (token, marks, employees, offices, schedules, reports):
    router.include_router(part.router)


@router.api_route(
    "/{rest:path}",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"],
    include_in_schema=False,
)
async def unknown(rest: str, request: Request) -> Response:
    """Anything else under the prefix: a 404 in the API's own error format."""
    return ApiProblem(
        404, "no_such_endpoint", f"{request.method} {PREFIX}/{rest} is not an endpoint"
    ).response()


__all__ = ["PREFIX", "router"]
