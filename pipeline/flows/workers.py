"""Worker processes that read the flow's batches: the reader is mostly Python holding the GIL, so threads share
one core's worth of it while processes each get a core.

Measured on 160 generated cheques, 2 cores (docs/flow-benchmarks.md): two threads of one process spend ~89 ms of
CPU per cheque (the GIL passed back and forth) and never used more than ~1.3 cores; two processes with one
OpenCV and one torch thread each spend ~70 ms and use both cores. Each worker loads the reader once, when it
starts. The flow process keeps everything else (Prefect's task runs, the store, the exports): a Prefect task
hands its batch to a worker and waits (the GIL is free while it waits), so ``pipeline run`` keeps its tasks,
retries, states and its single store writer. Workers are started with ``spawn`` (a forked child of a process
that has used OpenCV's or torch's thread pools can deadlock) and exit by themselves when the flow process dies
(a SIGKILL of the flow alone must not leave them behind).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import threading
import time
import uuid
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from pipeline.flows.discover import ScanFile
from pipeline.flows.process import ReadSettings, field_reader, process_files, release_freed_memory

_POOLS: dict[str, ReaderPool] = {}  # the pools of this process, by key (what the flow gives its tasks)
_START_ERROR: Exception | None = None  # in a worker: why its reader could not be built (given to every call)


@dataclass(frozen=True)
class ReaderIdentity:
    """What a run records about the reader its workers use."""

    weights_sha256: str
    threshold: float
    target_error: float


def _exit_with_parent(parent: int) -> None:
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(1)


def _start_worker(settings: ReadSettings, parent: int) -> None:
    """In each new worker: one OpenCV and one torch thread (the workers are the parallelism), the reader loaded."""
    global _START_ERROR
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True, name="exit-with-parent").start()
    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    try:
        field_reader(settings)
    except Exception as exc:  # kept and raised by every call: an initializer that raises breaks the whole pool
        _START_ERROR = exc


def _identity(settings: ReadSettings) -> ReaderIdentity:
    if _START_ERROR is not None:
        raise _START_ERROR
    classifier = field_reader(settings).classifier
    return ReaderIdentity(classifier.weights_sha256, classifier.threshold, classifier.target_error)


def _read(files: list[ScanFile], settings: ReadSettings, out_dir: str) -> list[dict]:
    """The whole batch in one ``process_files`` call, as in-process: the network's last float bits depend on how
    many digits it classifies at once (reading the batch 8 files at a time moved 23 confidences of 4,000 documents
    by 1e-6), so the batch is not split, though a smaller one would hold fewer decoded pages in memory."""
    if _START_ERROR is not None:
        raise _START_ERROR
    documents = process_files(files, settings, Path(out_dir))
    release_freed_memory()  # the batch's images are gone now; without this, memory grows with the batch count
    return documents


class ReaderPool:
    """``processes`` worker processes reading batches with ``settings``; registered under :attr:`key`."""

    def __init__(self, processes: int, settings: ReadSettings) -> None:
        self.processes = processes
        self.settings = settings
        self.key = uuid.uuid4().hex
        self._lock = threading.Lock()
        self._executor = self._start()
        # one call per worker, so every worker starts (and loads its reader) now, while the flow discovers files
        self._started = [self._executor.submit(_identity, settings) for _ in range(processes)]
        _POOLS[self.key] = self

    def _start(self) -> cf.ProcessPoolExecutor:
        context = multiprocessing.get_context("spawn")
        return cf.ProcessPoolExecutor(
            self.processes, mp_context=context, initializer=_start_worker, initargs=(self.settings, os.getpid())
        )

    def pids(self) -> list[int]:
        """The worker processes now running."""
        with self._lock:
            return sorted(self._executor._processes or {})

    def identity(self) -> ReaderIdentity:
        """The workers' reader (waits for the first worker to have loaded it; raises what stopped it)."""
        return self._started[0].result()

    def read(self, files: list[ScanFile], out_dir: Path | str) -> list[dict]:
        """Read one batch in a worker (the caller's thread waits). A worker that died (killed, out of memory) breaks
        the pool: the calls then in flight raise :class:`BrokenProcessPool`, and the next call starts new workers."""
        with self._lock:
            executor = self._executor
        try:
            future = executor.submit(_read, files, self.settings, str(out_dir))
        except BrokenProcessPool:
            future = self._replace(executor).submit(_read, files, self.settings, str(out_dir))
        try:
            return future.result()
        except BrokenProcessPool:
            self._replace(executor)
            raise

    def _replace(self, broken: cf.ProcessPoolExecutor) -> cf.ProcessPoolExecutor:
        with self._lock:
            if self._executor is broken:
                broken.shutdown(wait=False, cancel_futures=True)
                self._executor = self._start()
            return self._executor

    def close(self) -> None:
        _POOLS.pop(self.key, None)
        with self._lock:
            self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ReaderPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def reader_pool(key: str | None) -> ReaderPool | None:
    """The pool registered under ``key`` in this process, or None (no key, or a task run in another process, as
    under Dask: it then reads the batch itself)."""
    return _POOLS.get(key) if key else None
