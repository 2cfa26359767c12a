"""Keeping results.jsonl and results.csv in step with the reviewers' decisions, without slowing them down.

Each decision marks the exports stale; one background thread rewrites both files (the same atomic rewrite the flow
uses) once changes pause for ``delay`` seconds, and once more when the server stops. The store stays the truth: a
`pipeline run` also re-exports from it.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from pipeline.flows.exports import export_all
from pipeline.flows.store import ResultStore

log = logging.getLogger(__name__)


class ExportScheduler:
    """Debounced re-exports of one output folder, on a daemon thread."""

    def __init__(self, out_dir: Path, delay: float = 1.0) -> None:
        self.out_dir = out_dir
        self.delay = delay
        self.last_export: float | None = None  # time.time() of the last finished export
        self.last_error: str | None = None
        self._dirty = False
        self._changed = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()  # one export at a time
        self._thread = threading.Thread(target=self._loop, name="review-exports", daemon=True)
        self._thread.start()

    def request(self) -> None:
        """Mark the exports stale (cheap; called after every decision)."""
        self._dirty = True
        self._changed.set()

    def export_now(self) -> None:
        with self._lock:
            self._dirty = False
            store = ResultStore(self.out_dir / "results.db")
            try:
                export_all(store, self.out_dir)
                self.last_export, self.last_error = time.time(), None
            except Exception as exc:  # keep serving; the page shows the problem
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("re-exporting results failed")
            finally:
                store.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            if not self._changed.wait(timeout=0.5):
                continue
            self._changed.clear()
            while not self._stop.wait(self.delay) and self._changed.is_set():
                self._changed.clear()  # still busy: wait for a pause
            if self._dirty:
                self.export_now()

    def close(self) -> None:
        """Stop the thread, then export once more if a change is still unwritten."""
        self._stop.set()
        self._thread.join(timeout=30)
        if self._dirty:
            self.export_now()
