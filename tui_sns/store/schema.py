"""Numbered schema migrations. Migration N brings the database from user_version N-1 to N.

Never edit a migration that has shipped: add the next one.

A migration is its SQL script (``MIGRATIONS[N-1]``, append-only) and, optionally, a Python **data
step** (``DATA_STEPS[N]``) that runs after the script **in the same transaction** — for rows that SQL
cannot make (random keys, derived secrets; docs/design-v2.md §15.1). A data step is called as
``step(conn, context)`` with the migration's connection and a :class:`MigrationContext` (the time and
the randomness to use); it must be deterministic given those two (tests pass both), and it may only
use this store layer and ``tui_sns.crypto``. A data step that raises rolls the migration back with
the script: the store stays at ``N-1``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class MigrationContext:
    """What a data step may use besides the connection.

    ``now``: unix seconds (the caller's clock: ``Store.open``/``Store.create`` take it, the core passes
    ``tui_sns.core.clock.now_unix``). ``rng``: ``rng(n) -> n random bytes`` (``os.urandom`` unless a
    test passes another).
    """

    now: int
    rng: Callable[[int], bytes] = field(default=os.urandom, repr=False)


DataStep = Callable[[Any, MigrationContext], None]
"""``step(conn, context)``: the Python part of one migration (the connection is sqlcipher3's)."""

MIGRATIONS: list[str] = [
    # 1: foundation — identity, contacts, circles, diary, outbox, received-envelope bookkeeping
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
    CREATE TABLE identity (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        name TEXT NOT NULL,
        secret_key BLOB NOT NULL,
        public_key BLOB NOT NULL,
        created TEXT NOT NULL
    );
    CREATE TABLE contacts (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        card_name TEXT NOT NULL,
        public_key BLOB NOT NULL UNIQUE,
        shared_key BLOB NOT NULL,
        relays TEXT NOT NULL DEFAULT '[]',
        verified INTEGER NOT NULL DEFAULT 0,
        added TEXT NOT NULL,
        send_seq INTEGER NOT NULL DEFAULT 0,
        send_prev BLOB NOT NULL DEFAULT (zeroblob(32))
    );
    CREATE TABLE circles (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created TEXT NOT NULL
    );
    CREATE TABLE circle_members (
        circle_id INTEGER NOT NULL REFERENCES circles(id) ON DELETE CASCADE,
        contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
        PRIMARY KEY (circle_id, contact_id)
    ) WITHOUT ROWID;
    CREATE TABLE posts (
        id TEXT PRIMARY KEY,
        remote_id TEXT NOT NULL,
        author_id INTEGER REFERENCES contacts(id) ON DELETE CASCADE,
        title TEXT NOT NULL DEFAULT '',
        body TEXT NOT NULL,
        created TEXT NOT NULL,
        received TEXT NOT NULL,
        audience TEXT,
        envelope_id TEXT,
        UNIQUE (author_id, remote_id)
    );
    CREATE INDEX posts_created ON posts(created DESC, id DESC, author_id);
    CREATE TABLE post_readers (
        post_id TEXT NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
        contact_id INTEGER REFERENCES contacts(id) ON DELETE SET NULL,
        name TEXT NOT NULL,
        PRIMARY KEY (post_id, name)
    ) WITHOUT ROWID;
    CREATE TABLE outbox (
        envelope_id TEXT PRIMARY KEY,
        data BLOB NOT NULL,
        created TEXT NOT NULL,
        exported INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE seen_envelopes (envelope_id TEXT PRIMARY KEY) WITHOUT ROWID;
    CREATE TABLE received_seq (
        contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        digest BLOB NOT NULL,
        prev BLOB NOT NULL,
        PRIMARY KEY (contact_id, seq)
    ) WITHOUT ROWID;
    INSERT INTO meta (key, value) VALUES ('write_counter', 0);
    """,
    # 2: relays — my relays (with credentials), read cursors for every relay I pull from, and
    # per-relay delivery state of each outbox envelope (retried with backoff)
    """
    CREATE TABLE relays (
        url TEXT PRIMARY KEY,
        credential TEXT NOT NULL,
        added TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE relay_state (
        url TEXT PRIMARY KEY,
        cursor INTEGER NOT NULL DEFAULT 0,
        last_ok TEXT,
        last_error TEXT
    ) WITHOUT ROWID;
    CREATE TABLE outbox_delivery (
        envelope_id TEXT NOT NULL REFERENCES outbox(envelope_id) ON DELETE CASCADE,
        url TEXT NOT NULL,
        delivered TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_try TEXT,
        PRIMARY KEY (envelope_id, url)
    ) WITHOUT ROWID;
    """,
    # 3: drafts — unsent entries the composer autosaves (title, body, the audience picked so far)
    """
    CREATE TABLE drafts (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL DEFAULT '',
        body TEXT NOT NULL DEFAULT '',
        audience TEXT NOT NULL DEFAULT '[]',
        updated TEXT NOT NULL
    );
    """,
    # 4: conversations and defenses — thread keys and comments, edits, expiry (posts and outbox),
    # contact requests from strangers, blocked and muted contacts
    """
    ALTER TABLE posts ADD COLUMN thread_key BLOB;
    ALTER TABLE posts ADD COLUMN expires TEXT;
    ALTER TABLE posts ADD COLUMN edited TEXT;
    CREATE INDEX posts_expires ON posts(expires) WHERE expires IS NOT NULL;
    ALTER TABLE outbox ADD COLUMN expires INTEGER;
    CREATE INDEX outbox_expires ON outbox(expires) WHERE expires IS NOT NULL;
    CREATE TABLE comments (
        post_id TEXT NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
        id TEXT NOT NULL,
        author_key BLOB,
        author_label TEXT NOT NULL DEFAULT '',
        body TEXT NOT NULL,
        created TEXT NOT NULL,
        hidden INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (post_id, id)
    );
    CREATE TABLE requests (
        id INTEGER PRIMARY KEY,
        sender_key BLOB NOT NULL UNIQUE,
        card TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        received TEXT NOT NULL
    );
    ALTER TABLE contacts ADD COLUMN blocked INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE contacts ADD COLUMN muted INTEGER NOT NULL DEFAULT 0;
    """,
    # 5: unread state — received entries arrive unread until shown; mine never are, and entries stored
    # before this migration stay read
    """
    ALTER TABLE posts ADD COLUMN unread INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX posts_unread ON posts(author_id) WHERE unread;
    """,
    # 6: delivery you can trust — chain state keyed by public key (survives contact remove/re-add and
    # block/unblock), tombstones of deleted entries, operations waiting for their target, edits ordered
    # by the author's sequence, the claimed time of received entries, and derived envelopes' targets
    """
    CREATE TABLE chain_send (
        public_key BLOB PRIMARY KEY,
        seq INTEGER NOT NULL,
        prev BLOB NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO chain_send (public_key, seq, prev) SELECT public_key, send_seq, send_prev FROM contacts;
    CREATE TABLE chain_received (
        public_key BLOB NOT NULL,
        seq INTEGER NOT NULL,
        digest BLOB NOT NULL,
        prev BLOB NOT NULL,
        PRIMARY KEY (public_key, seq)
    ) WITHOUT ROWID;
    INSERT INTO chain_received (public_key, seq, digest, prev)
        SELECT k.public_key, r.seq, r.digest, r.prev FROM received_seq r JOIN contacts k ON k.id = r.contact_id;
    DROP TABLE received_seq;
    CREATE TABLE tombstones (
        author_key BLOB NOT NULL,
        remote_id TEXT NOT NULL,
        deleted TEXT NOT NULL,
        PRIMARY KEY (author_key, remote_id)
    ) WITHOUT ROWID;
    CREATE TABLE pending_ops (
        author_key BLOB NOT NULL,
        seq INTEGER NOT NULL,
        remote_id TEXT NOT NULL,
        payload BLOB NOT NULL,
        received TEXT NOT NULL,
        PRIMARY KEY (author_key, seq)
    ) WITHOUT ROWID;
    CREATE INDEX pending_ops_target ON pending_ops(author_key, remote_id);
    ALTER TABLE posts ADD COLUMN edit_seq INTEGER;
    ALTER TABLE posts ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE posts ADD COLUMN claimed TEXT;
    ALTER TABLE outbox ADD COLUMN target TEXT;
    CREATE INDEX outbox_target ON outbox(target) WHERE target IS NOT NULL;
    CREATE TABLE post_versions (
        post_id TEXT NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
        digest BLOB NOT NULL,
        PRIMARY KEY (post_id, digest)
    ) WITHOUT ROWID;
    ALTER TABLE comments ADD COLUMN entry_digest BLOB;
    ALTER TABLE comments ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
    DROP INDEX posts_created;
    CREATE INDEX posts_order ON posts(created DESC, seq DESC, id DESC, author_id);
    CREATE INDEX posts_mine_seq ON posts(seq) WHERE author_id IS NULL;
    CREATE TABLE post_circles (
        post_id TEXT NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
        circle_id INTEGER NOT NULL REFERENCES circles(id) ON DELETE CASCADE,
        PRIMARY KEY (post_id, circle_id)
    ) WITHOUT ROWID;
    INSERT OR IGNORE INTO post_circles (post_id, circle_id)
        SELECT p.id, c.id FROM posts p, json_each(p.audience, '$.circles') j JOIN circles c ON c.name = j.value
        WHERE p.author_id IS NULL AND p.audience IS NOT NULL;
    ALTER TABLE post_readers ADD COLUMN direct INTEGER NOT NULL DEFAULT 0;
    UPDATE post_readers SET direct = 1 WHERE EXISTS (
        SELECT 1 FROM posts p, json_each(p.audience, '$.contacts') j
        WHERE p.id = post_readers.post_id AND j.value = post_readers.name);
    """,
    # 7: search — a full-text index (SQLite FTS5) of every entry's title, body and visible comments.
    # It lives in this database, so SQLCipher encrypts it like everything else. Each entry has one
    # index document; post_search_map ties documents to entries with explicit numbers (posts has no
    # INTEGER PRIMARY KEY, so its rowids may change under VACUUM). Triggers keep the index in step
    # with every insert, edit, deletion (expiry and cascades included) and comment change.
    """
    CREATE VIRTUAL TABLE post_search USING fts5(
        title, body, comments, tokenize = 'unicode61 remove_diacritics 2'
    );
    CREATE TABLE post_search_map (
        post_id TEXT PRIMARY KEY,
        doc INTEGER NOT NULL UNIQUE
    ) WITHOUT ROWID;
    INSERT INTO post_search_map (post_id, doc) SELECT id, row_number() OVER (ORDER BY rowid) FROM posts;
    INSERT INTO post_search (rowid, title, body, comments)
        SELECT m.doc, p.title, p.body,
               coalesce((SELECT group_concat(c.body, ' ') FROM comments c
                         WHERE c.post_id = p.id AND NOT c.hidden), '')
        FROM posts p JOIN post_search_map m ON m.post_id = p.id;
    CREATE TRIGGER post_search_insert AFTER INSERT ON posts BEGIN
        INSERT INTO post_search_map (post_id, doc)
            VALUES (new.id, (SELECT coalesce(max(doc), 0) + 1 FROM post_search_map));
        INSERT INTO post_search (rowid, title, body, comments)
            VALUES ((SELECT doc FROM post_search_map WHERE post_id = new.id), new.title, new.body, '');
    END;
    CREATE TRIGGER post_search_edit AFTER UPDATE OF title, body ON posts BEGIN
        UPDATE post_search SET title = new.title, body = new.body
            WHERE rowid = (SELECT doc FROM post_search_map WHERE post_id = new.id);
    END;
    CREATE TRIGGER post_search_delete AFTER DELETE ON posts BEGIN
        DELETE FROM post_search WHERE rowid = (SELECT doc FROM post_search_map WHERE post_id = old.id);
        DELETE FROM post_search_map WHERE post_id = old.id;
    END;
    CREATE TRIGGER post_search_comment_insert AFTER INSERT ON comments BEGIN
        UPDATE post_search SET comments = coalesce((SELECT group_concat(c.body, ' ') FROM comments c
                                                    WHERE c.post_id = new.post_id AND NOT c.hidden), '')
            WHERE rowid = (SELECT doc FROM post_search_map WHERE post_id = new.post_id);
    END;
    CREATE TRIGGER post_search_comment_update AFTER UPDATE ON comments BEGIN
        UPDATE post_search SET comments = coalesce((SELECT group_concat(c.body, ' ') FROM comments c
                                                    WHERE c.post_id = new.post_id AND NOT c.hidden), '')
            WHERE rowid = (SELECT doc FROM post_search_map WHERE post_id = new.post_id);
    END;
    CREATE TRIGGER post_search_comment_delete AFTER DELETE ON comments BEGIN
        UPDATE post_search SET comments = coalesce((SELECT group_concat(c.body, ' ') FROM comments c
                                                    WHERE c.post_id = old.post_id AND NOT c.hidden), '')
            WHERE rowid = (SELECT doc FROM post_search_map WHERE post_id = old.post_id);
    END;
    """,
    # 8: relay retry — when the watch loop tries a relay that is down again (NULL: up, or not watching)
    """
    ALTER TABLE relay_state ADD COLUMN retry_at TEXT;
    """,
    # 9: v2 keys (docs/design-v2.md §15.1, the forward-secrecy part): the epoch seed (current one only),
    # epoch keys (secret NULL once erased), my contacts' prekeys and capabilities, envelopes located under
    # a deleted key (§5.4), and how each entry was sealed (v2, or the counted v1 fallback). Data step:
    # generation 0 with a random seed, epoch 0 starting at the migration; one announcement owed to every
    # contact (sent by the core's tick).
    """
    CREATE TABLE epoch_seed (
        gen INTEGER PRIMARY KEY,
        epoch INTEGER NOT NULL,
        seed BLOB,
        commitment BLOB NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE epoch_keys (
        kind TEXT NOT NULL CHECK (kind IN ('prekey', 'self')),
        kid INTEGER NOT NULL,
        gen INTEGER NOT NULL,
        epoch INTEGER NOT NULL,
        secret BLOB,
        public_key BLOB,
        start INTEGER NOT NULL,
        end INTEGER NOT NULL,
        delete_at INTEGER NOT NULL,
        deleted_at INTEGER,
        announce_at INTEGER,
        PRIMARY KEY (kind, gen, epoch)
    ) WITHOUT ROWID;
    CREATE INDEX epoch_keys_kid ON epoch_keys(kid);
    CREATE TABLE peer_prekeys (
        peer_key BLOB NOT NULL,
        gen INTEGER NOT NULL,
        kid INTEGER NOT NULL,
        public_key BLOB NOT NULL,
        start INTEGER NOT NULL,
        end INTEGER NOT NULL,
        delete_at INTEGER NOT NULL,
        received TEXT NOT NULL,
        PRIMARY KEY (peer_key, gen, kid)
    ) WITHOUT ROWID;
    CREATE TABLE peer_caps (
        peer_key BLOB PRIMARY KEY,
        v2 INTEGER NOT NULL DEFAULT 0,
        prekey_conflict TEXT,
        announce_owed INTEGER NOT NULL DEFAULT 0,
        announced_gen INTEGER,
        announced_epoch INTEGER
    ) WITHOUT ROWID;
    CREATE TABLE key_deleted_seen (
        envelope_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        kid INTEGER NOT NULL,
        deleted_at INTEGER NOT NULL,
        seen TEXT NOT NULL
    ) WITHOUT ROWID;
    ALTER TABLE posts ADD COLUMN envelope_version INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE posts ADD COLUMN fallback_readers INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE post_readers ADD COLUMN sealed_version INTEGER NOT NULL DEFAULT 1;
    INSERT INTO peer_caps (peer_key, announce_owed) SELECT public_key, 1 FROM contacts;
    """,
    # 10: shard routes (docs/design-sharding.md §3, §10) — my shard seed per relay I read (drawn once,
    # fixed), contacts' seeds per relay (from their cards and routes messages), which contacts were
    # told my seed on which relay, and the recipients' keys of each outbox envelope (tags are computed
    # per relay at push time from the latest known seeds; no row: broadcast)
    """
    CREATE TABLE relay_routes (
        url TEXT PRIMARY KEY,
        seed INTEGER NOT NULL CHECK (seed BETWEEN 0 AND 65535),
        drawn TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE peer_routes (
        peer_key BLOB NOT NULL,
        url TEXT NOT NULL,
        seed INTEGER NOT NULL CHECK (seed BETWEEN 0 AND 65535),
        updated TEXT NOT NULL,
        PRIMARY KEY (peer_key, url)
    ) WITHOUT ROWID;
    CREATE TABLE routes_sent (
        peer_key BLOB NOT NULL,
        url TEXT NOT NULL,
        seed INTEGER NOT NULL,
        PRIMARY KEY (peer_key, url)
    ) WITHOUT ROWID;
    CREATE TABLE outbox_recipients (
        envelope_id TEXT NOT NULL REFERENCES outbox(envelope_id) ON DELETE CASCADE,
        peer_key BLOB NOT NULL,
        PRIMARY KEY (envelope_id, peer_key)
    ) WITHOUT ROWID;
    """,
    # 11: linked devices (docs/design-v2.md §8, §15.1, the device parts) — this device's keys and Lamport
    # counter, the list of my devices, per-field LWW clocks of synced objects, ops not yet sealed, a
    # stable id per circle (names may collide across devices), the Lamport time of my entries, the
    # device a draft belongs to; received chain positions and waiting operations keyed by (key, dev):
    # chains are per (author device, reader), and v1 positions are dev = 8 zero bytes
    """
    CREATE TABLE device (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        devid BLOB NOT NULL,
        name TEXT NOT NULL,
        secret_key BLOB NOT NULL,
        public_key BLOB NOT NULL,
        devtag_key BLOB NOT NULL,
        lamport INTEGER NOT NULL DEFAULT 0,
        previous_secret_key BLOB,
        previous_erase_at INTEGER,
        v1_sender INTEGER NOT NULL DEFAULT 0,
        created TEXT NOT NULL
    );
    CREATE TABLE devices (
        devid BLOB PRIMARY KEY,
        public_key BLOB NOT NULL,
        name TEXT NOT NULL,
        added TEXT NOT NULL,
        last_seen TEXT,
        removed TEXT,
        self_seq INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    CREATE TABLE sync_clock (
        object TEXT NOT NULL,
        field TEXT NOT NULL,
        lamport INTEGER NOT NULL,
        devid BLOB NOT NULL,
        PRIMARY KEY (object, field)
    ) WITHOUT ROWID;
    CREATE TABLE sync_outbox (op_id INTEGER PRIMARY KEY, op TEXT NOT NULL);
    ALTER TABLE circles ADD COLUMN uid BLOB;
    UPDATE circles SET uid = randomblob(16);
    CREATE UNIQUE INDEX circles_uid ON circles(uid);
    ALTER TABLE posts ADD COLUMN lamport INTEGER;
    ALTER TABLE drafts ADD COLUMN device BLOB;
    CREATE TABLE chain_received_dev (
        public_key BLOB NOT NULL,
        dev BLOB NOT NULL DEFAULT (zeroblob(8)),
        seq INTEGER NOT NULL,
        digest BLOB NOT NULL,
        prev BLOB NOT NULL,
        PRIMARY KEY (public_key, dev, seq)
    ) WITHOUT ROWID;
    INSERT INTO chain_received_dev (public_key, dev, seq, digest, prev)
        SELECT public_key, zeroblob(8), seq, digest, prev FROM chain_received;
    DROP TABLE chain_received;
    ALTER TABLE chain_received_dev RENAME TO chain_received;
    CREATE TABLE pending_ops_dev (
        author_key BLOB NOT NULL,
        dev BLOB NOT NULL DEFAULT (zeroblob(8)),
        seq INTEGER NOT NULL,
        remote_id TEXT NOT NULL,
        payload BLOB NOT NULL,
        received TEXT NOT NULL,
        PRIMARY KEY (author_key, dev, seq)
    ) WITHOUT ROWID;
    INSERT INTO pending_ops_dev (author_key, dev, seq, remote_id, payload, received)
        SELECT author_key, zeroblob(8), seq, remote_id, payload, received FROM pending_ops;
    DROP TABLE pending_ops;
    ALTER TABLE pending_ops_dev RENAME TO pending_ops;
    CREATE INDEX pending_ops_target ON pending_ops(author_key, remote_id);
    ALTER TABLE posts ADD COLUMN dev BLOB NOT NULL DEFAULT x'0000000000000000';
    """,
    # 12 (issue 15 §6, §7; docs/design-sharding.md §7): where a first read starts and retention warnings.
    # meta.first_card_at: when this identity first gave out a card (an identity that existed before
    # this migration: its creation time; a newer one: set when its first card is produced). Per relay:
    # its retention and first_seq as /v1/info last said, the last loss detected (JSON: the seqs and the
    # dates it spans, and whether it was shown) and the last approaching warning shown (its last_ok).
    """
    INSERT OR IGNORE INTO meta (key, value) SELECT 'first_card_at', created FROM identity;
    ALTER TABLE relay_state ADD COLUMN retention INTEGER;
    ALTER TABLE relay_state ADD COLUMN first_seq INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE relay_state ADD COLUMN pruned_unread TEXT;
    ALTER TABLE relay_state ADD COLUMN warned_approaching TEXT;
    """,
    # 13 (docs/design-v2.md §10.4): payloads held for a contact flagged with a prekey conflict, sealed
    # when the person releases them (``peer_key`` the contact's key; ``expires`` unix seconds for relays;
    # ``target`` the local entry id the envelope derives from; ``min_slots`` as outgoing.send takes it).
    """
    CREATE TABLE held_sends (
        id INTEGER PRIMARY KEY,
        peer_key BLOB NOT NULL,
        payload BLOB NOT NULL,
        expires INTEGER,
        target TEXT,
        min_slots INTEGER NOT NULL DEFAULT 0,
        created TEXT NOT NULL
    );
    CREATE INDEX held_sends_peer ON held_sends(peer_key);
    """,
    # 14 (design-v2 §7, §8.1): sending positions per (reader key, envelope version). A v1 envelope and a
    # v2 one land on two different chains at the reader ((S, 0⁸) and (S, my device tag)), so each keeps
    # its own counter: one shared counter made the reader count the other chain's numbers as missing.
    # Positions written before are copied to both (no sequence number is ever reused on either chain).
    """
    CREATE TABLE chain_send_v (
        public_key BLOB NOT NULL,
        version INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        prev BLOB NOT NULL,
        PRIMARY KEY (public_key, version)
    ) WITHOUT ROWID;
    INSERT INTO chain_send_v (public_key, version, seq, prev) SELECT public_key, 1, seq, prev FROM chain_send;
    INSERT INTO chain_send_v (public_key, version, seq, prev) SELECT public_key, 2, seq, prev FROM chain_send;
    DROP TABLE chain_send;
    ALTER TABLE chain_send_v RENAME TO chain_send;
    """,
]


def _v2_keys(conn: Any, context: MigrationContext) -> None:
    """Data step of migration 9: generation 0 (design-v2 §15.1), and this device's stand-in device
    id and device-tag key (meta ``devid``, 8 random bytes, and ``devtag_key``, 32; hex) until the
    device migration makes the ``device`` row — which takes these two values over, so that my v2
    chains and self slots keep their device tag and id."""
    from tui_sns.store.epochs import create_generation

    create_generation(conn, 0, context.rng(32), context.now)
    conn.executemany(
        "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
        [("devid", context.rng(8).hex()), ("devtag_key", context.rng(32).hex())],
    )


DATA_STEPS: dict[int, DataStep] = {9: _v2_keys}
"""Migration number → its data step (only migrations that need one)."""

LATEST = len(MIGRATIONS)
