"""Small crash-safe file writes for the front ends' own files (settings, keymaps)."""

from tui_sns.store.atomic import write_atomic

__all__ = ["write_atomic"]
