"""Preferences: validated dataclass, stored in a QSettings file that tests point to a temporary path."""

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QDialog

from app.preferences import (
    CLEANING_SCOPE_TEXT,
    INVALID_PREFERENCES_TEXT,
    Preferences,
    PreferencesDialog,
    add_recent_file,
    load_preferences,
    make_settings,
    recent_files,
    save_preferences,
)
from mmqnet_core.errors import ConfigError


def test_settings_go_to_the_file_named_by_the_environment(settings_file):
    settings = make_settings()
    assert settings.fileName() == str(settings_file)
    assert settings.format() == QSettings.Format.IniFormat


def test_round_trip(settings_file):
    prefs = Preferences(line_freq="60", eeg_low_hz=4.0, eeg_high_hz=40.0, window_s=2.0, device="cpu",
                        checkpoint="/tmp/x.safetensors", raw_colour="#000000", cleaned_colour="#ff0000")
    save_preferences(prefs, make_settings())
    assert load_preferences(make_settings()) == prefs
    assert prefs.line_freq_hz == 60.0 and Preferences().line_freq_hz is None


@pytest.mark.parametrize("occlusion", [False, True])
def test_the_occlusion_switch_survives_the_ini_file(settings_file, occlusion):
    """QSettings hands booleans back from an INI file as "true"/"false" strings: "false" must stay False."""
    save_preferences(Preferences(occlusion=occlusion), make_settings())
    assert load_preferences(make_settings()).occlusion is occlusion


def test_invalid_stored_values_fall_back_to_defaults(settings_file):
    settings = make_settings()
    settings.setValue("preferences/line_freq", "55")
    settings.setValue("preferences/window_s", "abc")
    settings.setValue("preferences/device", "cpu")
    settings.sync()
    prefs = load_preferences(make_settings())
    assert prefs.line_freq == "auto" and prefs.window_s == 1.0 and prefs.device == "cpu"


@pytest.mark.parametrize("kwargs, message", [
    ({"line_freq": "55"}, r"Invalid value for 'line_freq': allowed auto, 50, 60, got '55'"),
    ({"eeg_low_hz": 50.0, "eeg_high_hz": 40.0}, r"Invalid EEG band-pass 50.0-40.0 Hz"),
    ({"window_s": 0.0}, r"'window_s': must be > 0 s, got 0.0"),
    ({"device": "tpu"}, r"'device': allowed auto, cpu, cuda, mps, got 'tpu'"),
    ({"raw_colour": "not a colour"}, r"Invalid colour for 'raw_colour'"),
])
def test_invalid_preferences_are_refused(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        Preferences(**kwargs)


def test_recent_files_most_recent_first_without_duplicates(tmp_path):
    a, b = tmp_path / "a.bdf", tmp_path / "b.bdf"
    a.write_bytes(b"x")
    b.write_bytes(b"x")
    add_recent_file(a)
    add_recent_file(b)
    add_recent_file(a)
    assert recent_files() == [str(a), str(b)]
    b.unlink()
    assert recent_files() == [str(a)]


def test_dialog_returns_the_values_shown(qtbot):
    dialog = PreferencesDialog(Preferences(line_freq="50", device="cpu"))
    qtbot.addWidget(dialog)
    assert dialog.preferences() == Preferences(line_freq="50", device="cpu")
    dialog.line_freq.setCurrentIndex(2)
    dialog.eeg_high.setValue(30.0)
    dialog.occlusion.setChecked(False)
    prefs = dialog.preferences()
    assert prefs.line_freq == "60" and prefs.eeg_high_hz == 30.0 and prefs.occlusion is False


def test_ok_with_an_invalid_value_keeps_the_dialog_and_the_edits(qtbot, dialogs):
    dialog = PreferencesDialog(Preferences())
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.eeg_low.setValue(60.0)  # above the high edge (45 Hz)
    dialog.mc_samples.setValue(20)
    dialog.accept()
    # It closed, the window reported the error and every value typed was lost; now it says why and stays open.
    assert dialog.isVisible() and dialog.result() != QDialog.DialogCode.Accepted
    assert len(dialogs) == 1 and "60.0-45.0 Hz" in dialogs[0]["text"]
    assert dialogs[0]["informative"] == INVALID_PREFERENCES_TEXT
    assert dialog.eeg_low.value() == 60.0 and dialog.mc_samples.value() == 20
    dialog.eeg_low.setValue(0.5)
    dialog.accept()
    assert dialog.result() == QDialog.DialogCode.Accepted and not dialog.isVisible()
    assert dialog.preferences().eeg_low_hz == 0.5 and dialog.preferences().mc_samples == 20


def test_every_preference_says_what_it_changes_and_its_unit(qtbot):
    # Session 8 walkthrough: most fields had no tooltip; the band-pass and line frequency change only the cleaned
    # trace shown (the analysis cleans with its checkpoint's settings) and nothing said so.
    from PySide6.QtWidgets import QAbstractButton, QAbstractSpinBox, QComboBox, QLineEdit, QWidget

    dialog = PreferencesDialog(Preferences())
    qtbot.addWidget(dialog)
    kinds = (QComboBox, QAbstractSpinBox, QLineEdit, QAbstractButton)
    inputs = [w for w in dialog.findChildren(QWidget) if isinstance(w, kinds) and w.parent() is dialog]
    assert len(inputs) >= 10
    for w in inputs:
        assert len(w.toolTip()) > 20, (type(w).__name__, w.toolTip())
    for w in (dialog.line_freq, dialog.eeg_low, dialog.eeg_high):
        assert "Hz" in w.toolTip() and "analysis" in w.toolTip() and "browser" in w.toolTip()
    assert "ΔP(high)" in dialog.occlusion.toolTip() and "bits" in dialog.occlusion.toolTip()
    assert "SYNTHETIC" in dialog.checkpoint.toolTip()
    assert dialog.cleaning_scope.text() == CLEANING_SCOPE_TEXT


def test_the_window_length_is_the_checkpoints_not_an_editable_control(qtbot):
    # The dialog had an editable "Window length" that was never passed to the analysis: a control that did nothing.
    from PySide6.QtWidgets import QAbstractSpinBox

    dialog = PreferencesDialog(Preferences(window_s=2.0))
    qtbot.addWidget(dialog)
    spin_suffixes = [w.suffix() for w in dialog.findChildren(QAbstractSpinBox) if hasattr(w, "suffix")]
    assert " s" not in spin_suffixes  # no box in seconds left
    assert "checkpoint" in dialog.window.text() and "1 s" in dialog.window.toolTip()
    assert dialog.preferences().window_s == 2.0  # a stored value is kept as it was
