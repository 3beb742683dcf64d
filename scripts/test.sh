#!/usr/bin/env bash
# The whole test suite: sets up .venv and the pinned neural-tangents oracle .venv-nt, then runs
# every test (theorems, Monte-Carlo, NTK + neural-tangents cross-checks, power, training).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --with-nt
export KERNELNORM_NT_PYTHON="$PWD/.venv-nt/bin/python"
.venv/bin/python -m pytest tests --durations=15 "$@"
