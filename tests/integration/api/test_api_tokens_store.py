"""The API token service on real SQLite and PostgreSQL: issue, verify, revoke, list, last use,
with the audit entries every issue and revocation writes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from sqlalchemy import select

from tests.support.rows import migrated_with, portal_row
from timebot.domain.clock import FixedClock
from timebot.services.api_tokens import (
    AUDIENCE,
    ISSUER,
    SCOPES,
    TOUCH_EVERY,
    InvalidTokenRequest,
    TokenError,
    issue_token,
    list_tokens,
    record_use,
    revoke_token,
    signing_key_from_secret,
    verify_token,
)
from timebot.storage import Database
from timebot.storage.tables import ApiToken, AuditEntry, Portal

NOW = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)
KEY = signing_key_from_secret("integration-secret")


@dataclass
class Store:
    db: Database
    a: int
    b: int
    clock: FixedClock


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    db, a = await migrated_with(database_url, portal_row(member_id="tok-a"))
    try:
        async with db.unit_of_work() as uow:
            other = portal_row(member_id="tok-b")
            uow.portals.add(other)
            await uow.commit()
            b = other.id
        yield Store(db, a, b, FixedClock(NOW))
    finally:
        await db.dispose()


async def issue(
    s: Store,
    portal_id: int | None = None,
    *,
    scopes: list[str] | None = None,
    expires_at: datetime | None = NOW + timedelta(days=30),
    name: str = "kiosk",
) -> tuple[str, str]:
    async with s.db.unit_of_work() as uow:
        token, record = await issue_token(
            uow,
            portal_id=portal_id or s.a,
            name=name,
            scopes=scopes or ["marks:read", "marks:write"],
            expires_at=expires_at,
            created_by=15,
            clock=s.clock,
            signing_key=KEY,
        )
        await uow.commit()
    return token, record.jti


async def verify(s: Store, token: str) -> object:
    async with s.db.unit_of_work() as uow:
        return await verify_token(uow, token, signing_key=KEY, clock=s.clock)


async def refused(s: Store, token: str) -> str:
    with pytest.raises(TokenError) as caught:
        await verify(s, token)
    return caught.value.reason


async def audit(s: Store) -> list[tuple[str, str, str | None]]:
    async with s.db.unit_of_work() as uow:
        rows = await uow.session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(r.action, r.actor, r.entity_id) for r in rows]


async def test_an_issued_token_carries_its_claims_and_verifies(store: Store) -> None:
    token, jti = await issue(store)
    claims = jwt.decode(token, KEY, algorithms=["HS256"], audience=AUDIENCE)
    assert claims["iss"] == ISSUER
    assert claims["pid"] == store.a
    assert claims["jti"] == jti
    assert claims["scopes"] == ["marks:read", "marks:write"]
    assert claims["iat"] == int(NOW.timestamp())
    assert claims["exp"] == int((NOW + timedelta(days=30)).timestamp())
    async with store.db.unit_of_work() as uow:
        row = (await uow.session.scalars(select(ApiToken))).one()
        assert claims["sub"] == f"api-token:{row.id}"
        assert row.created_by == 15
    principal = await verify(store, token)
    assert principal.portal_id == store.a  # type: ignore[attr-defined]
    assert principal.scopes == frozenset({"marks:read", "marks:write"})  # type: ignore[attr-defined]
    assert principal.actor == f"api:{jti}"  # type: ignore[attr-defined]
    assert await audit(store) == [("api_token.issued", "user:15", jti)]


async def test_a_token_without_expiry_works_until_revoked(store: Store) -> None:
    token, jti = await issue(store, expires_at=None)
    assert "exp" not in jwt.decode(token, options={"verify_signature": False})
    store.clock.advance(timedelta(days=3650))
    await verify(store, token)
    async with store.db.unit_of_work() as uow:
        revoked = await revoke_token(uow, clock=store.clock, jti=jti, revoked_by=15)
        await uow.commit()
    assert revoked is not None
    assert revoked.status(store.clock.now()) == "revoked"
    assert await refused(store, token) == "revoked"


async def test_an_expired_token_is_refused_at_its_expiry(store: Store) -> None:
    token, _ = await issue(store, expires_at=NOW + timedelta(hours=1))
    store.clock.advance(timedelta(minutes=59))
    await verify(store, token)
    store.clock.advance(timedelta(minutes=1))
    assert await refused(store, token) == "expired"


async def test_revoking_twice_changes_nothing_more(store: Store) -> None:
    _, jti = await issue(store)
    for _ in range(2):
        async with store.db.unit_of_work() as uow:
            record = await revoke_token(uow, clock=store.clock, jti=jti)
            await uow.commit()
        assert record is not None
        assert record.revoked_at == NOW
        store.clock.advance(timedelta(minutes=5))
    assert [a for a, _, _ in await audit(store)] == ["api_token.issued", "api_token.revoked"]


async def test_another_portal_cannot_revoke_or_list_the_token(store: Store) -> None:
    token, jti = await issue(store)
    async with store.db.unit_of_work() as uow:
        row = (await uow.session.scalars(select(ApiToken))).one()
        assert await revoke_token(uow, clock=store.clock, jti=jti, portal_id=store.b) is None
        assert (
            await revoke_token(uow, clock=store.clock, token_id=row.id, portal_id=store.b) is None
        )
        assert await list_tokens(uow, portal_id=store.b) == []
        await uow.commit()
    await verify(store, token)
    async with store.db.unit_of_work() as uow:
        assert await revoke_token(uow, clock=store.clock, jti="no-such-token") is None
        with pytest.raises(ValueError, match="jti or by token_id"):
            await revoke_token(uow, clock=store.clock)


async def test_tokens_are_listed_newest_first_with_their_status(store: Store) -> None:
    await issue(store, name="first")
    store.clock.advance(timedelta(minutes=1))
    await issue(store, name="second", expires_at=NOW + timedelta(minutes=2))
    store.clock.advance(timedelta(minutes=1))
    _, third = await issue(store, name="third", scopes=list(SCOPES))
    async with store.db.unit_of_work() as uow:
        await revoke_token(uow, clock=store.clock, jti=third)
        await uow.commit()
    store.clock.advance(timedelta(minutes=5))
    async with store.db.unit_of_work() as uow:
        records = await list_tokens(uow, portal_id=store.a)
    now = store.clock.now()
    assert [(r.name, r.status(now)) for r in records] == [
        ("third", "revoked"),
        ("second", "expired"),
        ("first", "active"),
    ]
    assert records[0].scopes == tuple(SCOPES)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"scopes": ["marks:read", "root"]}, "unknown scope"),
        ({"scopes": []}, "at least one scope"),
        ({"name": "   "}, "needs a name"),
        ({"name": "x" * 129}, "longer than"),
        ({"expires_at": NOW}, "in the future"),
        ({"expires_at": datetime(2027, 1, 1)}, "timezone-aware"),  # noqa: DTZ001
        ({"portal_id": 9999}, "no active portal"),
    ],
)
async def test_bad_requests_issue_nothing(
    store: Store, changes: dict[str, object], message: str
) -> None:
    args: dict[str, object] = {
        "portal_id": store.a,
        "name": "kiosk",
        "scopes": ["marks:read"],
        "expires_at": NOW + timedelta(days=1),
        **changes,
    }
    async with store.db.unit_of_work() as uow:
        with pytest.raises(InvalidTokenRequest, match=message):
            await issue_token(
                uow,
                created_by=None,
                clock=store.clock,
                signing_key=KEY,
                **args,  # type: ignore[arg-type]
            )
        await uow.commit()
    async with store.db.unit_of_work() as uow:
        assert list(await uow.session.scalars(select(ApiToken))) == []
        assert list(await uow.session.scalars(select(AuditEntry))) == []


async def test_the_record_decides_over_the_claims(store: Store) -> None:
    token, jti = await issue(store)
    claims = jwt.decode(token, options={"verify_signature": False})
    # Signed with our key but naming portal B: the record says portal A.
    moved = jwt.encode({**claims, "pid": store.b}, KEY, algorithm="HS256")
    assert await refused(store, moved) == "portal_mismatch"
    # A jti nobody issued.
    invented = jwt.encode({**claims, "jti": "invented"}, KEY, algorithm="HS256")
    assert await refused(store, invented) == "unknown"
    # More scopes in the claims than on record: only the recorded ones count.
    wider = jwt.encode({**claims, "scopes": list(SCOPES)}, KEY, algorithm="HS256")
    principal = await verify(store, wider)
    assert principal.scopes == frozenset({"marks:read", "marks:write"})  # type: ignore[attr-defined]
    # Signed with another installation's key.
    other = jwt.encode(claims, signing_key_from_secret("elsewhere"), algorithm="HS256")
    assert await refused(store, other) == "bad_signature"
    assert jti == claims["jti"]


async def test_an_uninstalled_portals_tokens_stop_working(store: Store) -> None:
    token, _ = await issue(store)
    async with store.db.unit_of_work() as uow:
        portal = await uow.session.get(Portal, store.a)
        assert portal is not None
        portal.status = "uninstalled"
        await uow.commit()
    assert await refused(store, token) == "portal_inactive"


async def test_use_is_recorded_at_most_once_a_minute(store: Store) -> None:
    token, _ = await issue(store)

    async def use() -> bool:
        async with store.db.unit_of_work() as uow:
            principal = await verify_token(uow, token, signing_key=KEY, clock=store.clock)
            wrote = await record_use(uow, principal, clock=store.clock)
            await uow.commit()
            return wrote

    assert await use() is True
    store.clock.advance(TOUCH_EVERY - timedelta(seconds=1))
    assert await use() is False
    store.clock.advance(timedelta(seconds=1))
    assert await use() is True
    async with store.db.unit_of_work() as uow:
        (record,) = await list_tokens(uow, portal_id=store.a)
    assert record.last_used_at == NOW + TOUCH_EVERY
