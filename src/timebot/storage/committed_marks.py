"""Marks that reached the database: listeners hear of each stored mark once its transaction commits.

Every mark row goes through the ORM (`record_mark`, an approved correction), so one mapper hook
sees them all. A mark inserted in a transaction or savepoint that is rolled back is not reported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Mapper, Session, SessionTransaction, object_session

from timebot.storage.tables import Mark

__all__ = ["MarkListener", "on_committed_mark"]

# Called with (kind, source) of each committed mark; must be cheap and must not raise.
MarkListener = Callable[[str, str], None]

_PENDING = "timebot.committed_marks.pending"
_listeners: list[MarkListener] = []


def on_committed_mark(listener: MarkListener) -> None:
    """Call `listener(kind, source)` for every mark a committed transaction of this process stored.

    Process-wide; registering the same listener again does nothing (every composition root of a
    process may call this).
    """
    if not event.contains(Mark, "after_insert", _inserted):
        event.listen(Mark, "after_insert", _inserted)
        event.listen(Session, "after_commit", _committed)
        event.listen(Session, "after_transaction_end", _ended)
    if listener not in _listeners:
        _listeners.append(listener)


def _inserted(_mapper: Mapper[Any], _connection: Any, mark: Mark) -> None:
    session = object_session(mark)
    if session is not None:
        session.info.setdefault(_PENDING, []).append(mark)


def _committed(session: Session) -> None:
    marks: list[Mark] = session.info.pop(_PENDING, [])
    for mark in marks:
        # A savepoint that was rolled back expunged its new rows: they were never stored.
        if inspect(mark).persistent:
            for listener in _listeners:
                listener(mark.kind, mark.source)


def _ended(session: Session, transaction: SessionTransaction) -> None:
    # The outermost transaction ended without a commit (rollback, close): forget its marks.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
