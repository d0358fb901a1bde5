#!/usr/bin/env bash
# MMQ-Net Studio developer entry point. Needs only Python 3.11 on the machine.
#
#   ./dev.sh app [FILE]   set up .venv (once) and launch the app on FILE or the bundled synthetic sample
#   ./dev.sh test [ARGS]  set up .venv (once) and run the whole test suite (ARGS go to pytest)
#   ./dev.sh setup        only set up .venv
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
VENV=.venv
SAMPLE=resources/sample/synthetic_sample.bdf
TORCH_INDEX_URL=${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}

setup() {
    if [ ! -x "$VENV/bin/python" ]; then
        "$PYTHON" -m venv "$VENV"
    fi
    # Re-install only when pyproject.toml changed since the last setup.
    local stamp="$VENV/.mmqnet-setup-$(sha1sum pyproject.toml | cut -c1-12)"
    if [ ! -f "$stamp" ]; then
        "$VENV/bin/python" -m pip install -q --upgrade pip
        # The CPU wheel of torch first: a plain 'torch' requirement would pull a multi-GB CUDA build (PyPI's Linux
        # torch wheels depend on the nvidia-* CUDA packages). A CPU wheel already on this machine (pip's
        # find-links) is installed on its own without the network, then its dependencies from the package index
        # (torch itself is then satisfied); without one, torch comes from PyTorch's CPU index ($TORCH_INDEX_URL).
        if "$VENV/bin/python" -m pip install -q --no-index --no-deps "torch==2.13.0" 2>/dev/null; then
            "$VENV/bin/python" -m pip install -q "torch==2.13.0"
        else
            "$VENV/bin/python" -m pip install -q "torch==2.13.0" --index-url "$TORCH_INDEX_URL"
        fi
        "$VENV/bin/python" -m pip install -q -e ".[dev]"
        rm -f "$VENV"/.mmqnet-setup-*
        touch "$stamp"
    fi
}

cmd=${1:-app}
shift || true
case "$cmd" in
    setup)
        setup
        ;;
    app)
        setup
        if [ "$#" -eq 0 ]; then set -- "$SAMPLE"; fi
        exec "$VENV/bin/mmqnet-studio" "$@"
        ;;
    test)
        setup
        export QT_QPA_PLATFORM=offscreen
        exec "$VENV/bin/python" -m pytest "$@"
        ;;
    *)
        echo "usage: ./dev.sh app [FILE] | test [PYTEST ARGS] | setup" >&2
        exit 2
        ;;
esac
