"""Fetch-mode intake: poll `imbot.v2.Event.get`, store the events in the inbox, move the offset,
then apply them (the same applier as for pushed events).

The offset is saved in the same transaction as the stored events, and passing it on the next
poll is what acknowledges them, so a crash in between re-delivers (dedupe absorbs it) instead of
losing anything.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from timebot.bitrix import BitrixClient, MalformedEvent, parse_fetched_event
from timebot.bot.router import Dispatcher
from timebot.domain.clock import Clock
from timebot.gateway.auth import portal_auth
from timebot.gateway.config import GatewayConfig
from timebot.gateway.inbox import InboxApplier
from timebot.gateway.intake import Outcome, person_key, stored_payload, worth_storing
from timebot.gateway.limits import apply_portal_limits
from timebot.logs import get_logger
from timebot.metrics import EVENTS_RECEIVED
from timebot.storage import Database
from timebot.storage.repositories.events import InboxEntry

log = get_logger(__name__)


class EventPoller:
    def __init__(
        self,
        database: Database,
        client: BitrixClient,
        clock: Clock,
        dispatcher: Dispatcher,
        config: GatewayConfig,
        *,
        limit: int = 100,
        worker: str | None = None,
    ) -> None:
        self.database = database
        self.client = client
        self.clock = clock
        self.dispatcher = dispatcher
        self.config = config
        self.limit = limit
        self.applier = InboxApplier(
            database,
            clock,
            dispatcher,
            config,
            worker=worker or f"{socket.gethostname()}:{os.getpid()}:poller:{id(self):x}",
        )

    async def poll_all(self) -> int:
        """Poll every fetch-mode portal once; returns events handled (more may be waiting)."""
        async with self.database.unit_of_work() as uow:
            ids = [p.id for p in await uow.portals.polling()]
        total = 0
        for portal_id in ids:
            try:
                total += await self.poll_portal(portal_id)
            except Exception:
                log.exception("poller.failed", portal_id=portal_id)
        return total

    async def poll_portal(self, portal_id: int) -> int:
        async with self.database.unit_of_work() as uow:
            portal = await uow.portals.get(portal_id)
            if portal is None or portal.bot_id is None:
                return 0
            auth = portal_auth(portal)
            apply_portal_limits(self.client, portal)
            params: dict[str, Any] = {
                "botId": portal.bot_id,
                "offset": portal.event_offset,
                "limit": self.limit,
            }
            if portal.connection == "webhook" and portal.bot_token:
                params["botToken"] = portal.bot_token
            member_id = portal.member_id
        response = await self.client.call(auth, "imbot.v2.Event.get", params)
        result = response.result if isinstance(response.result, dict) else {}
        items = [i for i in result.get("events") or [] if isinstance(i, dict)]
        next_offset = result.get("nextOffset")
        if not items:
            return 0
        now = self.clock.now()
        # Fetched by us with our own credentials: nothing to verify.
        entries: dict[str, InboxEntry] = {}
        outcomes: list[Outcome] = []
        for item in items:
            try:
                event = parse_fetched_event(item, member_id=member_id)
            except MalformedEvent as exc:
                EVENTS_RECEIVED.labels("fetch", "malformed").inc()
                log.warning("poller.malformed_event", reason=str(exc), item_id=item.get("eventId"))
                continue
            if not worth_storing(event):
                outcomes.append(Outcome.IGNORED)
            elif event.dedupe_key in entries:
                outcomes.append(Outcome.DUPLICATE)
            else:
                entries[event.dedupe_key] = InboxEntry(
                    portal_id=portal_id,
                    event_key=event.dedupe_key,
                    person_key=person_key(event),
                    source="fetch",
                    payload=stored_payload(item),
                    received_at=now,
                )
        async with self.database.unit_of_work() as uow:
            stored = await uow.events.store(list(entries.values()))
            portal = await uow.portals.get(portal_id)
            if portal is not None:
                last_id = max(int(i.get("eventId") or 0) for i in items)
                portal.event_offset = int(next_offset) if next_offset else last_id + 1
            await uow.commit()
        for entry in entries.values():
            outcomes.append(Outcome.ACCEPTED if entry.key in stored else Outcome.DUPLICATE)
        for outcome in outcomes:
            EVENTS_RECEIVED.labels("fetch", outcome.value).inc()
        if stored:
            await self.applier.drain()
        return len(items)
