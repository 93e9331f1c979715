"""`timebot geo check` as an admin runs it: a separate process, its exit codes, words and JSON,
a GeoJSON file, a zone stored in the database, and bad input answered without a traceback."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.unit.geo.places import offset, travel
from timebot.domain.geo import Point
from timebot.storage import Database
from timebot.storage.migrate import upgrade
from timebot.storage.tables import Office, Portal, Zone

TIMEBOT = [sys.executable, "-m", "timebot.cli"]
NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
MOSCOW = Point(55.7558, 37.6173)
CIRCLE = f"{MOSCOW.lat},{MOSCOW.lon},150"
# A "U" in local metres (east, north): arms 20 m wide, the notch x 20..40, y 20..80.
U_SHAPE = [(0, 0), (60, 0), (60, 80), (40, 80), (40, 20), (20, 20), (20, 80), (0, 80)]


def geo(*args: str, db: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMEBOT_")}
    if db is not None:
        env["TIMEBOT_DATABASE_URL"] = db
    return subprocess.run(
        [*TIMEBOT, "geo", "check", *args], capture_output=True, text=True, env=env, timeout=120
    )


def at(p: Point) -> str:
    return f"{p.lat!r},{p.lon!r}"


def test_inside_outside_and_uncertain_have_their_exit_codes() -> None:
    inside = geo("--zone", CIRCLE, "--at", at(travel(MOSCOW, 30.0, 147.0)))
    assert inside.returncode == 0, inside.stderr
    assert inside.stdout.startswith("ВНУТРИ: точка в зоне «круг 150 м», 3,0 м до границы.")

    outside = geo("--zone", CIRCLE, "--at", at(travel(MOSCOW, 30.0, 153.0)), "--lang", "en")
    assert outside.returncode == 1, outside.stderr
    assert outside.stdout.startswith("OUTSIDE: 3.0 m to the boundary of zone “circle of 150 m”.")

    uncertain = geo("--zone", CIRCLE, "--at", at(travel(MOSCOW, 30.0, 153.0)), "--accuracy", "40")
    assert uncertain.returncode == 2
    assert uncertain.stdout.startswith("НЕ ОПРЕДЕЛИТЬ: точка снаружи, в 3,0 м от границы")
    assert uncertain.stderr == ""


def test_json_output_is_machine_readable(tmp_path: Path) -> None:
    ring = [offset(MOSCOW, x, y) for x, y in U_SHAPE]
    feature = {
        "type": "Feature",
        "properties": {"name": "Корпус У"},
        "geometry": {"type": "Polygon", "coordinates": [[[p.lon, p.lat] for p in ring]]},
    }
    path = tmp_path / "campus.geojson"
    path.write_text(json.dumps(feature, ensure_ascii=False), encoding="utf-8")

    notch = geo("--zone", str(path), "--at", at(offset(MOSCOW, 23, 50)), "--json")
    assert notch.returncode == 1, notch.stderr
    payload = json.loads(notch.stdout)
    assert payload["verdict"] == "outside"
    assert payload["exit_code"] == 1
    assert payload["zone"]["name"] == "Корпус У"
    assert payload["distance_m"] == pytest.approx(3.0, abs=0.01)

    arm = geo("--zone", str(path), "--at", at(offset(MOSCOW, 17, 50)), "--json", "--lang", "en")
    assert arm.returncode == 0, arm.stderr
    payload = json.loads(arm.stdout)
    assert payload["verdict"] == "inside"
    assert payload["zone"]["signed_distance_m"] == pytest.approx(-3.0, abs=0.01)
    assert payload["text"].startswith("INSIDE: the point is in zone “Корпус У”")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--zone", CIRCLE, "--at", "55.75"], "--at '55.75': нужны широта и долгота"),
        (["--zone", CIRCLE, "--at", "95,37"], "latitude 95.0 is outside [-90, 90]"),
        (["--zone", CIRCLE, "--at", "55,37", "--accuracy", "-3"], "неотрицательное число"),
        (["--zone", "missing.geojson", "--at", "55,37"], "не файл, который можно прочитать"),
        (["--zone", '{"type": "Point"}', "--at", "55,37"], "нужен GeoJSON Polygon"),
        (["--zone", "55.75,37.61,0", "--at", "55,37", "--lang", "en"], "radius 0 m is below 1 m"),
        (["--zone", CIRCLE, "--at", "55,37", "--lang", "de"], "--lang is ru or en"),
        (["--at", "55,37"], "Missing option '--zone'"),
    ],
)
def test_bad_input_exits_2_with_a_message_and_no_traceback(args: list[str], says: str) -> None:
    out = geo(*args)
    assert out.returncode == 2
    assert says in out.stderr
    assert "Traceback" not in out.stderr
    assert out.stdout == ""


async def seed_zone(url: str) -> int:
    await upgrade(url)
    db = Database.from_url(url)
    try:
        async with db.unit_of_work() as uow:
            portal = Portal(
                member_id="geo-cli",
                domain="geo.bitrix24.ru",
                client_endpoint="https://geo.bitrix24.ru/rest/",
                connection="oauth",
                installed_at=NOW,
                updated_at=NOW,
            )
            uow.session.add(portal)
            await uow.flush()
            office = Office(portal_id=portal.id, name="Москва", created_at=NOW)
            uow.session.add(office)
            await uow.flush()
            zone = Zone(
                portal_id=portal.id,
                office_id=office.id,
                name="Вход",
                kind="circle",
                lat=MOSCOW.lat,
                lon=MOSCOW.lon,
                radius_m=80.0,
                created_at=NOW,
            )
            uow.session.add(zone)
            await uow.commit()
            return zone.id
    finally:
        await db.dispose()


async def test_a_stored_zone_is_read_from_the_configured_database(database_url: str) -> None:
    zone_id = await seed_zone(database_url)
    inside = await asyncio.to_thread(
        geo, "--zone", f"db:{zone_id}", "--at", at(travel(MOSCOW, 0, 70)), db=database_url
    )
    assert inside.returncode == 0, inside.stderr
    assert inside.stdout.startswith("ВНУТРИ: точка в зоне «Москва / Вход», 10,0 м до границы.")

    missing = await asyncio.to_thread(
        geo, "--zone", f"db:{zone_id + 100}", "--at", "55,37", db=database_url
    )
    assert missing.returncode == 2
    assert f"в базе нет зоны с номером {zone_id + 100}" in missing.stderr


def test_a_missing_database_file_is_reported_not_created(tmp_path: Path) -> None:
    target = tmp_path / "nowhere" / "tb.sqlite3"
    out = geo("--zone", "db:1", "--at", "55,37", db=f"sqlite:///{target}")
    assert out.returncode == 2
    assert f"база данных {target} не найдена" in out.stderr
    assert not target.parent.exists()
