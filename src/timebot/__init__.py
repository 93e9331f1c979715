"""timebot: working-time tracking chat-bot for Bitrix24."""

__version__ = "0.1.0"
