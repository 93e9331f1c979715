"""timebot.bot package."""
