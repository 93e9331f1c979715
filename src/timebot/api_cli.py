"""`timebot token …`: REST API tokens from the command line (the first one, before the admin
UI is at hand; the admin UI's tokens page does the same)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from timebot.bootstrap import Container
    from timebot.storage import UnitOfWork
    from timebot.storage.tables import Portal

token_app = typer.Typer(help="REST API tokens: issue, list, revoke.", no_args_is_help=True)


def _scopes(values: list[str]) -> list[str]:
    """`--scope a --scope b` and `--scope a,b` alike; `all` for every scope."""
    from timebot.services.api_tokens import SCOPES

    found: list[str] = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if part == "all":
                found.extend(SCOPES)
            elif part:
                found.append(part)
    return found


async def _portal(uow: UnitOfWork, portal: str) -> Portal:
    """The portal by member_id (or numeric id); a usage error when there is none."""
    row = await uow.portals.by_member_id(portal)
    if row is None and portal.isdigit():
        row = await uow.portals.get(int(portal))
    if row is None:
        raise typer.BadParameter(f"no portal {portal!r}")
    return row


def run_with_container(work: Callable[[Container], Awaitable[None]]) -> None:
    """Run `work` with a container over the configured database (migrated when SQLite)."""
    from timebot.bootstrap import build_container, prepare_database

    async def run() -> None:
        container = build_container()
        try:
            await prepare_database(container)
            await work(container)
        finally:
            await container.aclose()

    asyncio.run(run())


@token_app.command("issue")
def token_issue(
    portal: Annotated[str, typer.Option(help="The portal's member_id (or its numeric id).")],
    name: Annotated[str, typer.Option(help="What the token is for, e.g. «Kiosk, lobby».")],
    scope: Annotated[
        list[str],
        typer.Option(help="A scope (repeat, or comma-separated; `all` for every scope)."),
    ],
    days: Annotated[
        int, typer.Option(help="Days until it expires; 0 for a token that never expires.")
    ] = 90,
) -> None:
    """Issue a token and print it once (it is not stored; only its record is)."""
    from timebot.services.api_tokens import (
        InvalidTokenRequest,
        issue_token,
        signing_key_from_secret,
    )

    if days < 0 or days > 3650:
        raise typer.BadParameter("--days is 0 (never) to 3650")
    wanted = _scopes(scope)
    printed: list[str] = []

    async def work(c: Container) -> None:
        async with c.database.unit_of_work() as uow:
            row = await _portal(uow, portal)
            now = c.clock.now()
            try:
                token, record = await issue_token(
                    uow,
                    portal_id=row.id,
                    name=name,
                    scopes=wanted,
                    expires_at=now + timedelta(days=days) if days else None,
                    created_by=None,
                    clock=c.clock,
                    signing_key=signing_key_from_secret(c.settings.secret_key.get_secret_value()),
                )
            except InvalidTokenRequest as exc:
                raise typer.BadParameter(str(exc)) from None
            await uow.commit()
        expiry = record.expires_at.isoformat() if record.expires_at else "never"
        printed.append(token)
        typer.echo(
            f"token {record.jti} for portal #{record.portal_id} ({', '.join(record.scopes)}), "
            f"expires {expiry}:",
            err=True,
        )

    run_with_container(work)
    typer.echo(printed[0])


@token_app.command("list")
def token_list(
    portal: Annotated[str, typer.Option(help="The portal's member_id (or its numeric id).")],
) -> None:
    """The portal's tokens: jti, status, name, scopes, expiry, last use."""
    from timebot.services.api_tokens import list_tokens

    async def work(c: Container) -> None:
        async with c.database.unit_of_work() as uow:
            row = await _portal(uow, portal)
            records = await list_tokens(uow, portal_id=row.id)
        now = c.clock.now()
        for r in records:
            typer.echo(
                f"{r.jti}  {r.status(now):8}  {r.name}  [{', '.join(r.scopes)}]  "
                f"expires {r.expires_at.isoformat() if r.expires_at else 'never'}  "
                f"last used {r.last_used_at.isoformat() if r.last_used_at else 'never'}"
            )
        if not records:
            typer.echo("no tokens")

    run_with_container(work)


@token_app.command("revoke")
def token_revoke(jti: Annotated[str, typer.Argument(help="The token's jti.")]) -> None:
    """Revoke a token: it stops working on its next request."""
    from timebot.services.api_tokens import revoke_token

    async def work(c: Container) -> None:
        async with c.database.unit_of_work() as uow:
            record = await revoke_token(uow, clock=c.clock, jti=jti)
            if record is None:
                raise typer.BadParameter(f"no token {jti!r}")
            await uow.commit()
        typer.echo(f"revoked {record.jti} ({record.name}) of portal #{record.portal_id}")

    run_with_container(work)


__all__ = ["run_with_container", "token_app"]
