"""True flow tests: the Prefect flow on field images and bad files, re-runs, copies, the Dask runner, a kill.

Prefect runs hermetically: a temporary PREFECT_HOME per test session, no API URL, no server left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("prefect")

HERMETIC = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",  # 2 busy cores can take a while
}


@pytest.fixture(scope="session")
def prefect_env(tmp_path_factory):
    home = tmp_path_factory.mktemp("prefect-home")
    env = {**HERMETIC, "PREFECT_HOME": str(home), "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(home / "results")}
    saved = {k: os.environ.get(k) for k in [*env, "PREFECT_API_URL"]}
    os.environ.update(env)
    os.environ.pop("PREFECT_API_URL", None)
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield env
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def make_scans(folder: Path, images: np.ndarray, labels: np.ndarray, count: int, start: int = 0) -> dict[str, str]:
    """Number fields of 3-5 real MNIST digits on paper, dark ink; returns file -> true digits."""
    folder.mkdir(parents=True, exist_ok=True)
    truth = {}
    rng = np.random.default_rng(start)
    for k in range(count):
        n = int(rng.integers(3, 6))
        idx = rng.choice(len(images), n, replace=False)
        strip = np.hstack([np.pad(255 - images[i], ((6, 6), (3, 3)), constant_values=255) for i in idx])
        name = f"field_{start + k:04d}.png"
        cv2.imwrite(str(folder / name), np.pad(strip, 10, constant_values=255))
        truth[name] = "".join(str(labels[i]) for i in idx)
    old = time.time() - 60
    for path in folder.iterdir():
        os.utime(path, (old, old))
    return truth


def add_bad_files(folder: Path) -> None:
    (folder / "empty.png").write_bytes(b"")
    (folder / "text.png").write_text("this is not an image\n")
    good = next(folder.glob("field_*.png")).read_bytes()
    (folder / "truncated.png").write_bytes(good[: len(good) // 2])
    cv2.imwrite(str(folder / "tiny.png"), np.zeros((1, 1), np.uint8))
    old = time.time() - 60
    for path in folder.iterdir():
        os.utime(path, (old, old))


def read_results(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def run_flow(inputs, out, **kwargs) -> dict:
    from prefect.task_runners import ThreadPoolTaskRunner

    from pipeline.flows.read_scans import read_scans

    flow = read_scans.with_options(task_runner=ThreadPoolTaskRunner(max_workers=2))
    return flow(inputs=[str(p) for p in inputs], out=str(out), kind="number", device="cpu", **kwargs)


def test_flow_reads_reports_errors_and_reruns_safely(prefect_env, tmp_path, mnist_subset):
    images, labels = mnist_subset
    scans = tmp_path / "scans"
    truth = make_scans(scans, images, labels, 10)
    add_bad_files(scans)
    out = tmp_path / "out"
    summary = run_flow([scans], out, batch_size=4)
    assert summary["documents"] == 14 and summary["errors"] == 4
    results = read_results(out)
    by_name = {r["document"]: r for r in results}
    assert set(by_name) == set(truth) | {"empty.png", "text.png", "truncated.png", "tiny.png"}
    assert "empty" in by_name["empty.png"]["error"]
    assert "not a scan" in by_name["text.png"]["error"]
    assert "too small" in by_name["tiny.png"]["error"]
    assert by_name["truncated.png"]["status"] == "error"
    right = sum(by_name[n]["fields"][0]["digits"] == d for n, d in truth.items())
    assert right >= 7  # real reading, not a fixture
    for name in truth:
        field = by_name[name]["fields"][0]
        assert field["name"] == "number" and len(field["bbox"]) == 4
        if field["status"] == "rejected":
            assert (out / field["crop"]).is_file()
    rows = (out / "results.csv").read_text().splitlines()
    assert len(rows) == 1 + 14

    # re-run: nothing read again; a copy under another name is recorded, not read; a new file is picked up
    shutil.copy(scans / "field_0000.png", scans / "copy_of_0000.png")
    make_scans(scans, images, labels, 1, start=50)
    again = run_flow([scans], out, batch_size=4)
    assert again["skipped"] == 15 and again["documents"] == 1
    assert len(read_results(out)) == 15
    import sqlite3

    db = sqlite3.connect(out / "results.db")
    assert db.execute("SELECT COUNT(*) FROM sightings WHERE path = 'copy_of_0000.png'").fetchone()[0] == 1
    assert db.execute("SELECT COUNT(*) FROM documents").fetchone()[0] == 15

    forced = run_flow([scans], out, batch_size=8, force=True)
    assert forced["documents"] == 15 and len(read_results(out)) == 15


def test_dask_runner_gives_the_same_results(prefect_env, tmp_path, mnist_subset):
    pytest.importorskip("prefect_dask")
    from prefect_dask import DaskTaskRunner

    from pipeline.flows.read_scans import read_scans

    images, labels = mnist_subset
    scans = tmp_path / "scans"
    make_scans(scans, images, labels, 6)
    local = run_flow([scans], tmp_path / "local", batch_size=2)
    flow = read_scans.with_options(
        task_runner=DaskTaskRunner(cluster_kwargs={"n_workers": 2, "threads_per_worker": 1, "processes": True})
    )
    dask = flow(inputs=[str(scans)], out=str(tmp_path / "dask"), kind="number", device="cpu", batch_size=2)
    assert local["documents"] == dask["documents"] == 6

    def strip(results):
        return sorted((r["document"], json.dumps(r["fields"], sort_keys=True)) for r in results)

    assert strip(read_results(tmp_path / "local")) == strip(read_results(tmp_path / "dask"))


def test_worker_processes_give_the_same_results(prefect_env, tmp_path, mnist_subset):
    """``processes``: the flow's own reading processes (what ``pipeline run`` uses with the local runner)."""
    images, labels = mnist_subset
    scans = tmp_path / "scans"
    make_scans(scans, images, labels, 6)
    add_bad_files(scans)
    threads = run_flow([scans], tmp_path / "threads", batch_size=3)
    processes = run_flow([scans], tmp_path / "processes", batch_size=3, processes=2, in_flight=4)
    assert threads["documents"] == processes["documents"] == 10 and processes["errors"] == 4

    def strip(results):
        return sorted((r["document"], r["status"], json.dumps(r["fields"], sort_keys=True)) for r in results)

    assert strip(read_results(tmp_path / "threads")) == strip(read_results(tmp_path / "processes"))
    again = run_flow([scans], tmp_path / "processes", processes=2)  # nothing new: skipped, nothing read
    assert again["skipped"] == 10 and again["documents"] == 0


def test_a_stored_batch_leaves_no_links_in_the_flow_run(prefect_env):
    """Prefect links each task result and its items to the task's state for the whole flow run; the flow drops a
    batch's links once it is stored (else ~30 entries and a state a batch stay to the end). If Prefect stops
    making the links, the first figure fails and the helper can go."""
    from prefect import flow, task
    from prefect.context import FlowRunContext

    from pipeline.flows.read_scans import forget_result_links

    @task
    def make_batch() -> list[dict]:
        return [{"page": i} for i in range(3)]

    @flow
    def probe() -> tuple[int, int]:
        links = FlowRunContext.get().run_results
        result = make_batch.submit().result()
        linked = sum(id(item) in links for item in [result, *result])
        forget_result_links(result)
        return linked, sum(id(item) in links for item in [result, *result])

    assert probe() == (4, 0)


def test_kill_during_a_run_loses_nothing_and_duplicates_nothing(prefect_env, tmp_path, mnist_subset):
    images, labels = mnist_subset
    scans = tmp_path / "scans"
    truth = make_scans(scans, images, labels, 120)
    out = tmp_path / "out"
    env = {**os.environ, **prefect_env}
    command = [sys.executable, "-m", "pipeline.cli", "run", str(scans), "--out", str(out), "--kind", "number",
               "--device", "cpu", "--batch-size", "4", "--workers", "1", "--no-progress"]  # fmt: skip
    # its own process group, so the kill takes the run and its temporary Prefect server, as a crash would
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.time() + 120
    jsonl = out / "results.jsonl"
    while time.time() < deadline:
        if jsonl.exists() and len(jsonl.read_text().splitlines()) >= 8:
            break
        if process.poll() is not None:
            pytest.fail("the run ended before it could be killed")
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    before = len([line for line in jsonl.read_text().splitlines() if line.strip()])
    assert 0 < before < len(truth)

    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    results = read_results(out)
    names = [r["document"] for r in results]
    assert sorted(names) == sorted(truth)  # every document exactly once
    import sqlite3

    db = sqlite3.connect(out / "results.db")
    assert db.execute("SELECT COUNT(*) FROM documents").fetchone()[0] == len(truth)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.prefect_serve
def test_serve_registers_the_cron_deployment_and_its_runs_read_the_scans(prefect_env, tmp_path, mnist_subset):
    """`pipeline serve` (a long-running process) against the harness's API server, as against `prefect server
    start`: the deployment carries the cron schedule, a run of it (triggered here, not waited for until 2 am)
    reads the folder into OUT, and SIGINT stops the process and everything it started."""
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL

    images, labels = mnist_subset
    scans = tmp_path / "scans"
    truth = make_scans(scans, images, labels, 4)
    out = tmp_path / "out"
    api = PREFECT_API_URL.value()  # the harness's server; serve needs a server with an API it can poll
    env = {**os.environ, **prefect_env, "PREFECT_API_URL": api, "PREFECT_RUNNER_POLL_FREQUENCY": "1"}
    name = f"serve-test-{tmp_path.name}"
    command = [sys.executable, "-m", "pipeline.cli", "serve", str(scans), "--out", str(out), "--kind", "number",
               "--device", "cpu", "--cron", "0 2 * * *", "--timezone", "Europe/Paris", "--name", name]  # fmt: skip
    log = tmp_path / "serve.log"
    with open(log, "w") as handle:
        process = subprocess.Popen(command, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        with get_client(sync_client=True) as client:
            deadline = time.time() + 60
            while True:
                try:
                    deployment = client.read_deployment_by_name(f"read-scans/{name}")
                    break
                except Exception:
                    if process.poll() is not None or time.time() > deadline:
                        pytest.fail(f"no deployment registered:\n{log.read_text()[-3000:]}")
                    time.sleep(0.5)
        [schedule] = deployment.schedules
        assert schedule.active
        assert schedule.schedule.cron == "0 2 * * *" and schedule.schedule.timezone == "Europe/Paris"
        assert deployment.parameters["out"] == str(out.resolve())
        assert deployment.parameters["inputs"] == [str(scans.resolve())]

        run = run_deployment(deployment.id, timeout=120, poll_interval=1)
        assert run.state is not None and run.state.is_completed(), f"{run.state}\n{log.read_text()[-3000:]}"
        results = read_results(out)
        assert sorted(r["document"] for r in results) == sorted(truth)
        assert all(r["status"] == "ok" for r in results)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # what Ctrl-C does
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            pytest.fail(f"serve did not stop on SIGINT:\n{log.read_text()[-3000:]}")
    assert code == 0, log.read_text()[-3000:]
    deadline = time.time() + 10
    while time.time() < deadline:  # nothing of its process group is left running (orphans are reaped quickly)
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        pytest.fail("processes started by serve are still running")


def test_serve_without_a_server_says_so_instead_of_never_running(tmp_path):
    """A temporary server has no scheduler: serving against one would wait forever for runs that never come."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(HERMETIC, PREFECT_HOME=str(tmp_path / "home"))
    (tmp_path / "scans").mkdir()
    command = [sys.executable, "-m", "pipeline.cli", "serve", str(tmp_path / "scans"), "--out", str(tmp_path / "out")]
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert finished.returncode != 0
    assert "needs a Prefect server" in finished.stderr and "PREFECT_API_URL" in finished.stderr


def test_valid_zips_needs_the_zipcodes_package_and_says_so(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from pipeline.flows.commands import run_command
    from pipeline.flows.process import ReadSettings, field_reader
    from pipeline.segment.zipcode import ZipBook

    assert field_reader(ReadSettings(valid_zips=True)).config.zip_book is ZipBook.us()
    assert field_reader(ReadSettings()).config.zip_book is None
    (tmp_path / "scans").mkdir()
    ZipBook.us.cache_clear()
    monkeypatch.setitem(sys.modules, "zipcodes", None)  # as if not installed
    try:
        result = CliRunner().invoke(run_command, [str(tmp_path / "scans"), "--out", str(tmp_path / "out"),
                                                  "--valid-zips"])  # fmt: skip
    finally:
        ZipBook.us.cache_clear()
    assert result.exit_code != 0
    assert "zipcodes" in result.output
