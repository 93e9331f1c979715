"""timebot.reports package."""
