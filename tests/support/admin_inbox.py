"""Probe and foreign rows for the health page's dead inbox events (see `tests.support.admin`):
portal B's administrator must not see or revive portal A's parked events."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from tests.support.admin import MARKER, foreign_rows, probe
from timebot.storage import UnitOfWork
from timebot.storage.tables import ProcessedEvent

probe("POST", "/bitrix/app/health/inbox/{event_id}/revive", "admin", lambda ids: {})

RECEIVED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@foreign_rows
async def dead_event_rows(uow: UnitOfWork, portal_id: int) -> dict[str, int]:
    """A received event of the portal parked as dead, MARKER in its error and payload."""
    event = ProcessedEvent(
        portal_id=portal_id,
        event_key=f"probe:{portal_id}:{MARKER}",
        person_key="3",
        source="webhook",
        payload=json.dumps({"event": "ONIMBOTV2MESSAGEADD", "data": {"text": MARKER}}),
        status="dead",
        attempts=5,
        received_at=RECEIVED,
        last_error=f"RuntimeError: {MARKER}",
    )
    uow.session.add(event)
    await uow.flush()
    return {"event_id": event.id}
