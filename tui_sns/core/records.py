"""The records the core services return (defined by the store, which reads them; re-exported here so
that the front ends reach the store only through core)."""

from tui_sns.store.records import Circle, Contact, Post

__all__ = ["Circle", "Contact", "Post"]
