"""The http_build_query emulator reproduces the docs-derived form bodies byte for byte, and the
sandbox's reader agrees with an independent parse_qsl-based one."""

from __future__ import annotations

import pytest

from tests.integration.sandbox.phpform import parse_form, php_wire, sample_json, sample_text
from timebot.sandbox.phpquery import http_build_query, parse_php_query

PAIRS = [
    ("ONAPPINSTALL_docs.json", "ONAPPINSTALL_DERIVED.form.txt"),
    ("ONIMBOTMESSAGEADD_personal_docs.json", "ONIMBOTMESSAGEADD_personal_DERIVED.form.txt"),
    ("ONIMCOMMANDADD_personal_docs.json", "ONIMCOMMANDADD_personal_DERIVED.form.txt"),
]


@pytest.mark.parametrize(("docs", "derived"), PAIRS)
def test_emulator_reproduces_the_derived_samples_byte_for_byte(docs: str, derived: str) -> None:
    assert http_build_query(sample_json(docs)) == sample_text(derived)


@pytest.mark.parametrize(("docs", "derived"), PAIRS)
def test_reader_turns_derived_samples_back_into_the_docs_data(docs: str, derived: str) -> None:
    body = sample_text(derived)
    assert parse_php_query(body) == php_wire(sample_json(docs))
    assert parse_form(body) == parse_php_query(body)


def test_the_raw_php_sdk_body_round_trips_unchanged() -> None:
    raw = sample_text("ONCRMCONTACTADD_raw_form_b24phpsdk.txt")
    data = parse_php_query(raw)
    assert data == parse_form(raw)
    assert data["auth"]["application_token"] == "3c6c9248ec54af6bea1159b43ee0ab32"
    assert data["data"]["FIELDS"]["ID"] == "134806"
    assert http_build_query(data) == raw


def test_scalars_follow_php_rules() -> None:
    body = http_build_query(
        {"t": True, "f": False, "n": None, "i": 7, "x": 1.5, "s": "a b~c/d", "e": [], "d": {}}
    )
    assert body == "t=1&f=0&i=7&x=1.5&s=a+b%7Ec%2Fd"


def test_lists_become_numbered_keys_and_read_back_as_lists() -> None:
    body = http_build_query({"k": [{"TEXT": "Да", "COMMAND": "yes"}, {"TYPE": "NEWLINE"}]})
    assert body == (
        "k%5B0%5D%5BTEXT%5D=%D0%94%D0%B0&k%5B0%5D%5BCOMMAND%5D=yes&k%5B1%5D%5BTYPE%5D=NEWLINE"
    )
    assert parse_php_query(body) == {"k": [{"TEXT": "Да", "COMMAND": "yes"}, {"TYPE": "NEWLINE"}]}


def test_empty_brackets_append_and_numeric_ids_stay_keys() -> None:
    assert parse_php_query("a[]=1&a[]=2&b[103][X]=y") == {"a": ["1", "2"], "b": {"103": {"X": "y"}}}
