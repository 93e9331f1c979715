"""PHP form bodies: parse_form reads like PHP's $_POST, build_query writes like http_build_query."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from timebot.bitrix import phpform
from timebot.bitrix.phpform import build_query, parse_form, php_urlencode

from .sample_files import SAMPLES, as_form_strings, sample_json, sample_text

DERIVED_FORMS = sorted(p.name for p in SAMPLES.glob("*_DERIVED.form.txt"))


def test_there_are_derived_form_samples_to_check() -> None:
    assert len(DERIVED_FORMS) >= 3


@pytest.mark.parametrize("form_name", DERIVED_FORMS)
def test_build_query_reproduces_the_derived_form_byte_for_byte(form_name: str) -> None:
    docs = sample_json(form_name.replace("_DERIVED.form.txt", "_docs.json"))
    assert build_query(docs) == sample_text(form_name)


@pytest.mark.parametrize("form_name", DERIVED_FORMS)
def test_parsing_a_form_sample_gives_its_docs_json_with_strings(form_name: str) -> None:
    docs = sample_json(form_name.replace("_DERIVED.form.txt", "_docs.json"))
    assert parse_form(sample_text(form_name)) == as_form_strings(docs)


def test_the_raw_sdk_capture_parses_into_nested_strings() -> None:
    form = parse_form(sample_text("ONCRMCONTACTADD_raw_form_b24phpsdk.txt").encode())
    assert form["event"] == "ONCRMCONTACTADD"
    assert form["data"] == {"FIELDS": {"ID": "134806"}}
    assert form["auth"]["scope"] == "crm,placement,user_brief"
    assert (
        form["auth"]["client_endpoint"] == "https://bitrix24-php-sdk-playground.bitrix24.com/rest/"
    )


def test_empty_brackets_append_like_php() -> None:
    assert parse_form("a[]=x&a[]=y") == {"a": ["x", "y"]}
    assert parse_form("q[5]=x&q[]=y") == {"q": {"5": "x", "6": "y"}}
    assert parse_form("a[][b]=1&a[][b]=2") == {"a": [{"b": "1"}, {"b": "2"}]}


def test_later_keys_override_earlier_ones() -> None:
    assert parse_form("a=1&a=2") == {"a": "2"}
    assert parse_form("a=1&a[b]=2") == {"a": {"b": "2"}}
    assert parse_form("a[b]=2&a=1") == {"a": "1"}


def test_spaces_and_dots_in_top_level_names_become_underscores() -> None:
    assert parse_form("x.y=1&a+b=2& lead=3") == {"x_y": "1", "a_b": "2", "lead": "3"}
    # Only the top-level name is rewritten; keys inside brackets stay as sent.
    assert parse_form("p.q[r.s]=1") == {"p_q": {"r.s": "1"}}


def test_unbalanced_brackets_are_tolerated_as_php_does() -> None:
    assert parse_form("a[b=1") == {"a_b": "1"}
    assert parse_form("a[b][c=1") == {"a": {"b": "1"}}
    assert parse_form("a[b]c=1") == {"a": {"b": "1"}}
    assert parse_form("a]=1") == {"a]": "1"}


def test_values_are_always_strings_and_missing_values_are_empty() -> None:
    assert parse_form("flag&n=5&t=true") == {"flag": "", "n": "5", "t": "true"}


def test_malformed_percent_escapes_are_kept_literally() -> None:
    assert parse_form("a=%zz%4&b=100%") == {"a": "%zz%4", "b": "100%"}


def test_empty_names_and_empty_pairs_are_skipped() -> None:
    assert parse_form("&&=1&[x]=2&a=3") == {"a": "3"}


def test_bracket_names_may_arrive_percent_encoded() -> None:
    assert parse_form("data%5BPARAMS%5D%5BMESSAGE%5D=Hi+there") == {
        "data": {"PARAMS": {"MESSAGE": "Hi there"}}
    }


def test_nesting_deeper_than_php_allows_drops_the_variable() -> None:
    deep = "a" + "[x]" * 65
    assert parse_form(f"{deep}=1&b=2") == {"b": "2"}
    assert parse_form("a" + "[x]" * 64 + "=1")["a"]["x"]["x"]


def test_build_query_encodes_scalars_like_php() -> None:
    query = build_query({"t": True, "f": False, "n": None, "i": 7, "x": 0.5, "y": 2.0, "s": "a b~"})
    assert query == "t=1&f=0&i=7&x=0.5&y=2&s=a+b%7E"


def test_build_query_nests_lists_and_dicts_with_encoded_brackets() -> None:
    query = build_query({"fields": {"TITLE": "Q&A", "IDS": [3, 4]}, "empty": []})
    assert query == "fields%5BTITLE%5D=Q%26A&fields%5BIDS%5D%5B0%5D=3&fields%5BIDS%5D%5B1%5D=4"


def test_php_urlencode_uses_upper_case_escapes_for_utf8() -> None:
    assert php_urlencode("Пришёл 9:00") == "%D0%9F%D1%80%D0%B8%D1%88%D1%91%D0%BB+9%3A00"


_names = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,8}", fullmatch=True)
_values = st.text(max_size=20)
_trees: st.SearchStrategy[Any] = st.recursive(
    _values,
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=4),
        st.dictionaries(_names, children, min_size=1, max_size=4),
    ),
    max_leaves=15,
)


@given(st.dictionaries(_names, _trees, max_size=5))
def test_build_then_parse_round_trips_nested_string_structures(data: dict[str, Any]) -> None:
    assert parse_form(build_query(data)) == data


@given(st.dictionaries(_names, _trees, max_size=5))
def test_parse_accepts_bytes_and_text_alike(data: dict[str, Any]) -> None:
    query = build_query(data)
    assert parse_form(query.encode("ascii")) == parse_form(query)


def test_a_nested_key_named_like_its_base_is_not_taken_for_a_top_level_one() -> None:
    assert parse_form("x[x]=1&y=2&y[y]=3") == {"x": {"x": "1"}, "y": {"y": "3"}}


_pieces = st.sampled_from(
    ["a", "b", "0", "1", "-1", "[", "]", "[]", "[ ]", " ", ".", "%5B", "%5D", "%", "+", "=", "&"]
)


@given(st.lists(st.lists(_pieces, max_size=12).map("".join), max_size=6))
def test_remembered_name_plans_parse_exactly_as_fresh_ones(bodies: list[str]) -> None:
    """Names are parsed once and remembered: a body parses the same with the cache empty, warm
    (after itself and other bodies) and refilled after overflowing."""
    phpform._PLANS.clear()
    cold = [parse_form(body) for body in bodies]
    assert [parse_form(body) for body in reversed(bodies)] == cold[::-1]
    for i in range(phpform._PLAN_CACHE_SIZE + 1):  # overflow: the cache starts over
        parse_form(f"n{i}[k]=v")
    assert len(phpform._PLANS) <= phpform._PLAN_CACHE_SIZE
    assert [parse_form(body) for body in bodies] == cold
