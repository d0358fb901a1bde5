"""save_cleaned(): .npz, .fif, .edf/.bdf outputs with a JSON sidecar, written atomically."""

from __future__ import annotations

import json

import mne
import numpy as np
import pytest

from mmqnet_core.errors import ConfigError
from mmqnet_core.preprocessing import preprocess, save_cleaned, steps_path

from ._helpers import full_recording


@pytest.fixture(scope="module")
def processed():
    rec = full_recording(np.random.default_rng(0), 256.0, 20.0, line_freq=50.0)
    rec.raw._data[rec.index("C3"), 256 * 5:256 * 6] = np.nan
    return rec, preprocess(rec)


def test_npz_round_trip_and_sidecar(tmp_path, processed):
    rec, res = processed
    out = save_cleaned(res, tmp_path / "clean_SYNTHETIC.npz", recording=rec)
    with np.load(out) as z:
        np.testing.assert_array_equal(z["data"], res.cleaned.data)
        assert float(z["sfreq"]) == 128.0 and list(z["ch_names"]) == rec.ch_names
        assert list(z["modalities"])[:3] == ["EEG", "EEG", "EEG"] and bool(z["is_synthetic"])
    side = json.loads(steps_path(out).read_text())
    assert side["steps"] == list(res.steps) and side["line_freq"] == 50.0
    assert side["interference"][0]["description"] == "BAD_nan" and side["interference"][0]["ch_names"] == ["C3"]
    assert side["recording"]["synthetic"] is True and side["signals"] == "cleaned"
    assert side["config"]["eog_method"] == "regression"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clean_SYNTHETIC.npz", "clean_SYNTHETIC.npz.json"]


def test_fif_keeps_types_and_interference_annotations(tmp_path, processed):
    rec, res = processed
    out = save_cleaned(res, tmp_path / "clean_raw.fif", recording=rec, which="raw")
    raw = mne.io.read_raw_fif(out, preload=True, verbose="error")
    assert raw.info["sfreq"] == 128.0 and raw.ch_names == rec.ch_names
    assert raw.get_channel_types()[-4:] == ["gsr", "resp", "bio", "temperature"]
    np.testing.assert_allclose(raw.get_data(), res.raw.data, rtol=1e-6, equal_nan=True)
    desc = list(raw.annotations.description)
    assert desc[0] == "SYNTHETIC" and "BAD_nan" in desc
    nan = raw.annotations[desc.index("BAD_nan")]
    assert nan["ch_names"] == ("C3",) and abs(nan["onset"] - 5.0) < 1e-6


@pytest.mark.parametrize("suffix", [".edf", ".bdf"])
def test_edf_bdf_export(tmp_path, processed, suffix):
    rec, res = processed
    out = save_cleaned(res, tmp_path / f"clean{suffix}", recording=rec)
    back = mne.io.read_raw(out, preload=True, verbose="error")
    assert back.ch_names == rec.ch_names and back.info["sfreq"] == 128.0
    i = rec.index("Fp1")
    ref = res.cleaned.data[i]
    tol = 1e-3 if suffix == ".edf" else 1e-5  # 16-bit vs 24-bit samples over the channel's range
    assert np.max(np.abs(back.get_data()[i] - ref)) < tol * np.ptp(ref) + 1e-9
    assert "BAD_nan" in list(back.annotations.description)


def test_unknown_extension_or_folder(tmp_path, processed):
    _rec, res = processed
    with pytest.raises(ConfigError, match=r"Cannot write 'x.csv': unknown extension '.csv'; use one of .fif, .npz"):
        save_cleaned(res, tmp_path / "x.csv")
    with pytest.raises(ConfigError, match=r"folder .*missing does not exist"):
        save_cleaned(res, tmp_path / "missing" / "x.npz")
    with pytest.raises(ConfigError, match=r"Invalid value for 'which': allowed 'cleaned' or 'raw', got 'both'"):
        save_cleaned(res, tmp_path / "x.npz", which="both")
    assert list(tmp_path.iterdir()) == []
