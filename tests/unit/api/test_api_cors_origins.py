"""How origins from `cors_origins` and from the `Origin` header are compared."""

from __future__ import annotations

import pytest

from timebot.web.cors import normalize_origin, origins_of


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://hr.example.com", "https://hr.example.com"),
        ("HTTPS://HR.Example.COM/", "https://hr.example.com"),
        ("https://hr.example.com:443", "https://hr.example.com"),
        ("http://localhost:8080", "http://localhost:8080"),
        ("http://[::1]:3000", "http://[::1]:3000"),
        (" https://a.example ", "https://a.example"),
    ],
)
def test_origins_are_normalized(value: str, expected: str) -> None:
    assert normalize_origin(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "*",
        "null",
        "",
        "ftp://files.example",
        "https://hr.example.com/app",
        "https://user:pw@hr.example.com",
        "https://hr.example.com?x=1",
        "https://hr.example.com:99999",
        "hr.example.com",
        None,
        42,
        "https://" + "a" * 600,
    ],
)
def test_anything_but_an_http_origin_is_ignored(value: object) -> None:
    assert normalize_origin(value) is None


def test_the_portals_lists_are_merged_and_bad_entries_dropped() -> None:
    found = origins_of(
        [
            {"cors_origins": ["https://a.example", "*", "https://B.example/"]},
            {"cors_origins": "https://c.example"},
            {"cors_origins": {"not": "a list"}},
            {},
            None,
        ]
    )
    assert found == frozenset({"https://a.example", "https://b.example", "https://c.example"})
