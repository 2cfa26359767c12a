"""The queue of fields waiting for a person: oldest first, filtered, with leases so no two reviewers share one.

A reviewer (one browser session) holds at most one lease at a time. A lease lasts ``lease_seconds`` and is renewed
while the page is open; when it lapses the field goes back to the queue. A skipped field is offered to the same
reviewer again only when nothing else is left.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from pipeline.review.db import immediate, stamp

LEASE_SECONDS = 300
FIELD_KINDS = ("amount", "zip", "number")
REASONS = ("low_confidence", "segmentation_ambiguous", "bad_syntax", "not_found")


@dataclass(frozen=True)
class Filters:
    """Which part of the queue a reviewer works on (field kind, batch, reason); empty means all."""

    kind: str | None = None
    batch: int | None = None
    reason: str | None = None

    @classmethod
    def parse(cls, kind: str | None, batch: str | None, reason: str | None) -> Filters:
        """From query or form values; anything unknown is ignored rather than trusted."""
        return cls(
            kind if kind in FIELD_KINDS else None,
            int(batch) if batch and batch.isascii() and batch.isdigit() else None,
            reason if reason in REASONS else None,
        )

    def where(self) -> tuple[str, list]:
        """SQL conditions on ``f`` (fields) and ``d`` (documents), with their parameters."""
        clauses, params = [], []
        if self.kind:
            clauses.append("f.name = ?")
            params.append(self.kind)
        if self.batch is not None:
            clauses.append("d.batch_id = ?")
            params.append(self.batch)
        if self.reason:
            clauses.append("f.reason = ?")
            params.append(self.reason)
        return "".join(f" AND {c}" for c in clauses), params

    def query(self) -> str:
        """The filters as a query string (empty when none), for links and redirects."""
        items = {"kind": self.kind, "batch": self.batch, "reason": self.reason}
        return urlencode({k: v for k, v in items.items() if v is not None})

    def matches(self, db: sqlite3.Connection, field_id: int) -> bool:
        where, params = self.where()
        row = db.execute(
            f"SELECT 1 FROM fields f JOIN documents d ON d.id = f.document_id WHERE f.id = ?{where}",
            [field_id, *params],
        ).fetchone()
        return row is not None


def _expire(db: sqlite3.Connection, now: datetime) -> None:
    db.execute("DELETE FROM review_leases WHERE expires_at <= ?", (stamp(now),))


def _next_free(db: sqlite3.Connection, reviewer: str, filters: Filters, exclude: int | None = None) -> int | None:
    """The oldest pending field nobody holds, the reviewer's own skipped ones last."""
    where, params = filters.where()
    row = db.execute(
        "SELECT f.id FROM fields f JOIN documents d ON d.id = f.document_id"
        " LEFT JOIN review_skips s ON s.field_id = f.id AND s.reviewer = ?"
        " WHERE f.review_state = 'pending' AND f.id NOT IN (SELECT field_id FROM review_leases)"
        f" AND f.id != ?{where}"
        " ORDER BY s.skipped_at IS NOT NULL, s.skipped_at, d.processed_at, f.id LIMIT 1",
        [reviewer, -1 if exclude is None else exclude, *params],
    ).fetchone()
    return None if row is None else int(row[0])


def held(db: sqlite3.Connection, session: str, now: datetime) -> int | None:
    """The field this session holds a live lease on, if any."""
    row = db.execute(
        "SELECT field_id FROM review_leases WHERE session = ? AND expires_at > ?", (session, stamp(now))
    ).fetchone()
    return None if row is None else int(row[0])


def claim(
    db: sqlite3.Connection,
    session: str,
    reviewer: str,
    filters: Filters,
    now: datetime,
    lease_seconds: float = LEASE_SECONDS,
) -> int | None:
    """The field this session should show: the one it holds (still pending, still matching), else the next free one.

    Runs in one ``BEGIN IMMEDIATE`` transaction, so concurrent claims (threads or processes) never get one field.
    """
    until = stamp(now + timedelta(seconds=lease_seconds))
    with immediate(db):
        _expire(db, now)
        current = held(db, session, now)
        if current is not None:
            state = db.execute("SELECT review_state FROM fields WHERE id = ?", (current,)).fetchone()
            if state is not None and state[0] == "pending" and filters.matches(db, current):
                db.execute("UPDATE review_leases SET expires_at = ? WHERE field_id = ?", (until, current))
                return current
        db.execute("DELETE FROM review_leases WHERE session = ?", (session,))
        field_id = _next_free(db, reviewer, filters)
        if field_id is not None:
            db.execute(
                "INSERT INTO review_leases (field_id, session, reviewer, leased_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                (field_id, session, reviewer, stamp(now), until),
            )
        return field_id


def lease_to(
    db: sqlite3.Connection, session: str, reviewer: str, field_id: int, now: datetime, lease_seconds: float
) -> None:
    """Give this session the lease on one field (inside the caller's transaction), dropping any other it held."""
    db.execute("DELETE FROM review_leases WHERE session = ? OR field_id = ?", (session, field_id))
    db.execute(
        "INSERT INTO review_leases (field_id, session, reviewer, leased_at, expires_at) VALUES (?, ?, ?, ?, ?)",
        (field_id, session, reviewer, stamp(now), stamp(now + timedelta(seconds=lease_seconds))),
    )


def renew(db: sqlite3.Connection, session: str, field_id: int, now: datetime, lease_seconds: float) -> bool:
    """Extend this session's lease while the page stays open; False when it has lapsed or was never held."""
    with immediate(db):
        cursor = db.execute(
            "UPDATE review_leases SET expires_at = ? WHERE field_id = ? AND session = ? AND expires_at > ?",
            (stamp(now + timedelta(seconds=lease_seconds)), field_id, session, stamp(now)),
        )
        return cursor.rowcount == 1


def skip(db: sqlite3.Connection, session: str, reviewer: str, field_id: int, now: datetime) -> None:
    """Put a field aside: its lease is dropped and it comes back to this reviewer only at the end."""
    with immediate(db):
        db.execute("DELETE FROM review_leases WHERE field_id = ? AND session = ?", (field_id, session))
        db.execute(
            "INSERT OR REPLACE INTO review_skips (field_id, reviewer, skipped_at) VALUES (?, ?, ?)",
            (field_id, reviewer, stamp(now)),
        )


def release(db: sqlite3.Connection, session: str) -> None:
    """Drop whatever this session holds (logging out, changing filters)."""
    with immediate(db):
        db.execute("DELETE FROM review_leases WHERE session = ?", (session,))


def peek_next(db: sqlite3.Connection, reviewer: str, filters: Filters, current: int | None) -> int | None:
    """The field likely to come after the current one (for prefetching its crop); claims nothing."""
    return _next_free(db, reviewer, filters, exclude=current)


@dataclass(frozen=True)
class Progress:
    """Counts for the progress line: in the filtered queue, and overall."""

    pending: int  # still to review (filtered)
    held_by_others: int  # of those, being looked at by someone else right now
    done: int  # settled with a value (filtered)
    unreadable: int  # settled as unreadable (filtered)
    mine: int  # this reviewer's decisions in this session

    @property
    def total(self) -> int:
        return self.pending + self.done + self.unreadable

    @property
    def percent(self) -> int:
        return round(100 * (self.done + self.unreadable) / self.total) if self.total else 100


def progress(
    db: sqlite3.Connection, filters: Filters, reviewer: str, since: str, now: datetime, session: str = ""
) -> Progress:
    where, params = filters.where()
    counts = dict(
        db.execute(
            "SELECT f.review_state, COUNT(*) FROM fields f JOIN documents d ON d.id = f.document_id"
            f" WHERE f.review_state != 'none'{where} GROUP BY f.review_state",
            params,
        ).fetchall()
    )
    others = db.execute(
        "SELECT COUNT(*) FROM review_leases l JOIN fields f ON f.id = l.field_id JOIN documents d"
        f" ON d.id = f.document_id WHERE l.expires_at > ? AND l.session != ? AND f.review_state = 'pending'{where}",
        [stamp(now), session, *params],
    ).fetchone()[0]
    mine = db.execute(  # decisions of this session that still stand (an undone one does not count)
        "SELECT COUNT(*) FROM corrections c WHERE c.reviewer = ? AND c.decided_at >= ? AND c.action != 'reopen'"
        " AND c.id = (SELECT MAX(id) FROM corrections WHERE sha256 = c.sha256 AND page = c.page"
        " AND position = c.position AND name = c.name)",
        (reviewer, since),
    ).fetchone()[0]
    return Progress(
        counts.get("pending", 0), int(others), counts.get("done", 0), counts.get("unreadable", 0), int(mine)
    )


def filter_choices(db: sqlite3.Connection) -> dict[str, list]:
    """What the filter menus offer: kinds, batches and reasons that have fields waiting."""
    kinds = [r[0] for r in db.execute("SELECT DISTINCT name FROM fields WHERE review_state = 'pending' ORDER BY 1")]
    reasons = [
        r[0]
        for r in db.execute(
            "SELECT DISTINCT reason FROM fields WHERE review_state = 'pending' AND reason IS NOT NULL ORDER BY 1"
        )
    ]
    batches = db.execute(
        "SELECT b.id, b.started_at, COUNT(f.id) AS waiting FROM batches b JOIN documents d ON d.batch_id = b.id"
        " JOIN fields f ON f.document_id = d.id AND f.review_state = 'pending' GROUP BY b.id ORDER BY b.id"
    ).fetchall()
    return {"kinds": kinds, "reasons": reasons, "batches": [dict(b) for b in batches]}
