"""PostgreSQL writes from several storages (as from several relay processes) on one database: readers never
see a seq before a smaller one is settled, concurrent duplicate uploads keep one seq and never deadlock,
registrations never outlive their batch.  Skipped without TUI_SNS_TEST_PG_DSN."""

from __future__ import annotations

import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from tui_sns.sync.relay.errors import StorageError
from tui_sns.sync.relay.metrics import RelayMetrics
from tui_sns.sync.relay.migrations import CREATE_VERSION_TABLE, LATEST_VERSION, MIGRATIONS, VERSION_TABLE
from tui_sns.sync.relay.storage import envelope_id
from tui_sns.sync.relay.storage_postgres import (
    _DRAW_SEQS,
    _INSERT,
    _SEQ_LOCK,
    PostgresStorage,
    _claim_writer_key,
)
from tui_sns.sync.relay.stream import ChangeHub

pytestmark = pytest.mark.pg


def _open(pg_url: str) -> PostgresStorage:
    storage = PostgresStorage(pg_url, pool_size=4)
    storage.migrate()
    return storage


def test_a_reader_that_has_seen_seq_n_never_misses_a_smaller_one(pg_url: str) -> None:
    writers = [_open(pg_url) for _ in range(3)]
    reader = writers[0]
    stop = threading.Event()
    stored: list[int] = []
    seen: list[int] = []

    def write(storage: PostgresStorage) -> None:
        for _ in range(25):
            results = storage.store_envelopes([(os.urandom(200), None) for _ in range(20)], time.time())
            stored.extend(r.seq for r in results)

    def read() -> None:
        cursor = 0
        while True:
            done = stop.is_set()  # read once more after the writers finished
            page = reader.list_envelopes(cursor, 1000, time.time())
            for env in page:
                assert env.seq > cursor
                seen.append(env.seq)
                cursor = env.seq
            if done and not page:
                return

    try:
        reading = threading.Thread(target=read)
        reading.start()
        with ThreadPoolExecutor(len(writers)) as pool:
            list(pool.map(write, writers))
        stop.set()
        reading.join(60)
        assert not reading.is_alive()
        # Paging by cursor alone saw every committed envelope: none committed behind a seen seq.
        assert seen == sorted(stored) and len(set(seen)) == 3 * 25 * 20
        assert all(seq > 0 for seq in seen)
    finally:
        for storage in writers:
            storage.close()


def test_concurrent_duplicate_batches_keep_one_seq_and_do_not_deadlock(pg_url: str) -> None:
    writers = [_open(pg_url) for _ in range(2)]
    datas = [os.urandom(100) for _ in range(60)]
    try:
        # Two writers upload the same envelopes in opposite orders, many times at once.
        orders = [datas, datas[::-1]] * 4
        with ThreadPoolExecutor(len(orders)) as pool:
            outcomes = list(
                pool.map(
                    lambda pair: pair[0].store_envelopes([(d, None) for d in pair[1]], time.time()),
                    zip(writers * 4, orders, strict=True),
                )
            )
        seq_of: dict[str, int] = {}
        created = 0
        for results in outcomes:
            for result in results:
                assert seq_of.setdefault(result.id, result.seq) == result.seq
                created += result.created
        assert created == len(datas) and len(seq_of) == len(datas)
        assert {envelope_id(d) for d in datas} == set(seq_of)
        listed = writers[1].list_envelopes(0, 1000, time.time())
        assert {e.id: e.seq for e in listed} == seq_of
        with psycopg.connect(pg_url) as conn:
            row = conn.execute("SELECT count(*) FROM envelope_writes_pending").fetchone()
        assert row == (0,)  # no registration outlives its batch
    finally:
        for storage in writers:
            storage.close()


def test_batch_seqs_follow_item_order_and_repeat_for_duplicates(pg_url: str) -> None:
    storage = _open(pg_url)
    try:
        # Ids sort differently from the items' order: seqs still ascend in item order.
        datas = [os.urandom(64) for _ in range(200)]
        old = storage.store_envelope(datas[50], time.time(), None)
        items = [(d, None) for d in datas] + [(datas[3], None)]
        results = storage.store_envelopes(items, time.time())
        fresh = [r.seq for i, r in enumerate(results[:200]) if i != 50]
        assert fresh == sorted(fresh) and fresh[0] > old.seq
        assert (results[50].seq, results[50].created) == (old.seq, False)
        assert (results[200].seq, results[200].created) == (results[3].seq, False)
        assert results[3].created
    finally:
        storage.close()


def test_a_shard_reader_never_misses_a_smaller_seq_of_its_shard(pg_url: str) -> None:
    writers = [_open(pg_url) for _ in range(3)]
    reader = writers[0]
    stop = threading.Event()
    mine: list[int] = []  # seqs tagged with shard 5 of 8, or broadcast
    lock = threading.Lock()
    seen: list[int] = []

    def write(storage: PostgresStorage) -> None:
        rng = random.Random(id(storage))
        for _ in range(20):
            tags = [None if rng.random() < 0.1 else frozenset(rng.sample(range(8), 2)) for _ in range(15)]
            items = [(os.urandom(100), None) for _ in range(15)]
            results = storage.store_envelopes(items, time.time(), tags, shard_bits=3)
            with lock:
                mine.extend(r.seq for r, t in zip(results, tags, strict=True) if t is None or 5 in t)

    def read() -> None:
        cursor = 0
        while True:
            done = stop.is_set()
            page = reader.list_shard(3, 5, cursor, 1000, time.time())
            for env in page:
                seen.append(env.seq)
                cursor = env.seq
            if done and not page:
                return

    try:
        reading = threading.Thread(target=read)
        reading.start()
        with ThreadPoolExecutor(len(writers)) as pool:
            list(pool.map(write, writers))
        stop.set()
        reading.join(60)
        assert not reading.is_alive()
        assert seen == sorted(mine) and mine
    finally:
        for storage in writers:
            storage.close()


def test_a_batch_being_written_holds_readers_below_it_until_it_commits(pg_url: str) -> None:
    """A batch's seqs are drawn (and registered) before its envelopes are inserted: until its insert
    commits, readers of the whole log and of a shard stop below its first seq, never past it, and
    max_seq, shard_horizon and cursor_at stay below it too; then everything shows."""
    storage = _open(pg_url)
    other = psycopg.connect(pg_url, autocommit=True)
    try:
        first = storage.store_envelopes([(b"before", None)], time.time(), [frozenset({5})], shard_bits=3)[
            0
        ].seq
        # Another writer drew seqs and is inserting (its transaction 2 not committed yet), played by
        # doing its two transactions by hand on another connection.
        seq_name = other.execute("SELECT pg_get_serial_sequence('envelopes', 'seq')").fetchone()[0]
        other.execute("SELECT set_config('tui_sns_relay.writer', '7', false)")
        with other.transaction():
            other.execute(_SEQ_LOCK)
            pending = other.execute(_DRAW_SEQS, {"seq": seq_name, "token": "t", "n": 1}).fetchone()[0]
        after = storage.store_envelopes([(b"after", None)], time.time(), [frozenset({5})], shard_bits=3)[
            0
        ].seq
        assert first < pending < after
        now = time.time()

        def visible() -> tuple[list[int], list[int]]:
            return (
                [e.seq for e in storage.list_envelopes(0, 100, time.time())],
                [e.seq for e in storage.list_shard(3, 5, 0, 100, time.time())],
            )

        assert visible() == ([first], [first])  # not `after`: that would let a reader pass `pending`
        assert storage.max_seq() == first
        assert storage.shard_horizon() == pending - 1
        assert storage.cursor_at(int(now) // 3600 * 3600) == first - 1
        with other.transaction():
            other.execute(
                _INSERT,
                {
                    "token": "t",
                    "ids": [envelope_id(b"pending")],
                    "datas": [b"pending"],
                    "hours": f"{{{int(now) // 3600 * 3600}}}",
                    "expires": "{NULL}",
                    "broadcast": "{f}",
                    "bits": "{3}",
                    "tag_ords": "{1}",
                    "tag_shards": "{5}",
                },
            )
            assert visible() == ([first], [first])  # inserted, not committed
        assert visible() == ([first, pending, after], [first, pending, after])
        assert storage.max_seq() == after and storage.shard_horizon() == 2**63 - 2
    finally:
        other.close()
        storage.close()


def test_a_dead_writers_batch_stops_holding_readers_at_the_next_sweep(pg_url: str) -> None:
    """A writer that died between drawing its seqs and committing its insert leaves its registration:
    finish_writes removes it once the writer's connection (its session lock) is gone, never before,
    and the seqs stay gaps."""
    storage = _open(pg_url)
    try:
        first = storage.store_envelope(b"before", time.time(), None).seq
        dying = psycopg.connect(pg_url, autocommit=True)
        seq_name = dying.execute("SELECT pg_get_serial_sequence('envelopes', 'seq')").fetchone()[0]
        _claim_writer_key(dying)
        with dying.transaction():
            dying.execute(_SEQ_LOCK)
            pending = dying.execute(_DRAW_SEQS, {"seq": seq_name, "token": "d", "n": 3}).fetchone()[0]
        after = storage.store_envelope(b"after", time.time(), None).seq
        assert after == pending + 3
        assert [e.seq for e in storage.list_envelopes(0, 100, time.time())] == [first]
        assert storage.finish_writes() == 0  # its connection is alive: it may still commit
        assert [e.seq for e in storage.list_envelopes(0, 100, time.time())] == [first]
        dying.close()
        for _ in range(100):  # the server ends the backend (and frees its lock) just after the close
            if storage.finish_writes():
                break
            time.sleep(0.05)
        assert [e.seq for e in storage.list_envelopes(0, 100, time.time())] == [first, after]
        assert storage.max_seq() == after
    finally:
        storage.close()


def test_a_failed_batch_does_not_hold_readers(pg_url: str) -> None:
    """When the insert fails (here: a trigger refuses it), the writer removes its registration itself."""
    storage = _open(pg_url)
    try:
        with storage._conn() as conn:
            conn.execute(
                "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN"
                " IF NEW.data = 'refused'::bytea THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$"
                " LANGUAGE plpgsql"
            )
            conn.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON envelopes FOR EACH ROW EXECUTE FUNCTION refuse()"
            )
        with pytest.raises(StorageError):
            storage.store_envelope(b"refused", time.time(), None)
        later = storage.store_envelope(b"later", time.time(), None).seq
        assert [e.seq for e in storage.list_envelopes(0, 100, time.time())] == [later]
        with storage._conn() as conn:
            assert conn.execute("SELECT count(*) FROM envelope_writes_pending").fetchone()[0] == 0
    finally:
        storage.close()


def test_nothing_but_drawing_seqs_happens_under_the_seq_lock(pg_url: str) -> None:
    """Envelope and tag rows are inserted without the seq lock (a trigger notes whether the inserting
    backend holds an advisory lock other than its connection's session writer lock), and that
    transaction commits durably while the lock's transaction does not wait for a flush."""
    storage = _open(pg_url)
    try:
        with storage._conn() as conn:
            conn.execute("CREATE TABLE insert_locked (locked BOOLEAN NOT NULL)")
            conn.execute(
                "CREATE FUNCTION note() RETURNS trigger AS $$ BEGIN"
                " INSERT INTO insert_locked SELECT count(*) > 0 FROM pg_locks"
                " WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted AND objsubid = 1;"
                " RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            for table in ("envelopes", "envelope_shards"):
                conn.execute(
                    f"CREATE TRIGGER note BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION note()"
                )
        storage.store_envelopes(
            [(os.urandom(50), None) for _ in range(4)], time.time(), [frozenset({1, 2})] * 4, shard_bits=3
        )
        with storage._conn() as conn:
            rows = [bool(r[0]) for r in conn.execute("SELECT locked FROM insert_locked").fetchall()]
        assert rows == [False] * 12
    finally:
        storage.close()


async def test_the_hub_does_not_pass_a_batch_being_written_after_its_own_write(pg_url: str) -> None:
    """On PostgreSQL, a process's own committed seq says nothing about smaller seqs still being written
    by another process: the stream hub re-reads max_seq instead of advancing to its own seq (it did
    advance, and streams then skipped the other batch)."""
    storage = _open(pg_url)
    other = psycopg.connect(pg_url, autocommit=True)
    hub = ChangeHub(storage, 0.05, RelayMetrics())
    try:
        first = storage.store_envelope(b"before", time.time(), None).seq
        await hub.start()
        seq_name = other.execute("SELECT pg_get_serial_sequence('envelopes', 'seq')").fetchone()[0]
        _claim_writer_key(other)
        with other.transaction():
            other.execute(_SEQ_LOCK)
            pending = other.execute(_DRAW_SEQS, {"seq": seq_name, "token": "h", "n": 1}).fetchone()[0]
        mine = storage.store_envelope(b"mine", time.time(), None).seq
        assert mine > pending
        await hub.wrote(mine)
        assert hub.latest == first and hub.top < pending
    finally:
        await hub.stop()
        other.close()
        storage.close()


def test_migration_7_writes_out_tag_rows_left_pending_by_schema_6(pg_url: str) -> None:
    """A schema-6 database whose writer died after its commit (tag rows still in envelope_tags_pending)
    keeps those tags when the relay upgrades: migration 7 writes them into envelope_shards."""
    with psycopg.connect(pg_url, autocommit=True) as conn, conn.transaction():
        conn.execute(CREATE_VERSION_TABLE)
        for migration in MIGRATIONS:
            if migration.version <= 6:
                for statement in migration.postgres:
                    conn.execute(statement)
                conn.execute(
                    f"INSERT INTO {VERSION_TABLE}(version, description, applied_hour) VALUES (%s, 'x', 0)",
                    (migration.version,),
                )
        seq = conn.execute(  # the identity drew seqs in schema 6 too
            "INSERT INTO envelopes(id, data, received_hour, broadcast, shard_bits)"
            " VALUES ('x', 'data', 0, false, 3) RETURNING seq"
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO envelope_tags_pending(token, first_seq, seqs, shards, bits)"
            " VALUES ('dead', %s, ARRAY[%s, %s]::bigint[], ARRAY[2, 5], ARRAY[3, 3]::smallint[])",
            (seq, seq, seq),
        )
    storage = PostgresStorage(pg_url, pool_size=2)
    try:
        assert storage.migrate() == LATEST_VERSION
        assert [e.seq for e in storage.list_shard(3, 5, 0, 10, time.time())] == [seq]
        assert [e.seq for e in storage.list_shard(3, 2, 0, 10, time.time())] == [seq]
        assert [e.seq for e in storage.list_shard(3, 4, 0, 10, time.time())] == []
        with storage._conn() as conn:
            gone = conn.execute(
                "SELECT to_regclass('envelope_tags_pending'), to_regclass('envelopes_pending_seq')"
            )
            assert gone.fetchone() == (None, None)
        assert storage.store_envelope(b"later", time.time(), None).seq > seq
    finally:
        storage.close()
