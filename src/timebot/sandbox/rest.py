"""The REST endpoint `/rest/…`: incoming-webhook and OAuth authentication, query/JSON/form/
multipart parameters with PHP bracket keys, the `.json` suffix, the response envelope
(`result`, `time`, `total`, `next`), errors, `batch`, the leaky bucket and fault injection.

Docs: settings/how-to-call-rest-api/{general-principles,authorization,batch}.md, limits.md,
_includes/system-errors.md, settings/how-to-call-rest-api/list-methods-pecularities.md.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from timebot.sandbox.errors import RestError
from timebot.sandbox.events import EventSink
from timebot.sandbox.methods import registry
from timebot.sandbox.methods.context import CallContext, Caller, ListResult, MethodSpec, Params
from timebot.sandbox.phpquery import parse_php_pairs, parse_php_query, php_scalar
from timebot.sandbox.portal import Portal

__all__ = ["MAX_BATCH", "RestEndpoint", "read_params"]

log = logging.getLogger(__name__)

MAX_BATCH = 50
_USER_SCOPES = {"user", "user_basic", "user_brief"}
_REFERENCE = re.compile(r"\$(result|result_error|result_total|result_next)((?:\[[^\]]*\])+)")
_OUTAGE_PAGE = (
    "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
    "<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx</center>"
    "\r\n</body>\r\n</html>\r\n"
)


def _error(code: str, description: str, status: int) -> JSONResponse:
    return JSONResponse({"error": code, "error_description": description}, status)


async def read_params(request: Request) -> dict[str, Any]:
    """Query string plus body (JSON, url-encoded or multipart), PHP bracket keys unfolded."""
    params = parse_php_query(request.url.query)
    raw = await request.body()
    if not raw:
        return params
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype.endswith("json") or (not ctype and raw.lstrip()[:1] in (b"{", b"[")):
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise RestError("ERROR_ARGUMENT", "Invalid JSON body") from exc
        if not isinstance(data, dict):
            raise RestError("ERROR_ARGUMENT", "JSON body must be an object")
        return params | data
    if ctype == "multipart/form-data":
        async with request.form() as form:
            pairs = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
        return params | parse_php_pairs(pairs)
    return params | parse_php_query(raw.decode("utf-8", "replace"))


def _php_array(data: Mapping[str, Any]) -> Any:
    """PHP arrays in JSON: empty → [], keys 0..n-1 → list, otherwise an object."""
    if not data:
        return []
    keys = list(data)
    if keys == [str(i) for i in range(len(keys))]:
        return list(data.values())
    return dict(data)


class RestEndpoint:
    """Serves `/rest/{path}` for one portal."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.methods: dict[str, MethodSpec] = registry()

    # --- the request ----------------------------------------------------------------------

    async def handle(self, request: Request) -> Response:
        """Handle one REST request."""
        response = await self._respond(request)
        self.portal.stats.statuses[response.status_code] += 1
        return response

    async def _respond(self, request: Request) -> Response:
        portal = self.portal
        started = time.time()
        portal.stats.requests += 1
        verdict = portal.faults.decide()
        if verdict.delay > 0:
            await asyncio.sleep(verdict.delay)
        if verdict.outage:
            portal.stats.outage_rejections += 1
            return HTMLResponse(_OUTAGE_PAGE, 503)
        if verdict.status:
            portal.stats.faults_injected += 1
            if verdict.status == 503:
                return _error("QUERY_LIMIT_EXCEEDED", "Too many requests", 503)
            return _error("INTERNAL_SERVER_ERROR", "Internal server error", verdict.status)
        if not portal.limiter.try_acquire():
            portal.stats.rate_limited += 1
            return _error("QUERY_LIMIT_EXCEEDED", "Too many requests", 503)
        try:
            params = await read_params(request)
            caller, name = self._authenticate(request.path_params.get("path", ""), params)
            ip = request.client.host if request.client else ""
            body = await self._call(caller, name, params, ip, started)
        except RestError as exc:
            portal.stats.errors += 1
            return JSONResponse(exc.body(), exc.status)
        except Exception:
            portal.stats.errors += 1
            log.exception("sandbox REST call failed")
            return _error("INTERNAL_SERVER_ERROR", "Internal server error", 500)
        return JSONResponse(body)

    def _authenticate(self, path: str, params: dict[str, Any]) -> tuple[Caller, str]:
        config = self.portal.config
        parts = [p for p in path.split("/") if p]
        if len(parts) == 3:
            user_id, secret, method = parts
            if user_id != str(config.webhook_user_id) or secret != config.webhook_secret:
                raise RestError("INVALID_CREDENTIALS", "Invalid request credentials", 401)
            params.pop("auth", None)
            caller = Caller(config.webhook_user_id, "webhook", "", config.webhook_scopes)
            return caller, method
        if len(parts) != 1:
            raise RestError("ERROR_METHOD_NOT_FOUND", "Method not found!", 404)
        token = params.pop("auth", None)
        if not isinstance(token, str) or not token:
            raise RestError("NO_AUTH_FOUND", "Wrong authorization data", 401)
        access = self.portal.tokens.check(token)
        caller = Caller(access.user_id, "oauth", access.client_id, config.app_scopes)
        return caller, parts[0]

    def _spec(self, caller: Caller, name: str) -> MethodSpec:
        spec = self.methods.get(name.lower())
        if spec is None:
            raise RestError("ERROR_METHOD_NOT_FOUND", "Method not found!", 404)
        granted = set(caller.scopes)
        allowed = spec.scope in granted or (spec.scope in _USER_SCOPES and granted & _USER_SCOPES)
        if spec.scope != "basic" and not allowed:
            whose = "webhook token" if caller.is_webhook else "access token"
            raise RestError(
                "insufficient_scope",
                f"The request requires higher privileges than provided by the {whose}",
                401,
            )
        return spec

    async def _call(
        self, caller: Caller, name: str, params: dict[str, Any], ip: str, started: float
    ) -> dict[str, Any]:
        name = name[:-5] if name.lower().endswith(".json") else name
        portal = self.portal
        if name.lower() == "batch":
            result: Any = await self._batch(caller, params, ip)
        else:
            spec = self._spec(caller, name)
            async with portal.lock:
                sink = EventSink(portal)
                result = spec.handler(CallContext(portal, caller, Params(params), sink, ip))
            portal.delivery.schedule(sink.pushes)
        return self._envelope(result, started)

    def _envelope(self, result: Any, started: float) -> dict[str, Any]:
        body: dict[str, Any]
        if isinstance(result, ListResult):
            body = {"result": result.items}
            if result.next is not None:
                body["next"] = result.next
            if result.total is not None:
                body["total"] = result.total
        else:
            body = {"result": result}
        body["time"] = self._time(started)
        return body

    def _time(self, started: float) -> dict[str, Any]:
        finish = time.time()
        now = self.portal.clock.now().astimezone(self.portal.zone).replace(microsecond=0)
        return {
            "start": started,
            "finish": finish,
            "duration": finish - started,
            "processing": finish - started,
            "date_start": now.isoformat(),
            "date_finish": now.isoformat(),
            "operating_reset_at": int(started) + 600,
            "operating": 0,
        }

    # --- batch ----------------------------------------------------------------------------

    async def _batch(self, caller: Caller, params: dict[str, Any], ip: str) -> dict[str, Any]:
        batch = Params(params)
        commands = batch.get("cmd") or {}
        if isinstance(commands, list):
            items = [(str(i), str(c)) for i, c in enumerate(commands)]
        elif isinstance(commands, Mapping):
            items = [(str(k), str(c)) for k, c in commands.items()]
        else:
            raise RestError("ERROR_ARGUMENT", "cmd must be an array")
        overflow = items[MAX_BATCH:]
        if overflow and self.portal.config.batch_overflow != "per_command":
            raise RestError("ERROR_BATCH_LENGTH_EXCEEDED", "Max batch length exceeded")
        items = items[:MAX_BATCH]
        halt = batch.flag("halt")
        out: dict[str, dict[str, Any]] = {
            "result": {},
            "result_error": {},
            "result_total": {},
            "result_next": {},
            "result_time": {},
        }
        portal = self.portal
        portal.stats.batch_calls += 1
        async with portal.lock:
            sink = EventSink(portal)
            for key, command in items:
                portal.stats.batch_commands += 1
                started = time.time()
                try:
                    value = self._sub_call(caller, command, out, sink, ip)
                except RestError as exc:
                    out["result_error"][key] = exc.body()
                    if halt:
                        break
                    continue
                if isinstance(value, ListResult):
                    out["result"][key] = value.items
                    if value.total is not None:
                        out["result_total"][key] = value.total
                    if value.next is not None:
                        out["result_next"][key] = value.next
                else:
                    out["result"][key] = value
                out["result_time"][key] = self._time(started)
        for key, _ in overflow:
            out["result_error"][key] = {
                "error": "ERROR_BATCH_LENGTH_EXCEEDED",
                "error_description": "Max batch length exceeded",
            }
        portal.delivery.schedule(sink.pushes)
        return {name: _php_array(values) for name, values in out.items()}

    def _sub_call(
        self,
        caller: Caller,
        command: str,
        out: dict[str, dict[str, Any]],
        sink: EventSink,
        ip: str,
    ) -> Any:
        method, _, query = command.partition("?")
        method = method.strip()
        method = method[:-5] if method.lower().endswith(".json") else method
        if method.lower() == "batch":
            raise RestError(
                "ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed for batch usage"
            )
        params = _substitute(parse_php_query(query), out)
        params.pop("auth", None)
        spec = self._spec(caller, method)
        try:
            return spec.handler(CallContext(self.portal, caller, Params(params), sink, ip))
        except RestError:
            raise
        except Exception as exc:
            log.exception("sandbox batch command %s failed", method)
            raise RestError("INTERNAL_SERVER_ERROR", "Internal server error", 500) from exc


def _lookup(out: dict[str, dict[str, Any]], kind: str, path: str) -> tuple[bool, Any]:
    segments = re.findall(r"\[([^\]]*)\]", path)
    node: Any = out.get(kind, {})
    for segment in segments:
        if isinstance(node, Mapping) and segment in node:
            node = node[segment]
        elif isinstance(node, list) and segment.isdigit() and int(segment) < len(node):
            node = node[int(segment)]
        else:
            return False, None
    return True, node


def _substitute(value: Any, out: dict[str, dict[str, Any]]) -> Any:
    """Replace `$result[key][field]…` references with earlier results."""
    if isinstance(value, dict):
        return {k: _substitute(v, out) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, out) for v in value]
    if not isinstance(value, str) or "$result" not in value:
        return value
    whole = _REFERENCE.fullmatch(value)
    if whole:
        found, resolved = _lookup(out, whole.group(1), whole.group(2))
        return resolved if found else value

    def replace(match: re.Match[str]) -> str:
        found, resolved = _lookup(out, match.group(1), match.group(2))
        if not found:
            return match.group(0)
        if isinstance(resolved, dict | list):
            return json.dumps(resolved)
        return php_scalar(resolved) or ""

    return _REFERENCE.sub(replace, value)
