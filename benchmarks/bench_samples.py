"""Time the document generator: 1,000 documents (half cheques, half envelopes) in the default format mix.

Run: .venv/bin/python benchmarks/bench_samples.py [--cheques 500] [--envelopes 500] [--seed 0] [--threads 2]
Target (issue 3): 1,000 documents in under 2 minutes on 2 CPU cores (one process; OpenCV may use both cores).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import tempfile
import time
from pathlib import Path

import cv2

from pipeline.synth.generate import generate_samples

TARGET_SECONDS = 120.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cheques", type=int, default=500)
    parser.add_argument("--envelopes", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="OpenCV threads")
    parser.add_argument("--out", type=Path, default=None, help="keep the documents here (default: a temp dir)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    cv2.setNumThreads(args.threads)
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-samples-"))
    start = time.perf_counter()
    summary = generate_samples(out, args.cheques, args.envelopes, seed=args.seed)
    seconds = time.perf_counter() - start
    docs = summary.documents
    figures = {
        "documents": docs,
        "files": summary.files,
        "seconds": round(seconds, 2),
        "documents_per_second": round(docs / seconds, 2),
        "seconds_per_1000": round(seconds / max(docs, 1) * 1000, 1),
        "target_seconds_per_1000": TARGET_SECONDS,
        "meets_target": seconds / max(docs, 1) * 1000 < TARGET_SECONDS,
        "megabytes_written": round(summary.bytes / 1e6, 1),
        "by_format": summary.by_format,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "opencv_threads": args.threads,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    if args.out is None:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
