"""Child process for the SIGKILL test: writes entries one transaction each, reporting each commit.

    python kill_writer.py HOME PASSPHRASE PREFIX

Prints each committed entry id on its own line (flushed) only after its transaction returned.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tui_sns.core.session import Session


def main() -> None:
    home, passphrase, prefix = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    with Session.unlock(home, passphrase) as session:
        for i in range(100_000):
            result = session.diary.post(f"{prefix} entry {i} " + "x" * 2000, title=f"{prefix}-{i}")
            sys.stdout.write(result.id + "\n")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
