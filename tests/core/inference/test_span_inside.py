"""A span (``start_s``/``stop_s``, ``mmqnet analyze --start/--stop``) is analysed inside its recording.

Session 12 left it: a span was cleaned, featurised and -- for a per-subject model -- normalised with its own
statistics, and its model contexts were cut from its own first window, so a window's prediction changed with the
span chosen (the shipped model on the sample: P(high) of window 0 0.58 / 0.36 whole, 0.30 / 0.99 with
``--stop 5``). Now the whole recording is cleaned, featurised and normalised, and only the span's windows are run,
with the whole recording's contexts: each window gets the whole analysis' values (to float rounding).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from mmqnet_core.errors import MaskError
from mmqnet_core.inference import analyze
from mmqnet_core.masking import MaskSet, SegmentMask

from .conftest import make_model

#: per-window fields compared between a span and the same windows of the whole analysis
_FIELDS = ("window_starts", "probabilities", "uncertainty", "no_context", "features", "data_missing", "user_masked",
           "hidden", "recon", "interference_pred", "artifact_probs", "interference_detected", "reason",
           "feature_valid", "baseline_recon", "occlusion", "missing_evidence")


@pytest.fixture(scope="module")
def subject_model(features):
    """The tiny model, normalising each recording with its own statistics (as the shipped one), with a
    long-context read-out (its windows reach beyond the contexts)."""
    model = make_model(features, evidence_long=("arousal",), long_context_windows=6)
    return dataclasses.replace(model, normalization="subject", min_windows=5)


def _same_windows(span, whole) -> None:
    starts = np.round(whole.window_starts, 6)
    i0 = int(np.flatnonzero(starts == np.round(span.window_starts[0], 6))[0])
    sl = slice(i0, i0 + span.n_windows)
    for name in _FIELDS:
        a, b = getattr(span, name), getattr(whole, name)
        if a is None or b is None:
            assert a is None and b is None, name
            continue
        _equal(a, b[sl], name)
    assert set(span.attention) == set(whole.attention)
    for family in whole.attention:
        _equal(span.attention[family], whole.attention[family][sl], family)


def _equal(a, b, name) -> None:
    """Equal; floats within the rounding of a different batch composition (torch's kernels: ~6e-8 seen)."""
    if np.asarray(a).dtype.kind == "f":
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6, equal_nan=True, err_msg=name)
    else:
        np.testing.assert_array_equal(a, b, err_msg=name)


@pytest.mark.parametrize("start_s, stop_s", [(0.0, 7.0), (9.5, 23.0), (13.0, None), (5.0, 6.5)])
def test_a_span_gets_the_predictions_of_the_whole_recording(recording, subject_model, start_s, stop_s):
    whole = analyze(recording, None, subject_model)
    span = analyze(recording, None, subject_model, start_s=start_s, stop_s=stop_s)
    stop = recording.duration_s if stop_s is None else stop_s
    # the whole recording's windows inside the span (9.5-23 s: 10..22 s; 5-6.5 s: the window 5-6 s)
    inside = whole.window_starts[(whole.window_starts >= start_s - 1e-9)
                                 & (whole.window_starts + whole.window_s <= stop + 1e-9)]
    np.testing.assert_array_equal(span.window_starts, inside)
    _same_windows(span, whole)
    assert any("analysed inside the whole recording" in s for s in span.steps)


def test_masks_and_attribution_in_a_span_are_those_of_the_whole(recording, subject_model):
    masks = MaskSet(channels=frozenset({"O2"}), segments=(SegmentMask(12.0, 17.5, ("Fp1", "GSR")),))
    whole = analyze(recording, masks, subject_model, attribution="modality")
    span = analyze(recording, masks, subject_model, start_s=9.0, stop_s=21.0, attribution="modality")
    assert span.n_windows == 12 and span.hidden.any()
    _same_windows(span, whole)


def test_the_streamed_path_analyses_a_span_inside_the_recording_too(recording, subject_model):
    whole = analyze(recording, None, subject_model, streaming=True)
    span = analyze(recording, None, subject_model, start_s=9.5, stop_s=23.0, streaming=True)
    _same_windows(span, whole)
    # and the bounded-memory path equals the whole path there (as for whole recordings)
    plain = analyze(recording, None, subject_model, start_s=9.5, stop_s=23.0)
    np.testing.assert_allclose(span.probabilities, plain.probabilities, atol=1e-5)


def test_a_span_with_every_token_hidden_is_a_clear_error(recording, subject_model):
    masks = MaskSet(segments=(SegmentMask(10.0, 20.0),))
    analyze(recording, masks, subject_model)  # the whole recording has visible data
    with pytest.raises(MaskError, match=r"from 11 s to 19 s is masked or missing.*choose another span"):
        analyze(recording, masks, subject_model, start_s=11.0, stop_s=19.0)


def test_the_shipped_model_gives_window_0_the_same_prediction_whatever_the_span():
    """The case session 12 measured: the sample's window 0 with ``--stop 5`` (0.30 / 0.99, whole 0.58 / 0.36)."""
    from mmqnet_core.inference import load_model
    from mmqnet_core.io import load_recording
    rec = load_recording(Path(__file__).resolve().parents[3] / "resources" / "sample" / "synthetic_sample.bdf")
    model = load_model(None)
    whole = analyze(rec, None, model, attention=False)
    for start, stop in ((0.0, 5.0), (60.0, 120.0)):
        span = analyze(rec, None, model, start_s=start, stop_s=stop, attention=False)
        i0 = int(start)
        _equal(span.probabilities, whole.probabilities[i0:i0 + span.n_windows], (start, stop))


def test_the_cli_writes_the_whole_recordings_rows_for_a_span(tmp_path, capsys):
    """``mmqnet analyze --start/--stop`` (the model in its helper process): the span's rows of trajectories.csv
    are the whole analysis' rows, on whole-second windows of the recording clock."""
    import pandas as pd

    from mmqnet_core.cli import main

    sample = Path(__file__).resolve().parents[3] / "resources" / "sample" / "synthetic_sample.bdf"
    assert main(["analyze", str(sample), "-o", str(tmp_path / "whole")]) == 0
    assert main(["analyze", str(sample), "--start", "60", "--stop", "75.5", "-o", str(tmp_path / "span")]) == 0
    capsys.readouterr()
    whole = pd.read_csv(tmp_path / "whole" / "trajectories.csv").set_index("window_start_s")
    span = pd.read_csv(tmp_path / "span" / "trajectories.csv").set_index("window_start_s")
    assert list(span.index) == list(range(60, 75))
    pd.testing.assert_frame_equal(span, whole.loc[span.index], rtol=0, atol=1e-6)
