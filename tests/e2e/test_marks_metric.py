"""/metrics counts the marks people make in the chat (timebot_marks_total by kind and source)."""

from __future__ import annotations

from datetime import timedelta

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.chat import chat
from tests.e2e.test_tracking_chat import MONDAY_0905_MSK


async def marks_total(base_url: str) -> dict[tuple[str, str], float]:
    async with httpx.AsyncClient(base_url=base_url) as http:
        r = await http.get("/metrics")
    assert r.status_code == 200
    return {
        (s.labels["kind"], s.labels["source"]): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
        if s.name == "timebot_marks_total"
    }


async def test_a_check_in_in_the_chat_is_counted_once(database_url: str) -> None:
    async with chat(database_url, "webhook", MONDAY_0905_MSK) as bot:
        before = await marks_total(bot.base_url)
        answer = await bot.says(3, "Пришёл!")
        assert "Приход отмечен" in answer.text
        answer = await bot.says(3, "пришёл")  # refused: nothing stored, nothing counted
        assert "Вы уже отметились" in answer.text
        bot.at(MONDAY_0905_MSK + timedelta(hours=3))
        await bot.presses(3, "break")
        after = await marks_total(bot.base_url)

    def added(kind: str) -> float:
        return after.get((kind, "chat"), 0.0) - before.get((kind, "chat"), 0.0)

    assert added("check_in") == 1
    assert added("break_start") == 1
    assert added("check_out") == 0
