#!/usr/bin/env bash
# Set up (if needed), run the main job on samples/ with the shipped weights, and score it against the truth.
# Results: out/samples/ (results.jsonl, results.csv, results.db, review/).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/pipeline run samples --out out/samples --no-progress
.venv/bin/pipeline score --truth samples/truth.jsonl --results out/samples/results.jsonl --json out/samples/score.json
