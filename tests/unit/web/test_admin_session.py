"""The admin session cookie, the sign-in link token, translations and the department tree,
without a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from timebot.bot.admin import AdminLinkError, read_admin_token
from timebot.services.links import sign
from timebot.storage.tables import Department
from timebot.web.admin.i18n import register, translate
from timebot.web.admin.scope import subtree
from timebot.web.admin.session import (
    LIFETIME,
    AdminSession,
    decode_session,
    encode_session,
    new_session,
)

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
KEY = "k" * 64


def session(**overrides: object) -> AdminSession:
    fields: dict[str, object] = {
        "portal_id": 7,
        "user_id": 15,
        "employee_id": 3,
        "role": "head",
        "department_ids": frozenset({4, 9}),
        "language": "en",
        "now": NOW,
    }
    fields.update(overrides)
    return new_session(**fields)  # type: ignore[arg-type]


def test_a_session_survives_its_cookie_until_it_expires() -> None:
    original = session()
    token = encode_session(KEY, original)
    assert decode_session(KEY, token, NOW) == original
    assert original.expires_at == NOW + LIFETIME
    assert decode_session(KEY, token, NOW + LIFETIME - timedelta(seconds=1)) == original
    assert decode_session(KEY, token, NOW + LIFETIME) is None


def test_a_cookie_signed_with_another_key_or_altered_is_no_session() -> None:
    token = encode_session(KEY, session())
    assert decode_session("other" * 10, token, NOW) is None
    head, mac = token.split(".")
    assert decode_session(KEY, head[:-2] + "AA." + mac, NOW) is None
    assert decode_session(KEY, "", NOW) is None
    # A link signed for another purpose with the same key is not a session either.
    link = sign(KEY, "checkin", {"p": 7}, NOW + timedelta(hours=1))
    assert decode_session(KEY, link, NOW) is None


def test_each_session_gets_its_own_csrf_token() -> None:
    assert session().csrf_token != session().csrf_token
    assert len(session().csrf_token) >= 24


def test_roles_decide_what_may_be_managed() -> None:
    head = session()
    assert head.may_manage(4)
    assert not head.may_manage(5)
    assert not head.may_manage(None)
    admin = session(role="admin", department_ids=frozenset())
    assert admin.is_admin
    assert admin.may_manage(5)
    assert admin.may_manage(None)
    employee = session(role="employee", department_ids=frozenset())
    assert not employee.is_manager
    assert not employee.may_manage(4)
    assert employee.actor == "user:15"
    assert employee.with_language("de").language == "ru"


def test_a_check_in_link_is_no_sign_in_link() -> None:
    checkin = sign(KEY, "checkin", {"j": "x", "p": 1, "e": 2, "a": "check_in"}, NOW + LIFETIME)
    with pytest.raises(AdminLinkError) as refused:
        read_admin_token(KEY, checkin, NOW)
    assert refused.value.reason == "wrong_purpose"
    good = sign(KEY, "admin-login", {"j": "x", "p": 1, "e": 2}, NOW + timedelta(minutes=10))
    claim = read_admin_token(KEY, good, NOW)
    assert (claim.jti, claim.portal_id, claim.employee_id) == ("x", 1, 2)
    with pytest.raises(AdminLinkError) as expired:
        read_admin_token(KEY, good, NOW + timedelta(minutes=10))
    assert expired.value.reason == "expired"


def test_translations_fall_back_and_refuse_a_conflicting_key() -> None:
    register({"ru": {"test.only_ru": "Только {what}"}, "en": {}})
    assert translate("en", "test.only_ru", what="так") == "Только так"
    assert translate("en", "test.unknown") == "test.unknown"
    assert translate("en", "nav.today") == "Today"
    register({"ru": {"test.only_ru": "Только {what}"}})  # the same text again is fine
    with pytest.raises(ValueError, match="already registered"):
        register({"ru": {"test.only_ru": "Другое"}})


def dept(id_: int, bitrix_id: int, parent: int | None) -> Department:
    return Department(
        id=id_, portal_id=1, bitrix_id=bitrix_id, name=str(bitrix_id), parent_bitrix_id=parent,
        head_user_id=None, synced_at=NOW,
    )  # fmt: skip


def test_a_head_manages_the_whole_subtree_even_with_a_loop_in_it() -> None:
    tree = [dept(10, 1, None), dept(20, 2, 1), dept(30, 3, 2), dept(40, 4, 1), dept(50, 5, 6),
            dept(60, 6, 5)]  # fmt: skip
    assert subtree(tree, [2]) == {20, 30}
    assert subtree(tree, [1]) == {10, 20, 30, 40}
    assert subtree(tree, [5]) == {50, 60}  # a broken parent loop ends
    assert subtree(tree, [99]) == frozenset()
