#!/usr/bin/env bash
# Build the one-folder MMQ-Net Studio application with PyInstaller, archive it and smoke-test it.
#
#   packaging/build.sh            build dist/MMQNetStudio/ + dist/MMQNetStudio-linux-x86_64.tar.gz, then smoke
#   packaging/build.sh --no-smoke build only
#
# Prints the build time, the bundle size and the smoke figures (see packaging/smoke.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

./dev.sh setup
.venv/bin/python -m pip install -q -e ".[package]"

start=$(date +%s)
.venv/bin/pyinstaller --noconfirm --clean --log-level WARN \
    --distpath dist --workpath build/pyinstaller packaging/mmqnet_studio.spec
build_s=$(( $(date +%s) - start ))

archive="dist/MMQNetStudio-$(uname -s | tr 'A-Z' 'a-z')-$(uname -m).tar.gz"
tar -C dist -czf "$archive" MMQNetStudio

echo "build time: ${build_s} s"
echo "bundle size: $(du -sh dist/MMQNetStudio | cut -f1) (dist/MMQNetStudio/), archive $(du -sh "$archive" | cut -f1) ($archive)"

if [ "${1:-}" != "--no-smoke" ]; then
    packaging/smoke.sh dist/MMQNetStudio/MMQNetStudio
fi
