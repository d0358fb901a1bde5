"""``mmqnet preprocess``: end to end on an EDF file written by the test."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mmqnet_core.cli import build_parser, main
from mmqnet_core.preprocessing import preprocess, save_cleaned

from ._helpers import full_recording


@pytest.fixture(scope="module")
def edf_file(tmp_path_factory):
    """A synthetic 30 s recording with 60 Hz line noise, written as EDF (via the export path under test)."""
    rec = full_recording(np.random.default_rng(0), 256.0, 30.0, line_freq=60.0)
    from mmqnet_core.preprocessing import PreprocessConfig

    untouched = preprocess(rec, PreprocessConfig(target_sfreq=256.0, notch=False))
    return save_cleaned(untouched, tmp_path_factory.mktemp("cli") / "synthetic_rec.edf", which="raw")


def test_parser_has_preprocess_options():
    args = build_parser().parse_args(["preprocess", "in.edf", "-o", "out.npz", "--line-freq", "50",
                                      "--eog", "ica", "--start", "2", "--stop", "8", "--sfreq", "64"])
    assert (args.file, args.output, args.line_freq, args.eog, args.start, args.stop, args.sfreq) == \
        ("in.edf", "out.npz", 50.0, "ica", 2.0, 8.0, 64.0)


def test_cli_writes_cleaned_npz_and_sidecar(tmp_path, edf_file, capsys):
    pytest.importorskip("mmqnet_core.io")
    out = tmp_path / "clean.npz"
    code = main(["preprocess", str(edf_file), "-o", str(out), "--start", "5", "--stop", "25"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "line noise detected at 60 Hz" in printed and f"wrote {out}" in printed
    with np.load(out) as z:
        assert z["data"].shape == (15, 20 * 128) and float(z["start_s"]) == 5.0
    side = json.loads((tmp_path / "clean.npz.json").read_text())
    assert side["line_freq"] == 60.0 and side["start_s"] == 5.0 and side["source"].endswith("synthetic_rec.edf")


def test_cli_errors_are_one_line(tmp_path, edf_file, capsys):
    pytest.importorskip("mmqnet_core.io")
    assert main(["preprocess", str(edf_file), "-o", str(tmp_path / "x.txt")]) == 2
    assert "error: Cannot write 'x.txt': unknown extension '.txt'" in capsys.readouterr().err
    assert main(["preprocess", str(edf_file), "-o", str(tmp_path / "x.npz"), "--start", "99"]) == 2
    assert "error: Invalid value for 'start_s'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["preprocess", str(edf_file), "-o", str(tmp_path / "x.npz"), "--line-freq", "55"])
    assert list(tmp_path.iterdir()) == []
