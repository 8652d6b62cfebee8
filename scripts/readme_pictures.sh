#!/usr/bin/env bash
# The README's pictures of the window are the screenshot test's own (tests/gui/test_screens.py): run it on
# a virtual display at both sizes and copy the steps the README shows into resources/readme/.
# WORKBENCH_DEMO_DIR may name a ready demo station to start from (else one is built, a few minutes).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
shots="$(mktemp -d)"
WORKBENCH_SCREENSHOT_DIR="$shots" PYTHONPATH="$PWD" xvfb-run -a -s "-screen 0 1920x1080x24" \
    .venv/bin/python -m pytest -q -m screenshot tests/gui/test_screens.py -p no:cacheprovider
for step in start station compare thresholds export line; do
    cp "$shots/workbench-$step-1366x768.png" "resources/readme/window-$step.png"
done
echo "README pictures updated from $shots"
