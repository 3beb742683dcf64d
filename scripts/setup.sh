#!/usr/bin/env bash
# Create .venv (kernelnorm + test deps) and, with --with-nt, .venv-nt (pinned neural-tangents
# oracle). Idempotent: an environment is rebuilt only when its requirement files change.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
with_nt=0
[[ "${1:-}" == "--with-nt" ]] && with_nt=1

stamp_of() { cat "$@" | sha256sum | cut -c1-16; }

ensure_env() {  # ensure_env DIR STAMP INSTALL-COMMAND...
    local dir=$1 stamp=$2; shift 2
    if [[ -f "$dir/.kernelnorm-stamp" && "$(cat "$dir/.kernelnorm-stamp")" == "$stamp" ]]; then
        return 0
    fi
    echo "setup: building $dir (one-time, a few minutes)" >&2
    rm -rf "$dir"
    "$PYTHON" -m venv "$dir"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$@"
    echo "$stamp" > "$dir/.kernelnorm-stamp"
}

ensure_env .venv "$(stamp_of pyproject.toml)" \
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"

if (( with_nt )); then
    ensure_env .venv-nt "$(stamp_of requirements-nt.txt pyproject.toml)" bash -c '
        .venv-nt/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-nt.txt &&
        .venv-nt/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .'
fi
