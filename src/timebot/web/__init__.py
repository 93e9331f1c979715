"""timebot.web package."""
