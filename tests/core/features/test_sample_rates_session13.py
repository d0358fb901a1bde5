"""Windows, bands and features at the sampling rates recordings come in (session 13 audit).

The same analog signals sampled at 100.5, 128, 200, 250, 500 and 1000 Hz, and mixed in one file, give the same
window grid (whole seconds on the recording clock) and the same band features; so do real files shipped with
pyedflib (channels at 500/800/975/999 Hz in a 1000-Hz file, 0.5-s and 2-s data records), whose sines have a
known differential entropy. Before, 100.5 Hz (kept as it is, below the 128-Hz analysis rate) made 1-s windows of
100 samples (0.995 s) whose starts drifted from the clock by 0.6 s in 2 minutes (18 s an hour).
"""

from __future__ import annotations

from datetime import timedelta

import edfio
import numpy as np
import pytest

from mmqnet_core.features import DEAP_LAYOUT, extract_features
from mmqnet_core.io import load_recording
from mmqnet_core.preprocessing import preprocess
from mmqnet_core.preprocessing.streaming import analysis_sfreq, fit_cleaning, iter_clean

from ..io.helpers import PYEDFLIB_DATA

DURATION_S = 120.0
EEG = ("Fp1", "F3", "C3", "P3", "O1", "Fp2", "F4", "C4", "P4", "O2")


def _write(path, rates: dict[str, float]):
    """Noise-free EEG (10 + 20 Hz sines, a different amplitude and phase per channel) and a slow GSR."""
    signals = []
    for k, (name, sfreq) in enumerate(rates.items()):
        t = np.arange(int(round(DURATION_S * sfreq))) / sfreq
        if name == "GSR":
            x, unit, prange = 5 + 0.5 * np.sin(2 * np.pi * t / 40), "uS", (0.0, 20.0)
        else:
            x = (10 + 5 * k) * np.sin(2 * np.pi * 10 * t + k) + 3 * np.sin(2 * np.pi * 20 * t + 2 * k)
            unit, prange = "uV", (-300.0, 300.0)
        signals.append(edfio.EdfSignal(x, sfreq, label=name, physical_dimension=unit, physical_range=prange))
    edfio.Edf(signals).write(path)
    return path


def _features(path):
    pre = preprocess(load_recording(path))
    return pre, extract_features(pre.cleaned, layout=DEAP_LAYOUT, interference=pre.interference)


def _column(fs, token: str, name: str) -> np.ndarray:
    mod = next(m for m in fs.feature_names if getattr(m, "value", m) == "EEG")
    return fs.values[:, [t.name for t in fs.tokens].index(token), list(fs.feature_names[mod]).index(name)]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return _features(_write(tmp_path_factory.mktemp("rates") / "r128.edf", {**{c: 128.0 for c in EEG}, "GSR": 128.0}))[1]


@pytest.mark.parametrize("rates", [
    {**{c: 100.5 for c in EEG}, "GSR": 100.5},
    {**{c: 200.0 for c in EEG}, "GSR": 200.0},
    {**{c: 250.0 for c in EEG}, "GSR": 250.0},
    {**{c: 500.0 for c in EEG}, "GSR": 500.0},
    {**{c: 1000.0 for c in EEG}, "GSR": 1000.0},
    {**{c: 500.0 for c in EEG}, "GSR": 32.0},  # mixed rates
    {**{c: 256.0 for c in EEG[:5]}, **{c: 100.5 for c in EEG[5:]}, "GSR": 4.0},  # mixed, with an odd one
], ids=["100.5", "200", "250", "500", "1000", "mixed-500-32", "mixed-256-100.5-4"])
def test_every_rate_gives_whole_second_windows_and_the_same_band_features(tmp_path, reference, rates):
    pre, fs = _features(_write(tmp_path / "r.edf", rates))
    assert fs.window_s == 1.0
    np.testing.assert_allclose(fs.window_starts, np.arange(DURATION_S))  # 120 windows at 0, 1, ..., 119 s
    assert pre.cleaned.sfreq == analysis_sfreq(max(rates.values()), 128.0)
    for name in ("de_alpha", "de_beta", "psd_alpha", "psd_beta"):
        ours, ref = _column(fs, "C3", name)[2:-2], _column(reference, "C3", name)[2:-2]  # edges: filter ramps
        np.testing.assert_allclose(np.median(ours), np.median(ref), atol=0.01, err_msg=name)
    gsr = fs.values[:, [t.name for t in fs.tokens].index("GSR"), 0]  # level, uS
    np.testing.assert_allclose(np.median(gsr), 5.0, atol=0.01)


def test_a_rate_of_a_fraction_of_a_hertz_is_resampled_to_the_whole_hertz_below(tmp_path):
    assert analysis_sfreq(100.5, 128.0) == 100.0
    assert analysis_sfreq(97.65625, 128.0) == 97.0
    assert analysis_sfreq(64.0, 128.0) == 64.0 and analysis_sfreq(512.0, 128.0) == 128.0
    rec = load_recording(_write(tmp_path / "r.edf", {**{c: 100.5 for c in EEG}, "GSR": 100.5}))
    pre = preprocess(rec)
    assert pre.cleaned.sfreq == 100.0 and pre.cleaned.n_times == 12000
    assert any("100.5 Hz is not a whole number of Hz: resampled to 100 Hz" in s for s in pre.steps)
    # the bounded-memory path, in pieces across the 201-sample resampling period, equals the whole cleaning
    fit = fit_cleaning(rec, pre.config)
    pieces = np.concatenate([p.cleaned for p in iter_clean(rec, fit, chunk_s=37.0)], axis=1)
    np.testing.assert_allclose(pieces, pre.cleaned.data, rtol=0, atol=1e-6 * np.abs(pre.cleaned.data).max())


@pytest.mark.parametrize("name, sine, band, sfreq", [
    ("test_generator.bdf", "sine 5Hz", "de_theta", 1000.0),  # beside channels at 500, 800, 975 and 999 Hz
    ("test_generator_datarec_generator_0_5.bdf", "sine 10Hz", "de_alpha", 2000.0),  # 0.5-s data records
    ("test_generator.edf", "sine 15 Hz", "de_beta", 200.0),
])
def test_real_pyedflib_files_give_the_sines_differential_entropy_on_the_clock(name, sine, band, sfreq):
    """A 1000-uV (100-uV) sine of a whole number of cycles per window: DE = 0.5 ln(2 pi e A^2 / 2) = 7.9801 (5.6773)
    nats; scipy's Butterworth band-pass of the raw file gives 7.9799 / 7.9801 / 5.4802 (the 15-Hz sine sits
    near its 14-Hz edge)."""
    path = PYEDFLIB_DATA / name
    rec = load_recording(path, modalities={sine: "EEG"})
    assert rec.sfreq == sfreq
    pre = preprocess(rec)
    fs = extract_features(pre.cleaned)
    n = int(round(rec.duration_s))
    np.testing.assert_allclose(fs.window_starts, np.arange(n))
    import pyedflib

    with pyedflib.EdfReader(str(path)) as f:
        x = f.readSignal(f.getSignalLabels().index(sine))
        start = f.getStartdatetime()
    amplitude = (np.percentile(x, 99.9) - np.percentile(x, 0.1)) / 2
    expected = 0.5 * np.log(np.pi * np.e * amplitude ** 2)
    mod = next(m for m in fs.feature_names if getattr(m, "value", m) == "EEG")
    de = fs.values[:, [t.name for t in fs.tokens].index(sine), list(fs.feature_names[mod]).index(band)]
    np.testing.assert_allclose(np.median(de[2:-2]), expected, atol=0.005)
    # each window's clock time (trajectories' clock_time): the header's start + whole seconds
    from mmqnet_core.inference.analyze import _clock_times, recording_start

    clock = _clock_times(recording_start(rec), fs.window_starts)
    assert list(clock[[0, -1]]) == [f"{start:%Y-%m-%d %H:%M:%S}.000",
                                    f"{start + timedelta(seconds=n - 1):%Y-%m-%d %H:%M:%S}.000"]
