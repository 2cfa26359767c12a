"""A reviewer's decision on a field: stored with who, when, old and new values, and applied to the field.

The corrections table is an append-only log; the field row always says the latest decision (``corrected`` with the
keyed value, or ``rejected`` and unreadable). Undo appends a ``reopen`` that puts the field back as the machine read
it, leased to the reviewer who undid it.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from pipeline.flows.store import apply_decision
from pipeline.review.db import immediate, stamp
from pipeline.review.keyed import Keyed
from pipeline.review.queue import lease_to


class Conflict(Exception):
    """The decision cannot be taken: the field was settled already, or someone else holds it now."""


def _field(db: sqlite3.Connection, field_id: int) -> sqlite3.Row:
    row = db.execute(
        "SELECT f.*, d.sha256, d.page FROM fields f JOIN documents d ON d.id = f.document_id WHERE f.id = ?",
        (field_id,),
    ).fetchone()
    if row is None:
        raise Conflict(f"field {field_id} is no longer in the results (read again with --force?)")
    return row


def _log(
    db: sqlite3.Connection, field: sqlite3.Row, action: str, reviewer: str, now: datetime, new: Keyed | None
) -> dict:
    decision = {
        "field_id": field["id"], "sha256": field["sha256"], "page": field["page"], "position": field["position"],
        "name": field["name"], "action": action, "reviewer": reviewer, "decided_at": stamp(now),
        "old_status": field["status"], "old_value": field["value"], "old_digits": field["digits"],
        "old_text": field["text"], "new_value": new.value if new else None, "new_digits": new.digits if new else None,
        "new_text": new.text if new else None,
    }  # fmt: skip
    marks = ", ".join("?" * len(decision))
    db.execute(f"INSERT INTO corrections ({', '.join(decision)}) VALUES ({marks})", list(decision.values()))
    return decision


def decide(
    db: sqlite3.Connection,
    field_id: int,
    session: str,
    reviewer: str,
    action: str,
    keyed: Keyed | None,
    now: datetime,
) -> None:
    """Record ``correct`` (with the keyed value) or ``unreadable`` for a pending field, in one transaction.

    Allowed when this session holds the field's lease, or when nobody holds it any more (a lapsed lease that no one
    else took); refused with :class:`Conflict` when the field is settled or leased to someone else.
    """
    if action not in ("correct", "unreadable") or (action == "correct") != (keyed is not None):
        raise ValueError(f"bad decision {action!r}")
    with immediate(db):
        field = _field(db, field_id)
        if field["review_state"] != "pending":
            last = db.execute(
                "SELECT reviewer, decided_at FROM corrections WHERE field_id = ? ORDER BY id DESC LIMIT 1", (field_id,)
            ).fetchone()
            who = f" by {last['reviewer']} at {last['decided_at'][:19].replace('T', ' ')} UTC" if last else ""
            raise Conflict(f"Field {field_id} was already settled{who}; your entry was not saved.")
        lease = db.execute(
            "SELECT session, reviewer FROM review_leases WHERE field_id = ? AND expires_at > ?", (field_id, stamp(now))
        ).fetchone()
        if lease is not None and lease["session"] != session:
            raise Conflict(
                f"Field {field_id} is now with {lease['reviewer']} (your lease had lapsed); your entry was not saved."
            )
        _log(db, field, action, reviewer, now, keyed)
        new = {"new_value": keyed.value, "new_digits": keyed.digits, "new_text": keyed.text} if keyed else {}
        apply_decision(db, field_id, {"action": action, **new})
        db.execute("DELETE FROM review_leases WHERE field_id = ?", (field_id,))
        db.execute("DELETE FROM review_skips WHERE field_id = ?", (field_id,))


def reopen_last(
    db: sqlite3.Connection, session: str, reviewer: str, now: datetime, lease_seconds: float
) -> int | None:
    """Undo this reviewer's latest decision that still stands: the field goes back to pending, leased to them.

    Returns the field id, or None when there is nothing to undo (no decision, or it was changed since).
    """
    with immediate(db):
        last = db.execute(
            "SELECT * FROM corrections WHERE reviewer = ? AND action != 'reopen' ORDER BY id DESC LIMIT 1", (reviewer,)
        ).fetchone()
        if last is None:
            return None
        newest = db.execute(
            "SELECT MAX(id) FROM corrections WHERE sha256 = ? AND page = ? AND position = ? AND name = ?",
            (last["sha256"], last["page"], last["position"], last["name"]),
        ).fetchone()[0]
        field = db.execute(
            "SELECT f.*, d.sha256, d.page FROM fields f JOIN documents d ON d.id = f.document_id"
            " WHERE d.sha256 = ? AND d.page = ? AND f.position = ? AND f.name = ?",
            (last["sha256"], last["page"], last["position"], last["name"]),
        ).fetchone()
        if newest != last["id"] or field is None:
            return None
        _log(db, field, "reopen", reviewer, now, None)
        db.execute(
            "UPDATE fields SET status = ?, value = ?, digits = ?, text = ?, review_state = 'pending' WHERE id = ?",
            (last["old_status"], last["old_value"], last["old_digits"], last["old_text"], field["id"]),
        )
        lease_to(db, session, reviewer, field["id"], now, lease_seconds)
        return int(field["id"])


def previous_entry(db: sqlite3.Connection, field_id: int) -> str | None:
    """What was keyed before an undo (to pre-fill, so a typo is fixed, not retyped); None otherwise."""
    row = db.execute("SELECT action, old_text, old_status FROM corrections WHERE field_id = ? ORDER BY id DESC LIMIT 1",
                     (field_id,)).fetchone()  # fmt: skip
    if row is not None and row["action"] == "reopen" and row["old_status"] == "corrected":
        return row["old_text"]
    return None
