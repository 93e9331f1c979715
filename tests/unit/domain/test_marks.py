"""Marks are immutable UTC events; kinds and states have stable wire values."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

from timebot.domain.marks import Mark, MarkKind, WorkState

MSK = timezone(timedelta(hours=3))


def test_mark_kinds_and_states_keep_their_stored_values() -> None:
    assert [k.value for k in MarkKind] == ["check_in", "break_start", "break_end", "check_out"]
    assert [s.value for s in WorkState] == ["off", "working", "on_break"]
    assert MarkKind("check_out") is MarkKind.CHECK_OUT
    assert f"{WorkState.ON_BREAK}" == "on_break"  # StrEnum formats as its value


def test_a_mark_stores_its_instant_in_utc() -> None:
    mark = Mark(MarkKind.CHECK_IN, datetime(2025, 1, 15, 9, 0, tzinfo=MSK))
    assert mark.at == datetime(2025, 1, 15, 6, 0, tzinfo=UTC)
    assert mark.at.tzinfo is UTC
    assert mark.id is None
    assert mark.provisional is False


def test_a_mark_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="naive"):
        Mark(MarkKind.CHECK_IN, datetime(2025, 1, 15, 9, 0))  # noqa: DTZ001 - the point of the test


def test_a_mark_given_a_kind_as_text_holds_the_enum() -> None:
    mark = Mark("break_start", datetime(2025, 1, 15, tzinfo=UTC))  # type: ignore[arg-type]
    assert mark.kind is MarkKind.BREAK_START
    with pytest.raises(ValueError, match="lunch"):
        Mark("lunch", datetime(2025, 1, 15, tzinfo=UTC))  # type: ignore[arg-type]


def test_a_mark_is_immutable_and_hashable() -> None:
    mark = Mark(MarkKind.CHECK_OUT, datetime(2025, 1, 15, tzinfo=UTC), id=7, provisional=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        mark.id = 8  # type: ignore[misc]
    assert {mark, dataclasses.replace(mark)} == {mark}
