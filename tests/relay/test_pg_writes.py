"""PostgreSQL writes from several storages (as from several relay processes) on one database: seqs become
visible in seq order, concurrent duplicate uploads keep one seq and never deadlock, placeholders never
leak.  Skipped without TUI_SNS_TEST_PG_DSN."""

from __future__ import annotations

import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from tui_sns.sync.relay.storage import envelope_id
from tui_sns.sync.relay.storage_postgres import PostgresStorage

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
            row = conn.execute("SELECT count(*) FROM envelopes WHERE seq <= 0").fetchone()
        assert row == (0,)  # no placeholder outlives its transaction
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


def test_pending_tag_rows_hold_shard_readers_below_them_until_written(pg_url: str) -> None:
    """Tag rows are written after the seq lock, in their own transaction: until they are, a shard read
    stops below that batch (never past it), and a batch whose writer died after its commit is finished
    by any process (finish_tags) when two sweeps in a row find it."""
    storage = _open(pg_url)
    try:
        first = storage.store_envelopes([(b"before", None)], time.time(), [frozenset({5})], shard_bits=3)[0].seq
        # A writer died between its commit and writing its tag rows: its envelope is committed and
        # its tags pending. Played by moving the written rows back into a pending row.
        later = storage.store_envelopes([(b"pending", None)], time.time(), [frozenset({5})], shard_bits=3)[0].seq
        after = storage.store_envelopes([(b"after", None)], time.time(), [frozenset({5})], shard_bits=3)[0].seq
        with storage._conn() as conn:
            conn.execute("DELETE FROM envelope_shards WHERE seq = %s", (later,))
            conn.execute(
                "INSERT INTO envelope_tags_pending(token, first_seq, seqs, shards, bits)"
                " VALUES ('dead', %s, ARRAY[%s]::bigint[], ARRAY[5], ARRAY[3]::smallint[])",
                (later, later),
            )
        listed = [env.seq for env in storage.list_shard(3, 5, 0, 100, time.time())]
        assert listed == [first]  # not `after`: that would let a reader pass `later` for good
        assert storage.shard_horizon() == later - 1
        assert storage.finish_tags() == 0  # first seen: perhaps its writer is about to write it
        assert [env.seq for env in storage.list_shard(3, 5, 0, 100, time.time())] == [first]
        assert storage.finish_tags() == 1
        assert [env.seq for env in storage.list_shard(3, 5, 0, 100, time.time())] == [first, later, after]
        assert storage.shard_horizon() == 2**63 - 2
        with storage._conn() as conn:
            assert conn.execute("SELECT count(*) FROM envelope_tags_pending").fetchone()[0] == 0
    finally:
        storage.close()


def test_tag_rows_are_not_written_under_the_seq_lock(pg_url: str) -> None:
    """The statement that draws seqs under the lock writes one pending row per batch; the tag rows are
    inserted afterwards, without the lock (a trigger notes whether the inserting backend holds it)."""
    storage = _open(pg_url)
    try:
        with storage._conn() as conn:
            conn.execute("CREATE TABLE tag_insert_locked (locked BOOLEAN NOT NULL)")
            conn.execute(
                "CREATE FUNCTION note_tags() RETURNS trigger AS $$ BEGIN"
                " INSERT INTO tag_insert_locked SELECT count(*) > 0 FROM pg_locks"
                " WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted;"
                " RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            conn.execute(
                "CREATE TRIGGER note_tags BEFORE INSERT ON envelope_shards FOR EACH ROW EXECUTE FUNCTION note_tags()"
            )
        storage.store_envelopes(
            [(os.urandom(50), None) for _ in range(4)], time.time(), [frozenset({1, 2})] * 4, shard_bits=3
        )
        with storage._conn() as conn:
            rows = [bool(r[0]) for r in conn.execute("SELECT locked FROM tag_insert_locked").fetchall()]
        assert rows == [False] * 8
    finally:
        storage.close()
