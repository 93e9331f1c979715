"""`/bitrix/app/rules` over real HTTP: who may open it, a save that changes only what changed
(bookkeeping keys kept, one audit entry per key), refusals that change nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tests.support.admin import ADMIN_USER, EMPLOYEE_USER, HEAD_USER, admin_stack, hidden_inputs
from timebot.storage.tables import AuditEntry, Portal
from timebot.web.admin.ops.rules_form import FIELDS, form_values


async def settings_of(stack: Any) -> dict[str, Any]:
    portal_id = await stack.portal_id()
    async with stack.uow() as uow:
        portal = await uow.portals.get(portal_id)
        assert portal is not None
        return dict(portal.settings or {})


def as_form(values: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The form a browser posts for `values` (form_values) with `changes` typed in."""
    form: dict[str, Any] = {}
    for f in FIELDS:
        value = changes.get(f.key, values[f.key])
        if f.kind == "bool":
            if value:
                form[f.key] = "1"
        elif f.kind == "choices":
            form[f.key] = list(value)
        else:
            form[f.key] = "" if value is None else str(value)
    return form


async def test_the_rules_page_saves_what_changed_and_refuses_bad_input(database_url: str) -> None:
    async with admin_stack(database_url) as stack:
        admin = await stack.login(ADMIN_USER)
        head = await stack.login(HEAD_USER)
        employee = await stack.login(EMPLOYEE_USER)

        page = await admin.get("/bitrix/app/rules")
        assert page.status_code == 200
        assert "Правила портала" in page.text
        fields = hidden_inputs(page.text)
        assert fields["remind_checkout_after_minutes"] == "30"
        assert fields["digest_time"] == "09:00"
        assert "frame-ancestors" in page.headers["content-security-policy"]
        for other in (head, employee):
            refused = await other.get("/bitrix/app/rules")
            assert refused.status_code == 403
            refused = await other.post("/bitrix/app/rules", as_form(form_values({})))
            assert refused.status_code == 403

        before = await settings_of(stack)
        assert before.get("directory_synced_at")  # the sync's bookkeeping is there
        shown = form_values(before)

        # No CSRF token: 403, nothing written.
        forged = await admin.post(
            "/bitrix/app/rules", as_form(shown, timeman_mirror=True), csrf=False
        )
        assert forged.status_code == 403
        assert await settings_of(stack) == before

        # Bad values: the form again with the reasons, 422, nothing written.
        bad = await admin.post(
            "/bitrix/app/rules",
            as_form(
                shown,
                digest_time="25:61",
                cors_origins="https://ok.example.com\nhttps://bad.example.com/path",
                location_retention_days="0",
            ),
        )
        assert bad.status_code == 422
        assert 'id="error-digest_time"' in bad.text
        assert 'id="error-cors_origins"' in bad.text
        assert "https://bad.example.com/path" in bad.text
        assert 'id="error-location_retention_days"' in bad.text
        assert await settings_of(stack) == before

        # A good save: only the changed keys, under the row lock, one audit entry per key.
        saved = await admin.post(
            "/bitrix/app/rules",
            as_form(
                shown,
                timeman_mirror=True,
                digest_time="10:30",
                remind_checkin_after_minutes="20",
                cors_origins="https://HR.example.com/\nhttp://localhost:3000",
            ),
        )
        assert saved.status_code == 303
        assert saved.headers["location"].startswith("/bitrix/app/rules?flash=")
        after = await settings_of(stack)
        for key, value in before.items():
            assert after[key] == value, key
        assert after["timeman_mirror"] is True
        assert after["digest_time"] == "10:30"
        assert after["remind_checkin_after_minutes"] == 20
        assert after["cors_origins"] == ["https://hr.example.com", "http://localhost:3000"]
        entries = await stack.rows(
            select(AuditEntry).where(AuditEntry.action.like("rules.%")).order_by(AuditEntry.id)
        )
        assert sorted(e.entity_id for e in entries) == [
            "cors_origins",
            "digest_time",
            "remind_checkin_after_minutes",
            "timeman_mirror",
        ]
        assert all(e.actor == f"user:{ADMIN_USER}" for e in entries)
        digest = next(e for e in entries if e.entity_id == "digest_time")
        assert digest.details == {"key": "digest_time", "old": None, "new": "10:30"}

        # The page shows what is stored now; saving it unchanged writes nothing.
        again = await admin.get(saved.headers["location"])
        assert again.status_code == 200
        assert 'id="flash"' in again.text
        assert hidden_inputs(again.text)["digest_time"] == "10:30"
        unchanged = await admin.post("/bitrix/app/rules", as_form(form_values(after)))
        assert unchanged.status_code == 303
        assert await settings_of(stack) == after
        assert (
            len(await stack.rows(select(AuditEntry).where(AuditEntry.action.like("rules.%")))) == 4
        )

        # A page opened before someone else's save changes only what was changed on it.
        stale = await admin.get("/bitrix/app/rules")
        baseline = hidden_inputs(stale.text)["shown"]
        async with stack.uow() as uow:
            portal = await uow.portals.lock(await stack.portal_id())
            assert portal is not None
            portal.settings = {**(portal.settings or {}), "digest_time": "07:45"}
            await uow.commit()
        late = await admin.post(
            "/bitrix/app/rules",
            {**as_form(form_values(after), digest_send_empty=True), "shown": baseline},
        )
        assert late.status_code == 303
        latest = await settings_of(stack)
        assert latest["digest_time"] == "07:45"
        assert latest["digest_send_empty"] is True

        # Only this portal's row changed.
        portals = await stack.rows(select(Portal))
        assert len(portals) == 1


async def test_english_session_sees_english_rules(sqlite_url: str) -> None:
    async with admin_stack(sqlite_url) as stack:
        admin = await stack.login(ADMIN_USER)
        switched = await admin.post("/bitrix/app/lang", {"lang": "en", "next": "/bitrix/app/rules"})
        assert switched.status_code == 303
        page = await admin.get("/bitrix/app/rules")
        assert page.status_code == 200
        assert "Portal rules" in page.text
        bad = await admin.post(
            "/bitrix/app/rules", as_form(form_values({}), checkin_link_minutes="0")
        )
        assert bad.status_code == 422
        assert "the value must be from 1 to 1440" in bad.text
