"""End-to-end throughput and peak memory of the read-scans flow on generated 200 dpi documents.

Run: .venv/bin/python benchmarks/bench_flow.py --cheques 2000 --envelopes 2000 [--workdir DIR] [--batch-size 32]
Targets (issue 5): >= 40 documents/s on 2 cores (start-up reported apart from steady state), peak RSS under
1.5 GB and flat as the batch grows. Each kind is generated once, then read by `pipeline run` in a child process;
peak RSS is the largest resident size of that process or any of its descendants (the temporary Prefect server
included), measured by a wrapper process per run so runs do not mix.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PEAK_WRAPPER = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)"
)


def generate(folder: Path, cheques: int, envelopes: int, seed: int) -> None:
    if (folder / "truth.jsonl").exists():
        return
    command = [sys.executable, "-m", "pipeline.cli", "samples", "--out", str(folder), "--cheques", str(cheques),
               "--envelopes", str(envelopes), "--seed", str(seed), "--no-progress"]  # fmt: skip
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def read(folder: Path, out: Path, kind: str, batch_size: int) -> dict:
    command = [sys.executable, "-m", "pipeline.cli", "run", str(folder), "--out", str(out), "--kind", kind,
               "--device", "cpu", "--batch-size", str(batch_size), "--no-progress", "--force"]  # fmt: skip
    wrapper = [sys.executable, "-c", PEAK_WRAPPER, *command]
    start = time.perf_counter()
    finished = subprocess.run(wrapper, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - start
    lines = finished.stderr.strip().splitlines()
    peak_kb = int(lines[-1])
    summary = json.loads(next(line for line in reversed(lines) if line.startswith('{"documents"')))
    return {
        "documents": summary["documents"],
        "steady_docs_per_s": round(summary["docs_per_second"], 1),
        "wall_s": round(wall, 1),
        "startup_s": round(wall - summary["seconds"], 1),
        "peak_rss_mb": round(peak_kb / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cheques", type=int, default=2000)
    parser.add_argument("--envelopes", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--workdir", type=Path, default=None, help="keep generated documents here between runs")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-flow-"))
    results = {}
    for kind, cheques, envelopes in (("cheque", args.cheques, 0), ("envelope", 0, args.envelopes)):
        if cheques + envelopes == 0:
            continue
        folder = work / f"{kind}s-{cheques + envelopes}"
        generate(folder, cheques, envelopes, args.seed)
        results[kind] = read(folder, work / f"out-{kind}", kind, args.batch_size)
        print(kind, json.dumps(results[kind]), flush=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
