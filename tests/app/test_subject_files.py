"""Other recordings of the open recording's subject: the dialog that names them and the analysis that uses them."""

from __future__ import annotations

import dataclasses

import pytest

from app.analysis import build_untrained_model, run_analysis
from app.subject_files_dialog import AUTO_TEXT, SubjectFilesDialog
from mmqnet_core.datasets.synthetic import SynthConfig, generate_trial, write_bdf
from mmqnet_core.errors import RecordingError
from mmqnet_core.io import load_recording
from tests.core.inference.test_subject_statistics import write_mahnob_session


@pytest.fixture
def sessions(tmp_path):
    """Sessions/: subject 1 in synthetic_10 and synthetic_11, subject 2 in synthetic_20 (short SYNTHETIC BDFs)."""
    root = tmp_path / "Sessions"
    short = SynthConfig(trial_s=12.0)
    write_mahnob_session(root / "synthetic_10", 1, 1, config=short)
    write_mahnob_session(root / "synthetic_11", 1, 2, config=short)
    write_mahnob_session(root / "synthetic_20", 2, 1, config=short)
    return root


def test_dialog_lists_usable_recordings_and_names_the_others(qtbot, sessions, tmp_path):
    own = sessions / "synthetic_10"
    edf = write_bdf(generate_trial(SynthConfig(trial_s=2.0), 1, 5), tmp_path / "synthetic_more.edf", fmt="edf")
    dialog = SubjectFilesDialog([edf], find_automatically=True, recording_source=own)
    qtbot.addWidget(dialog)
    assert dialog.automatic.text() == AUTO_TEXT and dialog.automatic.isChecked()
    (tmp_path / "notes.txt").write_text("x")
    added = dialog.add_paths([sessions / "synthetic_11", own, edf, tmp_path / "gone.bdf", tmp_path / "notes.txt",
                              tmp_path])
    assert added == [sessions / "synthetic_11"]
    text = dialog.message.text()
    assert "synthetic_10 is the open recording itself; it is always used." in text
    assert "synthetic_more.edf is already in the list." in text
    assert f"{tmp_path / 'gone.bdf'}: no such file or folder." in text
    assert "notes.txt: unknown file type '.txt'; allowed .edf, .bdf, .dat." in text
    assert f"{tmp_path} is not a MAHNOB-HCI session folder" in text
    assert dialog.values() == ((edf, sessions / "synthetic_11"), True)
    dialog.list.item(0).setSelected(True)
    dialog.remove_selected()
    dialog.automatic.setChecked(False)
    assert dialog.values() == ((sessions / "synthetic_11",), False) and dialog.message.text() == ""
    dialog.clear_button.click()
    assert dialog.paths() == ()


@pytest.mark.slow
def test_analysis_of_a_session_uses_the_subjects_other_sessions(sessions, tmp_path):
    import torch

    torch.set_num_threads(1)
    rec = load_recording(sessions / "synthetic_10")
    model = build_untrained_model(rec, span_s=15.0, n_windows=4)
    subj = dataclasses.replace(model, normalization="subject", min_windows=5)

    steps = run_analysis(rec, None, subj).result.steps
    assert any("subject's statistics given by the caller" in s for s in steps)
    assert "subject statistics from 2 sessions of subject 1 (synthetic_10, synthetic_11)" in steps

    steps = run_analysis(rec, None, subj, find_subject_recordings=False).result.steps
    assert any("this recording's own statistics" in s for s in steps)
    assert not any(s.startswith("subject statistics") for s in steps)

    named = sessions / "synthetic_20"  # the user says it is the same subject: used, with a note
    steps = run_analysis(rec, None, subj, subject_files=[named], find_subject_recordings=False).result.steps
    assert "subject statistics from 2 sessions of subject 1 (synthetic_10, synthetic_20)" in steps
    assert "synthetic_20 says subject 2, the analysed recording subject 1; used as you named it." in steps

    steps = run_analysis(rec, None, model, subject_files=[named]).result.steps  # a global model needs none
    assert any("training subjects' statistics (global" in s for s in steps)

    bdf = sessions / "synthetic_11" / "Part_1_S_Trial2_emotion.bdf"
    bdf.write_bytes(bdf.read_bytes()[:200])
    with pytest.raises(RecordingError, match=r"Cannot use .*synthetic_11 \(a session of subject 1 found beside "
                       r"synthetic_10\).*untick 'Also use the subject's other sessions and trials found "
                       r"automatically'"):
        run_analysis(rec, None, subj)
