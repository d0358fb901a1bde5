"""An output folder that cannot be written is said at once, in one ``error:`` line, before any work."""

from __future__ import annotations

from mmqnet_core.cli import main
from mmqnet_core.datasets.synthetic import SynthConfig, generate_trial, write_bdf


def test_an_output_folder_that_cannot_be_made_is_one_error_line_before_the_analysis(tmp_path, capsys):
    """Before: the whole analysis ran, then saving failed with the last-resort line ('failed while saving the
    results (NotADirectoryError ...)')."""
    src = write_bdf(generate_trial(SynthConfig(trial_s=12.0), 3, 0), tmp_path / "a.bdf")
    (tmp_path / "notes.txt").write_text("a file")
    for out in (tmp_path / "notes.txt" / "results", tmp_path / "notes.txt"):
        assert main(["analyze", str(src), "-o", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith("error: Invalid value for '--output': cannot write the results into"), err
        assert "choose a folder you can write to" in err[-1] and "failed while" not in err[-1]
        assert not any("%|" in line for line in err)  # refused before the analysis started (no progress bar)


def test_a_warning_during_the_progress_bar_is_a_line_of_its_own(tmp_path, capsys):
    """A damaged file's warning printed while the progress bar is drawn starts its own line (before, it continued
    the bar's line: 'analyze:  10%|█ | , opened cut.edf warning: cut.edf is truncated ...')."""
    src = write_bdf(generate_trial(SynthConfig(trial_s=12.0), 3, 0), tmp_path / "a.edf", fmt="edf")
    data = src.read_bytes()
    (tmp_path / "cut.edf").write_bytes(data[: len(data) // 2])
    assert main(["analyze", str(tmp_path / "cut.edf"), "-o", str(tmp_path / "out")]) == 0
    lines = capsys.readouterr().err.split("\n")
    truncated = [line for line in lines if "cut.edf is truncated" in line]
    assert truncated and all(line.split("\r")[-1].startswith("warning: cut.edf is truncated") for line in truncated)
