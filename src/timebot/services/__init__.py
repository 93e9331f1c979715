"""timebot.services package."""
