"""``scipy.signal`` without ``scipy.stats``: ``from mmqnet_core._scipy_signal import signal``.

Importing ``scipy.signal`` imports ``scipy.stats`` (and with it scipy.optimize, scipy.spatial, the distributions:
~120 modules, 0.35-0.4 s of CPU holding the interpreter lock, on the critical path of every ``mmqnet analyze``)
for one name: ``scipy.signal._peak_finding`` takes ``scoreatpercentile`` for :func:`scipy.signal.find_peaks_cwt`,
which this project never calls. Nothing in ``mmqnet_core`` uses ``scipy.stats`` itself.

:func:`load` imports ``scipy.signal`` (once, when no one has) while a stand-in for ``scipy.stats`` sits in
``sys.modules``: it gives ``_peak_finding`` a ``scoreatpercentile`` that imports the real ``scipy.stats`` when
first called, and it leaves ``sys.modules`` as soon as ``scipy.signal`` is imported, so that any later
``import scipy.stats`` is the real one. Anything else asked of it in the meantime (another thread, or a future
scipy.signal that takes more names from scipy.stats) removes it first and is answered by the real module: slower,
never wrong. The functions of ``scipy.signal`` are untouched: the same values.
"""

from __future__ import annotations

import importlib
import sys
import threading
import types
from typing import Any

_LOCK = threading.Lock()


def _real_stats() -> Any:
    stand_in = sys.modules.get("scipy.stats")
    if isinstance(stand_in, _StatsOnDemand):
        sys.modules.pop("scipy.stats", None)
    return importlib.import_module("scipy.stats")


def _scoreatpercentile(*args: Any, **kwargs: Any) -> Any:
    """:func:`scipy.stats.scoreatpercentile`, importing scipy.stats on the first call."""
    return _real_stats().scoreatpercentile(*args, **kwargs)


class _StatsOnDemand(types.ModuleType):
    """Stands in for ``scipy.stats`` while ``scipy.signal`` is imported (see the module docstring)."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(_real_stats(), name)


def load() -> types.ModuleType:
    """``scipy.signal``, imported without ``scipy.stats`` when it is not imported yet."""
    signal = sys.modules.get("scipy.signal")
    if signal is not None:
        return signal
    with _LOCK:
        if "scipy.signal" not in sys.modules and "scipy.stats" not in sys.modules:
            stand_in = _StatsOnDemand("scipy.stats", "stand-in for scipy.stats while scipy.signal is imported")
            stand_in.scoreatpercentile = _scoreatpercentile
            sys.modules["scipy.stats"] = stand_in
            try:
                importlib.import_module("scipy.signal")
            finally:
                if sys.modules.get("scipy.stats") is stand_in:
                    del sys.modules["scipy.stats"]
        return importlib.import_module("scipy.signal")


signal = load()
