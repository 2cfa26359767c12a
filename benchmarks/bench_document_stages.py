"""Throughput of the document stages alone, on 200 dpi cheque scans, with the network left out.

    .venv/bin/python benchmarks/bench_document_stages.py --generate 120 --seed 4242 --out /tmp/bench-cheques
    .venv/bin/python benchmarks/bench_document_stages.py --docs /tmp/bench-cheques --workers 2

Per page, timed: load_pages (decode the file: JPEG, PNG, TIFF, G4), the page view (downscale, light
normalisation, threshold, skew estimate and deskew), the upside-down check, cheque amount location (with its
runner-up zone) and the deskewed crops, then the reader's segmentation of every crop (binarise, rule and
speck removal, over-segmentation, candidate segments, and rendering each candidate to the image the network
would get). Not timed: digit normalisation to 28x28 and the LeNet-5 call, which run over the whole batch.
Pages are only those at 200 dpi (the generator also makes 300 dpi colour and grey scans).
Workers are separate processes, as the batch flow runs them; each uses one thread (OpenCV, torch).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path


def _init() -> None:
    import cv2

    cv2.setNumThreads(1)


def _stages(job: tuple[str, list[int]]) -> tuple[int, dict]:
    from pipeline.segment.field import prepare
    from pipeline.segment.locate_cheque import locate_amount
    from pipeline.segment.orientation import upright_view
    from pipeline.segment.pages import Page, load_pages
    from pipeline.segment.search import SearchConfig, candidate_segments, render

    path, wanted = job
    times = {"load": 0.0, "view_orientation": 0.0, "locate": 0.0, "segment": 0.0}
    t0 = time.perf_counter()
    pages = [p for p in load_pages(Path(path)) if isinstance(p, Page) and p.index in wanted]
    times["load"] += time.perf_counter() - t0
    config = SearchConfig()
    for page in pages:
        t0 = time.perf_counter()
        view, _turned = upright_view(page.image, page.dpi, "cheque")
        t1 = time.perf_counter()
        loc = locate_amount(view)
        t2 = time.perf_counter()
        for place in [loc, *loc.alternatives]:
            if place.crop is not None:
                atoms, scale, grey = prepare(place.crop)
                for segment in candidate_segments(atoms, scale, config):
                    render(segment, grey)
        t3 = time.perf_counter()
        times["view_orientation"] += t1 - t0
        times["locate"] += t2 - t1
        times["segment"] += t3 - t2
    return len(pages), times


def jobs_from(root: Path) -> list[tuple[str, list[int]]]:
    by_file: dict[str, list[int]] = {}
    for line in (root / "truth.jsonl").read_text().splitlines():
        t = json.loads(line)
        if t["kind"] == "cheque" and int(t["dpi"]) == 200:
            by_file.setdefault(str(root / t["document"]), []).append(int(t.get("page") or 0))
    return sorted(by_file.items())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=Path)
    ap.add_argument("--generate", type=int, metavar="CHEQUES")
    ap.add_argument("--seed", type=int, default=4242)
    ap.add_argument("--out", type=Path, default=Path("/tmp/bench-cheques"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1, help="passes over the pages (the first warms the caches)")
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    root = args.docs
    if args.generate:
        from pipeline.synth.generate import generate_samples

        root = args.out
        generate_samples(root, args.generate, 0, seed=args.seed)
    if root is None:
        ap.error("give --docs or --generate")
    jobs = jobs_from(root)
    # spawn, not fork: a forked child of a process that has used OpenCV's or torch's thread pools can deadlock
    with multiprocessing.get_context("spawn").Pool(args.workers, initializer=_init) as pool:
        pool.map(_stages, jobs[: args.workers * 2])  # warm up: imports, first calls
        t0 = time.perf_counter()
        done = []
        for _ in range(args.repeat):
            done += pool.map(_stages, jobs, chunksize=2)
        wall = time.perf_counter() - t0
    pages = sum(n for n, _ in done)
    totals = {k: sum(t[k] for _, t in done) for k in done[0][1]}
    print(f"{pages} cheque pages at 200 dpi, {args.workers} worker process(es): {wall:.2f} s wall, "
          f"{pages / wall:.1f} cheques/s")  # fmt: skip
    cpu = sum(totals.values())
    print("CPU ms per cheque by stage: " + ", ".join(f"{k} {v / pages * 1000:.1f}" for k, v in totals.items())
          + f", total {cpu / pages * 1000:.1f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
