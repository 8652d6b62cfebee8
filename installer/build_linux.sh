#!/usr/bin/env bash
# Build the Linux one-folder application (dist/workbench/) with PyInstaller and smoke-test it offline:
# `workbench --version`, `workbench models`, the demo station opened offscreen with a screenshot, `workbench info`.
# Needs: the project's venv with the gui and ort extras, and `pip install pyinstaller`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-.venv/bin/python}
"$PY" -m PyInstaller --version >/dev/null 2>&1 || { echo "build_linux: pip install pyinstaller first" >&2; exit 2; }
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build/pyinstaller installer/workbench.spec

APP=dist/workbench/workbench
[ -x "$APP" ] || { echo "build_linux: $APP was not built" >&2; exit 1; }
echo "build_linux: built $(du -sh dist/workbench | cut -f1) in dist/workbench"
[ "${1:-}" = "--no-smoke" ] && exit 0

SMOKE=$(mktemp -d)
trap 'rm -rf "$SMOKE"' EXIT
export WORKBENCH_DATA_DIR="$SMOKE/data" QT_QPA_PLATFORM=offscreen
# No network: proxies pointing nowhere make any download attempt fail loudly instead of succeeding.
export http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 HF_HUB_OFFLINE=1
"$APP" --version
"$APP" models >"$SMOKE/models.txt"
grep -q patchcore "$SMOKE/models.txt"
"$APP" gui --demo --screenshot "$SMOKE/window.png"
[ -s "$SMOKE/window.png" ] || { echo "build_linux: no screenshot written" >&2; exit 1; }
"$APP" info "$WORKBENCH_DATA_DIR/demo-station/station.awb"
echo "build_linux: smoke test passed (screenshot $(stat -c %s "$SMOKE/window.png") bytes)"
