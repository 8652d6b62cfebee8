#!/usr/bin/env bash
# Build the Linux one-folder application (dist/workbench/) with PyInstaller and smoke-test it offline:
# `workbench --version`, `workbench models`, the packaged weights loaded (`models --check-weights`), the demo
# station opened offscreen with a screenshot (nothing trained), `workbench info`.
# Needs: the project's venv with the workstation, gui, ort and installer extras (scripts/setup.sh installs them).
# Usage: installer/build_linux.sh [--no-smoke]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-.venv/bin/python}
"$PY" -m PyInstaller --version >/dev/null 2>&1 || { echo "build_linux: pip install -e '.[installer]' first" >&2; exit 2; }
start=$SECONDS
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build/pyinstaller installer/workbench.spec

APP=dist/workbench/workbench
[ -x "$APP" ] || { echo "build_linux: $APP was not built" >&2; exit 1; }
echo "build_linux: built $(du -sh dist/workbench | cut -f1) in dist/workbench in $((SECONDS - start)) s"
[ "${1:-}" = "--no-smoke" ] && exit 0

SMOKE=$(mktemp -d)
trap 'rm -rf "$SMOKE"' EXIT
export WORKBENCH_DATA_DIR="$SMOKE/data" QT_QPA_PLATFORM=offscreen
# No network: where the kernel allows it the app runs in a network namespace of its own (loopback only),
# so any download attempt fails; proxies pointing nowhere catch the rest elsewhere.
export http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 HF_HUB_OFFLINE=1
OFFLINE=()
if unshare --user --map-root-user --net true 2>/dev/null; then
  OFFLINE=(unshare --user --map-root-user --net)
  echo "build_linux: smoke test in a network namespace without network"
else
  echo "build_linux: no network namespace here (unshare refused); smoke test with dead proxies only"
fi
"${OFFLINE[@]}" "$APP" --version
"${OFFLINE[@]}" "$APP" models >"$SMOKE/models.txt"
grep -q patchcore "$SMOKE/models.txt"
"${OFFLINE[@]}" "$APP" models --check-weights
"${OFFLINE[@]}" "$APP" gui --demo --screenshot "$SMOKE/window.png"
[ -s "$SMOKE/window.png" ] || { echo "build_linux: no screenshot written" >&2; exit 1; }
"${OFFLINE[@]}" "$APP" info "$WORKBENCH_DATA_DIR/demo-station/station.awb"
echo "build_linux: smoke test passed (screenshot $(stat -c %s "$SMOKE/window.png") bytes) $((SECONDS - start)) s after the start"
