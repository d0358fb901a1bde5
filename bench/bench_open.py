"""Benchmark: time to show the first 10 s of a long BDF with ``load_recording`` vs reading it whole with mne.

Writes (once, cached) 40-channel 512 Hz BDF files with the DEAP channel names, 1 h and 10 min long, with
edfio, then times, in the same run:

* lazy: ``load_recording(path)`` + ``rec.get_data(0, 10)`` (what the GUI does to show the first screen);
* eager: ``mne.io.read_raw_bdf(path, preload=True)`` (what a naive loader does).

Prints the median of a few repeats, the ratio, and the lazy time on both file lengths (it should not grow with
the file). Target: lazy < 0.2 s.

Usage::

    python bench/bench_open.py [--cache DIR] [--repeats N]

The files are synthetic (names say so) and are written from digital values with ``edfio`` one channel view at
a time: all channels share one noise buffer shifted per channel, so writing the 1 h file (221 MB) needs little
memory beyond edfio's own output buffer.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

DEAP_NAMES = (
    "Fp1", "AF3", "F3", "F7", "FC5", "FC1", "C3", "T7", "CP5", "CP1", "P3", "P7", "PO3", "O1", "Oz", "Pz",
    "Fp2", "AF4", "Fz", "F4", "F8", "FC6", "FC2", "Cz", "C4", "T8", "CP6", "CP2", "P4", "P8", "PO4", "O2",
    "hEOG", "vEOG", "zEMG", "tEMG", "GSR", "Resp", "Plet", "Temp",
)
SFREQ = 512  # Hz


def write_long_bdf(path: Path, duration_s: int, *, seed: int = 0) -> Path:
    """Write a synthetic 40-channel BDF of ``duration_s`` seconds at 512 Hz (skipped if it exists)."""
    import edfio

    if path.exists():
        return path
    n = duration_s * SFREQ
    rng = np.random.default_rng(seed)
    shift = 997  # samples between channels' views of the shared buffer
    base = rng.integers(-200_000, 200_000, n + shift * len(DEAP_NAMES), dtype=np.int32)
    signals = [
        edfio.BdfSignal.from_digital(
            base[k * shift : k * shift + n], SFREQ, label=name, physical_dimension="uV",
            physical_range=(-262144.0, 262143.97), digital_range=(-8388608, 8388607),
        )
        for k, name in enumerate(DEAP_NAMES)
    ]
    tmp = path.with_suffix(".part")
    edfio.Bdf(signals, patient=edfio.Patient(name="SYNTHETIC"), data_record_duration=1).write(tmp)
    tmp.replace(path)
    return path


def _median_time(func, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "mmqnet_bench")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)

    import mne

    from mmqnet_core.io import load_recording

    files = {}
    for label, seconds in (("1 h", 3600), ("10 min", 600)):
        t0 = time.perf_counter()
        files[label] = write_long_bdf(args.cache / f"bench_{seconds}s_40ch_512Hz_SYNTHETIC.bdf", seconds)
        print(f"{label} file: {files[label]} ({files[label].stat().st_size / 1e6:.0f} MB, "
              f"ready in {time.perf_counter() - t0:.1f} s)")

    def lazy(path: Path) -> None:
        rec = load_recording(path)
        x = rec.get_data(0.0, 10.0)
        assert x.shape == (40, 10 * SFREQ)

    def eager(path: Path) -> None:
        raw = mne.io.read_raw_bdf(path, preload=True, verbose="error")
        assert raw.n_times > 0

    lazy(files["1 h"])  # warm imports and the page cache for both methods alike
    eager(files["10 min"])
    t_lazy = {k: _median_time(lambda p=p: lazy(p), args.repeats) for k, p in files.items()}
    t_eager = {k: _median_time(lambda p=p: eager(p), max(1, args.repeats // 2)) for k, p in files.items()}
    for k in files:
        print(f"{k:>6}: load_recording + first 10 s: {t_lazy[k] * 1000:7.1f} ms | mne preload=True: "
              f"{t_eager[k] * 1000:8.1f} ms | ratio {t_eager[k] / t_lazy[k]:6.1f}x")
    verdict = "OK" if max(t_lazy.values()) < 0.2 else "ABOVE TARGET"
    print(f"lazy open: 1 h / 10 min = {t_lazy['1 h'] / t_lazy['10 min']:.2f} (independent of length); "
          f"target < 200 ms: {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
