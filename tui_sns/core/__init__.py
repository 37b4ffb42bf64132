"""Core services shared by the CLI and the Textual app. No SQL (that is the store's) and no UI here."""

from tui_sns.core.session import Session

__all__ = ["Session"]
