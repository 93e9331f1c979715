"""The documented work-day rules, written out independently of the production table.

Plain strings on purpose: the tests compare the code against this text, not against itself.
"""

from __future__ import annotations

STATES = ("off", "working", "on_break")
KINDS = ("check_in", "break_start", "break_end", "check_out")

# (state, action) -> next state, for the actions the rules allow.
LEGAL: dict[tuple[str, str], str] = {
    ("off", "check_in"): "working",
    ("working", "break_start"): "on_break",
    ("on_break", "break_end"): "working",
    ("working", "check_out"): "off",
    ("on_break", "check_out"): "off",  # checking out ends the open break
}

# (state, action) -> reason, for every other pair.
REFUSED: dict[tuple[str, str], str] = {
    ("working", "check_in"): "already_working",
    ("on_break", "check_in"): "already_working",
    ("off", "break_start"): "not_working",
    ("on_break", "break_start"): "already_on_break",
    ("off", "break_end"): "not_on_break",
    ("working", "break_end"): "not_on_break",
    ("off", "check_out"): "already_off",
}

assert set(LEGAL).isdisjoint(REFUSED)
assert set(LEGAL) | set(REFUSED) == {(s, k) for s in STATES for k in KINDS}
