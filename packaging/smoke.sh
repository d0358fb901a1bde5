#!/usr/bin/env bash
# Smoke-test a built MMQ-Net Studio executable:
#   1. --selftest offscreen and, where `unshare -rn` works, without any network (opens the bundled SYNTHETIC
#      sample, cleans it, pages, masks, runs the model; exit 0 = ok);
#   2. where Xvfb exists, --selftest in a real X window (xcb), and a screenshot of the window with the sample
#      open when ImageMagick's `import` exists (SMOKE_SCREENSHOT=path.png, default dist/smoke_screenshot.png);
#   3. the start time to the first painted window: once "cold" (the bundle's files evicted from the page cache
#      with posix_fadvise, where python3 exists) and twice warm.
#
#   packaging/smoke.sh [EXECUTABLE]      (default dist/MMQNetStudio/MMQNetStudio)
#
# The app's settings go to a temporary file: the smoke test leaves the user's settings alone.
set -euo pipefail
exe=${1:-dist/MMQNetStudio/MMQNetStudio}
[ -x "$exe" ] || { echo "error: no executable at $exe (run packaging/build.sh first)" >&2; exit 2; }
bundle=$(cd "$(dirname "$exe")" && pwd)
sample=$(find "$bundle" -path "*resources/sample/synthetic_sample.bdf" | head -n 1)
[ -n "$sample" ] || { echo "error: the bundle has no resources/sample/synthetic_sample.bdf" >&2; exit 1; }
work=$(mktemp -d)
xvfb_pid=""
app_pid=""
cleanup() {
    [ -n "$app_pid" ] && kill "$app_pid" 2>/dev/null || true
    [ -n "$xvfb_pid" ] && kill "$xvfb_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
settings=(--settings "$work/settings.ini")

echo "== selftest (offscreen)"
# Without network where the kernel lets us make an empty network namespace: the app must need none at run time.
no_net=()
if command -v unshare >/dev/null 2>&1 && unshare -rn true 2>/dev/null; then
    no_net=(unshare -rn)
    echo "(no network: run inside 'unshare -rn')"
fi
QT_QPA_PLATFORM=offscreen "${no_net[@]}" "$exe" "${settings[@]}" --selftest

platform=(QT_QPA_PLATFORM=offscreen)
if command -v Xvfb >/dev/null 2>&1; then
    echo "== selftest (Xvfb, real X window)"
    # -displayfd: Xvfb picks a free display number and writes it to fd 3 once it accepts connections.
    Xvfb -displayfd 3 -screen 0 1600x1000x24 -nolisten tcp 3>"$work/display" >"$work/xvfb.log" 2>&1 &
    xvfb_pid=$!
    # Up to 30 s: once (session 14) it was not up after 5 s on a busy machine, and started at once when retried.
    for _ in $(seq 300); do [ -s "$work/display" ] && break; kill -0 "$xvfb_pid" 2>/dev/null || break; sleep 0.1; done
    [ -s "$work/display" ] || { echo "error: Xvfb did not start; its output:" >&2; cat "$work/xvfb.log" >&2; exit 1; }
    display=":$(head -n 1 "$work/display")"
    platform=(DISPLAY="$display" QT_QPA_PLATFORM=xcb)
    env "${platform[@]}" "$exe" "${settings[@]}" --selftest
    if command -v import >/dev/null 2>&1; then
        shot=${SMOKE_SCREENSHOT:-$(dirname "$bundle")/smoke_screenshot.png}
        env "${platform[@]}" "$exe" "${settings[@]}" "$sample" >/dev/null 2>&1 &
        app_pid=$!
        sleep "${SMOKE_SCREENSHOT_WAIT_S:-8}"  # opened and cleaned by then (the sample is 4 min long)
        DISPLAY="$display" import -window root "$shot"
        kill "$app_pid" 2>/dev/null || true
        wait "$app_pid" 2>/dev/null || true
        app_pid=""
        echo "screenshot of the real window: $shot"
    fi
else
    echo "== Xvfb not installed: real-window selftest skipped (apt-get install xvfb libxcb-cursor0 ...)"
fi

echo "== start time to the first painted window (${platform[*]})"
run_once() {  # label: prints the app's own figure and the wall time of the whole process (start to exit)
    local t0 t1 line
    t0=$(date +%s%N)
    line=$(env "${platform[@]}" "$exe" "${settings[@]}" --time-to-first-paint 2>/dev/null | grep "first paint")
    t1=$(date +%s%N)
    echo "$1: ${line#time to }; whole process (start, paint, exit): $(( (t1 - t0) / 1000000 )) ms"
}
if command -v python3 >/dev/null 2>&1; then
    python3 - "$bundle" <<'PY'
import os, sys
for root, _dirs, files in os.walk(sys.argv[1]):
    for name in files:
        path = os.path.join(root, name)
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # drop this file's pages from the page cache
        finally:
            os.close(fd)
PY
    run_once "cold (bundle evicted from the page cache)"
fi
run_once "warm"
run_once "warm"
