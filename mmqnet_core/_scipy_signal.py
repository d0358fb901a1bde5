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
never wrong. The functions of ``scipy.signal`` are untouched: the same values. Then
:func:`settle_array_api_checks` does what importing scipy.stats did on the side (see there).

``scipy.ndimage`` is imported in the same step, and both without rewriting docstrings: scipy (1.15+) decorates
every public function of scipy.signal, scipy.ndimage and scipy.special at import with a note on its array-API
support, parsing and re-rendering the function's numpydoc docstring -- ~0.2 s of CPU at every start for text a
program never reads. While :func:`load` imports them, the three helpers that build that note are replaced
(:func:`_docstrings_as_they_are`); the decorators still run and record each function in scipy's capabilities
table, and the functions are the same objects with scipy's own docstring text (without the note).
"""

from __future__ import annotations

import importlib
import sys
import threading
import types
from contextlib import contextmanager
from typing import Any, Iterator

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


def settle_array_api_checks() -> None:
    """Let scipy's array-API helpers settle now that numpy arrays are not torch tensors.

    scipy asks ``sys.modules["torch"].Tensor`` the first time one of its functions meets each array type, when
    torch is in ``sys.modules``, and keeps the answer per type (``_issubclass_fast``, cached). While torch is being
    imported by another thread -- a model loading beside the cleaning (``DeferredModel``), or the app's analysis
    -- it is in ``sys.modules`` without ``Tensor`` yet, and that first check raises AttributeError ("partially
    initialized module 'torch'") inside e.g. ``scipy.signal.freqz`` (mne's FIR design). Importing scipy.stats
    used to settle the answer for ``numpy.ndarray`` as a side effect; asked here for the numpy types the cleaning
    and the features hand to scipy, before any model loads, the answer is "not a tensor" once and for all.
    """
    try:
        import numpy as np
        from scipy._lib.array_api_compat.common._helpers import is_torch_array
    except ImportError:  # pragma: no cover - another scipy layout: nothing to settle
        return
    for value in (np.empty(0), np.empty(1).view(np.memmap), np.float64(0), np.float32(0), np.int64(0),
                  np.int32(0), np.bool_(False), np.complex128(0)):
        try:
            is_torch_array(value)
        except AttributeError:  # torch is being imported right now: this type stays unsettled
            pass


class _DocAsItIs:
    """Stands in for scipy's ``FunctionDoc`` while :func:`load` imports: the docstring as it is (the decorator drops
    the first line of ``str(doc)``, a rendered signature)."""

    def __init__(self, func: Any) -> None:
        self._doc = getattr(func, "__doc__", None) or ""
        self._sections: dict[str, list] = {}

    def __getitem__(self, key: str) -> list:
        return self._sections.setdefault(key, [])

    def __str__(self) -> str:
        return "\n" + self._doc


@contextmanager
def _docstrings_as_they_are() -> Iterator[None]:
    """Inside, scipy's array-API decorators leave docstrings as they are (see the module docstring); scipy's own
    helpers are back afterwards. Without those helpers (another scipy), nothing is changed."""
    try:
        api = importlib.import_module("scipy._lib._array_api")
    except ImportError:  # pragma: no cover - another scipy layout
        yield
        return
    quick = {"FunctionDoc": _DocAsItIs, "_make_sphinx_capabilities": lambda **kwargs: None,
             "_make_capabilities_note": lambda *args, **kwargs: ""}
    if not all(callable(getattr(api, name, None)) for name in quick):  # pragma: no cover - another scipy
        yield
        return
    saved = {name: getattr(api, name) for name in quick}
    for name, value in quick.items():
        setattr(api, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(api, name, value)


def load() -> types.ModuleType:
    """``scipy.signal``; when no one has imported it yet, it and ``scipy.ndimage`` are imported here without
    ``scipy.stats`` and without scipy rewriting their docstrings (see the module docstring)."""
    signal = sys.modules.get("scipy.signal")
    if signal is not None:
        return signal
    with _LOCK, _docstrings_as_they_are():
        importlib.import_module("scipy.ndimage")  # the cleaning's and the features' other scipy module
        if "scipy.signal" not in sys.modules and "scipy.stats" not in sys.modules:
            stand_in = _StatsOnDemand("scipy.stats", "stand-in for scipy.stats while scipy.signal is imported")
            stand_in.scoreatpercentile = _scoreatpercentile
            sys.modules["scipy.stats"] = stand_in
            try:
                importlib.import_module("scipy.signal")
            finally:
                if sys.modules.get("scipy.stats") is stand_in:
                    del sys.modules["scipy.stats"]
        signal = importlib.import_module("scipy.signal")
        settle_array_api_checks()
        return signal


signal = load()
