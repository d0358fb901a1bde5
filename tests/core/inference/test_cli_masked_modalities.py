"""Issue #10's "done when", as a user runs it: ``mmqnet analyze`` with all EEG masked, and with all peripheral
channels masked, gives predictions that follow the stimulus labels of new synthetic subjects.

The subjects are new: the training corpus (seed 0) and its folds use subjects 0-31; ``mmqnet synth --sample
--subject K`` writes the sample session of subject K of that corpus's population (40 and 41 here), four emotion
epochs of ~50 s in the four valence/arousal quadrants. The masks are mask files written by :class:`MaskSet` and
given with ``--masks``, as the app saves them. Shipped (SYNTHETIC) checkpoint.

Measured (audit11, session 11, the session-10 checkpoint; window accuracy against the epoch's stimulus label,
valence / arousal, windows inside a stimulus epoch, 128-Hz sessions of 240 s, new subjects 40-47, every run through
the CLI): everything present mean 0.94 / 1.00 (lowest subject 0.84 / 0.99); all EEG masked 0.89 / 0.96 (lowest
0.73 / 0.91); all peripheral channels masked 0.86 / 1.00 (lowest 0.69 / 0.98). The
thresholds below (0.62: the issue's target for EEG-only and peripheral-only accuracy) leave a margin for a retrained
checkpoint without letting a model that does not follow the labels (chance: 0.5) pass.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mmqnet_core.cli import main
from mmqnet_core.io import load_recording
from mmqnet_core.masking import MaskSet

SUBJECTS = (40, 41)  # new: the corpus uses 0-31
TARGET = 0.62  # issue #10: EEG-only and peripheral-only window accuracy


def _labels(rec, table: pd.DataFrame) -> np.ndarray:
    """(T, 2) high valence / arousal of the stimulus epoch each window's centre falls in; -1 outside (rest)."""
    centre = ((table.window_start_s + table.window_end_s) / 2).to_numpy()
    out = np.full((len(table), 2), -1)
    for a in rec.annotations:
        if a.description.startswith("SYNTHETIC stimulus"):
            v, ar = (float(p.split("=")[1]) for p in a.description.split()[2:4])
            out[(centre >= a.onset) & (centre < a.onset + a.duration)] = [v >= 5, ar >= 5]
    return out


@pytest.fixture(scope="module")
def accuracies(tmp_path_factory):
    """condition -> (subjects, 2) window accuracy (valence, arousal), every run through the CLI."""
    root = tmp_path_factory.mktemp("new_subjects")
    out: dict[str, list] = {"all": [], "eeg_masked": [], "peripheral_masked": []}
    for s in SUBJECTS:
        folder = root / f"s{s}"
        assert main(["synth", "--sample", "--subject", str(s), "--duration-s", "240", "--sfreq", "128",
                     "-o", str(folder)]) == 0
        path = folder / "synthetic_sample.bdf"
        rec = load_recording(path)
        eeg = [c.name for c in rec.channels if c.modality.value == "EEG"]
        peripheral = [c.name for c in rec.channels if c.modality.value != "EEG"]
        for cond, names in (("all", []), ("eeg_masked", eeg), ("peripheral_masked", peripheral)):
            masks = MaskSet()
            for n in names:
                masks = masks.with_channel(n)
            mask_file = masks.save(folder / f"{cond}.masks.json", recording=rec)
            assert main(["analyze", str(path), "--masks", str(mask_file), "-o", str(folder / cond)]) == 0
            table = pd.read_csv(folder / cond / "trajectories.csv")
            expected_hidden = len(names) / 40
            assert table.hidden_fraction.min() >= expected_hidden - 1e-9  # the masks were applied
            labels = _labels(rec, table)
            ok = labels[:, 0] >= 0
            assert ok.sum() > 150  # four epochs of ~50 s
            probs = table[["valence_prob", "arousal_prob"]].to_numpy()[ok]
            out[cond].append(((probs >= 0.5) == labels[ok]).mean(axis=0))
    return {k: np.array(v) for k, v in out.items()}


@pytest.mark.slow
@pytest.mark.parametrize("condition", ["eeg_masked", "peripheral_masked"])
def test_analyze_with_a_modality_masked_follows_the_stimulus_labels_of_new_subjects(accuracies, condition):
    acc = accuracies[condition]  # (subjects, [valence, arousal])
    assert (acc.mean(axis=0) >= TARGET).all(), acc
    assert (acc >= 0.5).all(), acc  # every new subject, both targets: no inversion


@pytest.mark.slow
def test_everything_present_follows_the_labels(accuracies):
    assert (accuracies["all"] >= 0.8).all(), accuracies["all"]
