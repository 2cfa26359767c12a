"""Train several LeNet-5 recipes side by side (one process each) and evaluate every result.

Why: one training run's MNIST test error moves by about +-0.05% with the seed alone (docs/recognizer/seed-sweep.md),
so a recipe can only be judged over several seeds. On a GPU machine the runs share the card; on CPU give each its
own core (``--parallel`` no more than the cores).

Usage::

    python benchmarks/sweep_training.py --runs runs.json --data ../shared/data --out sweep/ --device cuda

``runs.json`` is a list of objects: ``name`` plus overrides of :class:`pipeline.recognize.train.TrainConfig`
(``repeats``, ``distortion`` and ``model`` are merged into the defaults), for example
``{"name": "el8_s1", "seed": 1, "epochs": 60, "orand_copies": 4, "repeats": {"orand": 2},
"distortion": {"elastic_share": 0.8}}``. Each run writes ``OUT/NAME/lenet5.pt`` and its log; ``OUT/results.jsonl``
gets one line per run, in the runs file's order: the last epoch's validation errors and ``pipeline evaluate``'s
figures, or ``unfinished`` with the exit status. The script exits non-zero when a run did not finish.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # the package is imported from the checkout, installed or not (as the runs do)
    sys.path.insert(0, str(REPO))

ONE_RUN = r"""
import dataclasses, json, sys, time
from pathlib import Path
import torch
from pipeline.recognize.classifier import DigitClassifier
from pipeline.recognize.evaluate import evaluate, public_results
from pipeline.recognize.train import TrainConfig, resolve_device, train

spec, data, out, device = json.loads(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
torch.set_num_threads(1)
config = TrainConfig()
for key, value in spec.items():
    if key == "repeats":
        config.repeats.update(value)
    elif key == "distortion":
        config.distortion = dataclasses.replace(config.distortion, **value)
    elif key == "model":
        config.model.update(value)
    elif key != "name":
        setattr(config, key, value)
started = time.perf_counter()
path = train(config, data, out, resolve_device(device), progress=False, log=lambda line: print(line, flush=True))
seconds = time.perf_counter() - started
history = torch.load(path, weights_only=True)["training"]["history"]
results = public_results(evaluate(DigitClassifier(path, device=device), data))
print("RESULT " + json.dumps({"spec": spec, "train_seconds": seconds, "val_error": history[-1]["val_error"],
                              "evaluate": results}), flush=True)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=Path, required=True, help="JSON list of runs (see the module docstring)")
    parser.add_argument("--data", type=Path, required=True, help="directory with mnist/, usps/, orand-car-a-dev/")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cuda")
    parser.add_argument("--parallel", type=int, default=16, help="runs at a time")
    parser.add_argument("--deadline", type=float, default=None, help="stop unfinished runs after this many seconds")
    args = parser.parse_args()

    runs = json.loads(args.runs.read_text())
    check_runs(runs)
    args.out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    pending, active, done = list(runs), [], []
    started = time.monotonic()
    while pending or active:
        while pending and len(active) < args.parallel:
            spec = pending.pop(0)
            folder = args.out / spec["name"]
            folder.mkdir(parents=True, exist_ok=True)
            log = open(folder / "log.txt", "w")  # noqa: SIM115 - closed when the run ends
            command = [sys.executable, "-c", ONE_RUN, json.dumps(spec), str(args.data), str(folder), args.device]
            active.append((spec, folder, log, subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)))
        out_of_time = args.deadline is not None and time.monotonic() - started > args.deadline
        for item in list(active):
            if out_of_time and item[3].poll() is None:
                item[3].kill()
            if item[3].poll() is not None:
                item[2].close()
                active.remove(item)
                done.append(item)
        if out_of_time:
            pending.clear()
        time.sleep(2)

    failed = 0
    finished = {spec["name"]: (folder, process) for spec, folder, _, process in done}
    with open(args.out / "results.jsonl", "w") as handle:
        for spec in runs:  # in the order of the runs file
            if spec["name"] not in finished:  # never started: the deadline came first
                row = {"spec": spec, "unfinished": True, "returncode": None}
            else:
                folder, process = finished[spec["name"]]
                lines = (folder / "log.txt").read_text().splitlines()
                results = [json.loads(line[len("RESULT ") :]) for line in lines if line.startswith("RESULT ")]
                row = results[0] if results else {
                    "spec": spec, "unfinished": True, "returncode": process.returncode, "last_lines": lines[-3:],
                }  # fmt: skip
            failed += "unfinished" in row
            handle.write(json.dumps(row) + "\n")
            figures = row.get("evaluate", {})
            summary = ", ".join(f"{name} {100 * value['error_rate']:.2f}%" for name, value in figures.items())
            print(f"{spec['name']}: {summary or 'unfinished, exit status ' + str(row['returncode'])}")
    print(f"wrote {args.out / 'results.jsonl'}")
    if failed:
        sys.exit(f"{failed} of {len(runs)} runs did not finish (see their log.txt)")


def check_runs(runs: list[dict]) -> None:
    """Refuse a runs file with a misspelt setting (it would silently train with the default) or clashing names
    (runs share a folder by name)."""
    from dataclasses import fields

    from pipeline.recognize.train import TrainConfig

    known = {f.name for f in fields(TrainConfig)} | {"name"}
    names = [run.get("name") for run in runs]
    if not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names):
        sys.exit("every run needs a name of its own")
    for run in runs:
        unknown = sorted(set(run) - known)
        if unknown:
            sys.exit(f"run {run['name']!r}: unknown settings {unknown} (TrainConfig has {sorted(known - {'name'})})")


if __name__ == "__main__":
    main()
