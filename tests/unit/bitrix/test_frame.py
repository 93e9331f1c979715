"""The application page request Bitrix24 sends when it opens timebot in its frame."""

from __future__ import annotations

import re

import pytest

from timebot.bitrix import MalformedEvent, parse_app_frame

from .sample_files import sample_text


def docs_frame() -> tuple[dict[str, str], dict[str, str]]:
    """The docs' print_r of $_REQUEST, split as the docs say: DOMAIN/PROTOCOL/LANG/APP_SID in the
    query string, the rest in the POST form."""
    pairs = dict(re.findall(r"\[(\w+)\] => (.*)", sample_text("APP_FRAME_DEFAULT_open_docs.txt")))
    query_keys = {"DOMAIN", "PROTOCOL", "LANG", "APP_SID"}
    query = {k: v.strip() for k, v in pairs.items() if k in query_keys}
    form = {k: v.strip() for k, v in pairs.items() if k not in query_keys}
    return form, query


def test_the_documented_frame_request_is_understood() -> None:
    form, query = docs_frame()
    frame = parse_app_frame(form, query)
    assert frame.member_id == "a223c6b3710f85df22e9377d6c4f7553"
    assert frame.domain == "portal.bitrix24.com"
    assert frame.access_token == "ahodg4h37n89vo17gbkgq0x1l825nnb5"
    assert frame.refresh_token == "2lg086mxijlpvwh0h7r4nl19udm4try5"
    assert frame.expires_in == 3600
    assert frame.application_token == "ec1b2074a9d3f5c81b6e40d27a95cf38"
    assert frame.placement == "DEFAULT"
    assert frame.language == "en"
    assert frame.scope == ("crm", "entity", "im", "task")
    assert frame.client_endpoint == "https://portal.bitrix24.com/rest/"
    assert "ahodg4h3" not in repr(frame)


@pytest.mark.parametrize("missing", ["member_id", "AUTH_ID"])
def test_a_frame_request_without_identity_is_refused(missing: str) -> None:
    form, query = docs_frame()
    del form[missing]
    with pytest.raises(MalformedEvent, match=missing):
        parse_app_frame(form, query)


def test_a_domain_that_is_not_a_host_is_refused() -> None:
    form, query = docs_frame()
    query["DOMAIN"] = "evil.example/path?x="
    with pytest.raises(MalformedEvent, match="DOMAIN"):
        parse_app_frame(form, query)
