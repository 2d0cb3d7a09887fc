"""The web console (ADR 0030): server-rendered pages at /console over the container's use cases."""

from adapters.inbound.console.app import CONSOLE_POLICIES, install_console

__all__ = ["CONSOLE_POLICIES", "install_console"]
