"""``mmqnet analyze --attribution`` with the shipped checkpoint."""

from __future__ import annotations

import pandas as pd
import pytest

from mmqnet_core.cli import main
from mmqnet_core.inference.analyze import read_attribution


def test_analyze_attribution_writes_the_occlusion_map(tmp_path, capsys):
    from mmqnet_core.datasets.synthetic import SynthConfig, generate_trial, write_bdf

    bdf = write_bdf(generate_trial(SynthConfig(trial_s=20.0), 40, 0), tmp_path / "synthetic_s40.bdf")
    out = tmp_path / "res"
    assert main(["analyze", str(bdf), "--attribution", "--no-masks", "-o", str(out), "--device", "cpu"]) == 0
    text = capsys.readouterr().out
    assert "occlusion (valence):" in text and "attribution.npz" in text
    att = read_attribution(out)
    assert att["by"] == "modality" and att["occlusion"].shape == (23, len(att["units"]), 2)
    assert "EEG" in att["units"] and abs(att["occlusion"]).max() > 0
    traj = pd.read_csv(out / "trajectories.csv")
    assert (traj["valence_missing_evidence"] == 0).all()  # nothing hidden, nothing owed to missing evidence
    with pytest.raises(SystemExit) as exc:
        main(["analyze", str(bdf), "--attribution", "pixel", "-o", str(out)])
    assert exc.value.code == 2 and "invalid choice: 'pixel'" in capsys.readouterr().err
