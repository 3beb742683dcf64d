#!/usr/bin/env bash
# Set up .venv and run the main job on its embedded default: the scheme comparison table
# (chi_1, stable fixed point, slope, depth scale, phase) of plain, weight-mean and BN networks.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/kernelnorm chi1 --norm weight-mean
.venv/bin/kernelnorm compare "$@"
