"""Real physiological recordings shipped inside installed PyPI packages, and independent reference values.

Nothing here was recorded or written by this project: the signals come from

- ``pyphysio`` (``pyphysio/test_data/medical.txt.bz2``): 120 s of ECG, EDA, BVP (PPG) and a respiration belt
  recorded together at 2048 Hz (pyphysio's own loader, ``pyphysio.TestData``, uses 2048 Hz; the file's
  ``info_medical`` says 1024, which would give a resting heart rate of 35 bpm);
- ``heartpy`` (``heartpy/data/data.csv``, ``data2.csv``): finger PPG at 100 Hz and ~117 Hz;
- ``biopeaks`` (``biopeaks/tests/testdata/OSmontage0J.txt``, GPL-3.0, so fetched from PyPI, not copied here):
  85 min of a BITalino respiration belt (RESPBIT, column A2) and ECG (A3) at 1000 Hz, OpenSignals text, with
  real movement artefacts (e.g. 138-160 s).

The packages are not imported to find their files (``importlib.util.find_spec`` only locates them), so their
own dependencies are not needed to read the data. The reference heart beats come from heartpy's own peak
detector (``heartpy.process``: moving-average threshold, a different algorithm from ours). Both packages are in
the ``dev`` extra; the tests are skipped when they are not installed. Reference breaths of the belts come from
two published methods of neurokit2, run once by ``make_breath_reference.py`` (neurokit2 is never a dependency)
and stored in ``breaths_neurokit2.json``.
"""

from __future__ import annotations

import bz2
import functools
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.signal

#: Sampling rate of pyphysio's medical.txt.bz2, Hz (see the module docstring).
MEDICAL_SFREQ = 2048.0


def package_file(package: str, *parts: str) -> Path | None:
    """Path of a data file inside an installed package, or None when the package is not installed."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0], *parts)
    return path if path.is_file() else None


@dataclass(frozen=True)
class RealRecording:
    """One real recording: channels (name -> 1-D array) at ``sfreq`` Hz."""

    name: str
    sfreq: float
    channels: dict[str, np.ndarray]

    @property
    def duration_s(self) -> float:
        return next(iter(self.channels.values())).size / self.sfreq

    def resampled(self, sfreq: float) -> "RealRecording":
        """Polyphase resampling (scipy), edges padded with the median so that no edge spike appears."""
        from fractions import Fraction

        fr = Fraction(sfreq / self.sfreq).limit_denominator(1000)
        return RealRecording(self.name, sfreq, {k: scipy.signal.resample_poly(v, fr.numerator, fr.denominator,
                                                                               padtype="median")
                                                for k, v in self.channels.items()})


def medical() -> RealRecording | None:
    """pyphysio's 120-s ECG (mV), EDA (uS), BVP (a.u.) and belt (a.u.) recording, or None."""
    path = package_file("pyphysio", "test_data", "medical.txt.bz2")
    if path is None:
        return None
    with bz2.open(path, "rt") as fh:
        a = np.loadtxt(fh)  # (n_times, 4)
    return RealRecording("pyphysio medical", MEDICAL_SFREQ,
                         {"ECG": a[:, 0], "EDA": a[:, 1], "BVP": a[:, 2], "RESP": a[:, 3]})


@functools.lru_cache(maxsize=1)
def biopeaks_belt() -> RealRecording | None:
    """biopeaks' 85-min OpenSignals recording: ``RESP`` (belt) and ``ECG`` at 1000 Hz (raw 10-bit ADC), or None."""
    path = package_file("biopeaks", "tests", "testdata", "OSmontage0J.txt")
    if path is None:
        return None
    import pandas as pd  # a C parser: np.loadtxt takes ~20 s on these 5.1 million lines

    a = pd.read_csv(path, sep="\t", comment="#", header=None, usecols=[5, 6]).to_numpy(float)
    return RealRecording("biopeaks OSmontage0J", 1000.0, {"RESP": a[:, 0], "ECG": a[:, 1]})


@functools.lru_cache(maxsize=1)
def biopeaks_ppg() -> RealRecording | None:
    """biopeaks' ``OSmontagePPG.txt``: 8 min of a BITalino finger PPG (PPGBIT, column A1) at 125 Hz, or None."""
    path = package_file("biopeaks", "tests", "testdata", "OSmontagePPG.txt")
    if path is None:
        return None
    a = np.loadtxt(path, comments="#", usecols=[5])
    return RealRecording("biopeaks OSmontagePPG", 125.0, {"PPG": a})


def biopeaks_ecg(which: str) -> RealRecording | None:
    """One of biopeaks' short ``OSmontage<which>.txt`` recordings (``which`` in 1A, 1J, 2A, 2J, 3A, 3J): 3.5-4 min of
    a BITalino ECG (ECGBIT, column A3) at 100 Hz, or None."""
    path = package_file("biopeaks", "tests", "testdata", f"OSmontage{which}.txt")
    if path is None:
        return None
    return RealRecording(f"biopeaks OSmontage{which}", 100.0, {"ECG": np.loadtxt(path, comments="#", usecols=[6])})


def reference_breaths(recording: str, method: str) -> np.ndarray:
    """Breath times (s) that neurokit2's ``method`` found in ``recording`` (see make_breath_reference.py)."""
    data = json.loads(Path(__file__).with_name("breaths_neurokit2.json").read_text())
    return np.asarray(data["recordings"][recording][method], dtype=float)


def heartpy_ppg(which: str) -> RealRecording | None:
    """heartpy's PPG ``data.csv`` (100 Hz) or ``data2.csv`` (rate from its ``timer`` column, ms), or None."""
    path = package_file("heartpy", "data", which)
    if path is None:
        return None
    if which == "data.csv":
        return RealRecording("heartpy data.csv", 100.0, {"PPG": np.loadtxt(path)})
    a = np.genfromtxt(path, delimiter=",", names=True)
    sfreq = 1000.0 / float(np.median(np.diff(a["timer"])))
    return RealRecording(f"heartpy {which}", round(sfreq, 3), {"PPG": a["hr"].astype(float)})


def heartpy_data3() -> RealRecording | None:
    """heartpy's ``data3.csv``: 11 min of finger PPG whose ``datetime`` column ticks irregularly (10-16 ms apart,
    whole milliseconds); the rate is the mean over the recording (100.418 Hz: the median tick, 15 ms, would give
    66.7 Hz and stretch the recording to 17 min), or None."""
    from datetime import datetime

    path = package_file("heartpy", "data", "data3.csv")
    if path is None:
        return None
    a = np.genfromtxt(path, delimiter=",", names=True, dtype=None, encoding="utf-8")
    t = np.array([datetime.fromisoformat(str(s)).timestamp() for s in a["datetime"]])
    sfreq = round((t.size - 1) / (t[-1] - t[0]), 3)
    return RealRecording("heartpy data3.csv", sfreq, {"PPG": a["hr"].astype(float)})


def _import_heartpy() -> None:
    """heartpy 1.2.7 (its latest release) imports ``pkg_resources.resource_filename`` for ``get_data``; setuptools
    >= 81 no longer ships ``pkg_resources``. Only that one function is used, so a stand-in built on
    importlib.resources is registered when the real module is missing (test-time only)."""
    import sys
    import types

    if "pkg_resources" in sys.modules or importlib.util.find_spec("pkg_resources") is not None:
        return
    from importlib.resources import files

    shim = types.ModuleType("pkg_resources")
    shim.resource_filename = lambda package, name: str(files(package) / name)  # type: ignore[attr-defined]
    sys.modules["pkg_resources"] = shim


def heartpy_beats(x: np.ndarray, sfreq: float) -> np.ndarray:
    """Beat times (s) accepted by heartpy's own detector (``heartpy.process``); rejected beats dropped."""
    _import_heartpy()
    import heartpy

    wd, _ = heartpy.process(np.asarray(x, dtype=float), sample_rate=sfreq)
    peaks = np.asarray(wd["peaklist"])
    rejected = set(np.asarray(wd.get("removed_beats", []), dtype=int).tolist())
    keep = np.array([p not in rejected for p in peaks], dtype=bool)
    return peaks[keep] / sfreq


#: Breaths of the medical belt hand-annotated from a plot of the raw signal (s): 20-40 s is the only stretch
#: with a clear, regular rhythm (the belt is shallow and irregular elsewhere; a large movement at 40-42 s).
MEDICAL_HAND_BREATHS_S = np.array([23.0, 26.5, 29.3, 31.7, 34.5, 36.6, 39.2])


def splice_movement(x: np.ndarray, sfreq: float, at_s: float, *, size: float, duration_s: float = 3.0,
                    step: float = 0.0) -> np.ndarray:
    """A copy of ``x`` with a movement artefact: a large smooth swing of ``size`` (signal units) lasting
    ``duration_s`` from ``at_s``, with a superimposed 2-Hz wobble, then (if ``step``) a level step that stays."""
    y = np.array(x, dtype=float)
    i0, m = int(at_s * sfreq), int(duration_s * sfreq)
    t = np.arange(m) / sfreq
    y[i0:i0 + m] += size * np.hanning(m) * (1 + 0.5 * np.sin(2 * np.pi * 2.0 * t))
    y[i0 + m:] += step
    return y


def breath_rate_reference(recording: str, grid) -> dict[str, np.ndarray]:
    """Reference breathing rates (1/min) at the window centres of ``grid``, from neurokit2's two methods.

    Each method's breaths become an instantaneous rate exactly as our own breaths do (60 / interval, at the
    interval's middle, interpolated; NaN more than 20 s from an interval), so estimate and reference are
    defined alike. ``"consensus"``: the mean of the two where they agree within 2/min, else NaN - the windows
    where two independent published methods see the same rhythm ("windows that have a rhythm").
    """
    from mmqnet_core.features.peripheral import BREATH_RANGE_S, Events, interval_rate

    out = {}
    for method in ("khodadad2018", "biosppy"):
        t = reference_breaths(recording, method)
        out[method] = interval_rate(Events(t, np.ones(t.size)), grid, BREATH_RANGE_S, max_gap_s=20.0)
    a, b = out["khodadad2018"], out["biosppy"]
    with np.errstate(invalid="ignore"):
        out["consensus"] = np.where(np.abs(a - b) <= 2.0, (a + b) / 2, np.nan)
    return out


def agreement(estimate: np.ndarray, reference: np.ndarray, tolerance: float, keep: np.ndarray | None = None
              ) -> tuple[float, int]:
    """Share of windows with a finite reference (and ``keep``) where ``estimate`` is within ``tolerance``."""
    ok = np.isfinite(reference) if keep is None else np.isfinite(reference) & keep
    if not ok.any():
        return float("nan"), 0
    return float(np.mean(np.abs(estimate[ok] - reference[ok]) <= tolerance)), int(ok.sum())


def reference_scrs(method: str, recording: str = "pyphysio medical") -> np.ndarray:
    """SCR peak times (s) that neurokit2's ``eda_peaks(method=...)`` found in the recording's EDA
    (see make_scr_reference.py)."""
    data = json.loads(Path(__file__).with_name("scr_neurokit2.json").read_text())
    t = [v for v in data["recordings"][recording][method]["peaks_s"] if v is not None]
    return np.sort(np.asarray(t, dtype=float))


def match_events(a: np.ndarray, b: np.ndarray, tolerance_s: float) -> list[tuple[int, int]]:
    """One-to-one pairs (i, j) of events ``a[i]``, ``b[j]`` at most ``tolerance_s`` apart, closest pairs first."""
    d = np.abs(np.asarray(a, float)[:, None] - np.asarray(b, float)[None, :])
    pairs, used_a, used_b = [], set(), set()
    for k in np.argsort(d, axis=None, kind="stable"):
        i, j = divmod(int(k), d.shape[1])
        if d[i, j] > tolerance_s:
            break
        if i not in used_a and j not in used_b:
            pairs.append((i, j))
            used_a.add(i)
            used_b.add(j)
    return sorted(pairs)


def context_counts(times: np.ndarray, grid, context_s: float, duration_s: float) -> np.ndarray:
    """Number of events in the context (``context_s``, clipped to the recording) of each window of ``grid``:
    the same span over which the GSR features count SCRs for ``scr_rate``."""
    from mmqnet_core.features.peripheral import _context, context_sum

    lo, hi = _context(grid, context_s, duration_s)
    t = np.sort(np.asarray(times, float))
    return context_sum(t, np.ones(t.size), lo, hi)[0]


#: spkit's two real 16-s Emotiv EEG excerpts (MIT; converted by make_spkit_eeg.py, see tests/data/real/).
SPKIT_EEG = Path(__file__).resolve().parents[2] / "data" / "real" / "spkit_eeg16.npz"
#: Frontal channels used as vertical-EOG proxies (Emotiv has no EOG electrode; AF3/AF4 sit closest to the eyes).
FRONTAL = ("AF3", "AF4", "F7", "F8")


def spkit_eeg(which: str) -> RealRecording:
    """spkit's ``"eeg16"`` (EEG16SecData) or ``"artifact_raw"`` (EEG16sec_artifact's X_raw): 14 channels, uV, 128 Hz."""
    with np.load(SPKIT_EEG, allow_pickle=False) as d:
        x = d[f"{which}_uv"].astype(float)
        names = [str(n) for n in d["ch_names"]]
        return RealRecording(f"spkit {which}", float(d["sfreq"]), {n: x[:, i] for i, n in enumerate(names)})


def reference_blinks(recording: str, channel: str, method: str) -> np.ndarray | None:
    """Blink times (s) that ``method`` found on ``channel`` of ``recording`` (make_blink_reference.py), or None
    when the method failed there."""
    data = json.loads(Path(__file__).with_name("blinks_reference.json").read_text())
    t = data["recordings"][recording][channel][method]
    return None if isinstance(t, str) else np.asarray(t, dtype=float)
