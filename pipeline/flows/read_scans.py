"""The nightly flow: scan folders in, every page's result in the store and the exports, uncertain fields queued.

Work is one Prefect task per batch of files (never per digit: a task costs milliseconds); each task reads all
its pages together, the network running over the whole batch at once (twice when runner-up places are read).
Only this flow process writes the store, batch by batch, so the task runner can be local threads or a Dask
cluster without any worker touching SQLite.
"""

from __future__ import annotations

import functools
import itertools
import time
from collections.abc import Callable, Iterator
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.futures import PrefectFuture, as_completed
from tqdm import tqdm

from pipeline.flows.cycles import collected_per_batch
from pipeline.flows.discover import ScanFile, discover
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


@dataclass
class RunSummary:
    documents: int = 0  # pages read in this run
    accepted: int = 0  # fields
    rejected: int = 0  # fields
    errors: int = 0  # pages with status "error"
    skipped: int = 0  # files already done (content seen before)
    copies: int = 0  # files whose content is another file's: recorded, not re-read
    unsettled: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # files that could not even be opened (permissions, I/O)
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
            ("still being written, left", len(self.unsettled)), ("unreadable files", len(self.unreadable)),
            ("docs/s (steady)", f"{self.docs_per_second:.1f}"),
            ("start-up s", f"{self.startup_seconds:.1f}"), ("documents in store", self.stored_total),
        ]  # fmt: skip
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def _plan(files: list[ScanFile], done: set[str]) -> tuple[list[ScanFile], int, int]:
    """Files to read (one per content hash), how many were already done, how many are copies in this run."""
    todo: list[ScanFile] = []
    seen: set[str] = set()
    skipped = copies = 0
    for scan in files:
        if scan.sha256 in done:
            skipped += 1
        elif scan.sha256 in seen:
            copies += 1
        else:
            seen.add(scan.sha256)
            todo.append(scan)
    return todo, skipped, copies


def completed_in_window(
    submit: Callable[[list[ScanFile]], PrefectFuture], batches: list[list[ScanFile]], window: int
) -> Iterator[tuple[list[ScanFile], PrefectFuture]]:
    """Submit the batches with at most ``window`` unfinished at a time; yield each (batch, future) as it finishes.

    Nothing of a finished batch is kept once the caller moves on, so the flow's memory does not grow with the
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
        found = discover([Path(p) for p in inputs], exclude=out_dir)
        if pool is not None:
            identity = pool.identity()  # raises on missing or corrupt weights, before anything is recorded
        summary.unsettled = found.unsettled
        store.record_sightings((f.document, f.sha256, f.size) for f in found.files)
        todo, summary.skipped, summary.copies = _plan(found.files, set() if force else store.done_hashes())
        logger.info(
            "%d files found: %d to read, %d already done, %d copies, %d still being written",
            len(found.files), len(todo), summary.skipped, summary.copies, len(found.unsettled),
        )  # fmt: skip
        batch_id = store.start_batch(  # absolute input paths: the review page finds the scans again from them
            [str(Path(p).resolve()) for p in inputs], kind, identity.weights_sha256, identity.threshold,
            identity.target_error,
        )
        summary.unreadable = [f"{d}: {m}" for d, m in found.unreadable]
        for line in summary.unreadable:  # not stored: no content hash; the next run tries again
            logger.warning("cannot read %s", line)
        batches = [todo[i : i + batch_size] for i in range(0, len(todo), batch_size)]
        summary.startup_seconds = time.perf_counter() - started
        steady = time.perf_counter()
        bar = tqdm(total=len(todo), unit="file", disable=not progress, desc="reading")
        submit = functools.partial(read_batch.submit, settings=settings, out_dir=str(out_dir),
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
                append_jsonl(out_dir / "results.jsonl", documents)
                for doc in documents:
                    summary.documents += 1
                    summary.errors += doc["status"] == "error"
                    for f in doc["fields"]:
                        summary.accepted += f["status"] == "accepted"
                        summary.rejected += f["status"] == "rejected"
                bar.update(len(batch))
                collect_cycles()
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
