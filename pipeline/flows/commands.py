"""``pipeline run`` and ``pipeline serve``: the flow from the command line."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from pipeline.segment.document import KINDS

RUNNERS = ("local", "dask")


def _check_output(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.ClickException(f"output folder {out_dir} cannot be created: {exc.strerror}") from None
    if not os.access(out_dir, os.W_OK):
        raise click.ClickException(f"output folder {out_dir} is not writable")


def _check_inputs(inputs: tuple[Path, ...]) -> None:
    missing = [str(p) for p in inputs if not p.exists()]
    if missing:
        raise click.ClickException(f"no such file or folder: {', '.join(missing)}")


def _check_weights(weights: Path | None) -> None:
    """A missing or damaged weights file stops the run before Prefect starts; the reading processes refuse a file
    of another format when the flow starts (see pipeline.recognize.weights_file)."""
    from pipeline.recognize.weights_file import WeightsError, check_weights_file

    try:
        check_weights_file(weights)
    except WeightsError as exc:
        raise click.ClickException(str(exc)) from None


def _check_valid_zips(valid_zips: bool) -> None:
    if not valid_zips:
        return
    from pipeline.segment.zipcode import ZipBook

    try:
        ZipBook.us()
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None


def in_flight(workers: int) -> int:
    """Batches submitted ahead: twice the workers keeps them busy while the flow stores finished batches."""
    return 2 * workers


def processes_for(runner: str, workers: int) -> int:
    """The flow's own reading processes: with the local runner, ``--workers`` of them (the reader is mostly Python
    under the GIL, so threads do not add up; docs/flow-benchmarks.md); Dask workers read in their own processes."""
    return workers if runner == "local" else 0


def _flow_with_runner(runner: str, dask_address: str | None, workers: int):
    # A temporary server on 2 busy cores can take longer than Prefect's default 20 s to answer.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    from pipeline.flows.read_scans import read_scans

    if runner == "local":
        from prefect.task_runners import ThreadPoolTaskRunner

        # the threads only hand batches to the flow's worker processes and wait (see processes_for): one per batch
        # in flight, so a worker always has the next batch queued when it finishes one
        return read_scans.with_options(task_runner=ThreadPoolTaskRunner(max_workers=in_flight(workers)))
    from prefect_dask import DaskTaskRunner

    if dask_address:
        return read_scans.with_options(task_runner=DaskTaskRunner(address=dask_address))
    cluster = {"n_workers": workers, "threads_per_worker": 1, "processes": True}
    return read_scans.with_options(task_runner=DaskTaskRunner(cluster_kwargs=cluster))


run_options = [
    click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path)),
    click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path)),
    click.option("--kind", type=click.Choice(KINDS), default="auto", show_default=True),
    click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True),
    click.option("--target-error", type=float, default=None, help="error rate the threshold is set for"),
    click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True, help="files per task"),
    click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True,
                 help="reading processes (local runner) or Dask workers"),
    click.option("--runner", type=click.Choice(RUNNERS), default="local", show_default=True),
    click.option("--dask-address", default=None, help="scheduler of an existing Dask cluster (with --runner dask)"),
    click.option("--weights", type=click.Path(dir_okay=False, path_type=Path), default=None),
    click.option("--force", is_flag=True, help="read again what is already done"),
    click.option("--valid-zips", is_flag=True,
                 help="read ZIP codes against the list of valid US codes (needs the 'zipcodes' package)"),
]


def _apply(options):
    def decorate(function):
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


@click.command("run")
@_apply(run_options)
@click.option("--no-progress", is_flag=True)
def run_command(inputs, out_dir, kind, device, target_error, batch_size, workers, runner, dask_address, weights,
                force, valid_zips, no_progress):  # fmt: skip
    """Read every scan under INPUTS (files or folders, recursive) into OUT."""
    _check_inputs(inputs)
    _check_output(out_dir)
    _check_weights(weights)
    _check_valid_zips(valid_zips)
    click.echo(
        "starting Prefect: with no server configured a temporary one starts first (about 10 s; set "
        "PREFECT_API_URL to a running `prefect server start` to skip this)",
        err=True,
    )
    flow = _flow_with_runner(runner, dask_address, workers)
    summary = flow(
        inputs=[str(p) for p in inputs], out=str(out_dir), kind=kind, device=device, target_error=target_error,
        batch_size=batch_size, force=force, weights=str(weights) if weights else None, progress=not no_progress,
        in_flight=in_flight(workers), valid_zips=valid_zips, processes=processes_for(runner, workers),
    )  # fmt: skip
    from pipeline.flows.read_scans import RunSummary

    shown = RunSummary(**{k: v for k, v in summary.items() if k != "docs_per_second"})
    click.echo(shown.table())
    click.echo(json.dumps(summary), err=True)


@click.command("serve")
@_apply(run_options)
@click.option("--cron", default="0 2 * * *", show_default=True, help="when to run (cron, in --timezone)")
@click.option("--timezone", default="UTC", show_default=True)
@click.option("--name", default="nightly-scans", show_default=True)
def serve_command(inputs, out_dir, kind, device, target_error, batch_size, workers, runner, dask_address, weights,
                  force, valid_zips, cron, timezone, name):  # fmt: skip
    """Serve the flow on a cron schedule (Prefect ``serve``); runs until stopped.

    Needs a Prefect server (PREFECT_API_URL): schedules are turned into runs by the server's scheduler, which the
    temporary server that `pipeline run` starts does not run.
    """
    from prefect.schedules import Cron
    from prefect.settings import get_current_settings

    _check_inputs(inputs)
    _check_output(out_dir)
    _check_weights(weights)
    _check_valid_zips(valid_zips)
    if not get_current_settings().api.url:
        raise click.ClickException(
            "pipeline serve needs a Prefect server to schedule its runs (a temporary one never runs them): start "
            "`prefect server start --host 127.0.0.1` and set PREFECT_API_URL=http://127.0.0.1:4200/api"
        )
    flow = _flow_with_runner(runner, dask_address, workers)
    parameters = {
        "inputs": [str(p.resolve()) for p in inputs], "out": str(out_dir.resolve()), "kind": kind, "device": device,
        "target_error": target_error, "batch_size": batch_size, "force": force,
        "weights": str(weights.resolve()) if weights else None, "in_flight": in_flight(workers),
        "valid_zips": valid_zips, "processes": processes_for(runner, workers),
    }  # fmt: skip
    click.echo(f"serving {name!r}: cron {cron!r} ({timezone}); Ctrl-C stops", err=True)
    try:
        flow.serve(name=name, schedules=[Cron(cron, timezone=timezone)], parameters=parameters)
    except KeyboardInterrupt:
        sys.exit(0)
