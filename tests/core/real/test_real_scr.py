"""Skin-conductance responses (SCRs) on a real recording (issue 9), against an independent reference.

pyphysio's 120-s EDA (2048 Hz, analysed at 128 Hz like every other channel) vs the SCRs of two published methods
of neurokit2 (``eda_peaks`` methods ``neurokit`` and ``kim2004``), run once by ``make_scr_reference.py`` and
stored in ``scr_neurokit2.json`` (neurokit2 is never a dependency).

Tolerances, and why:

- events: an SCR of ours and a reference SCR are the same event when their peaks are <= 1 s apart. Both chains
  low-pass differently (ours 1 Hz, neurokit2's 3 Hz) and an SCR's rounded top spans a few hundred ms, while
  1 s is our detector's minimum spacing of two SCRs (so a match cannot be taken by a neighbour);
- windows: the GSR feature ``scr_rate`` counts SCRs in the 10-s context of each 1-s window. The count must
  equal the reference count *exactly* (a +-1 tolerance would be passed by a detector that always says 1: 0-2
  SCRs per context here), in the windows where the two neurokit2 methods give the same count (the windows
  whose count is not in doubt, like "consensus" for breathing). Target >= 90 %, as issue 9 asks for rates.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mmqnet_core.features.config import FeatureConfig
from mmqnet_core.features.peripheral import _context, find_scr, gsr_features, gsr_phasic
from mmqnet_core.features.spectral import WindowGrid

from .realdata import context_counts, match_events, medical, package_file, reference_scrs

pytestmark = pytest.mark.skipif(package_file("pyphysio", "test_data", "medical.txt.bz2") is None,
                                reason="the real recording comes with the dev extra (pyphysio)")
SF = 128.0
CFG = FeatureConfig()
MATCH_S = 1.0
METHODS = ("neurokit", "kim2004")


@pytest.fixture(scope="module")
def eda():
    m = medical()
    return m.resampled(SF).channels["EDA"], m.sfreq


def our_scrs(z: np.ndarray, orig_sfreq: float) -> np.ndarray:
    """SCR peak times (s) of our detector, on the phasic signal the GSR features use."""
    return find_scr(gsr_phasic(z[None], SF, orig_sfreq=np.array([orig_sfreq]))[0], SF).times


def consensus_scrs() -> np.ndarray:
    """Reference SCRs both neurokit2 methods found (<= MATCH_S apart): times of the ``neurokit`` method."""
    a, b = (reference_scrs(m) for m in METHODS)
    return a[[i for i, _ in match_events(a, b, MATCH_S)]]


def test_scr_reference_file_says_how_it_was_made():
    data = json.loads(Path(__file__).with_name("scr_neurokit2.json").read_text())
    assert data["neurokit2_version"] and data["sampling_rate_hz"] == 2048 and "make_scr_reference" in data["command"]
    for method in METHODS:
        t = reference_scrs(method)
        assert 8 <= t.size <= 20 and np.all(np.diff(t) > 0) and 0 <= t[0] and t[-1] <= 120


def test_our_scrs_are_the_scrs_of_the_reference_methods(eda):
    """Recall: >= 90 % of the SCRs both reference methods found are ours within 1 s; precision: >= 90 % of ours
    were found by at least one reference method."""
    z, orig = eda
    ours = our_scrs(z, orig)
    cons = consensus_scrs()
    recall = len(match_events(cons, ours, MATCH_S)) / cons.size
    union = np.union1d(*(reference_scrs(m) for m in METHODS))
    found = sum(np.min(np.abs(union - t)) <= MATCH_S for t in ours)
    precision = found / max(ours.size, 1)
    assert recall >= 0.9, (recall, cons, ours)
    assert precision >= 0.9, (precision, ours)


def test_a_detector_off_by_a_few_seconds_fails_the_event_criterion(eda):
    """The 1-s criterion can fail: the same SCRs moved by 2 s match almost none of the reference."""
    z, orig = eda
    cons = consensus_scrs()
    assert len(match_events(cons, our_scrs(z, orig) + 2.0, MATCH_S)) / cons.size < 0.5


def window_counts(z: np.ndarray, orig: float) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Our SCR count per window (from the GSR feature ``scr_rate``) and each method's, in the same contexts."""
    grid = WindowGrid.make(SF, z.size, 1.0, None)
    dur = z.size / SF
    rate = gsr_features(z[None], grid, CFG, orig_sfreq=np.array([orig]))[0, :, 2]
    lo, hi = _context(grid, CFG.context_s, dur)
    ours = np.round(rate * (hi - lo) / 60.0)
    return ours, {m: context_counts(reference_scrs(m), grid, CFG.context_s, dur) for m in METHODS}


def test_scr_rate_counts_the_reference_scrs_in_the_windows_where_the_methods_agree(eda):
    z, orig = eda
    ours, refs = window_counts(z, orig)
    a, b = refs["neurokit"], refs["kim2004"]
    sure = a == b
    assert sure.sum() >= 60  # most windows have an undisputed count
    agree = float(np.mean(ours[sure] == a[sure]))
    assert agree >= 0.9, agree
    # the criterion can fail: a detector that always reports one SCR per context does not reach it
    assert np.mean(a[sure] == 1) < 0.9
