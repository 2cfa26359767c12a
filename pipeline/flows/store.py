"""The embedded results store (SQLite): the one place results live, keyed by page content hash.

Every batch is written in one transaction, so a killed run leaves the store exactly as after its last finished
batch. WAL mode lets a reviewer's page read while a run writes. Re-running is safe: a page already stored is
skipped (or replaced with ``force``), never duplicated.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

SCHEMA_VERSION = 2  # 2: the corrections table (created in place in a version 1 store)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    inputs TEXT NOT NULL,            -- JSON list of the input paths given
    kind TEXT NOT NULL,
    weights_sha256 TEXT NOT NULL,
    threshold REAL NOT NULL,
    target_error REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL,            -- of the file's bytes
    page INTEGER NOT NULL,           -- 0-based page within the file
    document TEXT NOT NULL,          -- path relative to its input folder, as first read
    kind TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'error')),
    error TEXT,
    width INTEGER,
    height INTEGER,
    dpi REAL,
    batch_id INTEGER REFERENCES batches(id),
    processed_at TEXT NOT NULL,
    UNIQUE (sha256, page)
);
CREATE TABLE IF NOT EXISTS sightings (   -- every name a file's content was seen under
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    first_seen TEXT NOT NULL,
    PRIMARY KEY (path, sha256)
);
CREATE TABLE IF NOT EXISTS fields (
    id INTEGER PRIMARY KEY,
    document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    name TEXT NOT NULL CHECK (name IN ('amount', 'zip', 'number')),
    status TEXT NOT NULL CHECK (status IN ('accepted', 'rejected', 'corrected')),
    value TEXT,
    digits TEXT,
    text TEXT,
    confidence REAL,
    reason TEXT,
    bbox TEXT,                       -- JSON [x0, y0, x1, y1] in page pixels
    crop TEXT,                       -- review crop, relative to the output folder
    review_state TEXT NOT NULL DEFAULT 'none'
        CHECK (review_state IN ('none', 'pending', 'done', 'unreadable')),
    UNIQUE (document_id, position)
);
CREATE INDEX IF NOT EXISTS fields_review ON fields (review_state, id);
CREATE TABLE IF NOT EXISTS characters (
    field_id INTEGER NOT NULL REFERENCES fields(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    char TEXT NOT NULL,
    bbox TEXT,
    confidence REAL,
    alternatives TEXT,               -- JSON [{"char": "7", "probability": 0.02}, ...]
    PRIMARY KEY (field_id, position)
);
CREATE TABLE IF NOT EXISTS corrections (  -- every reviewer decision, append-only: who, when, old and new
    id INTEGER PRIMARY KEY,
    field_id INTEGER NOT NULL,       -- the field row decided on (no foreign key: `run --force` replaces rows)
    sha256 TEXT NOT NULL,            -- the field's stable identity: page content, page, position, name
    page INTEGER NOT NULL,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('correct', 'unreadable', 'reopen')),
    reviewer TEXT NOT NULL,
    decided_at TEXT NOT NULL,
    old_status TEXT,                 -- the field before the decision (the machine's reading for a first decision)
    old_value TEXT,
    old_digits TEXT,
    old_text TEXT,
    new_value TEXT,                  -- what the reviewer keyed (normalised), for 'correct'
    new_digits TEXT,
    new_text TEXT
);
CREATE INDEX IF NOT EXISTS corrections_field ON corrections (sha256, page, position, id);
"""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def latest_decision(db: sqlite3.Connection, sha256: str, page: int, position: int, name: str) -> sqlite3.Row | None:
    """The last reviewer decision on a field, found by its stable identity (field rows change on re-reads)."""
    return db.execute(
        "SELECT * FROM corrections WHERE sha256 = ? AND page = ? AND position = ? AND name = ?"
        " ORDER BY id DESC LIMIT 1",
        (sha256, page, position, name),
    ).fetchone()


def apply_decision(db: sqlite3.Connection, field_id: int, decision: sqlite3.Row | dict) -> None:
    """Make a field row say what a reviewer decided: a keyed value makes it ``corrected``, unreadable keeps it
    ``rejected``; a reopened decision leaves the field as read, back in the queue."""
    action = decision["action"]
    if action == "correct":
        db.execute(
            "UPDATE fields SET status = 'corrected', value = ?, digits = ?, text = ?, review_state = 'done'"
            " WHERE id = ?",
            (decision["new_value"], decision["new_digits"], decision["new_text"], field_id),
        )
    elif action == "unreadable":
        db.execute("UPDATE fields SET status = 'rejected', review_state = 'unreadable' WHERE id = ?", (field_id,))


class ResultStore:
    """A connection to ``results.db`` with the few operations the flow and the exports need."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.executescript(SCHEMA)
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def start_batch(self, inputs: list[str], kind: str, weights_sha256: str, threshold: float, target: float) -> int:
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO batches (started_at, inputs, kind, weights_sha256, threshold, target_error)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (now(), json.dumps(inputs), kind, weights_sha256, threshold, target),
            )
            return int(cursor.lastrowid)

    def finish_batch(self, batch_id: int) -> None:
        with self.transaction() as db:
            db.execute("UPDATE batches SET finished_at = ? WHERE id = ?", (now(), batch_id))

    def stored_batches(self, hashes: Iterable[str]) -> dict[str, int]:
        """For each of these content hashes that the store holds, the run that stored it (asked a chunk of files
        at a time, so the flow never loads every hash the store holds)."""
        wanted = list(hashes)
        stored: dict[str, int] = {}
        for start in range(0, len(wanted), 500):  # well under SQLite's limit on bound parameters
            part = wanted[start : start + 500]
            marks = ",".join("?" * len(part))
            query = f"SELECT sha256, MAX(batch_id) FROM documents WHERE sha256 IN ({marks}) GROUP BY sha256"
            stored.update((row[0], row[1]) for row in self.db.execute(query, part))
        return stored

    def record_sightings(self, sightings: Iterable[tuple[str, str, int]]) -> None:
        """Remember every (path, sha256, size) seen, copies under other names included."""
        stamp = now()
        with self.transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO sightings (path, sha256, size, first_seen) VALUES (?, ?, ?, ?)",
                [(p, h, s, stamp) for p, h, s in sightings],
            )

    def save_documents(self, documents: list[dict], batch_id: int, force: bool = False) -> None:
        """Store one batch of document results in one transaction (all or nothing)."""
        with self.transaction() as db:
            for doc in documents:
                if force:
                    db.execute("DELETE FROM documents WHERE sha256 = ? AND page = ?", (doc["sha256"], doc["page"]))
                cursor = db.execute(
                    "INSERT OR IGNORE INTO documents (sha256, page, document, kind, status, error, width, height,"
                    " dpi, batch_id, processed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        doc["sha256"], doc["page"], doc["document"], doc["kind"], doc["status"], doc["error"],
                        doc.get("width"), doc.get("height"), doc.get("dpi"), batch_id, now(),
                    ),
                )  # fmt: skip
                if cursor.rowcount == 0:
                    continue  # stored meanwhile by another run: keep the first
                document_id = cursor.lastrowid
                for position, field in enumerate(doc["fields"]):
                    field_id = self._insert_field(db, document_id, position, field)
                    decision = latest_decision(db, doc["sha256"], doc["page"], position, field["name"])
                    if decision is not None:  # a re-read (--force) keeps what a reviewer decided
                        apply_decision(db, field_id, decision)

    @staticmethod
    def _insert_field(db: sqlite3.Connection, document_id: int, position: int, field: dict) -> int:
        review = "pending" if field["status"] == "rejected" else "none"
        cursor = db.execute(
            "INSERT INTO fields (document_id, position, name, status, value, digits, text, confidence, reason,"
            " bbox, crop, review_state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                document_id, position, field["name"], field["status"], field.get("value"), field.get("digits"),
                field.get("text"), field.get("confidence"), field.get("reason"), json.dumps(field.get("bbox")),
                field.get("crop"), review,
            ),
        )  # fmt: skip
        db.executemany(
            "INSERT INTO characters (field_id, position, char, bbox, confidence, alternatives)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [
                (
                    cursor.lastrowid, i, c["char"], json.dumps(c.get("bbox")), c.get("confidence"),
                    json.dumps(c.get("alternatives", [])),
                )
                for i, c in enumerate(field.get("characters", []))
            ],
        )  # fmt: skip
        return int(cursor.lastrowid)

    def count_documents(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM documents").fetchone()[0])

    def iter_documents(self, chunk: int = 500) -> Iterator[dict]:
        """Every stored page as a result object (the results.jsonl shape), in a stable order.

        All rows are read in one read transaction: one consistent snapshot even while a run or a reviewer writes.
        Pages are read ``chunk`` at a time with their fields and characters, so memory does not grow with the store.
        """
        own = not self.db.in_transaction
        if own:
            self.db.execute("BEGIN")
        try:
            reviews = self._reviews()
            documents = self.db.execute("SELECT * FROM documents ORDER BY document, page, id")
            while rows := documents.fetchmany(chunk):
                yield from self._documents(rows, reviews)
        finally:
            if own and self.db.in_transaction:
                self.db.execute("COMMIT")

    def _documents(self, documents: list[sqlite3.Row], reviews: dict[tuple, dict]) -> Iterator[dict]:
        """Result objects for these document rows, their fields and characters read in two queries."""
        marks = ",".join("?" * len(documents))
        ids = [d["id"] for d in documents]
        fields_by_doc: dict[int, list[sqlite3.Row]] = {}
        for f in self.db.execute(
            f"SELECT * FROM fields WHERE document_id IN ({marks}) ORDER BY document_id, position", ids
        ):
            fields_by_doc.setdefault(f["document_id"], []).append(f)
        chars_by_field: dict[int, list[dict]] = {}
        for c in self.db.execute(
            "SELECT c.* FROM characters c JOIN fields f ON f.id = c.field_id"
            f" WHERE f.document_id IN ({marks}) ORDER BY c.field_id, c.position",
            ids,
        ):
            chars_by_field.setdefault(c["field_id"], []).append(
                {
                    "char": c["char"],
                    "bbox": json.loads(c["bbox"]),
                    "confidence": c["confidence"],
                    "alternatives": json.loads(c["alternatives"]),
                }
            )
        for d in documents:
            yield {
                "document": d["document"],
                "sha256": d["sha256"],
                "page": d["page"],
                "kind": d["kind"],
                "status": d["status"],
                "error": d["error"],
                "fields": [
                    {
                        "name": f["name"],
                        "status": f["status"],
                        "value": f["value"],
                        "digits": f["digits"],
                        "text": f["text"],
                        "confidence": f["confidence"],
                        "reason": f["reason"],
                        "bbox": json.loads(f["bbox"]),
                        "crop": f["crop"],
                        "characters": chars_by_field.get(f["id"], []),
                        **reviews.get((d["sha256"], d["page"], f["position"], f["name"]), {}),
                    }
                    for f in fields_by_doc.get(d["id"], [])
                ],
            }

    def _reviews(self) -> dict[tuple, dict]:
        """``{"review": ...}`` for every field a reviewer settled, by the field's stable identity."""
        rows = self.db.execute(
            "SELECT * FROM corrections WHERE id IN (SELECT MAX(id) FROM corrections GROUP BY sha256, page, position,"
            " name) AND action != 'reopen'"
        ).fetchall()
        return {
            (r["sha256"], r["page"], r["position"], r["name"]): {
                "review": {
                    "state": "done" if r["action"] == "correct" else "unreadable",
                    "reviewer": r["reviewer"],
                    "at": r["decided_at"],
                    "machine": {
                        "status": r["old_status"], "value": r["old_value"], "digits": r["old_digits"],
                        "text": r["old_text"],
                    },
                }
            }
            for r in rows
        }  # fmt: skip
