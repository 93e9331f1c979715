"""timebot.domain package."""
