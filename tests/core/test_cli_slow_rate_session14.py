"""A recording sampled too slowly for the features (session 14): the CLI says what is wrong and names only
options that exist, before the cleaning, as one ``error:`` line with exit 2.

Before: ``mmqnet analyze`` of a 1-Hz EEG recording cleaned it and then said "Window of 1.0 s at 1.0 Hz has 1
sample(s); use window_s >= 2 s." -- ``analyze`` has no window option (the window is the checkpoint's), and a
longer window would not have helped: the EEG bands (4-45 Hz) need EEG sampled at 90 Hz or more.
"""

from __future__ import annotations

import numpy as np
import pytest

from mmqnet_core.cli import main


def _write(tmp_path, sfreq: float, channels: list[tuple[str, str]], seconds: float = 120.0):
    import mne

    from mmqnet_core.datasets.synthetic import write_bdf
    from mmqnet_core.recording import ChannelInfo, Modality, Recording

    n = int(seconds * sfreq)
    rng = np.random.default_rng(0)
    data = np.stack([rng.normal(0, 20e-6, n) if m == "EEG" else 31.0 + 0.01 * rng.normal(0, 1, n).cumsum()
                     for _, m in channels])
    types = ["eeg" if m == "EEG" else "misc" for _, m in channels]
    raw = mne.io.RawArray(data, mne.create_info([c for c, _ in channels], sfreq, types, verbose=False), verbose=False)
    rec = Recording(raw=raw, channels=tuple(ChannelInfo(c, Modality.parse(m), sfreq, "V" if m == "EEG" else "degC")
                                            for c, m in channels))
    return write_bdf(rec, tmp_path / f"slow_{sfreq:g}hz.edf", fmt="edf")


EEG4 = [("Fp1", "EEG"), ("Fz", "EEG"), ("Cz", "EEG"), ("Pz", "EEG")]


def _last_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().replace("\r", "\n").splitlines()[-1]


@pytest.mark.parametrize("sfreq", [1.0, 4.0])
def test_analyze_of_eeg_sampled_too_slowly_names_the_rate_it_needs(tmp_path, capsys, monkeypatch, sfreq):
    path = _write(tmp_path, sfreq, EEG4)
    from mmqnet_core.preprocessing.cache import CleaningCache

    cleaned = []
    monkeypatch.setattr(CleaningCache, "get_or_clean", lambda *a, **k: cleaned.append(1))
    monkeypatch.setattr("mmqnet_core.preprocessing.preprocess", lambda *a, **k: cleaned.append(1))
    assert main(["analyze", str(path), "--in-process", "-o", str(tmp_path / "out")]) == 2
    line = _last_error(capsys)
    assert line.startswith(f"error: EEG band 4.0-8.0 Hz lies above the Nyquist frequency {sfreq / 2} Hz of sfreq "
                           f"{sfreq} Hz (the EEG's sampling rate): the EEG features (bands up to 45 Hz) need EEG "
                           "sampled at 90 Hz or more."), line
    assert "window" not in line  # no option of analyze sets the window; nor would one help
    assert not cleaned  # said before the cleaning


def test_features_of_eeg_sampled_at_1_hz_say_the_rate_before_the_cleaning(tmp_path, capsys):
    path = _write(tmp_path, 1.0, EEG4)
    assert main(["features", str(path), "-o", str(tmp_path / "f.csv")]) == 2
    line = _last_error(capsys)
    assert line.startswith("error: EEG band 4.0-8.0 Hz lies above the Nyquist frequency 0.5 Hz"), line
    assert "window_s" not in line


def test_features_window_too_short_for_the_rate_names_the_window_option(tmp_path, capsys):
    path = _write(tmp_path, 1.0, [("Temp", "TEMP")])
    assert main(["features", str(path), "--allow-no-eeg", "-o", str(tmp_path / "f.csv")]) == 2
    assert _last_error(capsys) == ("error: Invalid value for '--window': a window of 1 s holds 1 sample(s) at 1 Hz "
                                   "(the recording's rate) and the features need at least 2; give --window 2 or more.")
    assert main(["features", str(path), "--allow-no-eeg", "--window", "2", "-o", str(tmp_path / "f.csv")]) == 0
    capsys.readouterr()
