"""Heart-rate trace for display: the feature extractor's beat detector on a fine grid (no Qt)."""

import mne
import numpy as np
import pytest

from mmqnet_core.features.heart_rate import (
    heart_rate_channel,
    heart_rate_trace,
    recording_heart_rate,
    trace_values_at,
)
from mmqnet_core.recording import ChannelInfo, Modality, Recording

SFREQ = 256.0


def beats_signal(duration_s: float, bpm_before: float, bpm_after: float, change_s: float, *, ppg: bool = False,
                 seed: int = 0) -> np.ndarray:
    """SYNTHETIC ECG (narrow R peaks, 1 mV) or PPG (smooth pulses) beating at one rate, then another."""
    t = np.arange(int(duration_s * SFREQ)) / SFREQ
    beats, x = [], 0.4
    while x < duration_s:
        beats.append(x)
        x += 60.0 / (bpm_before if x < change_s else bpm_after)
    width = 0.08 if ppg else 0.01
    y = np.zeros_like(t)
    for b in beats:
        y += np.exp(-0.5 * ((t - b) / width) ** 2)
    return 1e-3 * y + 2e-5 * np.random.default_rng(seed).standard_normal(t.size)


@pytest.mark.parametrize("ppg", [False, True])
def test_trace_follows_a_change_of_rate(ppg):
    trace = heart_rate_trace(beats_signal(120, 72, 96, 60, ppg=ppg), SFREQ, ecg=not ppg, channel="X")
    before = trace.bpm[(trace.times_s > 10) & (trace.times_s < 55)]
    after = trace.bpm[(trace.times_s > 65) & (trace.times_s < 110)]
    assert np.nanmedian(before) == pytest.approx(72, abs=1)
    assert np.nanmedian(after) == pytest.approx(96, abs=1)
    assert np.isfinite(before).mean() > 0.95 and np.isfinite(after).mean() > 0.95
    assert np.diff(trace.times_s) == pytest.approx(0.25)  # one point every 0.25 s
    assert trace.modality == (Modality.PPG if ppg else Modality.ECG) and trace.channel == "X"


def test_missing_samples_and_silence_are_gaps():
    y = beats_signal(120, 70, 70, 60)
    y[int(40 * SFREQ):int(60 * SFREQ)] = np.nan  # a masked / lost stretch
    trace = heart_rate_trace(y, SFREQ, ecg=True, t0_s=100.0)
    assert trace.times_s[0] == pytest.approx(100.125)  # times from the recording start
    inside = (trace.times_s > 142) & (trace.times_s < 158)
    assert np.isnan(trace.bpm[inside]).all()
    assert np.nanmedian(trace.bpm[trace.times_s < 135]) == pytest.approx(70, abs=1)
    assert heart_rate_trace(np.zeros(10), SFREQ, ecg=True).times_s.size == 0  # shorter than two steps


def test_values_at_times():
    trace = heart_rate_trace(beats_signal(60, 75, 75, 60), SFREQ, ecg=True)
    v = trace_values_at(trace, [30.0, 30.1, -5.0, 500.0])
    assert v[:2] == pytest.approx([75, 75], abs=1)
    assert np.isnan(v[2:]).all()


def test_bad_arguments_are_refused_with_the_value():
    with pytest.raises(ValueError, match="one channel"):
        heart_rate_trace(np.zeros((2, 100)), SFREQ, ecg=True)
    with pytest.raises(ValueError, match="step_s"):
        heart_rate_trace(np.zeros(1000), SFREQ, ecg=True, step_s=0.0)


def _recording(with_heart: bool) -> Recording:
    data = [1e-5 * np.random.default_rng(2).standard_normal(int(60 * SFREQ))]
    names, kinds, channels = ["Cz"], ["eeg"], [ChannelInfo("Cz", Modality.EEG, SFREQ, "V")]
    if with_heart:
        data += [beats_signal(60, 64, 64, 60, ppg=True), beats_signal(60, 80, 80, 60)]
        names += ["Pleth", "ECG"]
        kinds += ["misc", "ecg"]
        channels += [ChannelInfo("Pleth", Modality.PPG, SFREQ, "a.u."), ChannelInfo("ECG", Modality.ECG, SFREQ, "V")]
    raw = mne.io.RawArray(np.vstack(data), mne.create_info(names, SFREQ, kinds), verbose=False)
    return Recording(raw=raw, channels=tuple(channels), is_synthetic=True)


def test_recording_trace_prefers_ecg_and_names_the_channel():
    rec = _recording(True)
    assert heart_rate_channel(rec.channels).name == "ECG"
    trace = recording_heart_rate(rec)
    assert trace.channel == "ECG" and np.nanmedian(trace.bpm) == pytest.approx(80, abs=1)
    ppg = recording_heart_rate(rec, "Pleth", start_s=10.0, stop_s=50.0)
    assert np.nanmedian(ppg.bpm) == pytest.approx(64, abs=1)
    assert ppg.times_s[0] >= 10.0 and ppg.times_s[-1] <= 50.0
    assert recording_heart_rate(_recording(False)) is None
    with pytest.raises(ValueError, match="channel 'Cz': it is EEG, not ECG or PPG"):
        heart_rate_channel(rec.channels, "Cz")
    with pytest.raises(ValueError, match="no such channel"):
        heart_rate_channel(rec.channels, "nope")
