"""Benchmark: EEG DE + PSD of one hour of 32-channel 128 Hz EEG, ours vs TorchEEG's per-window transforms.

Run: ``.venv/bin/python bench/bench_features.py [--minutes M]``

TorchEEG is *not* a dependency of the project (its pins clash with ours). Install it privately to compare::

    .venv/bin/pip install --no-deps --target /tmp/torcheeg_pkgs torcheeg

The bench puts /tmp/torcheeg_pkgs on ``sys.path`` and, because ``import torcheeg.transforms`` pulls modules we
do not have (``torch_scatter``, ``torch_geometric``, ``spectrum``, ``pywt``, ``mne_connectivity``...), it
inserts empty stand-in modules for whatever import fails (``sys.modules``), then times
``BandDifferentialEntropy`` and ``BandPowerSpectralDensity`` applied to each 1 s window, on a sample of
windows (extrapolated to the hour: TorchEEG takes minutes for the full hour). If TorchEEG cannot be imported,
only our timing is printed and the bench exits 0.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import types

import numpy as np

from mmqnet_core.features import eeg_band_features

FS = 128
BANDS = (("theta", 4, 8), ("alpha", 8, 14), ("beta", 14, 31), ("gamma", 31, 45))
TORCHEEG_DIR = "/tmp/torcheeg_pkgs"


def pink_eeg(n_channels: int, n_times: int, seed: int = 0) -> np.ndarray:
    """Random 1/f-ish EEG in volts (float64)."""
    rng = np.random.default_rng(seed)
    spec = rng.standard_normal((n_channels, n_times // 2 + 1)) + 1j * rng.standard_normal((n_channels, n_times // 2 + 1))
    f = np.fft.rfftfreq(n_times, 1 / FS)
    f[0] = f[1]
    return np.fft.irfft(spec / np.sqrt(f), n=n_times) * 1e-5


def _dummy_attr(attr: str):
    if attr.startswith("__"):
        raise AttributeError(attr)
    return type(attr, (), {})


def import_torcheeg_transforms():
    """Import torcheeg.transforms from the private folder, stubbing missing heavy imports; None if impossible."""
    sys.path.insert(0, TORCHEEG_DIR)
    stubbed = []
    for _ in range(50):
        try:
            return importlib.import_module("torcheeg.transforms"), stubbed
        except ModuleNotFoundError as exc:
            name = exc.name or ""
            if not name or name.startswith("torcheeg") or name in sys.modules:
                print(f"TorchEEG unavailable: {exc}")
                return None, stubbed
            for key in [k for k in sys.modules if k.startswith("torcheeg")]:
                del sys.modules[key]
            parts = name.split(".")
            for i in range(1, len(parts) + 1):
                mod = types.ModuleType(".".join(parts[:i]))
                mod.__path__ = []  # a package, so that sub-imports resolve to further stubs
                mod.__getattr__ = _dummy_attr  # any public name -> a dummy class
                sys.modules.setdefault(".".join(parts[:i]), mod)
            stubbed.append(name)
        except Exception as exc:  # noqa: BLE001 - any import-time failure means: no comparison
            print(f"TorchEEG unavailable: {type(exc).__name__}: {exc}")
            return None, stubbed
    return None, stubbed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0, help="EEG duration, min (default 60)")
    ap.add_argument("--sample-windows", type=int, default=300, help="windows timed with TorchEEG (default 300)")
    args = ap.parse_args()
    n_times = int(args.minutes * 60 * FS)
    x = pink_eeg(32, n_times)
    n_win = n_times // FS
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        de, psd = eeg_band_features(x, FS, 1.0, None, BANDS)
        times.append(time.perf_counter() - t0)
    ours = min(times)
    print(f"data: 32 channels x {args.minutes:g} min at {FS} Hz = {n_win} windows of 1 s")
    print(f"ours   DE+PSD (vectorised): first run {times[0]:.3f} s, best of 3 {ours:.3f} s "
          f"({'meets' if ours < 0.5 else 'MISSES'} the < 0.5 s target for an hour)" if args.minutes == 60 else
          f"ours   DE+PSD (vectorised): first run {times[0]:.3f} s, best of 3 {ours:.3f} s")

    tr, stubbed = import_torcheeg_transforms()
    if tr is None:
        print("TorchEEG comparison skipped (install: .venv/bin/pip install --no-deps --target "
              f"{TORCHEEG_DIR} torcheeg).")
        return 0
    if stubbed:
        print(f"(stubbed modules for the TorchEEG import: {', '.join(stubbed)})")
    band_dict = {name: [lo, hi] for name, lo, hi in BANDS}
    t_de = tr.BandDifferentialEntropy(sampling_rate=FS, band_dict=band_dict)
    t_psd = tr.BandPowerSpectralDensity(sampling_rate=FS, band_dict=band_dict)
    k = min(args.sample_windows, n_win)
    wins = [x[:, i * FS : (i + 1) * FS] for i in range(k)]
    t0 = time.perf_counter()
    for w in wins:
        t_de(eeg=w)
    te_de = (time.perf_counter() - t0) / k * n_win
    t0 = time.perf_counter()
    for w in wins:
        t_psd(eeg=w)
    te_psd = (time.perf_counter() - t0) / k * n_win
    print(f"TorchEEG BandDifferentialEntropy   : {te_de:8.2f} s (extrapolated from {k} windows)")
    print(f"TorchEEG BandPowerSpectralDensity  : {te_psd:8.2f} s (extrapolated from {k} windows)")
    print(f"speed-up vs TorchEEG DE            : {te_de / ours:8.0f}x  (target >= 100x; ours computes DE and PSD)")
    print(f"speed-up vs TorchEEG DE + PSD      : {(te_de + te_psd) / ours:8.0f}x")
    # sanity: same ordering of band powers on a sample window (TorchEEG's PSD is unnormalised |FFT|^2)
    ref = t_psd(eeg=wins[0])["eeg"]
    r = np.corrcoef(np.log(ref).ravel(), np.log(psd[0]).ravel())[0, 1]
    print(f"log-PSD correlation with TorchEEG on window 0: {r:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
