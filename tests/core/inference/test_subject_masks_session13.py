"""Masked data are missing in the subject's statistics too (session 13 audit).

A per-subject model normalises with the statistics of the subject's recordings. Before, only the analysed
recording's masks entered them, and only when it was the very object in the list: the masks the app saved for
the subject's other recordings (their sidecars) were ignored, and a DEAP trial -- opened again with its file's
other trials -- lost its own masks, so masked data (a detached electrode's noise) set the normalisation.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from mmqnet_core.datasets.synthetic import SynthConfig, generate_trial, write_bdf, write_deap_subject
from mmqnet_core.inference import analyze_recording
from mmqnet_core.inference import use_case
from mmqnet_core.io import load_recording
from mmqnet_core.masking import MaskSet, SegmentMask

MASK = MaskSet(segments=(SegmentMask(10.0, 20.0, ("Fp1", "GSR")),))


def _subject_model(model):
    return dataclasses.replace(model, normalization="subject", min_windows=5)


def test_the_other_recordings_sidecar_masks_enter_the_statistics(model, tmp_path):
    subject = _subject_model(model)
    a = load_recording(write_bdf(generate_trial(SynthConfig(trial_s=30.0), 0, 0), tmp_path / "synthetic_a.bdf"))
    results = []
    for k, scale in enumerate((1.0, 40.0)):  # the second: a detached electrode's 40x noise under the mask
        trial = generate_trial(SynthConfig(trial_s=30.0), 0, 1)
        i0, i1 = int(10 * trial.sfreq), int(20 * trial.sfreq)
        for name in ("Fp1", "GSR"):
            row = trial.ch_names.index(name)
            trial.data[row, i0:i1] = trial.data[row, i0:i1] * scale + (scale - 1) * np.std(trial.data[row])
        path = write_bdf(trial, tmp_path / f"synthetic_b{k}.bdf")
        MASK.save(f"{path}.masks.json", recording=load_recording(path))
        results.append(analyze_recording(a, None, model=subject, subject_files=[path]).result)
    assert any("subject's statistics given by the caller" in s for s in results[0].steps)
    np.testing.assert_allclose(results[0].probabilities, results[1].probabilities, atol=1e-5)


def test_a_deap_trial_keeps_its_masks_in_its_files_statistics(model, tmp_path, monkeypatch):
    subject = _subject_model(model)
    path = write_deap_subject([generate_trial(SynthConfig(trial_s=30.0), 0, t) for t in range(2)],
                              tmp_path / "synthetic_s00.dat")
    rec = load_recording(path, trial=1)
    seen = {}
    real = use_case.subject_statistics

    def spy(recordings, model, *, masks=None, **kwargs):
        seen["masks"] = {r.trial: m for r, m in zip(recordings, masks)}
        return real(recordings, model, masks=masks, **kwargs)

    monkeypatch.setattr(use_case, "subject_statistics", spy)
    analyze_recording(rec, MASK, model=subject)
    assert seen["masks"] == {rec.trial: MASK, next(t for t in seen["masks"] if t != rec.trial): None}
