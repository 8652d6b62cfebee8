#!/usr/bin/env bash
# README command (2): set everything up and run every test (headless tests, then screenshot tests under Xvfb).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh || exit 1

need_pkgs=()
command -v xvfb-run >/dev/null 2>&1 || need_pkgs+=(xvfb xauth)
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need_pkgs+=(mosquitto)
command -v unshare >/dev/null 2>&1 || need_pkgs+=(util-linux)   # sweep test: a private network namespace
command -v ip >/dev/null 2>&1 || need_pkgs+=(iproute2)
for lib in libxcb-icccm.so.4 libxcb-keysyms.so.1 libxcb-image.so.0 libxcb-render-util.so.0 libxkbcommon-x11.so.0 libxcb-cursor.so.0; do
  ldconfig -p 2>/dev/null | grep -q "$lib" || need_pkgs+=("$lib")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "test: installing Xvfb, Qt's X libraries (screenshot tests) and mosquitto (line-mode test) with apt-get"
  SUDO=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo -n"
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
      xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxkbcommon-x11-0 \
      libxcb-cursor0 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 mosquitto util-linux iproute2 >/dev/null; } \
    || echo "test: could not install Xvfb/mosquitto with apt-get; the tests that need them will be skipped"
fi

export QT_QPA_PLATFORM=offscreen
status=0
.venv/bin/python -m pytest -q -m "not screenshot" "$@"
rc=$?
# pytest exit code 5 (no tests collected) is a failure too.
[ $rc -ne 0 ] && status=1

if command -v xvfb-run >/dev/null 2>&1; then
  unset QT_QPA_PLATFORM
  export WORKBENCH_SCREENSHOT_DIR="${WORKBENCH_SCREENSHOT_DIR:-$PWD/out/screenshots}"
  mkdir -p "$WORKBENCH_SCREENSHOT_DIR"
  xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python -m pytest -q -m screenshot "$@"
  rc=$?
  [ $rc -ne 0 ] && status=1
else
  echo "test: Xvfb unavailable; screenshot tests skipped"
fi
exit $status
