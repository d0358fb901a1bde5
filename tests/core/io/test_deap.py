"""DEAP preprocessed-python files, read with a restricted unpickler."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from mmqnet_core.errors import ConfigError, RecordingError
from mmqnet_core.io import load_deap_subject, load_recording
from mmqnet_core.io.deap import DEAP_CHANNEL_NAMES, safe_load_pickle
from mmqnet_core.recording import Modality

N_TIMES = 640  # 5 s at 128 Hz keeps the files small; the reader accepts any length


def _deap_dict(n_trials=3, n_channels=40, n_times=N_TIMES, seed=0):
    rng = np.random.default_rng(seed)
    data = rng.normal(0, 10, (n_trials, n_channels, n_times))  # µV
    labels = rng.uniform(1, 9, (n_trials, 4))
    return {"data": data, "labels": labels}


def _write(path, obj, protocol=pickle.HIGHEST_PROTOCOL):
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=protocol)
    return path


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_trial_is_loaded_with_labels_units_and_spans(tmp_path, protocol):
    content = _deap_dict()
    path = _write(tmp_path / "s07.dat", content, protocol)
    rec = load_recording(path, trial=2)
    assert rec.source_format == "deap" and rec.trial == "2" and rec.subject == "07"
    assert rec.ch_names == list(DEAP_CHANNEL_NAMES) and rec.sfreq == 128.0
    assert rec.labels == pytest.approx(dict(zip(("valence", "arousal", "dominance", "liking"), content["labels"][2])))
    x = rec.get_data()
    np.testing.assert_allclose(x[:36], content["data"][2, :36] * 1e-6)  # EEG/EOG/EMG µV -> V
    np.testing.assert_allclose(x[36:], content["data"][2, 36:])  # peripherals unchanged
    assert [c.unit for c in rec.channels][35:37] == ["V", ""]
    assert rec.modalities[32:] == [Modality.EOG] * 2 + [Modality.EMG] * 2 + [
        Modality.GSR, Modality.RESP, Modality.PPG, Modality.TEMP]
    assert rec.stim_span == (3.0, 5.0)
    assert [(a.onset, a.duration, a.description) for a in rec.annotations] == [
        (0.0, 3.0, "baseline"), (3.0, 2.0, "stimulus")]
    assert not rec.is_synthetic


def test_default_trial_is_zero_and_subject_loader_returns_all(tmp_path):
    content = _deap_dict(n_trials=4)
    path = _write(tmp_path / "s01.dat", content)
    np.testing.assert_allclose(load_recording(path).get_data()[0], content["data"][0, 0] * 1e-6)
    recs = load_deap_subject(path)
    assert [r.trial for r in recs] == ["0", "1", "2", "3"]
    np.testing.assert_allclose([r.labels["arousal"] for r in recs], content["labels"][:, 1])
    with pytest.raises(ConfigError, match=r"Invalid value for 'trial' in s01.dat: must be an integer in \[0, 3\], got 4\.$"):
        load_recording(path, trial=4)


def test_synthetic_flag_units_and_names_are_honoured(tmp_path):
    content = _deap_dict(n_trials=1)
    content.update(synthetic=True, units=["uV"] * 36 + ["uS", "", "", "degC"])
    rec = load_recording(_write(tmp_path / "s02.dat", content))
    assert rec.is_synthetic and "(SYNTHETIC)" in rec.title
    assert [c.unit for c in rec.channels][36:] == ["uS", "", "", "degC"]
    assert any(a.description == "SYNTHETIC data" for a in rec.annotations)


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (_deap_dict(n_channels=32), r"DEAP 'data' must have shape \(n_trials, 40 channels, n_times\).*got \(3, 32, 640\)"),
        ({"data": np.zeros((3, 40, 10)), "labels": np.zeros((2, 4))}, r"'labels' must have shape \(3, 4\).*got \(2, 4\)"),
        ({"data": np.zeros((3, 40, 10))}, r"a DEAP file is a dict with 'data' and 'labels', found \['data'\]"),
        ([1, 2, 3], r"a DEAP file is a dict with 'data' and 'labels', found list"),
    ],
)
def test_wrong_shapes_are_refused(tmp_path, obj, message):
    with pytest.raises(RecordingError, match=message):
        load_recording(_write(tmp_path / "s03.dat", obj))


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("protocol", [2, 5])
def test_malicious_pickle_is_refused_and_not_executed(tmp_path, protocol):
    marker = tmp_path / "pwned"
    obj = {"data": np.zeros((1, 40, 10)), "labels": _Evil(marker)}
    path = _write(tmp_path / "s04.dat", obj, protocol)
    with pytest.raises(RecordingError, match=r"Refusing to load s04.dat: the pickle asks to run (posix|os)\.system"):
        load_recording(path)
    with pytest.raises(RecordingError, match="Refusing to load"):
        load_deap_subject(path)
    assert not marker.exists()


def test_other_callables_are_refused_too(tmp_path):
    path = _write(tmp_path / "s05.dat", {"f": np.load})
    with pytest.raises(RecordingError, match=r"asks to run numpy.*load"):
        safe_load_pickle(path)


@pytest.mark.parametrize(("content", "message"), [(b"", r"the file is empty"),
                                                  (b"not a pickle at all", r"not a valid DEAP pickle")])
def test_empty_or_garbage_dat(tmp_path, content, message):
    p = tmp_path / "s06.dat"
    p.write_bytes(content)
    with pytest.raises(RecordingError, match=rf"s06.dat: .*{message}"):
        load_recording(p)


def test_truncated_pickle(tmp_path):
    p = _write(tmp_path / "s08.dat", _deap_dict(n_trials=1))
    p.write_bytes(p.read_bytes()[:5000])
    with pytest.raises(RecordingError, match=r"Cannot read s08.dat: it is not a valid DEAP pickle"):
        load_recording(p)
