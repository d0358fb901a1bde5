#!/usr/bin/env bash
# Regenerate README screenshots of MMQ-Net Studio from a worktree, in a real X window under Xvfb.
#
#   make_shots.sh TREE [OUTDIR]
#
# TREE    a checkout of the project (the app and mmqnet_core are run from it; its sample recording is opened)
# OUTDIR  where the PNGs go (default TREE/resources/screenshots)
#
# Writes: heart_rate_row.png, browser_reading.png, page_export.png, main_window.png, preferences.png,
# analysis_views.png, analysis_report.png, attention_map.png, circumplex_view.png, reconstruction_view.png,
# trajectory_view.png (PNG8, 256 colours). Python: $PYTHON, else TREE/.venv/bin/python (./dev.sh setup), else
# TREE/../main/.venv/bin/python (a git worktree beside the main checkout).
# Needs Xvfb, xdotool, ImageMagick (import, convert). Uses display :9 (override with SHOTS_DISPLAY).
#
# How it stays independent of the layout: the app runs through a small launcher (below) that logs INFO records
# to a file (the script waits for "cleaned ...", "analysis of ... finished", "page exported to ...", "report
# written to ...", and reads the longest detected muscle span the launcher logs) and writes the screen rectangles
# of the window's widgets (window, browser, its plot, the four analysis docks, visible dialogs), as Qt reports
# them, to a JSON file every 0.3 s. Clicks go to the middle of the browser, crops use those rectangles; keys and
# menu mnemonics do the rest (Ctrl+4 double banana, C raw/cleaned/both, Q cursors, H heart-rate row, Ctrl+G go to
# time, Ctrl+Shift+M simulate missing data, F5 analysis, Alt+1..4 analysis views, Alt+E P preferences, Alt+F P
# export page, Ctrl+Shift+R export report). Settings come from a fresh INI ($MMQNET_STUDIO_SETTINGS) with the
# display filters and the trajectory's spectrogram channel preset. The app opens a copy of the sample in a
# temporary folder (its mask sidecar goes there, not into TREE). Every wait has a timeout: the script then ends
# with "error: ..." and exit 1, keeping the app log. A run takes about 2 minutes on a loaded 2-core machine.
set -euo pipefail

TREE=$(cd "${1:?usage: make_shots.sh TREE [OUTDIR]}" && pwd)
OUT=${2:-$TREE/resources/screenshots}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
PY=${PYTHON:-$TREE/.venv/bin/python}
[ -x "$PY" ] || PY=$TREE/../main/.venv/bin/python
[ -x "$PY" ] || { echo "error: no Python with the project installed (set PYTHON)" >&2; exit 2; }
SAMPLE=$TREE/resources/sample/synthetic_sample.bdf
[ -f "$SAMPLE" ] || { echo "error: no sample recording at $SAMPLE" >&2; exit 2; }
DISP=${SHOTS_DISPLAY:-:9}
W_PX=1680
H_PX=1050
WORK=$(mktemp -d /tmp/mmqnet_shots.XXXXXX)
LOG=$WORK/app.log
GEO=$WORK/geometry.json
XVFB_PID=""
APP_PID=""
JIGGLE=""
OK=0

cleanup() {
    [ -n "$JIGGLE" ] && kill "$JIGGLE" 2>/dev/null || true
    [ -n "$APP_PID" ] && kill "$APP_PID" 2>/dev/null || true
    sleep 0.5
    [ -n "$APP_PID" ] && kill -9 "$APP_PID" 2>/dev/null || true
    if [ -n "$XVFB_PID" ]; then
        kill "$XVFB_PID" 2>/dev/null || true
        wait "$XVFB_PID" 2>/dev/null || true  # the display is free again when the script returns
    fi
    if [ "$OK" = 1 ]; then rm -rf "$WORK"; else echo "(app log and work files kept in $WORK)" >&2; fi
}
trap cleanup EXIT

say() { echo "[shots $(date +%H:%M:%S)] $*"; }
die() { echo "error: $*" >&2; echo "--- app log tail ---" >&2; tail -20 "$LOG" >&2 || true; exit 1; }

# wait_log PATTERN TIMEOUT_S [AFTER_LINE]: wait until the app's log has a line matching PATTERN (after line N)
wait_log() {
    local pattern=$1 timeout=$2 after=${3:-0} t=0
    while ! tail -n +"$((after + 1))" "$LOG" 2>/dev/null | grep -Eq "$pattern"; do
        sleep 0.5
        t=$((t + 1))
        [ "$t" -ge $((timeout * 2)) ] && die "timed out after ${timeout}s waiting for '$pattern' in the app log"
        kill -0 "$APP_PID" 2>/dev/null || die "the app exited"
    done
}
log_lines() { wc -l <"$LOG" 2>/dev/null || echo 0; }

# rect NAME: "W H X Y" of a widget from the launcher's geometry file (waits until it is there)
rect() {
    local name=$1 t=0 r=""
    while :; do
        r=$("$PY" - "$GEO" "$name" <<'EOF' 2>/dev/null || true
import json, sys
try:
    g = json.load(open(sys.argv[1]))
except Exception:
    sys.exit(1)
r = g.get(sys.argv[2])
if not r:
    sys.exit(1)
x, y, w, h = r
print(w, h, x, y)
EOF
)
        [ -n "$r" ] && { echo "$r"; return; }
        sleep 0.3
        t=$((t + 1))
        [ "$t" -ge 100 ] && die "no on-screen rectangle for '$name'"
    done
}

# grab NAME FILE: crop the screen to widget NAME's rectangle, save as PNG8
grab() {
    local name=$1 file=$2 w h x y
    read -r w h x y < <(rect "$name")
    import -window root -crop "${w}x${h}+${x}+${y}" +repage "$WORK/raw.png"
    convert "$WORK/raw.png" -colors 256 "PNG8:$file"
    say "wrote $file (${w}x${h}, $(du -k "$file" | cut -f1) kB)"
}

# click_in NAME: a left click in the middle of widget NAME (gives its plot the keyboard focus)
click_in() {
    local w h x y
    read -r w h x y < <(rect "$1")
    xdotool mousemove $((x + w * 45 / 100)) $((y + h * 40 / 100)) click 1
    sleep 0.5
}

keys() { for k in "$@"; do xdotool key --clearmodifiers "$k"; sleep 0.4; done; }

# --- X server -----------------------------------------------------------------------------------------------
if xdpyinfo -display "$DISP" >/dev/null 2>&1; then
    die "display $DISP is already in use (set SHOTS_DISPLAY to a free one)"
fi
LOCK=/tmp/.X${DISP#:}-lock
for _ in $(seq 50); do [ -e "$LOCK" ] || break; sleep 0.1; done  # a server on its way out
Xvfb "$DISP" -screen 0 "${W_PX}x${H_PX}x24" -nolisten tcp >"$WORK/xvfb.log" 2>&1 &
XVFB_PID=$!
export DISPLAY=$DISP
for _ in $(seq 100); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done
xdpyinfo >/dev/null 2>&1 || die "Xvfb did not start on $DISP"

# --- fresh settings: display filters, 96-dpi calibration, the trajectory's spectrogram channel -------------------
export MMQNET_STUDIO_SETTINGS=$WORK/settings/studio.ini
mkdir -p "$WORK/settings"
"$PY" - "$MMQNET_STUDIO_SETTINGS" <<'EOF'
import json, sys
from PySide6.QtCore import QSettings
s = QSettings(sys.argv[1], QSettings.Format.IniFormat)
s.setValue("browser/display_filters", json.dumps({
    "EEG": [0.5, 35.0, 50.0], "EMG": [10.0, None, 50.0], "EOG": [0.1, 15.0, 50.0], "GSR": [None, 1.0, None],
    "PPG": [0.1, 8.0, None], "RESP": [0.05, 2.0, None], "TEMP": [None, 0.5, None]}))
s.setValue("browser/px_per_mm", 96 / 25.4)
s.setValue("trajectory/spectrogram_channel", "Oz")
s.sync()
EOF

# --- the app, through a launcher that logs INFO to a file and reports widget rectangles -----------------------
# The launcher runs its body only as the main program: the app spawns its model process (multiprocessing spawn),
# which imports the main module again; an unguarded launcher would start a second app in that child, whose
# geometry dumps raced with the first one's.
cat >"$WORK/launch.py" <<'EOF'
import runpy, sys
if __name__ == "__main__":
    runpy.run_path(sys.argv[0].replace("launch.py", "launch_body.py"), run_name="launch_body")
EOF
cat >"$WORK/launch_body.py" <<'EOF'
"""Run app.main with INFO records in a file and the on-screen rectangles of named widgets in a JSON file."""
import json, logging, os, sys

tree, log_path, geo_path, *argv = sys.argv[1:]
sys.path.insert(0, tree)  # the tree's app and mmqnet_core, not an installed copy (as `python -m app.main` in it)
handler = logging.FileHandler(log_path)
handler.setLevel(logging.INFO)
handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s"))
logging.getLogger().addHandler(handler)
logging.getLogger().setLevel(logging.INFO)

from PySide6.QtCore import QPoint, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

import app.main_window as main_window  # noqa: E402
import mmqnet_core  # noqa: E402

logging.getLogger("shots").info("running %s and %s", main_window.__file__, mmqnet_core.__file__)

_show = main_window.MainWindow.show


def show(self):
    _show(self)
    timer = QTimer(self)
    timer.setInterval(300)

    def dump():
        out = {}
        browser = getattr(self, "browser", None)
        named = {"window": self, "browser": browser,
                 "plot": getattr(getattr(browser, "plot_widget", None), "viewport", lambda: None)()}
        for dock in ("trajectory", "circumplex", "attention", "reconstruction"):
            named[dock + "_dock"] = getattr(self, dock + "_dock", None)
        for w in QApplication.topLevelWidgets():  # dialogs by their title
            if w is not self and w.isVisible() and w.windowTitle():
                named["dialog:" + w.windowTitle()] = w
        for name, w in named.items():
            if w is not None and w.isVisible():
                p = w.mapToGlobal(QPoint(0, 0))
                out[name] = [p.x(), p.y(), w.width(), w.height()]
        with open(geo_path + ".tmp", "w") as fh:
            json.dump(out, fh)
        os.replace(geo_path + ".tmp", geo_path)

    timer.timeout.connect(dump)
    timer.start()

    def muscle(_result):  # the longest detected muscle span (s from the start), where main_window.png looks
        pre = getattr(self.model, "preprocess_result", None)
        spans = [a for a in (pre.interference_relative() if pre is not None else ()) if "muscle" in a.description]
        if spans:
            a = max(spans, key=lambda a: a.duration)
            logging.getLogger("shots").info("longest muscle span at %.3f s for %.3f s", a.onset, a.duration)
        else:
            logging.getLogger("shots").info("no muscle span")

    self.model.cleanedReady.connect(muscle)


main_window.MainWindow.show = show
from app.main import main  # noqa: E402

sys.exit(main(argv))
EOF

say "starting the app from $TREE"
# a copy of the sample: the app writes its mask sidecar (the simulated masks) beside the recording, not in TREE
mkdir -p "$WORK/sample"
cp "$SAMPLE" "$WORK/sample/"
(cd "$TREE" && PYTHONDONTWRITEBYTECODE=1 exec "$PY" "$WORK/launch.py" "$TREE" "$LOG" "$GEO" "$WORK/sample/$(basename "$SAMPLE")") >"$WORK/app.out" 2>&1 &
APP_PID=$!
wait_log "shots: running " 60
grep "shots: running " "$LOG" | grep -Fq "$TREE/app/main_window.py and $TREE/mmqnet_core/" \
    || die "the app does not run from $TREE: $(grep 'shots: running ' "$LOG")"
WIN=$(timeout 60 xdotool search --sync --onlyvisible --name "MMQ-Net Studio" | head -1) || die "no window"
xdotool windowmove "$WIN" 0 0 windowsize "$WIN" "$W_PX" "$H_PX"
xdotool windowfocus --sync "$WIN" || true
wait_log "cleaned " 180
sleep 2

# 1. heart-rate row: referential montage, raw signals, 30-s page, the row under the traces (H)
click_in browser
keys period period h
sleep 3
grab browser "$OUT/heart_rate_row.png"

# 2. reading view: 10-s page, double banana, display filters (from the settings), raw + cleaned, cursors, HR row
keys comma comma ctrl+4 c c q
sleep 3
grab browser "$OUT/browser_reading.png"

# save_via_dialog KEYS TITLE FILE LOG_PATTERN TIMEOUT_S: open a save dialog with KEYS, type FILE, wait for the log
save_via_dialog() {
    local n
    n=$(log_lines)
    keys $1
    timeout 30 xdotool search --sync --onlyvisible --name "$2" >/dev/null || die "no '$2' dialog"
    sleep 1
    xdotool key --clearmodifiers ctrl+a
    xdotool type --delay 20 "$3"
    xdotool key Return
    wait_log "$4" "$5" "$n"
}

# 3. File > Export page (PNG) of that page: the app's own export, captioned with montage and filters
save_via_dialog "alt+f p" "Export page" "$WORK/page_export.png" "page exported to" 60
convert "$WORK/page_export.png" -colors 256 "PNG8:$OUT/page_export.png"
say "wrote $OUT/page_export.png"

# 3b. the main window at 1440 x 900: double banana, raw + cleaned, no cursors or heart-rate row, the page with the
# longest detected muscle span (Ctrl+G, Go to time), the mouse over a trace so that the read-out strip under the
# plot shows a value (kept moving a pixel while the screen is grabbed, so that no tooltip comes up)
click_in browser
keys q h
m=$(grep -Eo "longest muscle span at [0-9.]+" "$LOG" | tail -1 | grep -Eo "[0-9.]+$" || true)
if [ -n "$m" ]; then
    start=$(awk -v m="$m" 'BEGIN { s = m - 3; if (s < 0) s = 0; printf "%.1f", s }')
    keys ctrl+g
    timeout 30 xdotool search --sync --onlyvisible --name "^Go to time" >/dev/null || die "no Go to time dialog"
    sleep 1
    xdotool key --clearmodifiers ctrl+a
    xdotool type --delay 20 "$start"
    xdotool key Return
else
    say "warning: no muscle interference detected on the sample: main_window.png shows none"
fi
xdotool windowsize "$WIN" 1440 900
sleep 3
read -r w h x y < <(rect plot)
xdotool mousemove $((x + w * 45 / 100)) $((y + h * 55 / 100))
( while :; do xdotool mousemove_relative 1 0; sleep 0.1; xdotool mousemove_relative -- -1 0; sleep 0.1; done ) &
JIGGLE=$!
sleep 1.5
grab window "$OUT/main_window.png"
kill "$JIGGLE" 2>/dev/null || true
wait "$JIGGLE" 2>/dev/null || true
JIGGLE=""
xdotool windowsize "$WIN" "$W_PX" "$H_PX"
sleep 2

# 4. Edit > Preferences (a click first: the file dialog took the keyboard focus with it)
click_in browser
keys alt+e p
timeout 30 xdotool search --sync --onlyvisible --name "^Preferences" >/dev/null || die "no Preferences dialog"
sleep 1.5
grab "dialog:Preferences" "$OUT/preferences.png"
keys Escape

# 5. simulated missing data (Edit > Simulate missing data, 30 %, seed 0) so that the reconstruction view has
# hidden windows with an original to compare with (simulated masks do not re-clean), then Run MMQ-Net (F5)
click_in browser
n=$(log_lines)
keys ctrl+shift+m
timeout 30 xdotool search --sync --onlyvisible --name "^Simulate missing data" >/dev/null \
    || die "no Simulate missing data dialog"
sleep 1
xdotool key --clearmodifiers Return
wait_log "simulated .* missing data" 30 "$n"
sleep 1
click_in browser
n=$(log_lines)
keys F5
wait_log "analysis of .* finished" 600 "$n"
sleep 2

# 6. the whole window (1440 x 900) with the trajectory tab
xdotool windowsize "$WIN" 1440 900
keys alt+1
sleep 3
grab window "$OUT/analysis_views.png"
xdotool windowsize "$WIN" "$W_PX" "$H_PX"
sleep 2

# 7. File > Export report (PNG): the app's one-page report
save_via_dialog "ctrl+shift+r" "^Export report" "$WORK/analysis_report.png" "report written to" 120
[ -f "$WORK/analysis_report.png" ] || die "the report was not written to $WORK/analysis_report.png"
convert "$WORK/analysis_report.png" -colors 256 "PNG8:$OUT/analysis_report.png"
say "wrote $OUT/analysis_report.png"

# float_dock NAME KEY TITLE W H FILE: raise dock NAME (KEY), float it (a double click on its title bar, the top
# strip of its rectangle), give it W x H px at the top left and grab its window
float_dock() {
    local name=$1 key=$2 title=$3 fw=$4 fh=$5 file=$6 w h x y win
    click_in browser
    keys "$key"
    sleep 2
    read -r w h x y < <(rect "${name}_dock")
    xdotool mousemove $((x + w / 2)) $((y + 6)) click --repeat 2 --delay 80 1
    win=$(timeout 20 xdotool search --sync --onlyvisible --name "^$title" | head -1) \
        || die "the $title dock did not float"
    xdotool windowmove "$win" 0 0 windowsize "$win" "$fw" "$fh"
    sleep 3
    import -window "$win" "$WORK/raw.png"
    convert "$WORK/raw.png" -colors 256 "PNG8:$file"
    say "wrote $file"
    xdotool windowmove "$win" "$W_PX" 0  # off the screen: it would cover the browser the next click goes to
    sleep 0.5
}

# 8. the analysis views, each floated: attention map, circumplex, reconstruction (the first masked channel),
# trajectory with the spectrogram track of Oz (preset in the settings)
float_dock attention alt+3 Attention 1600 610 "$OUT/attention_map.png"
float_dock circumplex alt+2 Circumplex 620 560 "$OUT/circumplex_view.png"
float_dock reconstruction alt+4 Reconstruction 1600 610 "$OUT/reconstruction_view.png"
float_dock trajectory alt+1 Trajectory 1400 640 "$OUT/trajectory_view.png"

OK=1
say "done: $OUT"
