"""The bot's routers, composed in one place (order matters: specific before general)."""

from __future__ import annotations

from timebot.bot import admin, basic, corrections, explanations, privacy, reminders, tracking
from timebot.bot.router import Dispatcher


def build_dispatcher() -> Dispatcher:
    return Dispatcher(
        [
            reminders.router,
            corrections.router,
            explanations.router,
            privacy.router,
            tracking.router,
            admin.router,
            basic.router,
        ]
    )
