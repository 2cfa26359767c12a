"""End-to-end throughput and peak memory of the read-scans flow on generated documents.

Run: .venv/bin/python benchmarks/bench_flow.py --cheques 2000 --envelopes 2000 [--workdir DIR] [--batch-size 32]
     [--runner local|dask] [--workers 2] [--source DIR]
Targets (issue 5): >= 40 documents/s on 2 cores (start-up reported apart from steady state), peak RSS under
1.5 GB and flat as the batch grows. Each kind is generated once (`pipeline samples`: 200 and 300 dpi, grey,
colour and bitonal scans), then read by `pipeline run` in a child process, into a fresh output folder.

Reported per kind: ``steady_docs_per_s`` (the flow's own figure: documents / time from the first batch submitted
to the last stored), ``flow_startup_s`` (the flow's time before its first batch: exports, hashing the first chunk of
files, workers starting), ``outside_steady_s`` (wall minus steady: imports, the temporary Prefect server, the
flow's start-up and its final exports), memory sampled every 0.25 s over the whole process tree (``peak_rss_mb``:
the largest process; ``peak_tree_rss_mb``: the sum, shared pages counted in each process, so it errs high;
``peak_tree_pss_mb``: the sum of proportional set sizes, shared pages split between the processes sharing them,
sampled every second), CPU seconds by process role, and the load average before and after (other work on the
machine slows the run: compare figures taken under the same load). ``--source`` runs `pipeline` from another
checkout of the code (the same inputs read by two versions).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil


def generate(folder: Path, cheques: int, envelopes: int, seed: int) -> None:
    if (folder / "truth.jsonl").exists():
        return
    command = [sys.executable, "-m", "pipeline.cli", "samples", "--out", str(folder), "--cheques", str(cheques),
               "--envelopes", str(envelopes), "--seed", str(seed), "--no-progress"]  # fmt: skip
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def _role(process: psutil.Process) -> str:
    command = " ".join(process.cmdline())
    if "uvicorn" in command or "prefect.server" in command:
        return "server"
    if "multiprocessing" in command and "resource_tracker" not in command:
        return "workers"  # the flow's reading processes, or a Dask cluster's
    if "pipeline.cli" in command:
        return "flow"
    return "other"


def _high_water_mark(pid: int) -> int:
    """VmHWM of /proc/PID/status in bytes (0 where there is no such file: not Linux, or the process is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class TreeSampler:
    """Peak memory and CPU seconds of a process and all its descendants, sampled until it exits."""

    def __init__(self, root: psutil.Process) -> None:
        self.root = root
        self.peak_rss = self.peak_tree_rss = self.peak_tree_pss = 0
        self.cpu: dict[int, tuple[str, float]] = {}
        self.roles: dict[int, str] = {}
        self.peak_by_role: dict[str, int] = {}  # the largest single process of each role
        self.now: dict[str, int] = {}  # the latest sample: tree_rss, tree_pss (when sampled) and each role's largest
        self.peak_tree_parts: dict[str, list[int]] = {}  # at the tree's RSS peak: each process's RSS, by role
        self.high_water: dict[int, tuple[str, int]] = {}  # each process's own peak RSS (VmHWM), last read
        self.seen: dict[int, int] = {}  # samples each process was in

    def sample(self, with_pss: bool) -> None:
        try:
            processes = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return
        tree_rss = tree_pss = 0
        now: dict[str, int] = {}
        parts: dict[str, list[int]] = {}
        for process in processes:
            try:
                with process.oneshot():
                    role = self.roles.get(process.pid) or self._role(process)
                    times = process.cpu_times()
                    memory = process.memory_full_info() if with_pss else process.memory_info()
            except psutil.Error:
                continue
            self.cpu[process.pid] = (role, times.user + times.system)
            self.seen[process.pid] = self.seen.get(process.pid, 0) + 1
            hwm = _high_water_mark(process.pid)
            if hwm:
                self.high_water[process.pid] = (role, hwm)
            self.peak_rss = max(self.peak_rss, memory.rss)
            self.peak_by_role[role] = max(self.peak_by_role.get(role, 0), memory.rss)
            now[role] = max(now.get(role, 0), memory.rss)
            parts.setdefault(role, []).append(memory.rss)
            tree_rss += memory.rss
            tree_pss += getattr(memory, "pss", 0)
        if tree_rss > self.peak_tree_rss:  # which processes made the peak (a short-lived child shows here)
            self.peak_tree_rss = tree_rss
            self.peak_tree_parts = parts
        self.peak_tree_pss = max(self.peak_tree_pss, tree_pss)
        self.now = {**now, "tree_rss": tree_rss, "tree_pss": tree_pss or self.now.get("tree_pss", 0)}

    def _role(self, process: psutil.Process) -> str:
        """The process's role, kept once known. A child caught between fork and exec still shows its parent's
        command line: it is "other" until it shows its own (a worker was once counted as a second flow)."""
        if process.pid == self.root.pid:
            return self.roles.setdefault(process.pid, "flow")
        try:
            if process.cmdline() == self.root.cmdline():
                return "other"
        except psutil.Error:
            return "other"
        return self.roles.setdefault(process.pid, _role(process))

    def high_water_mb(self) -> dict[str, list[int]]:
        """Each process's lifetime peak RSS as the kernel kept it (no sampling gap), by role, in MB. Their sum
        bounds the tree's peak from above (the processes need not peak together). Processes seen in fewer than 5
        samples are left out: a child caught between fork and exec shows its parent's memory as its own."""
        by_role: dict[str, list[int]] = {}
        for pid, (role, hwm) in self.high_water.items():
            if self.seen.get(pid, 0) >= 5:
                by_role.setdefault(role, []).append(round(hwm / 2**20))
        return by_role

    def parts_mb(self) -> dict[str, list[int]]:
        """The processes summed at the tree's RSS peak, by role, in MB."""
        return {role: [round(rss / 2**20) for rss in sizes] for role, sizes in self.peak_tree_parts.items()}

    def cpu_by_role(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for role, seconds in self.cpu.values():
            totals[role] = round(totals.get(role, 0.0) + seconds, 1)
        return totals


def read(folder: Path, out: Path, kind: str, batch_size: int, runner: str, workers: int,
         source: Path | None) -> dict:  # fmt: skip
    command = [sys.executable, "-m", "pipeline.cli", "run", str(folder), "--out", str(out), "--kind", kind,
               "--device", "cpu", "--batch-size", str(batch_size), "--no-progress", "--force",
               "--runner", runner, "--workers", str(workers)]  # fmt: skip
    load_before = os.getloadavg()
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=source)
    sampler = TreeSampler(psutil.Process(process.pid))
    stderr: list[str] = []
    drain = threading.Thread(target=lambda: stderr.extend(process.stderr), daemon=True)
    drain.start()
    ticks = 0
    while process.poll() is None:
        sampler.sample(with_pss=ticks % 4 == 0)
        ticks += 1
        time.sleep(0.25)
    wall = time.perf_counter() - start
    drain.join(timeout=10)
    if process.returncode != 0:
        raise SystemExit(f"pipeline run failed ({process.returncode}):\n{''.join(stderr)[-3000:]}")
    summary = json.loads(next(line for line in reversed(stderr) if line.startswith('{"documents"')))
    return {
        "documents": summary["documents"],
        "errors": summary["errors"],
        "steady_docs_per_s": round(summary["docs_per_second"], 1),
        "steady_s": round(summary["seconds"], 1),
        "flow_startup_s": round(summary["startup_seconds"], 1),
        "outside_steady_s": round(wall - summary["seconds"], 1),
        "wall_s": round(wall, 1),
        "peak_rss_mb": round(sampler.peak_rss / 2**20),
        "peak_tree_rss_mb": round(sampler.peak_tree_rss / 2**20),
        "peak_tree_pss_mb": round(sampler.peak_tree_pss / 2**20),
        "peak_rss_mb_by_role": {role: round(rss / 2**20) for role, rss in sampler.peak_by_role.items()},
        "peak_tree_parts_mb": sampler.parts_mb(),
        "high_water_mb": sampler.high_water_mb(),
        "cpu_s": sampler.cpu_by_role(),
        "load_before": [round(v, 2) for v in load_before],
        "load_after": [round(v, 2) for v in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cheques", type=int, default=2000)
    parser.add_argument("--envelopes", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--runner", choices=["local", "dask"], default="local")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=None, help="keep generated documents here between runs")
    parser.add_argument("--out", type=Path, default=None, help="output folders here (default: the workdir)")
    parser.add_argument("--source", type=Path, default=None, help="run `pipeline` from this checkout")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-flow-"))
    out = args.out or work
    results = {}
    for kind, cheques, envelopes in (("cheque", args.cheques, 0), ("envelope", 0, args.envelopes)):
        if cheques + envelopes == 0:
            continue
        folder = work / f"{kind}s-{cheques + envelopes}"
        generate(folder, cheques, envelopes, args.seed)
        target = out / f"out-{kind}-{args.runner}-{args.workers}"
        shutil.rmtree(target, ignore_errors=True)  # a fresh output: every document read and stored anew
        results[kind] = read(folder, target, kind, args.batch_size, args.runner, args.workers, args.source)
        print(kind, json.dumps(results[kind]), flush=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
