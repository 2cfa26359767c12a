"""The review tables beside the results in ``results.db``, and the transactions every review change runs in.

Leases, skips and sessions live in the same SQLite file as the results, so any number of review servers (threads or
processes) over one output folder share them; every change takes the write lock first (``BEGIN IMMEDIATE``), so two
servers can never both claim one field.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from pipeline.flows.store import ResultStore

REVIEW_SCHEMA = """
CREATE TABLE IF NOT EXISTS review_leases (   -- who is looking at a field, until when
    field_id INTEGER PRIMARY KEY,
    session TEXT NOT NULL,                    -- hash of the session cookie
    reviewer TEXT NOT NULL,
    leased_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS review_leases_session ON review_leases (session);
CREATE TABLE IF NOT EXISTS review_skips (    -- fields a reviewer put aside: offered to them again only at the end
    field_id INTEGER NOT NULL,
    reviewer TEXT NOT NULL,
    skipped_at TEXT NOT NULL,
    PRIMARY KEY (field_id, reviewer)
);
CREATE TABLE IF NOT EXISTS review_sessions (
    id TEXT PRIMARY KEY,                      -- SHA-256 of the cookie value: the database holds no usable cookie
    reviewer TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    flash TEXT                                -- a message for the next page shown
);
"""


class NoResults(RuntimeError):
    """The output folder has no results store to review."""


def stamp(moment: datetime) -> str:
    """Timestamps as the store writes them (UTC ISO, milliseconds): they sort as text."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def utcnow() -> datetime:
    return datetime.now(UTC)


def prepare_store(out_dir: Path) -> Path:
    """Check there are results, bring the store's schema up to date (corrections) and add the review tables."""
    path = out_dir / "results.db"
    if not path.is_file():
        raise NoResults(f"no results.db in {out_dir}: run `pipeline run INPUT --out {out_dir}` first")
    store = ResultStore(path)  # creates tables missing in an older store
    try:
        store.db.executescript(REVIEW_SCHEMA)
    finally:
        store.close()
    return path


def connect(path: Path, threads: bool = False) -> sqlite3.Connection:
    """A connection for one request or thread (cheap to open). ``threads``: a request's connection is opened on one
    worker thread and used on another, one after the other, never at once."""
    db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=not threads)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA busy_timeout=30000")
    return db


@contextmanager
def immediate(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction that holds the lock from its first statement: read-then-claim cannot race."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


@contextmanager
def snapshot(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A read transaction: several queries see one consistent state of the store."""
    db.execute("BEGIN")
    try:
        yield db
    finally:
        db.execute("COMMIT")
