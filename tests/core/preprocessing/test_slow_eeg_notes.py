"""EEG recorded too slowly for muscle detection: one consistent note, and an actionable error from `analyze`."""

from __future__ import annotations

import threading

from mmqnet_core.cli import main
from mmqnet_core.io import load_recording
from mmqnet_core.preprocessing import preprocess
from tests.core.io.helpers import write_edf

_SLOW = (("Fp1", 32.0, "uV"), ("C3", 32.0, "uV"), ("Cz", 32.0, "uV"))


def test_muscle_detection_skipped_for_slow_eeg_is_said_once_without_a_contradiction(tmp_path):
    """Before: 'no muscle detection: the EEG channels hold nothing above ...' and then 'no usable EEG or EMG
    channels: no muscle detection' (the EEG channels were usable, only too slow)."""
    path = write_edf(tmp_path / "slow.edf", _SLOW + (("GSR", 128.0, "uS"),), duration_s=30.0)
    steps = preprocess(load_recording(path)).steps
    assert any(s.startswith("no muscle detection: the EEG channels hold nothing above 15.2 Hz") for s in steps)
    assert not any("no usable EEG or EMG" in s for s in steps), steps
    assert sum("muscle" in s for s in steps) == 1


def test_analyze_of_slow_eeg_says_what_rate_is_needed(tmp_path, capsys):
    """Before: '... drop the band or use a higher sampling rate.' (an analyze user cannot drop the model's band)."""
    path = write_edf(tmp_path / "slow.edf", _SLOW, duration_s=60.0)
    assert main(["analyze", str(path), "-o", str(tmp_path / "a")]) == 2
    for t in threading.enumerate():  # the model kept loading beside the failed analysis
        if t.name == "mmqnet-load-model":
            t.join(timeout=120)
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: EEG band") and "Nyquist frequency 16.0 Hz" in err
    assert "need EEG sampled at 90 Hz or more" in err and "Analyse a recording whose EEG is sampled" in err
    assert "drop the band" not in err
