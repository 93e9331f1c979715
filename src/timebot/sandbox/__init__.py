"""The Bitrix24 sandbox portal: a faithful stand-in for a real portal (REST in both auth styles,
OAuth server, limits, bot events in both generations, a web chat) for tests and `timebot demo`.
"""

from timebot.sandbox.app import create_sandbox_app
from timebot.sandbox.config import FaultConfig, SandboxConfig
from timebot.sandbox.installation import InstallResult
from timebot.sandbox.portal import MessageView, Portal

__all__ = [
    "FaultConfig",
    "InstallResult",
    "MessageView",
    "Portal",
    "SandboxConfig",
    "create_sandbox_app",
]
