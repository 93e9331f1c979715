"""The REST error a method raises: code, description and HTTP status, as Bitrix24 reports them
(`{"error": CODE, "error_description": text}`)."""

from __future__ import annotations

__all__ = ["RestError"]


class RestError(Exception):
    """A documented REST error; the router turns it into the JSON error body and status."""

    def __init__(self, code: str, description: str, status: int = 400) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        """The JSON error body."""
        return {"error": self.code, "error_description": self.description}
