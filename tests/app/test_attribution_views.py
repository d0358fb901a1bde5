"""The occlusion map beside the attention maps, and the reconstruction baseline beside MMQ-Net's."""

import numpy as np
import pytest

from app.attention_map_view import NOT_ATTRIBUTION_TEXT
from mmqnet_core.masking import MaskSet, SegmentMask

from .conftest import DURATION_S, wait_analysis


def _analyse(window, recording, tmp_path, qtbot, model, masks=None, segment=None):
    window.set_recording(recording, tmp_path / "rec.bdf")
    if masks is not None:
        window.model.set_masks(masks)
    if segment is not None:
        window.model.add_segment(*segment)
    window.use_model(model)
    window.run_action.trigger()
    wait_analysis(qtbot, window)
    return window.model.analysis


def test_the_attention_view_shows_the_occlusion_map_and_says_attention_is_not_attribution(
        window, recording, tmp_path, qtbot, tiny_model):
    result = _analyse(window, recording, tmp_path, qtbot, tiny_model, segment=(10.0, 20.0, ["GSR"]))
    view = window.attention_view
    n_t = int(DURATION_S)
    assert result.occlusion is not None and result.occlusion_by == "modality"
    assert view.statement.text() == NOT_ATTRIBUTION_TEXT and view.statement.isVisibleTo(view)
    assert view.occ_plot.isVisible() and view.target == "valence"
    units = list(dict.fromkeys(result.token_modalities[n] for n, c in enumerate(result.token_channels)
                               if c is not None))
    assert view.occ_rows == units  # the modalities with a channel in the recording
    img = view.occlusion_data
    assert img.shape == (len(units), n_t)
    gsr = units.index("GSR")
    k = result.occlusion_units.index("GSR")
    assert np.isnan(img[gsr, 10:20]).all()  # hidden already: nothing to take away, drawn grey
    np.testing.assert_allclose(img[gsr, :10], result.occlusion[:10, k, 0])
    assert np.isfinite(img[units.index("EEG")]).all()
    view.set_target("arousal")
    np.testing.assert_allclose(view.occlusion_data[gsr, :10], result.occlusion[:10, k, 1])
    assert NOT_ATTRIBUTION_TEXT in view.export_parts()
    # the uncertainty row shows the entropy with the missing-evidence term (the GSR gap)
    u = window.trajectory_view.entropy_curves["valence"].getData()[1]
    np.testing.assert_allclose(u, result.uncertainty[:, 0])
    assert (result.missing_evidence[10:20] > 0).all() and (result.missing_evidence[:10] == 0).all()


def test_the_reconstruction_view_shows_the_baseline_error_next_to_the_model(window, recording, tmp_path, qtbot,
                                                                            tiny_model):
    masks = MaskSet(segments=(SegmentMask(20.0, 35.0, ("GSR",), source="simulated"),))
    result = _analyse(window, recording, tmp_path, qtbot, tiny_model, masks=masks)
    view = window.reconstruction_view
    view.set_token("GSR")
    assert view.feature == "level"
    t, b = view.baseline_curve.getData()
    n = result.token_index("GSR")
    np.testing.assert_array_equal(np.isfinite(b), result.hidden[:, n])
    err = view.errors
    assert err.n_windows == 15 and err.model_rmse is not None and err.baseline_rmse is not None
    assert f"RMSE over 15 masked windows: MMQ-Net {err.model_rmse:.3g} uS, linear interpolation across the gap " \
           f"{err.baseline_rmse:.3g} uS" == view.errors_label.text()
    assert view.errors_label.text() in view.export_parts()
    _, wave = view.wave_baseline.getData()
    assert np.isfinite(wave).any()
    assert view.rmse == pytest.approx(err.model_rmse)
