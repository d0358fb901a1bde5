"""A cancel while the results are being saved stops the save between files (it waited for the whole save: ~1 s
for 1 h on a loaded machine), leaves no half-written file and no folder marked done (a resumed cohort redoes it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmqnet_core.datasets.synthetic import SynthConfig, generate_trial, write_bdf
from mmqnet_core.errors import Cancelled
from mmqnet_core.inference import cohort
from mmqnet_core.inference.cohort import ANALYSED, DONE_MARKER, AnalysisOptions, analyze_source, find_sources
from mmqnet_core.inference.use_case import analyze_recording
from mmqnet_core.masking import MaskSet


class _CancelOnceSaving:
    """A cancel token the user sets as soon as the first result file (trajectories.csv) is in ``folder``."""

    def __init__(self, folder: Path):
        self.folder = folder

    def is_set(self) -> bool:
        return (self.folder / "trajectories.csv").is_file()


def _no_partial_files(folder: Path) -> None:
    assert not [p.name for p in folder.iterdir() if ".tmp" in p.name]  # atomic writes: no temp file left


def test_a_cancel_during_saving_stops_between_files(recording, model, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(Cancelled):
        analyze_recording(recording, MaskSet(), model=model, output=out, cancel=_CancelOnceSaving(out))
    assert (out / "trajectories.csv").is_file()  # written whole before the cancel
    assert not (out / "summary.json").exists() and not (out / "attention.npz").exists()
    _no_partial_files(out)


def test_a_cohort_recording_cancelled_while_saving_is_not_done(tmp_path, monkeypatch):
    monkeypatch.setattr(cohort, "_MODELS", {})
    src = write_bdf(generate_trial(SynthConfig(trial_s=12.0), 3, 0), tmp_path / "a.bdf")
    [source] = find_sources([src])
    out = tmp_path / "out"
    with pytest.raises(Cancelled):
        analyze_source(source, out, AnalysisOptions(), cancel=_CancelOnceSaving(out / source.name))
    assert not (out / source.name / DONE_MARKER).exists()
    _no_partial_files(out / source.name)
    assert [o.status for o in analyze_source(source, out, AnalysisOptions())] == [ANALYSED]  # resumed: redone
    assert (out / source.name / DONE_MARKER).is_file()
