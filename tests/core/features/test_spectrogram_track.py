"""Spectrogram track for display: chunked, bounded, equal to the whole-recording spectrogram."""

import mne
import numpy as np
import pytest

from mmqnet_core.errors import ConfigError
from mmqnet_core.features.psd import spectrogram
from mmqnet_core.features.spectrogram_track import spectrogram_track
from mmqnet_core.recording import ChannelInfo, Modality, Recording

SFREQ = 256.0


def _recording(duration_s: float = 130.0) -> Recording:
    """SYNTHETIC EEG: 10 Hz for the first 60 s, 20 Hz after."""
    t = np.arange(int(duration_s * SFREQ)) / SFREQ
    x = 1e-5 * np.where(t < 60, np.sin(2 * np.pi * 10 * t), np.sin(2 * np.pi * 20 * t))
    x += 1e-7 * np.random.default_rng(0).standard_normal(t.size)
    raw = mne.io.RawArray(x[None], mne.create_info(["Cz"], SFREQ, ["eeg"]), verbose=False)
    return Recording(raw=raw, channels=(ChannelInfo("Cz", Modality.EEG, SFREQ, "V"),), is_synthetic=True)


def test_chunks_join_without_gap_or_repeat():
    rec = _recording()
    track = spectrogram_track(rec, "Cz", chunk_s=30.0)  # five chunks
    whole = spectrogram(rec, 0, fmax=45.0)
    np.testing.assert_allclose(track.times_s, whole.times)
    np.testing.assert_allclose(track.power_db, 10 * np.log10(whole.power.T), atol=1e-6)
    assert track.freqs_hz[-1] <= 45.0 and track.unit == "uV"
    early, late = track.power_db[track.times_s < 55], track.power_db[track.times_s > 65]
    assert track.freqs_hz[np.argmax(early.mean(axis=0))] == pytest.approx(10.0)
    assert track.freqs_hz[np.argmax(late.mean(axis=0))] == pytest.approx(20.0)


def test_columns_are_averaged_beyond_the_limit():
    track = spectrogram_track(_recording(), "Cz", max_columns=50)
    assert track.times_s.size <= 50 and track.column_s == pytest.approx(3.0)
    assert np.all(np.diff(track.times_s) == pytest.approx(3.0))
    lo, hi = track.levels()
    assert lo < hi


@pytest.mark.parametrize("kwargs, match", [
    ({"channel": "nope"}, "Invalid channel 'nope' for a spectrogram"),
    ({"channel": "Cz", "fmax_hz": 0}, "fmax_hz"),
    ({"channel": "Cz", "max_columns": 0}, "max_columns"),
])
def test_bad_arguments_name_the_value(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        spectrogram_track(_recording(), **kwargs)


def test_too_short_a_recording_says_so():
    with pytest.raises(ConfigError, match="shorter than two segments"):
        spectrogram_track(_recording(3.0), "Cz")
