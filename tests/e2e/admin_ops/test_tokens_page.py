"""`/bitrix/app/tokens` over real HTTP: a token is issued with its scopes and expiry, shown once,
works against /api/v1 until it is revoked; bad input is explained and issues nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from tests.support.admin import ADMIN_USER, HEAD_USER, admin_stack
from timebot.storage.tables import ApiToken, AuditEntry


def issued_token(html: str) -> str:
    found = re.search(r'<textarea id="issued-token"[^>]*>([^<]+)</textarea>', html)
    assert found, html[:2000]
    return found.group(1).strip()


async def test_tokens_are_issued_once_listed_and_revoked(database_url: str) -> None:
    async with admin_stack(database_url) as stack:
        admin = await stack.login(ADMIN_USER)
        head = await stack.login(HEAD_USER)
        assert (await head.get("/bitrix/app/tokens")).status_code == 403
        assert (await head.post("/bitrix/app/tokens", {"name": "x"})).status_code == 403

        page = await admin.get("/bitrix/app/tokens")
        assert page.status_code == 200
        assert 'value="employees:read"' in page.text

        # Refusals: nothing is issued.
        for form, words in (
            ({"name": "", "scopes": ["employees:read"]}, "название"),
            ({"name": "ERP", "scopes": []}, "хотя бы одно право"),
            ({"name": "ERP", "scopes": ["root"]}, "Неизвестное право"),
            ({"name": "ERP", "scopes": ["employees:read"], "expires_on": "2000-01-01"}, "прошла"),
            ({"name": "ERP", "scopes": ["employees:read"], "expires_on": "soon"}, "ГГГГ-ММ-ДД"),
        ):
            refused = await admin.post("/bitrix/app/tokens", form)
            assert refused.status_code == 422, form
            assert words in refused.text, form
            assert 'id="issued"' not in refused.text
        forged = await admin.post(
            "/bitrix/app/tokens", {"name": "ERP", "scopes": ["employees:read"]}, csrf=False
        )
        assert forged.status_code == 403
        assert await stack.rows(select(ApiToken)) == []

        issued = await admin.post(
            "/bitrix/app/tokens",
            {
                "name": "  ERP  sync ",
                "scopes": ["employees:read", "reports:read"],
                "expires_on": "",
            },
        )
        assert issued.status_code == 200
        assert issued.headers["cache-control"] == "no-store"
        token = issued_token(issued.text)
        row = (await stack.rows(select(ApiToken)))[0]
        assert (row.name, row.scopes, row.expires_at, row.created_by) == (
            "ERP sync",
            ["employees:read", "reports:read"],
            None,
            ADMIN_USER,
        )
        # Shown once: the list never carries it.
        listing = await admin.get("/bitrix/app/tokens")
        assert token not in listing.text
        assert f'id="token-{row.id}"' in listing.text
        assert 'data-status="active"' in listing.text

        api = await stack.clients[0].get(
            "/api/v1/departments", headers={"Authorization": f"Bearer {token}"}
        )
        assert api.status_code == 200, api.text
        assert any(d["name"] == "Отдел продаж" for d in api.json())

        # An expiring one ends with the chosen day (in Moscow); too far ahead is refused.
        day = datetime.now(UTC).date() + timedelta(days=30)
        dated = await admin.post(
            "/bitrix/app/tokens",
            {"name": "kiosk", "scopes": ["marks:write"], "expires_on": day.isoformat()},
        )
        assert dated.status_code == 200
        kiosk = (await stack.rows(select(ApiToken).where(ApiToken.name == "kiosk")))[0]
        end = datetime.combine(day + timedelta(days=1), time(), tzinfo=ZoneInfo("Europe/Moscow"))
        assert kiosk.expires_at == end
        far = await admin.post(
            "/bitrix/app/tokens",
            {"name": "far", "scopes": ["marks:write"], "expires_on": "2099-12-31"},
        )
        assert far.status_code == 422
        assert "дней вперёд" in far.text

        revoked = await admin.post(f"/bitrix/app/tokens/{row.id}/revoke")
        assert revoked.status_code == 303
        api = await stack.clients[0].get(
            "/api/v1/departments", headers={"Authorization": f"Bearer {token}"}
        )
        assert api.status_code == 401
        listing = await admin.get("/bitrix/app/tokens")
        assert f'id="revoke-{row.id}"' not in listing.text
        missing = await admin.post("/bitrix/app/tokens/999999/revoke")
        assert missing.status_code == 404
        actions = sorted(
            (a.action, a.actor)
            for a in await stack.rows(select(AuditEntry).where(AuditEntry.entity == "api_token"))
        )
        assert actions == [
            ("api_token.issued", f"user:{ADMIN_USER}"),
            ("api_token.issued", f"user:{ADMIN_USER}"),
            ("api_token.revoked", f"user:{ADMIN_USER}"),
        ]
