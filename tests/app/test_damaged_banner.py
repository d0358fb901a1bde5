"""A damaged file is said loudly in the status area (issue 9, item 6), not only as an INFO line in the log."""

from __future__ import annotations

import dataclasses


def test_damaged_file_banner(window, recording, tmp_path, qtbot):
    window.set_recording(recording, tmp_path / "ok.bdf")
    qtbot.waitUntil(lambda: window.model.recording is not None)
    assert not window.damage_label.isVisibleTo(window)
    damaged = dataclasses.replace(recording, warnings=(
        "t.bdf is truncated: the header declares 120 data records, the file holds 39 complete data records "
        "(39 s); read 39 s, the last 81 s declared are missing.",
        "t.bdf ends with an incomplete data record: 100 bytes after the last complete record were not read.",
    ))
    window.set_recording(damaged, tmp_path / "t.bdf")
    qtbot.waitUntil(lambda: window.damage_label.isVisibleTo(window))
    text = window.damage_label.text()
    assert "Damaged file: t.bdf is truncated: the header declares 120 data records, the file holds 39" in text
    assert text.endswith("(+1 more)")
    assert "100 bytes after the last complete record were not read" in window.damage_label.toolTip()
    assert "damaged file: t.bdf is truncated" in window.log_panel.contents()


def test_unexpected_error_dialog_names_the_step_and_the_file(window, recording, tmp_path, qtbot, dialogs):
    window.set_recording(recording, tmp_path / "ok.bdf")
    qtbot.waitUntil(lambda: window.model.recording is not None)
    try:
        raise ZeroDivisionError("float division by zero")
    except ZeroDivisionError as exc:
        window.report_error(exc, "handling a window event")
    assert len(dialogs) == 1
    assert dialogs[0]["text"] == f"An unexpected error occurred while handling a window event on {recording.title}."
    assert "ZeroDivisionError" in window.log_panel.contents()
