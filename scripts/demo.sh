#!/usr/bin/env bash
# README command (1): set everything up, build the demo station when absent, open the workbench on it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
exec .venv/bin/workbench gui --demo "$@"
