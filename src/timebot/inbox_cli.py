"""`timebot inbox …`: look at received events and put dead ones back in the queue.

An event is parked as dead after `TIMEBOT_INBOX_MAX_ATTEMPTS` failed claims (or at once when its
stored payload no longer parses). Once the cause is fixed, `revive` queues it again with fresh
attempts; any running `serve` or `worker` applies it within seconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from timebot.api_cli import run_with_container

if TYPE_CHECKING:
    from timebot.bootstrap import Container
    from timebot.storage import UnitOfWork
    from timebot.storage.tables import Portal

inbox_app = typer.Typer(
    help="Received Bitrix24 events: list them, revive dead ones.", no_args_is_help=True
)

STATUSES = ("pending", "applied", "dead")
ERROR_WIDTH = 200


async def _portal(uow: UnitOfWork, portal: str) -> Portal:
    """The portal by domain (a URL will do), member_id or numeric id; a usage error if none."""
    from sqlalchemy import select

    from timebot.storage.tables import Portal

    domain = portal.strip().lower().removeprefix("https://").removeprefix("http://").strip("/")
    found = list(await uow.session.scalars(select(Portal).where(Portal.domain == domain)))
    if len(found) > 1:
        ids = ", ".join(f"#{p.id} ({p.member_id})" for p in found)
        raise typer.BadParameter(f"several portals have domain {domain}: {ids}; pass a member_id")
    row = found[0] if found else await uow.portals.by_member_id(portal.strip())
    if row is None and portal.strip().isdigit():
        row = await uow.portals.get(int(portal))
    if row is None:
        raise typer.BadParameter(f"no portal {portal!r}", param_hint="'--portal'")
    return row


@inbox_app.command("list")
def inbox_list(
    status: Annotated[
        str | None, typer.Option(help="pending, applied or dead (default: every status).")
    ] = None,
    portal: Annotated[
        str | None, typer.Option(help="Only this portal: its domain (or member_id, or id).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Events to show.")] = 50,
) -> None:
    """Counts by status, then the newest events (dead ones with their last error)."""
    from timebot.gateway.inbox import stored_event_name

    if status is not None and status not in STATUSES:
        raise typer.BadParameter(f"--status is one of {', '.join(STATUSES)}")

    async def work(c: Container) -> None:
        async with c.database.unit_of_work() as uow:
            portal_id = (await _portal(uow, portal)).id if portal else None
            counts = await uow.events.counts(portal_id=portal_id)
            rows = await uow.events.recent(status=status, portal_id=portal_id, limit=limit)
            domains: dict[int, str] = {}
            for pid in {r.portal_id for r in rows}:
                row = await uow.portals.get(pid)
                domains[pid] = row.domain if row is not None else f"#{pid}"
            # Format inside the transaction: leaving it expires the rows.
            lines = [
                f"#{r.id} {domains[r.portal_id]} {r.status} "
                f"{stored_event_name(r.payload) or r.source} person={r.person_key or '-'} "
                f"attempts={r.attempts} received={r.received_at.isoformat()}"
                + (f"  {(r.last_error or '')[:ERROR_WIDTH]}" if r.status != "applied" else "")
                for r in rows
            ]
        typer.echo("  ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "inbox is empty")
        for line in lines:
            typer.echo(line.rstrip())

    run_with_container(work)


@inbox_app.command("revive")
def inbox_revive(
    ids: Annotated[
        list[int] | None, typer.Argument(metavar="ID", help="Ids of dead events.")
    ] = None,
    all_dead: Annotated[
        bool, typer.Option("--all-dead", help="Every dead event (of --portal, if given).")
    ] = False,
    portal: Annotated[
        str | None, typer.Option(help="With --all-dead: only this portal's (domain or id).")
    ] = None,
) -> None:
    """Put dead events back in the queue with fresh attempts (audited as event.revived)."""
    if bool(ids) == all_dead:
        raise typer.BadParameter("name the events' ids, or pass --all-dead (not both)")
    if portal and not all_dead:
        raise typer.BadParameter("--portal goes with --all-dead", param_hint="'--portal'")
    wanted = sorted(set(ids or ()))
    revived: list[tuple[int, int]] = []

    async def work(c: Container) -> None:
        async with c.database.unit_of_work() as uow:
            portal_id = (await _portal(uow, portal)).id if portal else None
            revived.extend(await uow.events.revive(wanted or None, portal_id=portal_id))
            now = c.clock.now()
            for event_id, owner in revived:
                uow.audit.record(
                    portal_id=owner,
                    at=now,
                    actor="system",
                    action="event.revived",
                    entity="event",
                    entity_id=event_id,
                    details={"via": "cli"},
                )
            await uow.commit()

    run_with_container(work)
    done = [event_id for event_id, _ in revived]
    typer.echo(
        f"{len(done)} event(s) queued again"
        + (": " + ", ".join(f"#{i}" for i in done) if done else "")
    )
    missed = [i for i in wanted if i not in done]
    if missed:
        typer.echo("not dead (or no such event): " + ", ".join(f"#{i}" for i in missed), err=True)
        raise typer.Exit(1)


__all__ = ["inbox_app"]
