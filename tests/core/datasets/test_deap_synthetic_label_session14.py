"""A synthetic DEAP file is labelled synthetic wherever it is opened (session 14: a file written by
``write_deap_subject`` and named like DEAP's own, ``s01.dat``, opened as real data: no "SYNTHETIC" anywhere)."""

from __future__ import annotations

from mmqnet_core.datasets.deap_format import write_deap_pickle
from mmqnet_core.datasets.synthetic import SynthConfig, generate_trial, write_deap_subject
from mmqnet_core.io import load_recording


def test_a_synthetic_deap_file_named_like_deaps_own_is_labelled_synthetic(tmp_path):
    path = write_deap_subject([generate_trial(SynthConfig(trial_s=10.0), 0, t) for t in range(2)],
                              tmp_path / "s01.dat")
    rec = load_recording(path)
    assert rec.is_synthetic
    assert "SYNTHETIC" in rec.title.upper() or any("synthetic" in n.lower() for n in rec.notes)


def test_deaps_own_layout_is_not_labelled_synthetic(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    path = write_deap_pickle(rng.normal(0, 10, (1, 40, 128 * 10)), np.full((1, 4), 5.0), tmp_path / "s02.dat")
    assert not load_recording(path).is_synthetic  # only the keys DEAP's files hold: nothing says synthetic
