"""TEST SUPPORT: everything a thief holding the unlocked store could read (docs/design-v2.md §12.2).

The forward-secrecy test harvests every value of a device's store and tries each as a key against a
relay's archive. The SQL for that stays in the store layer, here. Not used by the program.
"""

from __future__ import annotations

from collections.abc import Iterator

from tui_sns.store.database import Store


def tables(store: Store) -> list[str]:
    """Every table of the database (FTS5 shadow tables included), by name."""
    rows = store.fetchall("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    return [str(r[0]) for r in rows]


def all_values(store: Store) -> Iterator[tuple[str, str, object]]:
    """``(table, column, value)`` for every column value of every row of every table (NULLs skipped).

    Values are as SQLite returns them: ``bytes`` for BLOBs, ``str``, ``int`` or ``float``."""
    for table in tables(store):
        quoted = '"' + table.replace('"', '""') + '"'
        with store.read() as conn:
            cursor = conn.execute(f"SELECT * FROM {quoted}")
            columns = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
        for row in rows:
            for column, value in zip(columns, row, strict=True):
                if value is None:
                    continue
                yield (
                    table,
                    column,
                    bytes(value) if isinstance(value, (bytes, bytearray, memoryview)) else value,
                )
