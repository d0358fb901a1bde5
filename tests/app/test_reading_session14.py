"""Session 14 (read14), the signal browser's display path: one test per defect, each failing before its fix."""

from __future__ import annotations

import mne
import numpy as np
import pytest

from mmqnet_core.preprocessing.display_filter import DisplayFilter, filter_rows
from mmqnet_core.recording import ChannelInfo, Modality, Recording

from .conftest import open_all_rows

SFREQ = 256.0


def _eeg_like(n: int, seed: int) -> np.ndarray:
    """SYNTHETIC EEG-like row in V: pink noise (20 uV RMS), 30 uV alpha, a 40 uV drift and 15 uV line noise (the
    signal of tests/core/preprocessing/test_display_filter_ends.py)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SFREQ
    spec = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / SFREQ)
    spec[1:] /= np.sqrt(freqs[1:])
    spec[0] = 0
    pink = np.fft.irfft(spec, n)
    pink *= 20 / pink.std()
    x = (pink + 30 * np.sin(2 * np.pi * 10 * t + rng.uniform(0, 6)) + 40 * t / t[-1]
         + 15 * np.sin(2 * np.pi * 50 * t + rng.uniform(0, 6)))
    return x * 1e-6


# --- Display filters at the recording's first and last seconds ----------------------------------------------------
@pytest.mark.parametrize("where", ["first page", "last page"])
def test_display_filters_do_not_bend_the_first_and_last_seconds(window, tmp_path, qtbot, monkeypatch, where):
    """The last ~0.2-0.5 s of a recording (and its first) were bent by the filters: no padding can be read there
    and scipy's short odd extension stood in for it. The page drawn there is compared with the same filter over a
    longer signal that goes on past both ends of the recording (what the page would show inside a recording)."""
    names = ["Fz", "Cz", "Pz"]
    longer = np.vstack([_eeg_like(int(60 * SFREQ), seed) for seed in range(len(names))])
    a, b = int(10 * SFREQ), int(50 * SFREQ)  # the recording: 10-50 s of the longer signal
    raw = mne.io.RawArray(longer[:, a:b], mne.create_info(names, SFREQ, "eeg"), verbose=False)
    rec = Recording(raw=raw, channels=tuple(ChannelInfo(n, Modality.EEG, SFREQ, "V") for n in names),
                    is_synthetic=True)
    browser = open_all_rows(window, rec, tmp_path / "ends.bdf", qtbot, monkeypatch)
    f = DisplayFilter(0.5, 35.0, 50.0)
    window.browser_controls.set_filters({Modality.EEG: f})
    goes_on = filter_rows(longer, SFREQ, [f] * len(names))
    edge = int(0.5 * SFREQ)
    browser.set_start(0.0 if where == "first page" else 30.0)
    page = browser._raw.page
    assert page.values.shape[1] == int(10 * SFREQ)
    errors = []
    for i, name in enumerate(names):
        drawn = page.values[browser.row_of(name)]
        truth = goes_on[i, a:a + edge] if where == "first page" else goes_on[i, b - edge:b]
        got = drawn[:edge] if where == "first page" else drawn[-edge:]
        errors.append(np.abs(got - truth).max() / goes_on[i, a:b].std())
    assert np.median(errors) < 0.45, errors  # was 0.63 (first page) and 1.30 (last page)
