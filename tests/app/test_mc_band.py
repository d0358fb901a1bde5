"""Monte-Carlo uncertainty in the app: the preference, the analysis run with it, the band on the trajectory."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from app.analysis import run_analysis
from app.model import AppModel
from app.preferences import Preferences, PreferencesDialog, load_preferences, make_settings, save_preferences
from app.report import ENTROPY_NOTE, ReportInfo
from app.trajectory_view import TrajectoryView
from mmqnet_core.errors import ConfigError

from .conftest import DURATION_S, make_recording, wait_analysis


@pytest.fixture(scope="module")
def mc_result(tiny_model):
    """An analysis of the test recording with 4 Monte-Carlo samples (the tiny model has dropout 0.1)."""
    return run_analysis(make_recording(), None, tiny_model, mc_samples=4).result


def _legend(view: TrajectoryView) -> list[str]:
    return [label.text for _, label in view.legend.items]


def test_preference_is_off_by_default_persisted_and_validated(settings_file):
    assert Preferences().mc_samples == 0
    save_preferences(Preferences(mc_samples=25), make_settings())
    assert load_preferences(make_settings()).mc_samples == 25
    for bad in (1, -1, 101):
        with pytest.raises(ConfigError, match=r"Invalid value for 'mc_samples' \(Uncertainty samples\): 0 \(off\)"):
            Preferences(mc_samples=bad)
    settings = make_settings()
    settings.setValue("preferences/mc_samples", "1")  # a bad stored value falls back to the default
    settings.sync()
    assert load_preferences(make_settings()).mc_samples == 0


def test_dialog_spin_box_skips_one_sample(qtbot):
    dialog = PreferencesDialog(Preferences(mc_samples=0))
    qtbot.addWidget(dialog)
    box = dialog.mc_samples
    assert box.text() == "off" and dialog.preferences().mc_samples == 0
    box.stepBy(1)
    assert box.value() == 2 and dialog.preferences().mc_samples == 2
    box.stepBy(-1)
    assert box.value() == 0
    box.lineEdit().setText("1")
    box.interpretText()
    assert box.value() == 2  # typed 1 becomes 2: one sample gives no spread
    box.setValue(30)
    assert dialog.preferences() == Preferences(mc_samples=30)


def test_band_is_mean_plus_minus_std(qtbot, mc_result):
    model = AppModel()
    view = TrajectoryView(model)
    qtbot.addWidget(view)
    model.set_analysis(mc_result, "")
    std = mc_result.probability_std
    assert std is not None and std.max() > 0
    blind = np.asarray(mc_result.no_context, bool)
    for k, name in enumerate(mc_result.targets):
        mean = np.where(blind, np.nan, mc_result.probabilities[:, k].astype(float))
        x, y = view.curves[name].getData()
        lower, upper = view.band_edges[name]
        xl, yl = lower.getData()
        xu, yu = upper.getData()
        assert np.array_equal(xl, x) and np.array_equal(xu, x)
        np.testing.assert_allclose(yl, mean - std[:, k], equal_nan=True)
        np.testing.assert_allclose(yu, mean + std[:, k], equal_nan=True)
        band = view.bands[name]
        assert band.isVisible() and not band.path().isEmpty()  # something is filled
        assert f"{name} ± std (MC, 4 samples)" in _legend(view)
    # A result without samples: no band, no legend entry; the curves stay.
    plain = dataclasses.replace(mc_result, probability_std=None, mc_samples=0)
    model.set_analysis(plain, "")
    for name in plain.targets:
        assert not view.bands[name].isVisible() and len(view.band_edges[name][0].getData()[0] or []) == 0
        assert f"{name} ± std (MC, 4 samples)" not in _legend(view) and f"{name} P(high)" in _legend(view)
    model.set_analysis(mc_result, "")  # back again: one legend entry per band, not two
    assert sum("± std" in t for t in _legend(view)) == len(mc_result.targets)
    model.set_analysis(dataclasses.replace(mc_result, mc_samples=9), "")  # relabelled in place
    legend = _legend(view)
    assert sum("± std" in t for t in legend) == len(mc_result.targets) and "valence ± std (MC, 9 samples)" in legend
    model.set_analysis(None, "")
    assert not any(b.isVisible() for b in view.bands.values())
    assert not any("± std" in t for t in _legend(view))


def test_report_says_how_uncertainty_was_computed(mc_result):
    info = ReportInfo.from_analysis(dataclasses.replace(mc_result, missing_evidence=None))
    assert info.uncertainty == "mean ± std of 4 MC-dropout samples (band), entropy of the mean (bits)"
    if mc_result.missing_evidence is not None:  # the fixture's analysis has the missing-evidence term: said too
        from app.report import MISSING_EVIDENCE_NOTE

        assert ReportInfo.from_analysis(mc_result).uncertainty == info.uncertainty + MISSING_EVIDENCE_NOTE
    plain = dataclasses.replace(mc_result, probability_std=None, mc_samples=0, missing_evidence=None)
    assert ReportInfo.from_analysis(plain).uncertainty == ENTROPY_NOTE


def test_window_runs_with_the_preference(window, recording, tmp_path, qtbot, tiny_model, dialogs):
    window.set_recording(recording, tmp_path / "rec.bdf")
    window.use_model(tiny_model)
    window.apply_preferences(dataclasses.replace(window.prefs, mc_samples=3))
    window.run_action.trigger()
    wait_analysis(qtbot, window)
    result = window.model.analysis
    assert not dialogs and result.mc_samples == 3 and result.probability_std.shape == (int(DURATION_S), 2)
    view = window.trajectory_view
    _, yu = view.band_edges["valence"][1].getData()
    np.testing.assert_allclose(yu, result.probabilities[:, 0] + result.probability_std[:, 0], equal_nan=True)
    assert "valence ± std (MC, 3 samples)" in _legend(view)


def test_predicted_scores_are_drawn_on_a_right_hand_1_to_9_axis(qtbot, mc_result):
    model = AppModel()
    view = TrajectoryView(model)
    qtbot.addWidget(view)
    model.set_analysis(mc_result, "")  # no regression: no score axis, no score curve
    assert not view.plot.getAxis("right").isVisible() and not view.score_curves
    scores = np.linspace(1.0, 9.0, mc_result.n_windows)[:, None].repeat(2, 1)
    model.set_analysis(dataclasses.replace(mc_result, scores=scores), "")
    assert view.plot.getAxis("right").isVisible()
    blind = np.asarray(mc_result.no_context, bool)
    for name in mc_result.targets:
        x, y = view.score_curves[name].getData()
        np.testing.assert_allclose(y, np.where(blind, np.nan, (scores[:, 0] - 1) / 8), equal_nan=True)
        assert f"{name} score (right axis)" in _legend(view)
    # score 5 (the high/low threshold) sits on P = 0.5
    assert (0.5, "5") in view.plot.getAxis("right")._tickLevels[0]
    model.set_analysis(mc_result, "")
    assert not view.plot.getAxis("right").isVisible()
    assert not any(c.isVisible() for c in view.score_curves.values())
    assert not any("score (right axis)" in t for t in _legend(view))
    model.set_analysis(dataclasses.replace(mc_result, scores=scores), "")  # back: one legend entry each
    assert sum("score (right axis)" in t for t in _legend(view)) == len(mc_result.targets)


def test_report_says_when_the_uncertainty_includes_missing_evidence(mc_result):
    # With attribution on (the default) the entropy is of the probability marginalised over the hidden modalities'
    # evidence; the report's footer still said "binary entropy of the window's prediction".
    import numpy as np

    from app.report import MISSING_EVIDENCE_NOTE

    plain = dataclasses.replace(mc_result, probability_std=None, mc_samples=0, missing_evidence=None)
    assert ReportInfo.from_analysis(plain).uncertainty == ENTROPY_NOTE
    widened = dataclasses.replace(plain, missing_evidence=np.zeros_like(plain.probabilities))
    assert ReportInfo.from_analysis(widened).uncertainty == ENTROPY_NOTE + MISSING_EVIDENCE_NOTE
