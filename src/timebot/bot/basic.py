"""Welcome on join, help, and a friendly answer to anything not understood."""

from __future__ import annotations

import re

from timebot.bitrix import BotJoinedChat, BotMessageAdded, Keyboard, escape
from timebot.bot.i18n import Lang, t
from timebot.bot.replies import Reply
from timebot.bot.router import Context, Router, strip_mentions

router = Router("basic")

HELP_WORDS = re.compile(r"^\s*(помощь|справка|help|\?|start|старт)\s*[.!]*\s*$", re.IGNORECASE)


def help_keyboard(lang: Lang) -> Keyboard:
    return Keyboard().command(t("button_help", lang), "help")


def dialog_of(ctx: Context) -> str:
    return getattr(ctx.event, "dialog_id", "")


@router.join()
async def welcome(ctx: Context) -> None:
    event = ctx.event
    assert isinstance(event, BotJoinedChat)
    if event.chat_type == "group":
        ctx.reply(Reply(event.dialog_id, t("welcome_group", ctx.lang)))
        return
    name = escape(event.user.first_name or event.user.name or "")
    ctx.reply(Reply(event.dialog_id, t("welcome", ctx.lang, name=name), help_keyboard(ctx.lang)))


@router.command("help", "start", "помощь")
async def show_help(ctx: Context) -> None:
    ctx.reply(Reply(dialog_of(ctx), t("help", ctx.lang)))


@router.text(lambda text: bool(HELP_WORDS.match(text)))
async def help_by_word(ctx: Context) -> None:
    await show_help(ctx)


@router.fallback()
async def not_understood(ctx: Context) -> None:
    event = ctx.event
    text = strip_mentions(event.text) if isinstance(event, BotMessageAdded) else ""
    ctx.reply(
        Reply(
            dialog_of(ctx),
            t("not_understood", ctx.lang, text=escape(text[:100])),
            help_keyboard(ctx.lang),
        )
    )
