"""Detectors on real recordings shipped inside PyPI packages (pyphysio, heartpy; the dev extra), as a table.

    python bench/bench_real.py

Per recording and channel: windows that have a reference rhythm, the share of them where our rate agrees with
the reference (heart: within 3 bpm of heartpy's own beat detector; breathing: within 2/min of breaths
hand-annotated on the belt's regular stretch, 20-40 s), the share of all windows where our rate is NaN, and
the BAD_jump and BAD_flat spans found with the preprocessing defaults. "+movement"
rows splice a large movement artefact (8x the signal's range plus a lasting step) at 60 s; windows within 5 s
of it are left out. No real EOG (blinks) or independently scored EDA (SCRs) ships in an installed package, so
those are not in the table.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mmqnet_core.features.config import FeatureConfig  # noqa: E402
from mmqnet_core.features.peripheral import (  # noqa: E402
    BREATH_RANGE_S, IBI_RANGE_S, Events, heart_features, interval_rate, resp_features,
)
from mmqnet_core.features.spectral import WindowGrid  # noqa: E402
from mmqnet_core.preprocessing.config import PreprocessConfig  # noqa: E402
from mmqnet_core.preprocessing.detect import flat_mask, jump_mask, runs  # noqa: E402
from tests.core.real.realdata import (  # noqa: E402
    MEDICAL_HAND_BREATHS_S, RealRecording, heartpy_beats, heartpy_ppg, medical, splice_movement,
)

SF = 128.0
CFG = FeatureConfig()


def _jumps(x: np.ndarray, sfreq: float) -> int:
    c = PreprocessConfig()
    m = jump_mask(np.asarray(x, float)[None], sfreq, lag_s=c.jump_lag_s, threshold=c.jump_threshold,
                  min_fraction=c.jump_min_fraction, pad_s=c.jump_pad_s)[0]
    return len(runs(m))


def _flats(x: np.ndarray, sfreq: float) -> int:
    c = PreprocessConfig()
    m = flat_mask(np.asarray(x, float)[None], sfreq, window_s=c.flat_window_s, rel_threshold=c.flat_rel_threshold,
                  min_s=c.flat_min_s)[0]
    return len(runs(m))


def _down(x: np.ndarray, sfreq: float) -> tuple[np.ndarray, float]:
    if sfreq <= SF:
        return np.asarray(x, float), sfreq
    return RealRecording("x", sfreq, {"x": x}).resampled(SF).channels["x"], SF


def heart_row(name: str, clean: np.ndarray, y: np.ndarray, sfreq: float, ecg: bool, art=None) -> tuple:
    beats = heartpy_beats(clean, sfreq)
    z, sf = _down(y, sfreq)
    grid = WindowGrid.make(sf, z.size, 1.0, None)
    ref = interval_rate(Events(beats, np.ones(beats.size)), grid, IBI_RANGE_S, max_gap_s=4.0, max_rel_deviation=0.3)
    got = heart_features(z[None], grid, CFG, ecg=ecg, orig_sfreq=np.array([sfreq]))[0, :, 0]
    rhythm = np.isfinite(ref)
    if art is not None:
        rhythm &= (grid.centres_s < art[0] - 5) | (grid.centres_s > art[1] + 5)
    agree = float(np.mean(np.abs(got[rhythm] - ref[rhythm]) <= 3.0))
    return (name, "HR (bpm)", int(rhythm.sum()), agree, float(np.isnan(got).mean()),
            (None if ecg else _jumps(y, sfreq)), _flats(y, sfreq))


def resp_row(name: str, belt: np.ndarray, sfreq: float) -> tuple:
    z, sf = _down(belt, sfreq)
    grid = WindowGrid.make(sf, z.size, 1.0, None)
    rate = resp_features(z[None], grid, CFG, orig_sfreq=np.array([sfreq]))[0, :, 0]
    hand = MEDICAL_HAND_BREATHS_S
    ref = interval_rate(Events(hand, np.ones(hand.size)), grid, BREATH_RANGE_S, max_gap_s=20.0)
    stretch = (grid.centres_s >= hand[0]) & (grid.centres_s <= hand[-1])
    agree = float(np.mean(np.abs(rate[stretch] - ref[stretch]) <= 2.0))
    return name, "breath (/min)", int(stretch.sum()), agree, float(np.isnan(rate).mean()), None, _flats(belt, sfreq)


def main() -> None:
    m = medical()
    if m is None:
        sys.exit("error: pyphysio is not installed; install the dev extra (pip install -e '.[dev]').")
    rows = []
    for ch, ecg in (("ECG", True), ("BVP", False)):
        x = m.channels[ch]
        amp = np.percentile(x, 99) - np.percentile(x, 1)
        rows.append(heart_row(f"medical {ch}", x, x, m.sfreq, ecg))
        y = splice_movement(x, m.sfreq, 60.0, size=8 * amp, step=3 * amp)
        rows.append(heart_row(f"medical {ch} +movement", x, y, m.sfreq, ecg, art=(60.0, 63.0)))
    for which in ("data.csv", "data2.csv"):
        r = heartpy_ppg(which)
        rows.append(heart_row(f"heartpy {which} PPG", r.channels["PPG"], r.channels["PPG"], r.sfreq, False))
    belt = m.channels["RESP"]
    rows.append(resp_row("medical RESP", belt, m.sfreq))
    amp = np.percentile(belt, 99) - np.percentile(belt, 1)
    rows.append(resp_row("medical RESP +movement@100s", splice_movement(belt, m.sfreq, 100.0, size=10 * amp,
                                                                      step=2 * amp), m.sfreq))
    print(f"{'recording':32s} {'measure':14s} {'rhythm win':>10s} {'agree':>7s} {'NaN':>6s} {'jumps':>6s} "
          f"{'flats':>6s}")
    for name, what, n, agree, nan, jumps, flats in rows:
        j = "-" if jumps is None else str(jumps)
        print(f"{name:32s} {what:14s} {n:10d} {agree:7.1%} {nan:6.1%} {j:>6s} {flats:6d}")
    eda = m.channels["EDA"]
    print(f"{'medical EDA':32s} {'spans only':14s} {'':10s} {'':7s} {'':6s} {_jumps(eda, m.sfreq):6d} "
          f"{_flats(eda, m.sfreq):6d}")
    print("(heartpy data2.csv holds a real 7-s sensor dropout at 18-25 s: its flat span is right; the "
          "+movement PPG row's jump is the spliced step)")


if __name__ == "__main__":
    main()
