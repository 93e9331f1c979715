"""timebot.jobs package."""
