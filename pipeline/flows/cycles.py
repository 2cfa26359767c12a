"""Reference cycles collected after every batch, so the flow process's memory does not grow with the run.

Each batch leaves cyclic garbage in the flow process (Prefect's task-run states, futures and contexts refer to one
another). Python's collector frees it only in a full collection, which it runs more and more rarely as the live
objects grow, so the garbage piles up to tens of megabytes between collections and holds the allocator's arenas
meanwhile: the flow process grew by ~22 MB over the first ~4,500 documents (docs/flow-benchmarks.md). A full
collection after each batch keeps it flat, but walking every object the process has (imports included) costs
~340 ms; with the objects alive at the start frozen (left out of collections) it costs ~9 ms a batch.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0  # runs inside such a block in this process: the first in freezes, the last out thaws


@contextmanager
def collected_per_batch() -> Iterator[Callable[[], int]]:
    """Within the block, the yielded function runs a full collection of the objects made since it began.

    The objects alive on entry are frozen (``gc.freeze``) for the block and thawed on exit, so a process that runs
    the flow again (tests, a caller's own loop) gets them back into its collections. Freezing is process-wide, so
    overlapping runs in one process share it: the first to enter freezes, the last to leave thaws.
    """
    global _depth
    with _lock:
        if _depth == 0:
            gc.collect()
            gc.freeze()
        _depth += 1
    try:
        yield gc.collect
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                gc.unfreeze()
