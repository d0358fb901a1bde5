#!/usr/bin/env bash
# Build the one-folder MMQ-Net Studio application with PyInstaller, trim it, archive it and smoke-test it.
#
#   packaging/build.sh             build dist/MMQNetStudio/ + dist/MMQNetStudio-<os>-<arch>.tar.gz, then smoke
#   packaging/build.sh --no-smoke  build and archive only
#
# The bundle holds the CPU build of torch (whatever .venv has: dev.sh installs the CPU wheel), resources/ (the
# checkpoint folder and the SYNTHETIC sample recording) and needs no network at run time.
# Prints the build time, the bundle size (before/after stripping), the archive size and the smoke figures.
set -euo pipefail
cd "$(dirname "$0")/.."

t_all=$(date +%s.%N)
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.0f}')" "$1" "$(date +%s.%N)"; }
size_mb() { du -sm "$1" | cut -f1; }

# Set up the environment only when it is missing (dev.sh setup reinstalls when pyproject.toml changed).
[ -x .venv/bin/python ] || ./dev.sh setup
.venv/bin/python -c "import PyInstaller" 2>/dev/null || .venv/bin/python -m pip install -q -e ".[package]"
if .venv/bin/python -c "import torch, sys; sys.exit(0 if torch.version.cuda is None else 1)"; then :; else
    echo "warning: .venv has a CUDA build of torch: the bundle will be several GB (install the CPU wheel)" >&2
fi

t=$(date +%s.%N)
.venv/bin/pyinstaller --noconfirm --clean --log-level WARN \
    --distpath dist --workpath build/pyinstaller packaging/mmqnet_studio.spec
build_s=$(elapsed "$t")
app=dist/MMQNetStudio
before_mb=$(size_mb "$app")

# Strip the symbol tables (.symtab, never read by the dynamic loader) of the large libraries that ship them.
# Only these: strip can damage libraries rewritten by patchelf (the hashed ones in *.libs/ of the wheels).
if command -v strip >/dev/null 2>&1; then
    for lib in "$app"/_internal/torch/lib/libtorch_cpu.so "$app"/_internal/torch/lib/libtorch_python.so \
               "$app"/_internal/torch/lib/libc10.so "$app"/_internal/libpython3*.so.*; do
        [ -f "$lib" ] && strip --strip-unneeded "$lib"
    done
else
    echo "note: 'strip' not found (binutils): the bundle stays about 100 MB larger" >&2
fi
after_mb=$(size_mb "$app")

t=$(date +%s.%N)
archive="dist/MMQNetStudio-$(uname -s | tr 'A-Z' 'a-z')-$(uname -m).tar.gz"
tar -C dist -cf - MMQNetStudio | gzip -6 > "$archive.part"
mv "$archive.part" "$archive"
archive_s=$(elapsed "$t")

echo "build time: ${build_s} s (PyInstaller), archive ${archive_s} s"
echo "bundle size: ${after_mb} MB ($app/; ${before_mb} MB before stripping), archive $(size_mb "$archive") MB ($archive)"

if [ "${1:-}" != "--no-smoke" ]; then
    packaging/smoke.sh "$app/MMQNetStudio"
fi
echo "build + archive + smoke: $(elapsed "$t_all") s"
