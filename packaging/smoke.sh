#!/usr/bin/env bash
# Smoke-test a built MMQ-Net Studio executable: --selftest offscreen and, where Xvfb exists, in a real X window;
# then time the cold start to the first painted window.
set -euo pipefail
exe=${1:-dist/MMQNetStudio/MMQNetStudio}
[ -x "$exe" ] || { echo "error: no executable at $exe (run packaging/build.sh first)" >&2; exit 2; }

echo "== selftest (offscreen)"
QT_QPA_PLATFORM=offscreen "$exe" --selftest

if command -v Xvfb >/dev/null 2>&1; then
    echo "== selftest (Xvfb, real X window)"
    Xvfb :97 -screen 0 1600x1000x24 >/dev/null 2>&1 &
    xvfb_pid=$!
    trap 'kill $xvfb_pid 2>/dev/null || true' EXIT
    sleep 1
    DISPLAY=:97 QT_QPA_PLATFORM=xcb "$exe" --selftest
    platform="DISPLAY=:97 QT_QPA_PLATFORM=xcb"
else
    echo "== Xvfb not installed: real-window selftest skipped (apt-get install xvfb libxcb-cursor0 ...)"
    platform="QT_QPA_PLATFORM=offscreen"
fi

echo "== cold start to the first window"
sync
for i in 1 2 3; do
    env $platform "$exe" --time-to-first-paint
done
