"""Child process for the passphrase-change kill tests.

    python kill_passwd.py HOME OLD NEW POINT

Changes the passphrase of the store in HOME from OLD to NEW, printing (flushed) the name of each point
of the change as it is reached (tui_sns.store.database._checkpoint). At POINT it stops and waits on
stdin, to be killed there; the point "rekeying" does not wait (the kill then lands during or after
SQLCipher's rekey transaction).
"""

from __future__ import annotations

import sys
from pathlib import Path

from tui_sns.store import KdfParams, Store, database


def main() -> None:
    home, old, new, point = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]

    def checkpoint(name: str) -> None:
        sys.stdout.write(name + "\n")
        sys.stdout.flush()
        if name == point and name != "rekeying":
            sys.stdin.read()  # blocks until the parent kills this process

    database._checkpoint = checkpoint
    with Store.open(home, old) as store:
        sys.stdout.write("opened\n")
        sys.stdout.flush()
        store.change_passphrase(new, KdfParams.insecure_for_tests())
    sys.stdout.write("done\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
