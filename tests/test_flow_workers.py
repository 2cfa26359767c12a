"""The flow's worker processes, below Prefect: same readings as in-process, a dead worker replaced, no orphans."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from pipeline.flows.discover import discover
from pipeline.flows.process import ReadSettings, process_files
from pipeline.flows.workers import ReaderPool, reader_pool
from tests.test_flows import add_bad_files, make_scans

SETTINGS = ReadSettings(kind="number", device="cpu")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead, only not yet reaped
    except FileNotFoundError:
        return False


def test_workers_read_as_the_process_itself_and_replace_a_dead_worker(tmp_path, mnist_subset):
    images, labels = mnist_subset
    make_scans(tmp_path / "scans", images, labels, 10)
    add_bad_files(tmp_path / "scans")
    files = discover([tmp_path / "scans"]).files
    here = process_files(files, SETTINGS, tmp_path / "here")
    with ReaderPool(1, SETTINGS) as pool:
        assert reader_pool(pool.key) is pool and reader_pool(None) is None
        identity = pool.identity()
        assert len(identity.weights_sha256) == 64 and 0 < identity.threshold < 1
        assert pool.read(files, tmp_path / "there") == here  # crops included: the same relative paths
        for document in here:
            for field in document["fields"]:
                if field.get("crop"):
                    assert (tmp_path / "there" / field["crop"]).is_file()

        [worker] = pool.pids()
        os.kill(worker, signal.SIGKILL)  # as the kernel's out-of-memory killer would
        deadline = time.time() + 10
        while _alive(worker) and time.time() < deadline:
            time.sleep(0.05)
        try:
            again = pool.read(files[:3], tmp_path / "there")  # the broken pool noticed here or at submit
        except BrokenProcessPool:
            again = pool.read(files[:3], tmp_path / "there")  # what the task's retry does
        assert again == here[:3] and pool.pids() != [worker]
    assert reader_pool(pool.key) is None


def test_a_worker_whose_reader_cannot_be_built_says_why(tmp_path):
    with ReaderPool(1, ReadSettings(kind="number", device="cpu", weights=str(tmp_path / "missing.pt"))) as pool:
        with pytest.raises(Exception, match="not found"):
            pool.identity()
        with pytest.raises(Exception, match="not found"):
            pool.read([], tmp_path)


PARENT = """
import sys, time
from pipeline.flows.process import ReadSettings
from pipeline.flows.workers import ReaderPool
pool = ReaderPool(2, ReadSettings(kind="number", device="cpu"))
pool.identity()
print(*pool.pids(), flush=True)
time.sleep(600)
"""


def test_workers_exit_when_the_flow_process_is_killed(tmp_path):
    """A SIGKILL of the flow process alone (not its process group) leaves no worker behind."""
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).parent.parent)  # fmt: skip
    try:
        workers = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(workers) == 2 and all(_alive(pid) for pid in workers)
    finally:
        parent.kill()
        parent.wait()
    deadline = time.time() + 15
    while any(_alive(pid) for pid in workers) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers)


def test_a_worker_refuses_weights_of_another_format(tmp_path):
    import torch

    from pipeline.recognize.weights import WeightsError

    foreign = tmp_path / "foreign.pt"
    torch.save({"format": "something-else/1", "state_dict": {}}, foreign)  # passes the CLI's torch-free check
    settings = ReadSettings(kind="number", device="cpu", weights=str(foreign))
    with ReaderPool(1, settings) as pool, pytest.raises(WeightsError, match="is not a lenet5-weights/1 file"):
        pool.identity()
