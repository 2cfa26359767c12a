"""Finding a page's original scan again: by the names it was seen under, below the run's input folders.

The store keeps each page's content hash and its path relative to the input folder; runs record their input folders.
A candidate file is used only when it lies inside one of those folders and its bytes still hash to the stored value,
so a moved, edited or substituted file is never shown as the page that was read.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from pipeline.hashing import file_sha256


class ScanLocator:
    """Maps a document row to its scan file; ``roots`` (``--scans``) come first, then the runs' inputs."""

    def __init__(self, roots: Sequence[Path] = ()) -> None:
        self.roots = [Path(r) for r in roots]
        self._hashes: dict[tuple[str, int, int], str] = {}
        self._lock = threading.Lock()

    def _roots(self, db: sqlite3.Connection) -> list[Path]:
        roots = list(self.roots)
        for (inputs,) in db.execute("SELECT inputs FROM batches ORDER BY id DESC"):
            try:
                roots.extend(Path(p) for p in json.loads(inputs))
            except (TypeError, ValueError):
                continue
        unique: dict[Path, None] = {}
        for root in roots:
            unique.setdefault(root.resolve(), None)
        return list(unique)

    def _hash(self, path: Path) -> str | None:
        try:
            info = path.stat()
            key = (str(path), info.st_size, info.st_mtime_ns)
            with self._lock:
                if key in self._hashes:
                    return self._hashes[key]
            digest = file_sha256(path)
        except OSError:
            return None
        with self._lock:
            self._hashes[key] = digest
        return digest

    def find(self, db: sqlite3.Connection, document_id: int) -> Path | None:
        """The scan file of a stored page, or None when it cannot be found unchanged."""
        row = db.execute("SELECT document, sha256 FROM documents WHERE id = ?", (document_id,)).fetchone()
        if row is None:
            return None
        names = [row["document"]]
        names += [r[0] for r in db.execute("SELECT path FROM sightings WHERE sha256 = ? ORDER BY first_seen",
                                           (row["sha256"],)) if r[0] != row["document"]]  # fmt: skip
        for root in self._roots(db):
            for name in names:
                candidate = _inside(root, name)
                if candidate is not None and self._hash(candidate) == row["sha256"]:
                    return candidate
        return None

    def searched(self, db: sqlite3.Connection) -> list[str]:
        """Where :meth:`find` looks, for the message shown when a scan is missing."""
        return [str(r) for r in self._roots(db)]


def _inside(root: Path, name: str) -> Path | None:
    """``root/name`` when it stays inside ``root`` (or ``root`` itself for a single-file input of that name)."""
    if root.is_file():
        return root if root.name == name else None
    try:
        candidate = (root / name).resolve()
    except (OSError, RuntimeError):
        return None
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate
