#!/usr/bin/env bash
# Set up (or refresh) the workbench's virtual environment in .venv of this checkout.
# Reuses an existing .venv and pip's cache; skips pip entirely when nothing changed since the last run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON_BIN="${PYTHON:-}"
if [ -z "$PYTHON_BIN" ]; then
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then PYTHON_BIN="$candidate"; break; fi
  done
fi
if [ -z "$PYTHON_BIN" ]; then
  echo "setup: no python3 found; install Python 3.11 or newer" >&2; exit 1
fi
if ! "$PYTHON_BIN" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "setup: $PYTHON_BIN is $("$PYTHON_BIN" -V 2>&1); the workbench needs Python 3.11 or newer" >&2; exit 1
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $PYTHON_BIN"
  "$PYTHON_BIN" -m venv .venv
fi

# workstation: torch and the rest of the workbench (the base alone is the torch-free line runtime).
# installer: PyInstaller, so the test suite builds and smoke-tests the one-folder app (tests/installer).
# cluster: Ray, so the sweep test runs a real Ray head and workers (tests/jobs/test_sweep_ray.py).
extras="${WORKBENCH_EXTRAS:-workstation,gui,ort,line,test,installer,cluster}"
stamp=".venv/.workbench-setup"
want="$(cat pyproject.toml constraints.txt plugins/*/pyproject.toml 2>/dev/null | sha256sum | cut -c1-16) $extras ${WORKBENCH_KEEP_TORCH:-}"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

echo "setup: installing the workbench and its dependencies into .venv (first time: torch is large)"
constraint=(-c constraints.txt)
if [ -n "${WORKBENCH_KEEP_TORCH:-}" ]; then
  # Keep whatever torch/torchvision build the user installed (CPU-only, another CUDA).
  constraint=()
fi
.venv/bin/python -m pip install --disable-pip-version-check -q "${constraint[@]}" -e ".[${extras}]"
echo "$want" > "$stamp"
