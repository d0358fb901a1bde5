"""``mmqnet features``: a small synthetic EDF written with edfio, featurised to parquet and CSV."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mmqnet_core.cli import main

from .helpers import FS, pulse_train, times


@pytest.fixture
def edf_file(tmp_path):
    edfio = pytest.importorskip("edfio")
    t = times(30)
    rng = np.random.default_rng(0)
    sigs = [
        edfio.EdfSignal(20 * np.sin(2 * np.pi * 10 * t) + 2 * rng.standard_normal(t.size), FS, label="EEG Fp1",
                        physical_dimension="uV", physical_range=(-500, 500)),
        edfio.EdfSignal(20 * np.sin(2 * np.pi * 20 * t) + 2 * rng.standard_normal(t.size), FS, label="EEG O2",
                        physical_dimension="uV", physical_range=(-500, 500)),
        edfio.EdfSignal(pulse_train(t, np.arange(0.5, 30, 0.8), 0.1), FS, label="Plet",
                        physical_range=(-1, 2)),
    ]  # fmt: skip
    path = tmp_path / "synthetic_cli_features.edf"
    edfio.Edf(sigs).write(path)
    return path


def test_features_to_parquet_without_preprocessing(edf_file, tmp_path, capsys):
    out = tmp_path / "feat.parquet"
    assert main(["features", str(edf_file), "-o", str(out), "--no-preprocess", "--step", "0.5"]) == 0
    df = pd.read_parquet(out)
    assert {"window_start", "token", "feature", "value", "missing", "synthetic"} <= set(df.columns)
    assert df.window_start.nunique() == 59
    alpha = df[(df.token.astype(str).str.contains("Fp1")) & (df.feature == "de_alpha")].value
    beta = df[(df.token.astype(str).str.contains("Fp1")) & (df.feature == "de_beta")].value
    assert (alpha.to_numpy() > beta.to_numpy()).all()
    assert "wrote" in capsys.readouterr().out


def test_features_full_pipeline_to_csv(edf_file, tmp_path):
    pytest.importorskip("mmqnet_core.preprocessing")
    out = tmp_path / "feat.csv"
    assert main(["features", str(edf_file), "-o", str(out), "--delta", "--layout", "deap"]) == 0
    df = pd.read_csv(out)
    assert not df[df.token == "Fp1"].missing.all()  # "EEG Fp1" bound to the DEAP token Fp1
    assert df.token.nunique() == 40 and "de_delta" in set(df.feature)
    assert df[df.token == "Fz"].missing.all()


def test_bad_output_suffix(edf_file, tmp_path, capsys):
    assert main(["features", str(edf_file), "-o", str(tmp_path / "x.xlsx")]) == 2
    assert "use a .parquet or .csv extension" in capsys.readouterr().err


@pytest.fixture
def gsr_only_file(tmp_path):
    edfio = pytest.importorskip("edfio")
    t = times(20)
    sig = edfio.EdfSignal(5 + 0.1 * np.sin(2 * np.pi * 0.05 * t), FS, label="GSR", physical_dimension="uS",
                          physical_range=(0, 20))
    path = tmp_path / "synthetic_gsr_only.edf"
    edfio.Edf([sig]).write(path)
    return path


def test_recording_without_eeg_is_refused_unless_allowed(gsr_only_file, tmp_path, capsys):
    out = tmp_path / "feat.csv"
    assert main(["features", str(gsr_only_file), "-o", str(out), "--no-preprocess"]) == 2
    err = capsys.readouterr().err
    assert "has no EEG channel (channels: GSR)" in err and "Traceback" not in err
    assert not out.exists()
    assert main(["features", str(gsr_only_file), "-o", str(out), "--no-preprocess", "--allow-no-eeg"]) == 0
    assert set(pd.read_csv(out).modality) == {"GSR"}
