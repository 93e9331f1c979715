"""The work-day state machine accepts exactly the documented transitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from timebot.domain.marks import Mark, MarkKind, WorkState
from timebot.domain.workday import (
    IllegalTransition,
    Refusal,
    allowed_actions,
    next_state,
    state_of,
)

from .rules import LEGAL, REFUSED

T0 = datetime(2025, 1, 15, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(("state", "kind"), sorted(LEGAL))
def test_a_documented_transition_leads_to_the_documented_state(state: str, kind: str) -> None:
    assert next_state(WorkState(state), MarkKind(kind)) == LEGAL[(state, kind)]


@pytest.mark.parametrize(("state", "kind"), sorted(REFUSED))
def test_an_impossible_action_is_refused_with_the_right_reason(state: str, kind: str) -> None:
    with pytest.raises(IllegalTransition) as refused:
        next_state(WorkState(state), MarkKind(kind))
    assert refused.value.state is WorkState(state)
    assert refused.value.kind is MarkKind(kind)
    assert refused.value.reason is Refusal(REFUSED[(state, kind)])
    assert REFUSED[(state, kind)] in str(refused.value)


def test_a_second_check_in_while_working_or_on_break_is_refused_as_already_working() -> None:
    for state in (WorkState.WORKING, WorkState.ON_BREAK):
        with pytest.raises(IllegalTransition) as refused:
            next_state(state, MarkKind.CHECK_IN)
        assert refused.value.reason == "already_working"


def test_checking_out_while_off_is_refused_as_already_off() -> None:
    with pytest.raises(IllegalTransition) as refused:
        next_state(WorkState.OFF, MarkKind.CHECK_OUT)
    assert refused.value.reason == "already_off"


def test_the_keyboard_offers_exactly_the_legal_actions() -> None:
    assert allowed_actions(WorkState.OFF) == (MarkKind.CHECK_IN,)
    assert allowed_actions(WorkState.WORKING) == (MarkKind.BREAK_START, MarkKind.CHECK_OUT)
    assert allowed_actions(WorkState.ON_BREAK) == (MarkKind.BREAK_END, MarkKind.CHECK_OUT)
    for state in WorkState:
        assert {k.value for k in allowed_actions(state)} == {
            k for (s, k) in LEGAL if s == state.value
        }


def test_state_of_no_marks_is_off() -> None:
    assert state_of([]) is WorkState.OFF


def test_state_of_replays_marks_in_time_order_whatever_order_they_come_in() -> None:
    marks = [
        Mark(MarkKind.BREAK_START, T0 + timedelta(hours=3)),
        Mark(MarkKind.CHECK_IN, T0),
    ]
    assert state_of(marks) is WorkState.ON_BREAK
    assert state_of([*marks, Mark(MarkKind.CHECK_OUT, T0 + timedelta(hours=4))]) is WorkState.OFF


def test_state_of_skips_illegal_marks() -> None:
    marks = [
        Mark(MarkKind.CHECK_OUT, T0 - timedelta(hours=1)),
        Mark(MarkKind.CHECK_IN, T0),
        Mark(MarkKind.CHECK_IN, T0 + timedelta(hours=1)),
        Mark(MarkKind.BREAK_END, T0 + timedelta(hours=2)),
    ]
    assert state_of(marks) is WorkState.WORKING


@given(st.lists(st.sampled_from(list(MarkKind)), max_size=30))
def test_any_sequence_of_actions_follows_the_documented_table(kinds: list[MarkKind]) -> None:
    expected = "off"
    actual = WorkState.OFF
    for kind in kinds:
        if (expected, kind.value) in LEGAL:
            expected = LEGAL[(expected, kind.value)]
            actual = next_state(actual, kind)
        else:
            with pytest.raises(IllegalTransition) as refused:
                next_state(actual, kind)
            assert refused.value.reason == REFUSED[(expected, kind.value)]
        assert actual == expected
        assert {k.value for k in allowed_actions(actual)} == {
            k for (s, k) in LEGAL if s == expected
        }
    marks = [Mark(kind, T0 + timedelta(minutes=i)) for i, kind in enumerate(kinds)]
    assert state_of(marks) == expected
