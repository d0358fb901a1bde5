"""The app's analysis of one DEAP trial with a per-subject model uses the statistics of the whole file."""

from __future__ import annotations

import dataclasses

import pytest

from app.analysis import build_untrained_model, run_analysis
from mmqnet_core.datasets.synthetic import SynthConfig, generate_trial, write_deap_subject
from mmqnet_core.io import load_recording


@pytest.mark.slow
def test_deap_trial_is_normalised_with_the_subjects_trials(tmp_path):
    import torch

    torch.set_num_threads(1)
    trials = [generate_trial(SynthConfig(trial_s=30.0), 0, t) for t in range(2)]
    path = write_deap_subject(trials, tmp_path / "synthetic_s00.dat")
    rec = load_recording(path, trial=1)
    model = build_untrained_model(rec, span_s=20.0, n_windows=4)
    subj = dataclasses.replace(model, normalization="subject")
    steps = run_analysis(rec, None, subj).result.steps
    assert any("subject's statistics given by the caller" in s for s in steps)
    steps = run_analysis(rec, None, model).result.steps  # a globally normalised model needs no statistics
    assert any("training subjects' statistics (global" in s for s in steps)
