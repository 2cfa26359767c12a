"""The nightly flow: scan folders in, every page's result in the store and the exports, uncertain fields queued.

Work is one Prefect task per batch of files (never per digit: a task costs milliseconds); each task reads all
its pages together, the network running over the whole batch at once (twice when runner-up places are read).
Only this flow process writes the store, batch by batch, so the task runner can be local threads or a Dask
cluster without any worker touching SQLite.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.context import FlowRunContext
from prefect.futures import PrefectFuture, as_completed
from tqdm import tqdm

from pipeline.flows.cycles import collected_per_batch
from pipeline.flows.discover import Discovery, ScanFile, count_candidates, discover_chunks
from pipeline.flows.exports import append_jsonl, export_all
from pipeline.flows.process import ReadSettings, error_result, field_reader, process_files, release_freed_memory
from pipeline.flows.store import ResultStore
from pipeline.flows.workers import ReaderIdentity, ReaderPool, reader_pool


def _transient(task_, task_run, state) -> bool:
    """Retry only what may pass by itself (I/O errors); bad input never reaches here, it is an error result."""
    try:
        state.result()
    except (OSError, BrokenProcessPool):  # a worker process that died (killed, out of memory) is replaced
        return True
    except Exception:
        return False
    return False


@task(name="read-batch", retries=2, retry_delay_seconds=0.5, retry_condition_fn=_transient)
def read_batch(files: list[ScanFile], settings: ReadSettings, out_dir: str, pool: str | None = None) -> list[dict]:
    """Read one batch of files; returns one result per page. ``pool``: the key of the flow's worker processes,
    which read the batch while this task waits; without (or where they are not: a Dask worker) it reads here."""
    workers = reader_pool(pool)
    if workers is not None:
        return workers.read(files, out_dir)
    documents = process_files(files, settings, Path(out_dir))
    release_freed_memory()  # the batch's images are gone now; without this, memory grows with the batch count
    return documents


def forget_result_links(result: list[dict]) -> None:
    """Drop the links Prefect made from a batch's results to its task run's state, once the batch is stored.

    For dependency tracking, Prefect maps ``id()`` of every task result and of each of its items to a copy of the
    task run's state, in the flow run's context, for the whole run (``FlowRunContext.run_results``): ~30 entries
    and one state a batch (2,670 entries and 90 states after 90 batches). They are a small part of the flow's
    growth (over 80 batches its anonymous memory rose 4.5 MB with them dropped, 4.9 MB without), but they grow
    without bound, and these results are never passed to another task, so nothing needs them once stored.
    """
    context = FlowRunContext.get()
    links = getattr(context, "run_results", None)
    if links is None:
        return
    links.pop(id(result), None)
    for item in result:
        links.pop(id(item), None)


@dataclass
class RunSummary:
    documents: int = 0  # pages read in this run
    accepted: int = 0  # fields
    rejected: int = 0  # fields
    errors: int = 0  # pages with status "error"
    skipped: int = 0  # files already done (content seen before)
    copies: int = 0  # files whose content is another file's: recorded, not re-read
    unsettled: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # files or folders that could not be opened (permissions, I/O)
    seconds: float = 0.0
    startup_seconds: float = 0.0
    stored_total: int = 0

    @property
    def docs_per_second(self) -> float:
        return self.documents / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict:
        return {**asdict(self), "docs_per_second": round(self.docs_per_second, 2)}

    def table(self) -> str:
        rows = [
            ("documents read", self.documents), ("fields accepted", self.accepted),
            ("fields rejected (to review)", self.rejected), ("errors", self.errors),
            ("already done, skipped", self.skipped), ("copies recorded", self.copies),
            ("still being written, left", len(self.unsettled)), ("unreadable files or folders", len(self.unreadable)),
            ("docs/s (steady)", f"{self.docs_per_second:.1f}"),
            ("start-up s", f"{self.startup_seconds:.1f}"), ("documents in store", self.stored_total),
        ]  # fmt: skip
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


class BatchPlanner:
    """Turns the chunks discovery finds into batches of files to read, one file per content hash.

    Per chunk it records every name seen and asks the store which of the chunk's hashes it holds: one stored by an
    earlier run is done (skipped unless ``force``); one stored by this run, or handed out in a batch not yet
    saved, is a copy. So it keeps only the hashes in flight, never a set of every hash in the store or the run.
    """

    def __init__(
        self, store: ResultStore, batch_id: int, force: bool, summary: RunSummary, logger,
        advance: Callable[[int], object] = lambda n: None,
    ) -> None:  # fmt: skip
        self.store = store
        self.advance = advance  # told how many files were settled without reading (done, copies, left, unreadable)
        self.batch_id = batch_id
        self.force = force
        self.summary = summary
        self.logger = logger
        self.unsaved: set[str] = set()  # hashes handed out in batches whose results are not stored yet
        self.found = 0  # files seen so far, of every kind (the progress bar counts them all)
        self.read = 0  # files handed out to be read

    def batches(self, chunks: Iterable[Discovery], batch_size: int) -> Iterator[list[ScanFile]]:
        """Batches of ``batch_size`` files to read (the last one shorter), in the order the files were found."""
        waiting: list[ScanFile] = []
        for chunk in chunks:
            waiting += self._plan(chunk)
            while len(waiting) >= batch_size:
                yield waiting[:batch_size]
                waiting = waiting[batch_size:]
        if waiting:
            yield waiting

    def _plan(self, chunk: Discovery) -> list[ScanFile]:
        summary = self.summary
        summary.unsettled += chunk.unsettled
        for name, message in chunk.unreadable + chunk.unlisted:  # not stored (no content hash): tried next run
            summary.unreadable.append(f"{name}: {message}")
            self.logger.warning("cannot read %s: %s", name, message)
        found = len(chunk.files) + len(chunk.unsettled) + len(chunk.unreadable)  # files, not folders
        self.found += found
        self.store.record_sightings((f.document, f.sha256, f.size) for f in chunk.files)
        stored = self.store.stored_batches({f.sha256 for f in chunk.files})
        todo: list[ScanFile] = []
        for scan in chunk.files:
            batch = stored.get(scan.sha256)
            if scan.sha256 in self.unsaved or batch == self.batch_id:
                summary.copies += 1
            elif batch is not None and not self.force:
                summary.skipped += 1
            else:
                self.unsaved.add(scan.sha256)
                todo.append(scan)
        self.read += len(todo)
        self.advance(found - len(todo))
        return todo

    def saved(self, batch: list[ScanFile]) -> None:
        """The batch's results are in the store: its hashes are now found there."""
        self.unsaved.difference_update(scan.sha256 for scan in batch)


def completed_in_window(
    submit: Callable[[list[ScanFile]], PrefectFuture], batches: Iterable[list[ScanFile]], window: int
) -> Iterator[tuple[list[ScanFile], PrefectFuture]]:
    """Submit the batches with at most ``window`` unfinished at a time; yield each (batch, future) as it finishes.

    Batches are taken from ``batches`` only as slots free up (discovery hashes files as they are needed), and
    nothing of a finished batch is kept once the caller moves on, so the flow's memory does not grow with the
    number of batches; the next batch is submitted before a finished one is handed over, so workers stay busy
    while the flow writes the store.
    """
    queue = iter(batches)
    pending = {submit(batch): batch for batch in itertools.islice(queue, max(1, window))}
    while pending:
        future = next(as_completed(list(pending)))
        batch = pending.pop(future)
        following = next(queue, None)
        if following is not None:
            pending[submit(following)] = following
        yield batch, future


@flow(name="read-scans")
def read_scans(
    inputs: list[str],
    out: str,
    kind: str = "auto",
    device: str = "auto",
    target_error: float | None = None,
    batch_size: int = 32,
    force: bool = False,
    weights: str | None = None,
    progress: bool = False,
    in_flight: int = 4,
    valid_zips: bool = False,
    processes: int = 0,
) -> dict:
    """Read every scan under ``inputs`` into ``out`` (results.db, results.jsonl, results.csv, review/).

    ``in_flight`` batches at most are submitted ahead (twice the workers is enough to keep them busy).
    ``valid_zips``: a ZIP that is not a valid US code is rejected, with the likeliest valid code as its guess.
    ``processes``: read in this many worker processes of this flow's own (``pipeline run`` gives ``--workers``
    with the local runner), the task runner's threads only handing batches over; 0 reads in the task runner's
    workers (threads here, or Dask's processes).
    """
    logger = get_run_logger()
    started = time.perf_counter()
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    settings = ReadSettings(kind=kind, device=device, target_error=target_error, weights=weights,
                            valid_zips=valid_zips)  # fmt: skip
    pool = None
    if processes > 0:  # they start (and load the weights) while this process repairs the exports and hashes files
        pool = ReaderPool(processes, settings)
    else:
        classifier = field_reader(settings).classifier  # fail fast on missing or corrupt weights, before any work
        identity = ReaderIdentity(classifier.weights_sha256, classifier.threshold, classifier.target_error)
    try:
        store = ResultStore(out_dir / "results.db")
    except BaseException:
        if pool is not None:
            pool.close()
        raise
    summary = RunSummary()
    try:
        export_all(store, out_dir)  # repairs exports cut short by a killed run
        roots = [Path(p) for p in inputs]
        chunks = discover_chunks(roots, exclude=out_dir)
        first = next(chunks, None)  # hashed while the workers load the reader
        if pool is not None:
            identity = pool.identity()  # raises on missing or corrupt weights, before anything is recorded
        batch_id = store.start_batch(  # absolute input paths: the review page finds the scans again from them
            [str(p.resolve()) for p in roots], kind, identity.weights_sha256, identity.threshold,
            identity.target_error,
        )
        bar = tqdm(unit="file", disable=not progress, desc="reading")
        if progress:  # the total comes from a listing beside the reading: a huge tree must not delay the start
            threading.Thread(target=_count_into, args=(bar, roots, out_dir), daemon=True, name="count-files").start()
        planner = BatchPlanner(store, batch_id, force, summary, logger, advance=bar.update)
        batches = planner.batches(itertools.chain([first] if first else [], chunks), batch_size)
        logger.info("reading files as they are found and hashed")
        first_submitted: list[float] = []

        def submit(batch: list[ScanFile]) -> PrefectFuture:
            if not first_submitted:
                first_submitted.append(time.perf_counter())
            return read_batch.submit(batch, settings=settings, out_dir=str(out_dir),
                                     pool=pool.key if pool is not None else None)  # fmt: skip

        with collected_per_batch() as collect_cycles:
            for batch, future in completed_in_window(submit, batches, in_flight):
                try:
                    documents = future.result()
                except Exception as exc:  # a bug, not bad input: keep every file of the batch visible as an error
                    logger.error("batch of %d files failed: %s", len(batch), exc)
                    message = f"internal error while reading this batch: {type(exc).__name__}: {exc}"
                    documents = [error_result(scan, 0, kind, message) for scan in batch]
                store.save_documents(documents, batch_id, force=force)
                planner.saved(batch)
                forget_result_links(documents)
                append_jsonl(out_dir / "results.jsonl", documents)
                for doc in documents:
                    summary.documents += 1
                    summary.errors += doc["status"] == "error"
                    for f in doc["fields"]:
                        summary.accepted += f["status"] == "accepted"
                        summary.rejected += f["status"] == "rejected"
                bar.update(len(batch))
                collect_cycles()
        steady = first_submitted[0] if first_submitted else time.perf_counter()
        summary.startup_seconds = steady - started
        logger.info(
            "%d files found: %d read, %d already done, %d copies, %d still being written, %d unreadable",
            planner.found, planner.read, summary.skipped, summary.copies, len(summary.unsettled),
            len(summary.unreadable),
        )  # fmt: skip
        bar.close()
        summary.seconds = time.perf_counter() - steady
        if pool is not None:
            pool.close()  # before the final export: the workers' memory is not needed for it
            pool = None
        store.finish_batch(batch_id)
        summary.stored_total = export_all(store, out_dir)
    finally:
        store.close()
        if pool is not None:
            pool.close()
    _publish(summary, out_dir)
    logger.info("done: %s", summary.as_dict())
    return summary.as_dict()


def _count_into(bar: tqdm, roots: list[Path], exclude: Path) -> None:
    """Give the progress bar its total: the candidates a listing finds (files only, no hashing)."""
    bar.total = count_candidates(roots, exclude)
    bar.refresh()


def _publish(summary: RunSummary, out_dir: Path) -> None:
    """The run's summary as Prefect artifacts (a table and a markdown report)."""
    create_table_artifact(
        key="read-scans-summary",
        table=[
            {"measure": k, "value": v} for k, v in summary.as_dict().items() if k not in ("unsettled", "unreadable")
        ],
        description="Documents, fields accepted and rejected, errors and speed of this run",
    )
    lines = [
        "# Scan reading run",
        "",
        f"Output: `{out_dir}`",
        "",
        "```",
        summary.table(),
        "```",
    ]
    if summary.unsettled:
        lines += ["", "Left for the next run (still being written):", *[f"- {d}" for d in summary.unsettled]]
    create_markdown_artifact(key="read-scans-report", markdown="\n".join(lines), description="Run report")
