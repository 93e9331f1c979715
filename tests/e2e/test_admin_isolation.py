"""Tenant isolation and roles on every admin route, over real HTTP with two sandbox portals.

The routes come from the app itself, so a new admin page without a probe in
`tests/support/admin*.py` fails here. Portal B's administrator aims every route at portal A's
rows: each one refuses (403/404) or serves B's own data, never shows or changes A's, and no row
ends up tying the two portals together. Within portal A, an employee and a department head get
403 on every page that is not theirs, and change nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.admin import (
    CROSS_CHECKS,
    EMPLOYEE_USER,
    EXEMPT,
    HEAD_USER,
    MARKER,
    PROBES,
    ROW_MAKERS,
    AdminClient,
    AdminStack,
    Probe,
    admin_routes,
    admin_stack,
    install_second,
    portal_snapshot,
    second_portal,
)


def test_every_admin_route_has_a_probe() -> None:
    from timebot.web.app import create_app

    routes = admin_routes(create_app())
    missing = sorted(routes - EXEMPT - set(PROBES))
    assert not missing, f"admin routes without a probe in tests/support/admin*.py: {missing}"
    stale = sorted(set(PROBES) - routes)
    assert not stale, f"probes for routes that do not exist: {stale}"


async def _foreign_ids(stack: AdminStack, portal_id: int) -> dict[str, int]:
    ids: dict[str, int] = {}
    async with stack.uow() as uow:
        for make in ROW_MAKERS:
            made = await make(uow, portal_id)
            clash = set(made) & set(ids)
            assert not clash, f"two row makers return {clash}"
            ids.update(made)
        await uow.commit()
    return ids


async def _snapshot(stack: AdminStack, portal_id: int) -> dict[str, list[tuple[str, ...]]]:
    async with stack.uow() as uow:
        return await portal_snapshot(uow, portal_id)


def _ordered(probes: list[Probe]) -> list[Probe]:
    """Logout last: the session must live through the other probes."""
    return sorted(probes, key=lambda p: p.path.endswith("/logout"))


async def _call(client: AdminClient, probe: Probe, ids: dict[str, int]) -> Any:
    url = probe.url(ids)
    if probe.method == "GET":
        return await client.get(url)
    assert probe.form is not None, f"{probe.method} {probe.path} needs a form in its probe"
    return await client.post(url, probe.form(ids))


async def test_another_portals_administrator_can_reach_nothing_of_this_portal(
    database_url: str,
) -> None:
    async with admin_stack(database_url) as stack:
        portal_a = await stack.portal_id()
        ids = await _foreign_ids(stack, portal_a)
        with second_portal(stack) as other:
            portal_b = await install_second(stack, other)
            assert portal_b != portal_a
            intruder = await stack.login(1, sandbox_url=other.base_url)
            before = await _snapshot(stack, portal_a)
            problems: list[str] = []
            for probe in _ordered(list(PROBES.values())):
                response = await _call(intruder, probe, ids)
                where = f"{probe.method} {probe.path}"
                if response.status_code >= 500:
                    problems.append(f"{where}: {response.status_code}")
                if "{" in probe.path and response.status_code not in (403, 404):
                    problems.append(f"{where}: {response.status_code}, expected 403/404")
                if MARKER in response.text:
                    problems.append(f"{where}: shows portal A's data")
                if response.status_code == 303:
                    landing = await intruder.get(response.headers["location"])
                    if MARKER in landing.text:
                        problems.append(f"{where}: lands on a page with portal A's data")
            assert problems == []
            assert await _snapshot(stack, portal_a) == before
            async with stack.uow() as uow:
                crossings = [c for check in CROSS_CHECKS for c in await check(uow)]
            assert crossings == []


@pytest.mark.parametrize(("user_id", "role"), [(EMPLOYEE_USER, "employee"), (HEAD_USER, "head")])
async def test_pages_above_a_persons_role_are_refused(
    database_url: str, user_id: int, role: str
) -> None:
    async with admin_stack(database_url) as stack:
        portal_id = await stack.portal_id()
        ids = await _foreign_ids(stack, portal_id)
        person = await stack.login(user_id)
        before = await _snapshot(stack, portal_id)
        refused = {"admin"} if role == "head" else {"admin", "manager"}
        checked = 0
        problems: list[str] = []
        for probe in PROBES.values():
            if probe.access not in refused:
                continue
            response = await _call(person, probe, ids)
            checked += 1
            if response.status_code != 403:
                problems.append(f"{probe.method} {probe.path}: {response.status_code}")
        assert problems == []
        assert checked >= (18 if role == "employee" else 16)
        # Nothing was written, not even an audit entry.
        assert await _snapshot(stack, portal_id) == before
