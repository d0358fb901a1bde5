"""``mmqnet features`` and ``mmqnet preprocess`` apply the recording's masks as ``analyze`` does (session 13 audit).

Before, only ``analyze`` read ``<FILE>.masks.json``: ``features`` and ``preprocess`` cleaned and featurised the
masked data as if it were there (it entered the average reference of every EEG channel and the feature table
as present), and a recording masked whole was written out without a word.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mmqnet_core.cli import main
from mmqnet_core.io import load_recording
from mmqnet_core.masking import MaskSet, SegmentMask

from ..io.helpers import write_edf

CHANNELS = (("Fp1", 128.0, "uV"), ("F3", 128.0, "uV"), ("C3", 128.0, "uV"), ("P3", 128.0, "uV"),
            ("O1", 128.0, "uV"), ("GSR", 128.0, "uS"))


def _pair(tmp_path):
    """Two recordings that differ only under the mask (Fp1, 10-20 s: 150-uV noise + 50-Hz hum, forwards in one and
    backwards in the other), each with the same sidecar mask."""
    t = np.arange(int(40 * 128)) / 128
    rng = np.random.default_rng(3)
    base = {name: 20 * np.sin(2 * np.pi * (6 + k) * t + k) + rng.normal(0, 2, t.size)
            for k, (name, _, _) in enumerate(CHANNELS[:5])}
    base["GSR"] = 5 + 0.2 * np.sin(2 * np.pi * t / 20)
    bad = {k: v.copy() for k, v in base.items()}
    under = (t >= 10) & (t < 20)
    bad["Fp1"][under] += rng.normal(0, 150, under.sum()) + 80 * np.sin(2 * np.pi * 50 * t[under])
    base["Fp1"][under] = bad["Fp1"][under][::-1]  # other data under the mask, the same physical range in the file
    paths = []
    for name, data in (("clean.edf", base), ("bad.edf", bad)):
        path = write_edf(tmp_path / name, CHANNELS, duration_s=40.0, data=data)
        MaskSet(segments=(SegmentMask(10.0, 20.0, ("Fp1",)),)).save(f"{path}.masks.json", recording=load_recording(path))
        paths.append(path)
    return paths


def test_features_apply_the_sidecar_masks(tmp_path, capsys):
    tables = []
    for path in _pair(tmp_path):
        out = tmp_path / f"{path.stem}.csv"
        assert main(["features", str(path), "-o", str(out), "--wide"]) == 0
        assert f"masks from {path}.masks.json" in capsys.readouterr().out
        tables.append(pd.read_csv(out))
    clean, bad = tables
    # what is under the mask is missing, and nothing of it reaches another channel's features (the reference)
    missing = [c for c in clean.columns if c.startswith("Fp1") and c.endswith("missing")]
    assert missing, list(clean.columns)[:20]
    inside = (clean["window_start"] >= 10) & (clean["window_start"] < 20)
    assert clean.loc[inside, missing].all().all() and not clean.loc[~inside, missing].any().any()
    values = [c for c in clean.columns if c not in ("window_start",) and clean[c].dtype.kind == "f"]
    pd.testing.assert_frame_equal(clean[values], bad[values], rtol=1e-5, atol=1e-6)
    # --no-masks: the masked data are featurised, and through the average reference they reach F3 too
    assert main(["features", str(tmp_path / "bad.edf"), "-o", str(tmp_path / "nomask.csv"), "--wide",
                 "--no-masks"]) == 0
    nomask = pd.read_csv(tmp_path / "nomask.csv")
    assert not nomask.loc[inside, missing].any().any()
    assert np.abs(nomask.loc[inside, "F3:de_gamma"] - bad.loc[inside, "F3:de_gamma"]).min() > 0.5


def test_preprocess_applies_the_sidecar_masks(tmp_path, capsys):
    cleaned = []
    for path in _pair(tmp_path):
        out = tmp_path / f"{path.stem}.npz"
        assert main(["preprocess", str(path), "-o", str(out)]) == 0
        assert f"masks from {path}.masks.json" in capsys.readouterr().out
        with np.load(out) as z:
            cleaned.append((z["data"], list(z["ch_names"]), float(z["sfreq"])))
    (a, names, sfreq), (b, _, _) = cleaned
    fp1 = names.index("Fp1")
    i0, i1 = int(10 * sfreq), int(20 * sfreq)
    assert np.isnan(a[fp1, i0:i1]).all() and np.isnan(b[fp1, i0:i1]).all()
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-9 * np.nanmax(np.abs(a)), equal_nan=True)


@pytest.mark.parametrize("command", ["features", "preprocess"])
def test_everything_masked_is_a_clear_error(tmp_path, capsys, command):
    path = write_edf(tmp_path / "r.edf", CHANNELS, duration_s=20.0)
    MaskSet(channels=frozenset(n for n, _, _ in CHANNELS)).save(f"{path}.masks.json", recording=load_recording(path))
    out = tmp_path / ("o.csv" if command == "features" else "o.npz")
    assert main([command, str(path), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: Every channel of r.edf (SYNTHETIC) is masked from 0 s to 20 s (masks from ")
    assert "--no-masks" in err and not out.exists()
    assert main([command, str(path), "-o", str(out), "--no-masks"]) == 0
