"""``mmqnet info``."""

from __future__ import annotations

import json
import pickle

import numpy as np

from mmqnet_core.cli import main

from .helpers import PYEDFLIB_DATA, write_edf


def test_info_text(tmp_path, capsys):
    path = write_edf(tmp_path / "demo_SYNTHETIC.edf", annotations=[(1.0, 0.5, "stimulus")])
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "demo_SYNTHETIC.edf (SYNTHETIC)  [edf]  SYNTHETIC DATA" in out
    assert "duration: 10 s at 256 Hz, 3 channels" in out
    assert "  GSR  GSR        256 Hz  uS" in out
    assert "annotations: 1" in out and "1.000 s  +0.500 s  stimulus" in out


def test_info_json_mixed_rates(capsys):
    assert main(["info", str(PYEDFLIB_DATA / "test_generator.bdf"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert [c["sfreq"] for c in info["channels"]] == [1000.0, 800.0, 500.0, 975.0, 999.0]
    assert info["sfreq"] == 1000.0 and info["duration_s"] == 30.0
    assert any("different rates" in n for n in info["notes"])


def test_info_deap_trial(tmp_path, capsys):
    labels = np.arange(8.0).reshape(2, 4) + 1
    with open(tmp_path / "s09.dat", "wb") as f:
        pickle.dump({"data": np.zeros((2, 40, 512)), "labels": labels}, f)
    assert main(["info", str(tmp_path / "s09.dat"), "--trial", "1", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["labels"] == {"valence": 5.0, "arousal": 6.0, "dominance": 7.0, "liking": 8.0}
    assert info["trial"] == "1" and info["format"] == "deap"


def test_info_bad_file_is_one_line_error(tmp_path, capsys):
    bad = tmp_path / "broken.edf"
    bad.write_bytes(b"garbage" * 10)
    assert main(["info", str(bad)]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("error: Cannot read broken.edf: it is not an EDF or BDF file")
    assert "\n" not in err and "Traceback" not in captured.err and captured.out == ""
