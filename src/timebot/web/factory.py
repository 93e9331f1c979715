"""uvicorn factories (`--factory`): build the app from settings inside the server process."""

from __future__ import annotations

from fastapi import FastAPI

from timebot.web.app import create_app


def build_app() -> FastAPI:
    return create_app()


def build_app_with_worker() -> FastAPI:
    return create_app(with_worker=True)
