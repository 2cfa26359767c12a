"""Peak memory of `pipeline run` as the batch grows: N documents, then 10x N (issue 5: flat, under 1.5 GB).

Run: nice .venv/bin/python benchmarks/bench_flow_memory.py --sizes 1000 10000 [--base 500] [--workdir DIR]

Generating a document costs ~50-100 ms, so `--base` distinct cheques and envelopes (half each, PNG and JPEG) are
generated once and every input folder is made of copies of them, each copy changed by a few bytes that no decoder
reads (a PNG tEXt chunk, a JPEG comment segment). The pages are the same pixels, but every file has its own
SHA-256, so the flow reads every one of them (identical bytes would only be recorded as sightings of one content).

Each size runs `pipeline run --kind auto --workers W` into a fresh output folder in a child process (its own
session, so its temporary Prefect server is measured with it and cannot outlive it). psutil polls the child and
all its descendants every `--interval` seconds (bench_flow.TreeSampler) and records the largest resident set of
each role (flow, server, workers: the reading processes), the tree's RSS sum (shared pages counted in each
process, so it errs high) and its PSS sum (shared pages split between their processes; read about once a
second), with the documents written so far (lines of results.jsonl) so growth within a run shows too
(`--series`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import psutil
from bench_flow import TreeSampler  # this folder is on sys.path when a benchmark runs as a script

MB = 1024 * 1024


def generate_base(folder: Path, count: int, seed: int) -> list[Path]:
    if not (folder / "truth.jsonl").exists():
        cheques = count // 2
        command = [sys.executable, "-m", "pipeline.cli", "samples", "--out", str(folder), "--cheques", str(cheques),
                   "--envelopes", str(count - cheques), "--seed", str(seed), "--formats", "png,jpeg",
                   "--no-progress"]  # fmt: skip
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))


def variant(data: bytes, suffix: str, k: int) -> bytes:
    """The same image with a few bytes of metadata added, so that each copy has its own content hash."""
    if k == 0:
        return data
    text = f"bench-copy {k}".encode()
    if suffix == ".png":  # a tEXt chunk just before IEND (the last 12 bytes)
        body = b"tEXt" + b"Comment\x00" + text
        chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
        assert data[-12:-8] == b"\x00\x00\x00\x00" and data[-8:-4] == b"IEND"
        return data[:-12] + chunk + data[-12:]
    if suffix in (".jpg", ".jpeg"):  # a COM segment right after SOI
        assert data[:2] == b"\xff\xd8"
        return data[:2] + b"\xff\xfe" + struct.pack(">H", len(text) + 2) + text + data[2:]
    raise ValueError(f"cannot make a variant of a {suffix} file")


def build_input(base: list[Path], folder: Path, size: int) -> Path:
    """`size` files, copies of the base documents in turn, each with distinct bytes; reused when complete."""
    marker = folder / ".complete"
    if marker.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    old = time.time() - 60  # older than the flow's settle time
    for i in range(size):
        source = base[i % len(base)]
        k = i // len(base)
        target = folder / f"{k:03d}-{source.name}"
        target.write_bytes(variant(source.read_bytes(), source.suffix.lower(), k))
        os.utime(target, (old, old))
    marker.write_text(str(size))
    return folder


def count_lines(path: Path) -> int:
    try:
        with open(path, "rb") as handle:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    except FileNotFoundError:
        return 0


def measure(folder: Path, out: Path, batch_size: int, interval: float, workers: int) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "pipeline.cli", "run", str(folder), "--out", str(out), "--kind", "auto",
               "--device", "cpu", "--batch-size", str(batch_size), "--workers", str(workers),
               "--no-progress"]  # fmt: skip
    log = out.with_suffix(".log")
    start = time.perf_counter()
    with open(log, "w") as handle:
        child = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    sampler = TreeSampler(psutil.Process(child.pid))
    series: list[dict] = []
    next_sample = 0.0
    ticks = 0
    while child.poll() is None:
        sampler.sample(with_pss=ticks % max(1, round(1 / interval)) == 0)  # PSS (slow to read) about once a second
        ticks += 1
        now = time.perf_counter() - start
        if now >= next_sample:  # a coarser series: documents done and memory, every ~5 s
            done = count_lines(out / "results.jsonl")
            series.append({"s": round(now, 1), "documents": done, **{k: round(v / MB) for k, v in sampler.now.items()}})
            next_sample = now + 5
        time.sleep(interval)
    wall = time.perf_counter() - start
    if child.wait() != 0:
        raise SystemExit(f"pipeline run failed, see {log}")
    lines = log.read_text().splitlines()
    summary = json.loads(next(line for line in reversed(lines) if line.startswith('{"documents"')))
    return {
        "documents": summary["documents"],
        "errors": summary["errors"],
        "peak_rss_mb_by_role": {role: round(rss / MB) for role, rss in sampler.peak_by_role.items()},
        "peak_tree_rss_mb": round(sampler.peak_tree_rss / MB),
        "peak_tree_parts_mb": sampler.parts_mb(),
        "high_water_mb": sampler.high_water_mb(),  # each process's own peak, read from the kernel
        "high_water_sum_mb": sum(sum(sizes) for sizes in sampler.high_water_mb().values()),
        "peak_tree_pss_mb": round(sampler.peak_tree_pss / MB),
        "steady_docs_per_s": round(summary["docs_per_second"], 1),
        "flow_startup_s": round(summary["startup_seconds"], 1),
        "wall_s": round(wall, 1),
        "outside_steady_s": round(wall - summary["seconds"], 1),  # process start, server, discovery, exports
        "series": series,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--base", type=int, default=500, help="distinct documents generated (half cheques)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="reading processes of `pipeline run`")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between memory samples")
    parser.add_argument("--workdir", type=Path, default=None, help="keep generated documents here between runs")
    parser.add_argument("--series", action="store_true", help="print memory against documents done")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-flow-memory-"))
    base = generate_base(work / f"base-{args.base}-{args.seed}", args.base, args.seed)
    results = {}
    for size in args.sizes:
        folder = build_input(base, work / f"input-{size}-{args.base}-{args.seed}", size)
        result = measure(folder, work / f"out-{size}", args.batch_size, args.interval, args.workers)
        series = result.pop("series")
        if args.series:
            for point in series:
                print(size, json.dumps(point), flush=True)
        results[size] = result
        print(size, json.dumps(result), flush=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
