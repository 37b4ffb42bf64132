"""The scriptable command line, over the same core services as the app."""

from tui_sns.cli.main import main

__all__ = ["main"]
