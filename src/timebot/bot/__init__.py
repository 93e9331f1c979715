"""The chat bot: routers with handlers declared next to their triggers (aiogram style).

Handlers are thin: they read the event, call services, and return `Reply` values; the gateway
turns replies into outbox rows in the same transaction.
"""
