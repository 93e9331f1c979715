"""Admin pages for operations: rules, queue, reports, audit, health, API tokens.

`router` holds every page of this package; `timebot.web.admin` includes it. The pages' texts
are registered with the admin catalogue when the package is imported.
"""

from __future__ import annotations

from fastapi import APIRouter

from timebot.web.admin.ops import audit, health, queue, reports, rules, tokens
from timebot.web.admin.ops.texts import register_texts

__all__ = ["router"]

register_texts()

router = APIRouter()
router.include_router(rules.router)
router.include_router(queue.router)
router.include_router(reports.router)
router.include_router(audit.router)
router.include_router(health.router)
router.include_router(tokens.router)
