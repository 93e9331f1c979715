"""Admin UI test support: timebot + a sandbox portal on one real port, signing in as a sandbox
user through the placement POST (exactly what Bitrix24 sends when a user opens the app), and a
registry of admin routes for the isolation and role tests.

    async with admin_stack(database_url) as stack:          # installed, directory synced
        admin = await stack.login(1)                          # AdminClient (httpx + cookie)
        page = await admin.get("/bitrix/app")
        await admin.post("/bitrix/app/offices", {"name": "HQ"})   # csrf_token added

    # Chromium: sign in through the sandbox's /sandbox/app page (the iframe)
    frame = await open_app_in_browser(page, stack.base_url, user_id=1)

Demo company users: 1 admin (Анна), heads 2 (Sales), 5 (Development, with Backend under it),
6 (Backend), 9 (Yekaterinburg branch); plain employees 3, 4, 7, 8, 10, 11.

Route registry (`probe`, `foreign_rows`): every admin route of the app must have a probe, or
`tests/e2e/test_admin_isolation.py` fails. A probe says who may open the route and how to build
a request against portal A's rows (ids from the `foreign_rows` makers). ADMIN-OPS registers its
probes and row makers in `tests/support/admin_ops.py` (imported at the end of this module).
"""

from __future__ import annotations

import html as html_lib
import importlib.util
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import httpx
from sqlalchemy import Select

from tests.support.servers import free_port, serve_asgi
from tests.support.stack import OAuthAnswers, wait_until
from timebot.bitrix import BitrixClient, RateLimiter
from timebot.config import Settings
from timebot.demo import DemoApp
from timebot.domain.clock import Clock
from timebot.gateway.directory import sync_directory
from timebot.sandbox import Portal, SandboxConfig, create_sandbox_app
from timebot.storage import Database, UnitOfWork
from timebot.web.app import create_app

# In the names of rows that foreign-row makers create: a page of another portal never shows it.
MARKER = "A-only"

ADMIN_USER = 1
HEAD_USER = 2  # heads Sales (department 2): users 3 and 4
EMPLOYEE_USER = 3

_INPUT = re.compile(r"<input\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r'(\w[\w-]*)="([^"]*)"')
_FORM = re.compile(r'<form id="placement" method="post" action="([^"]*)"')


def _attrs(tag: str) -> dict[str, str]:
    return {k.lower(): html_lib.unescape(v) for k, v in _ATTR.findall(tag)}


def hidden_inputs(html: str) -> dict[str, str]:
    """name -> value of every `<input>` with a name in the page (the last one wins)."""
    found: dict[str, str] = {}
    for tag in _INPUT.findall(html):
        attrs = _attrs(tag)
        if "name" in attrs:
            found[attrs["name"]] = attrs.get("value", "")
    return found


def csrf_of(html: str) -> str:
    """The CSRF token carried by a page's forms."""
    token = hidden_inputs(html).get("csrf_token")
    assert token, f"no csrf_token in the page: {html[:300]}"
    return token


async def placement_form(sandbox_url: str, user_id: int) -> tuple[str, dict[str, str]]:
    """What the sandbox portal POSTs when `user_id` opens the application page: the action URL
    (with DOMAIN, PROTOCOL, LANG in its query) and the form fields (AUTH_ID, member_id, ...)."""
    async with httpx.AsyncClient(timeout=20) as http:
        page = await http.get(f"{sandbox_url}/sandbox/app", params={"user": user_id})
    assert page.status_code == 200, page.text
    action = _FORM.search(page.text)
    assert action, page.text[:500]
    return html_lib.unescape(action.group(1)), hidden_inputs(page.text)


@dataclass
class AdminClient:
    """An httpx client signed in to the admin UI (the session cookie in its jar)."""

    http: httpx.AsyncClient
    user_id: int
    csrf_token: str = ""

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.get(path, **kwargs)

    async def csrf(self, path: str = "/bitrix/app") -> str:
        """Read the CSRF token from a page (and remember it)."""
        page = await self.http.get(path)
        assert page.status_code == 200, (page.status_code, page.text[:300])
        self.csrf_token = csrf_of(page.text)
        return self.csrf_token

    async def post(
        self, path: str, data: Mapping[str, Any] | None = None, *, csrf: bool = True
    ) -> httpx.Response:
        """POST a form (lists become repeated fields) with the session's CSRF token."""
        fields: dict[str, list[str]] = {}
        for key, value in (data or {}).items():
            values = value if isinstance(value, list | tuple) else [value]
            fields[key] = [str(v) for v in values]
        if csrf:
            fields["csrf_token"] = [self.csrf_token or await self.csrf()]
        return await self.http.post(path, data=fields)

    @property
    def cookie(self) -> str | None:
        return self.http.cookies.get("timebot_admin")


async def login_via_placement(
    base_url: str, sandbox_url: str, user_id: int, **overrides: str
) -> tuple[httpx.AsyncClient, httpx.Response]:
    """POST the sandbox's placement form for `user_id` to timebot (fields may be overridden);
    the client (cookie jar) and the answer to the POST (not followed)."""
    action, fields = await placement_form(sandbox_url, user_id)
    fields.update(overrides)
    http = httpx.AsyncClient(base_url=base_url, timeout=30)
    response = await http.post(action, data=fields)
    return http, response


@dataclass
class AdminStack:
    base_url: str
    database_url: str
    portal: Portal  # the sandbox portal
    config: SandboxConfig
    demo: DemoApp
    settings: Settings
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    @property
    def sandbox_url(self) -> str:
        return self.portal.base_url

    async def login(self, user_id: int, *, sandbox_url: str | None = None) -> AdminClient:
        """Sign in as sandbox user `user_id` through the placement POST; asserts it worked."""
        http, response = await login_via_placement(
            self.base_url, sandbox_url or self.sandbox_url, user_id
        )
        self.clients.append(http)
        assert response.status_code == 303, (response.status_code, response.text[:500])
        assert response.headers["location"] == "/bitrix/app"
        client = AdminClient(http, user_id)
        await client.csrf()
        return client

    @asynccontextmanager
    async def uow(self) -> AsyncIterator[UnitOfWork]:
        """A unit of work on the stack's database (commit it yourself)."""
        db = Database.from_url(self.database_url)
        try:
            async with db.unit_of_work() as uow:
                yield uow
        finally:
            await db.dispose()

    async def rows(self, query: Any) -> list[Any]:
        """The ORM rows of a select, detached (readable after the unit of work ends)."""
        async with self.uow() as uow:
            found = list(await uow.session.scalars(query))
            uow.session.expunge_all()
            return found

    async def portal_id(self, member_id: str | None = None) -> int:
        async with self.uow() as uow:
            portal = await uow.portals.by_member_id(member_id or self.config.member_id)
            assert portal is not None
            return portal.id

    async def sync(self, member_id: str | None = None) -> None:
        """Load people and departments from the portal now (the worker would take a while)."""
        portal_id = await self.portal_id(member_id)
        db = Database.from_url(self.database_url)
        try:
            async with httpx.AsyncClient(timeout=30) as http:
                client = BitrixClient(http, RateLimiter(rate=50, burst=50), max_retries=2)
                await sync_directory(db, client, portal_id, clock=self.demo_clock)
        finally:
            await db.dispose()

    @property
    def demo_clock(self) -> Clock:
        clock: Clock = self.demo.timebot_app.state.container.clock
        return clock

    async def aclose(self) -> None:
        for http in self.clients:
            await http.aclose()


def _stack_parts(
    database_url: str, *, clock: Clock | None, public_url: str | None, **sandbox: Any
) -> tuple[int, str, SandboxConfig, Settings, DemoApp]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = replace(
        SandboxConfig(),
        base_url=base,
        install_url=f"{base}/bitrix/install",
        handler_url=f"{base}/bitrix/app",
        **sandbox,
    )
    settings = Settings(
        database_url=database_url,
        public_url=public_url or base,
        bitrix_client_id=config.client_id,
        bitrix_client_secret=config.client_secret,
        bitrix_oauth_url=f"{base}/oauth/token/",
        bitrix_event_mode="webhook",
        log_level="WARNING",
    )
    timebot_app = create_app(settings=settings, migrate=True, clock=clock)
    demo = DemoApp(timebot_app, create_sandbox_app(config, clock=clock), base)
    return port, base, config, settings, demo


async def _installed(portal: Portal) -> None:
    def answered() -> bool:
        done = [d for d in portal.deliveries if d.event == "ONAPPINSTALL"]
        if done and done[-1].status != 200:
            raise AssertionError(f"install failed: {done[-1]}")
        return bool(done)

    await wait_until(answered, 30)


@asynccontextmanager
async def admin_stack(
    database_url: str,
    *,
    clock: Clock | None = None,
    public_url: str | None = None,
    sync: bool = True,
    **sandbox: Any,
) -> AsyncIterator[AdminStack]:
    """timebot (no worker) + the demo sandbox portal on one port, the app installed and (with
    `sync`) the directory loaded. `public_url` only changes what timebot believes its address
    is (e.g. https, for the cookie attributes)."""
    port, base, config, settings, demo = _stack_parts(
        database_url, clock=clock, public_url=public_url, **sandbox
    )
    with serve_asgi(OAuthAnswers(demo), port=port):
        portal = demo.sandbox_app.state.portal
        await _installed(portal)
        stack = AdminStack(base, database_url, portal, config, demo, settings)
        try:
            if sync:
                await stack.sync()
            yield stack
        finally:
            await stack.aclose()


@contextmanager
def second_portal(stack: AdminStack, member_id: str = "b" * 32) -> Iterator[Portal]:
    """Another sandbox portal (its own port and domain) whose application page and install URL
    point at the same timebot: for tenant-isolation tests. Install it with `install_second`."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = replace(
        SandboxConfig(),
        base_url=base,
        member_id=member_id,
        install_url=f"{stack.base_url}/bitrix/install",
        handler_url=f"{stack.base_url}/bitrix/app",
        client_id=stack.config.client_id,
        client_secret=stack.config.client_secret,
    )
    app = create_sandbox_app(config)
    with serve_asgi(app, port=port):
        yield app.state.portal


async def install_second(stack: AdminStack, portal: Portal) -> int:
    """Install timebot on the second portal, sync its directory; returns its portal id."""
    result = await portal.install_app()
    assert result.status == 200, result
    await stack.sync(portal.member_id)
    return await stack.portal_id(portal.member_id)


# --- Browser ------------------------------------------------------------------------------

BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


async def open_app_in_browser(page: Any, sandbox_url: str, user_id: int) -> Any:
    """Open the sandbox's application page as `user_id` (it POSTs the placement fields into
    its iframe, as Bitrix24 does) and return the iframe's Playwright Frame once timebot's
    page has loaded in it."""
    await page.goto(f"{sandbox_url}/sandbox/app?user={user_id}")
    frame = page.frame(name="app-frame")
    deadline = 200
    while (frame is None or "/bitrix/app" not in frame.url) and deadline:
        await page.wait_for_timeout(100)
        frame = page.frame(name="app-frame")
        deadline -= 1
    assert frame is not None, "the sandbox page has no app frame"
    assert "/bitrix/app" in frame.url, "the app never opened in the frame"
    await frame.wait_for_load_state()
    return frame


# --- Route registry: who may open what, and how to aim it at another portal's rows -----------

Access = Literal["admin", "manager", "any"]
RowMaker = Callable[[UnitOfWork, int], Awaitable[dict[str, int]]]


@dataclass(frozen=True, slots=True)
class Probe:
    """How to call one admin route: `path` is the route template; `form` gives a POST body
    (without csrf_token) from the foreign row ids; `access` says who may open it."""

    method: str
    path: str
    access: Access
    form: Callable[[Mapping[str, int]], dict[str, Any]] | None = None

    def url(self, ids: Mapping[str, int]) -> str:
        names = re.findall(r"{(\w+)}", self.path)
        missing = [n for n in names if n not in ids]
        assert not missing, f"no foreign row id for {missing} ({self.path}): add a row maker"
        return self.path.format(**{n: ids[n] for n in names})


PROBES: dict[tuple[str, str], Probe] = {}
ROW_MAKERS: list[RowMaker] = []
CrossCheck = Callable[[UnitOfWork], Awaitable[list[str]]]
CROSS_CHECKS: list[CrossCheck] = []
# Routes that are not pages of a signed-in person (sign-in itself).
EXEMPT: set[tuple[str, str]] = {
    ("POST", "/bitrix/app"),
    ("GET", "/bitrix/app/login/{token}"),
    ("POST", "/bitrix/app/login/{token}"),
}


def probe(
    method: str,
    path: str,
    access: Access,
    form: Callable[[Mapping[str, int]], dict[str, Any]] | None = None,
) -> None:
    """Register how to probe an admin route (one per method and path template)."""
    key = (method.upper(), path)
    assert key not in PROBES, f"probe registered twice: {key}"
    PROBES[key] = Probe(method.upper(), path, access, form)


def foreign_rows(maker: RowMaker) -> RowMaker:
    """Register a maker of rows in a portal (`await maker(uow, portal_id)` → {name: id}); the
    isolation test runs every maker for portal A and probes portal B's session with the ids."""
    ROW_MAKERS.append(maker)
    return maker


def cross_check(check: CrossCheck) -> CrossCheck:
    """Register a query for rows that tie two portals together (`await check(uow)` returns a
    description of each such row); the isolation test runs them all after its probes."""
    CROSS_CHECKS.append(check)
    return check


async def crossing_rows(uow: UnitOfWork, queries: Mapping[str, Select[Any]]) -> list[str]:
    """`what: id` for each row id that each query (`what` → a select of ids) finds."""
    found: list[str] = []
    for what, query in queries.items():
        found.extend(f"{what}: {row_id}" for row_id in await uow.session.scalars(query))
    return found


async def portal_snapshot(uow: UnitOfWork, portal_id: int) -> dict[str, list[tuple[str, ...]]]:
    """Every row of the portal in every tenant table (and its `portals` row and office links),
    as text: equal snapshots mean nothing of the portal changed."""
    from sqlalchemy import select

    from timebot.storage.tables import Employee, EmployeeOffice, metadata

    snapshot: dict[str, list[tuple[str, ...]]] = {}
    for table in metadata.sorted_tables:
        if table.name == "portals":
            query = select(table).where(table.c.id == portal_id)
        elif "portal_id" in table.c:
            query = select(table).where(table.c.portal_id == portal_id)
        elif table.name == "employee_offices":
            query = select(table).where(
                EmployeeOffice.employee_id.in_(
                    select(Employee.id).where(Employee.portal_id == portal_id)
                )
            )
        else:
            continue
        rows = (await uow.session.execute(query.order_by(*table.primary_key.columns))).all()
        snapshot[table.name] = [tuple(str(v) for v in row) for row in rows]
    return snapshot


def admin_routes(app: Any) -> set[tuple[str, str]]:
    """(method, path template) of every admin route of the app."""
    from fastapi.routing import iter_route_contexts

    found: set[tuple[str, str]] = set()
    for route in iter_route_contexts(app.routes):
        path = route.path or ""
        if path == "/bitrix/app" or path.startswith("/bitrix/app/"):
            for method in route.methods or ():
                if method != "HEAD":
                    found.add((method, path))
    return found


def _load_ops_probes() -> None:
    # ADMIN-OPS keeps its probes and row makers in its own module.
    if importlib.util.find_spec("tests.support.admin_ops") is not None:
        importlib.import_module("tests.support.admin_ops")


# At the end: those modules register with the functions above.
importlib.import_module("tests.support.admin_core")
_load_ops_probes()
importlib.import_module("tests.support.admin_roster")
importlib.import_module("tests.support.admin_inbox")
importlib.import_module("tests.support.admin_roster_menu")
