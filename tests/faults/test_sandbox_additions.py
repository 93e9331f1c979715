"""The sandbox features the fault tests rely on (fast, no PostgreSQL): injected event jitter and
duplicates, synthetic staff, a reply's templateId kept as the message uuid, and the state's
lookup indexes (private dialogs, messages per chat) agreeing with a plain scan."""

from __future__ import annotations

import random
import threading
from dataclasses import replace
from typing import Any

import httpx
import pytest

from tests.support.servers import free_port, serve_asgi
from timebot.sandbox import FaultConfig, Portal, SandboxConfig, create_sandbox_app
from timebot.sandbox.faults import Faults
from timebot.sandbox.state import Chat, Message

TOKEN = "fault-tests-bot"


class Receiver:
    """Records every POSTed body (an application's event handler)."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.lock = threading.Lock()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                done = {"lifespan.startup": "complete", "lifespan.shutdown": "complete"}
                await send({"type": f"{message['type']}.{done[message['type']]}"})
                if message["type"] == "lifespan.shutdown":
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        with self.lock:
            self.bodies.append(body)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def test_event_plans_follow_the_settings() -> None:
    quiet = Faults(FaultConfig(seed=1))
    assert {(p.delay, p.replay_after) for p in (quiet.plan_event() for _ in range(50))} == {
        (0.0, None)
    }
    noisy = Faults(
        FaultConfig(event_jitter=0.5, event_duplicate_rate=0.5, event_replay_delay=2.0, seed=3)
    )
    plans = [noisy.plan_event() for _ in range(400)]
    assert all(0 <= p.delay <= 0.5 for p in plans)
    replays = [p.replay_after for p in plans if p.replay_after is not None]
    assert all(0 <= r <= 2.0 for r in replays)
    assert 150 < len(replays) < 250  # about half
    assert noisy.snapshot()["event_duplicate_rate"] == 0.5


async def test_bot_events_are_sent_twice_install_events_never() -> None:
    receiver = Receiver()
    with serve_asgi(receiver) as hook:
        port = free_port()
        config = replace(
            SandboxConfig(rate=1000.0, burst=1000),
            base_url=f"http://127.0.0.1:{port}",
            auto_join_group_chats=False,
            faults=FaultConfig(event_duplicate_rate=1.0, event_replay_delay=0.2, seed=1),
        )
        app = create_sandbox_app(config)
        portal: Portal = app.state.portal
        with serve_asgi(app, port=port) as base:
            result = await portal.install_app(f"{hook}/install")
            assert result.status == 200
            async with httpx.AsyncClient() as client:
                registered = await client.post(
                    f"{portal.webhook_url()}imbot.v2.Bot.register",
                    json={
                        "botToken": TOKEN,
                        "fields": {
                            "code": "faults",
                            "eventMode": "webhook",
                            "webhookUrl": f"{hook}/events",
                            "properties": {"name": "Faults"},
                        },
                    },
                )
                assert registered.status_code == 200, registered.text
                bot_id = registered.json()["result"]["bot"]["id"]
                message_id = await portal.user_says(3, str(bot_id), "пришёл")
                await portal.flush()
                state = (await client.get(f"{base}/sandbox/control")).json()
        assert len(receiver.bodies) == 3  # install once, the message event twice
        install, first, copy = receiver.bodies
        assert b"ONAPPINSTALL" in install
        assert first == copy
        assert f"data%5Bmessage%5D%5Bid%5D={message_id}".encode() in first
        records = [r for r in portal.deliveries if r.bot_id == bot_id]
        assert [r.replay for r in records] == [False, True]
        assert state["stats"]["events_replayed"] == 1


def test_staff_come_in_teams_under_the_company() -> None:
    portal = Portal(replace(SandboxConfig(), staff=25, staff_team_size=10))
    state = portal.state
    staff = [u for u in state.employees() if u.email.startswith("staff")]
    assert len(staff) == 25
    assert len({u.id for u in staff}) == 25
    assert min(u.id for u in staff) == 12  # after the demo company's 11 people
    teams = sorted({u.departments[0] for u in staff})
    assert [sum(1 for u in staff if u.departments == [t]) for t in teams] == [10, 10, 5]
    for team in teams:
        department = state.departments[team]
        assert department.parent == 1
        assert department.head == min(u.id for u in staff if u.departments == [team])
    bare = Portal(replace(SandboxConfig(), seed_demo=False, staff=3))
    assert [u.id for u in bare.state.employees()] == [1, 2, 3]
    assert {d.parent for d in bare.state.departments.values()} == {None, 1}


async def test_the_template_id_becomes_the_message_uuid() -> None:
    port = free_port()
    app = create_sandbox_app(
        replace(SandboxConfig(rate=1000.0, burst=1000), base_url=f"http://127.0.0.1:{port}")
    )
    portal: Portal = app.state.portal
    with serve_asgi(app, port=port):
        async with httpx.AsyncClient() as client:
            url = portal.webhook_url()
            bot = await client.post(
                f"{url}imbot.v2.Bot.register",
                json={"botToken": TOKEN, "fields": {"code": "t", "properties": {"name": "T"}}},
            )
            bot_id = bot.json()["result"]["bot"]["id"]
            for template in ("2d8f6f2e-7a56-5a8e-9f0c-1b2a3c4d5e6f", ""):
                fields = {"message": "ok"} | ({"templateId": template} if template else {})
                sent = await client.post(
                    f"{url}imbot.v2.Chat.Message.send",
                    json={"botToken": TOKEN, "botId": bot_id, "dialogId": "4", "fields": fields},
                )
                assert sent.status_code == 200, sent.text
    kept, random_one = portal.messages("4", bot_id=bot_id)
    assert kept.id < random_one.id
    uuids = [m.uuid for m in portal.state.chat_messages(kept.chat_id)]
    assert uuids[0] == "2d8f6f2e-7a56-5a8e-9f0c-1b2a3c4d5e6f"
    assert uuids[1]
    assert uuids[1] != uuids[0]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_lookup_indexes_agree_with_a_scan(seed: int) -> None:
    dice = random.Random(seed)
    state = Portal(SandboxConfig()).state
    people = [u.id for u in state.employees()]
    late: list[Message] = []
    for _ in range(300):
        roll = dice.random()
        a, b = dice.sample([*people, 500, 501], 2)
        if roll < 0.3:
            state.ensure_private_chat(a, b)
        elif roll < 0.35:  # a chat created behind the index's back
            cid = state.new_chat_id()
            state.chats[cid] = Chat(cid, dice.choice("PC"), "", [a, b], a)
        elif roll < 0.9 and state.chats:
            chat_id = dice.choice(list(state.chats))
            message = Message(state.new_message_id(), chat_id, a, "x", _now(), state.bump())
            if dice.random() < 0.1:
                late.append(message)  # its id is taken, it is stored later
            else:
                state.messages[message.id] = message
        else:
            for message in late:
                state.messages[message.id] = message
            late.clear()
        for chat_id in list(state.chats)[:5] + list(state.chats)[-5:]:
            expected = [m for m in state.messages.values() if m.chat_id == chat_id]
            assert state.chat_messages(chat_id) == sorted(expected, key=lambda m: m.id)
        expected_chat = next(
            (c for c in state.chats.values() if c.kind == "P" and set(c.members) == {a, b}),
            None,
        )
        assert state.private_chat(a, b) is expected_chat


def _now() -> Any:
    from timebot.domain.clock import SystemClock

    return SystemClock().now()
