"""Batch inference throughput of the shipped LeNet-5 (network only, and with normalisation), and peak memory.

Run: .venv/bin/python benchmarks/bench_inference.py [--batch 1024] [--seconds 10] [--threads 2] [--device cpu]
Target (issue 2): >= 25,000 digits/s at batch 1,024 on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time
from pathlib import Path

import numpy as np
import torch

from pipeline.data.bundled import MNIST_TEST_SUBSET
from pipeline.data.mnist import load_mnist
from pipeline.recognize.classifier import DigitClassifier

SUBSET = MNIST_TEST_SUBSET


def timed_rate(step, items_per_call: int, seconds: float) -> float:
    """Calls ``step`` repeatedly for about ``seconds``; returns items per second."""
    step()  # warm-up
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        calls += 1
    return calls * items_per_call / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    images, _ = load_mnist(SUBSET, "test")
    raw = [images[i % len(images)] for i in range(args.batch)]
    classifier = DigitClassifier(device=args.device, batch_size=args.batch)
    normalized = classifier.normalize(raw)

    network = timed_rate(lambda: classifier.classify_normalized(normalized), args.batch, args.seconds)
    full = timed_rate(lambda: classifier.classify(raw), args.batch, args.seconds)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "batch": args.batch,
        "threads": torch.get_num_threads(),
        "device": str(classifier.device),
        "network_digits_per_s": round(network),
        "normalize_and_network_digits_per_s": round(full),
        "peak_rss_mb": round(peak_mb, 1),
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
