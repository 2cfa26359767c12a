#!/usr/bin/env bash
# Set up (if needed) and run the main job on samples/ with the shipped weights; results go to out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/pipeline digits samples/digits --out out/digits
