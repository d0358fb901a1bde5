"""Notes the user must see (clin14): what the analysis left out (a damaged DEAP trial left out of the subject's
statistics) and what an EDF+ export changed (a BDF requantised to 16 bits) reached the log panel only, as info
lines. Now on the analysis banner (every analysis view), the report, and a status message after an export."""

from __future__ import annotations

import dataclasses
import logging
import pickle

import numpy as np
import pytest

from .conftest import wait_analysis


@pytest.fixture(scope="module")
def damaged_deap(tmp_path_factory):
    """A DEAP file of 3 trials whose trial 2 was stored with the wrong gain (x1000): left out of the statistics."""
    from mmqnet_core.datasets.synthetic import SynthConfig, generate_trial, write_deap_subject

    path = write_deap_subject([generate_trial(SynthConfig(trial_s=30.0), 0, t) for t in range(3)],
                              tmp_path_factory.mktemp("deap") / "s01.dat")
    content = pickle.loads(path.read_bytes(), encoding="latin1")
    content["data"][2, :32] *= 1e3
    path.write_bytes(pickle.dumps(content, protocol=4))
    return path


def test_a_damaged_trial_left_out_is_on_the_banner_and_the_report(window, damaged_deap, qtbot, caplog):
    import torch

    from app.analysis import build_untrained_model
    from mmqnet_core.io import load_recording

    torch.set_num_threads(1)
    rec = load_recording(damaged_deap, trial=0)
    model = dataclasses.replace(build_untrained_model(rec, span_s=20.0, n_windows=4), normalization="subject")
    window.set_recording(rec, damaged_deap)
    window.use_model(model)
    with caplog.at_level(logging.INFO):
        assert window.run_analysis()
        wait_analysis(qtbot, window, timeout=60000)
    notes = window.model.analysis_notes
    assert len(notes) == 1 and notes[0].startswith("s01.dat trial 2 left out: its EEG is ")
    assert notes[0].endswith("The subject's statistics come from the other trials.")
    # on the banner of every analysis view, in full
    for view in (window.trajectory_view, window.circumplex_view):
        assert f"Note: {notes[0]}" in view.banner.plain_text
        assert notes[0] in view.banner.toolTip()
    # the report says it too
    assert window.report_info().notes == notes
    # and the log panel shows it as a warning (was an info line)
    assert any(r.levelno == logging.WARNING and "trial 2 left out" in r.getMessage() for r in caplog.records)
    # a new recording: no note of the old one
    from .conftest import make_recording

    window.set_recording(make_recording(), damaged_deap.with_name("other.bdf"))
    assert window.model.analysis_notes == ()


def test_many_notes_are_counted_on_the_banner(qtbot):
    from app.analysis_banner import NOTES_SHOWN, AnalysisBanner
    from app.model import AppModel

    model = AppModel()
    banner = AnalysisBanner(model)
    qtbot.addWidget(banner)
    model.analysis = type("R", (), {"is_synthetic": False, "model_description": "a model", "token_channels": ()})()
    model.analysis_notes = tuple(f"s01.dat trial {t} left out: <damaged> & more." for t in range(NOTES_SHOWN + 2))
    banner.refresh()
    text = banner.plain_text
    assert f"Note: {model.analysis_notes[0]}" in text  # escaped, shown as written
    assert model.analysis_notes[NOTES_SHOWN] not in text and "and 2 more notes" in text
    assert all(n in banner.toolTip() for n in model.analysis_notes)


def test_the_edf_exports_notes_are_in_the_status_bar(window, tmp_path, qtbot, dialogs):
    """A BDF exported as .edf is requantised to 16 bits: said in the status bar until clicked (was a log line
    only), no dialog unless asked for by that click; an export without notes shows none; another recording
    clears it."""
    from PySide6.QtCore import Qt

    from .conftest import make_recording, wait_loaded, write_test_bdf

    src = write_test_bdf(tmp_path / "rec.bdf")
    window.open_file(src)
    wait_loaded(qtbot, window)
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=20000)
    label = window.review.export_note_label
    assert not label.isVisibleTo(window)
    out = tmp_path / "rec.annotated.edf"
    assert window.review.export_edf_in_background(out)
    qtbot.waitUntil(lambda: out.exists() and not window.runner.busy, timeout=20000)
    qtbot.waitUntil(lambda: label.isVisibleTo(window))
    assert label.text().startswith("\u26a0 Export: 24-bit BDF samples written as 16-bit EDF: each channel "
                                   "requantised")
    assert "rec.annotated.edf" in label.toolTip() and "export as .bdf to keep them exactly" in label.toolTip()
    assert dialogs == []  # no dialog unasked
    window.statusBar().showMessage("a menu's status tip")  # what cleared a temporary message
    window.statusBar().clearMessage()
    qtbot.waitUntil(lambda: label.isVisibleTo(window))  # back after the message
    qtbot.mouseClick(label, Qt.MouseButton.LeftButton)  # the notes in full, asked for; then the label goes
    assert len(dialogs) == 1 and dialogs[0]["title"] == "Exported rec.annotated.edf"
    assert dialogs[0]["informative"].startswith("24-bit BDF samples written as 16-bit EDF")
    assert not label.isVisibleTo(window)
    assert window.review.export_edf_in_background(out)  # again: said again
    qtbot.waitUntil(lambda: not window.runner.busy and label.isVisibleTo(window), timeout=20000)
    out_bdf = tmp_path / "rec.annotated.bdf"  # 24 bits kept: nothing to say
    assert window.review.export_edf_in_background(out_bdf)
    qtbot.waitUntil(lambda: out_bdf.exists() and not window.runner.busy, timeout=20000)
    qtbot.waitUntil(lambda: not label.isVisibleTo(window))
    assert window.review.export_edf_in_background(out)
    qtbot.waitUntil(lambda: not window.runner.busy and label.isVisibleTo(window), timeout=20000)
    window.set_recording(make_recording(), tmp_path / "other.bdf")
    assert not label.isVisibleTo(window)
