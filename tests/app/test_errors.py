"""One notification path: user errors show their message and what to do; bugs show a generic message."""

import logging

from app import errors
from mmqnet_core.errors import Cancelled, MaskError, RecordingError


def _raised(exc):
    try:
        raise exc
    except BaseException as caught:  # noqa: BLE001
        return caught


def test_user_error_shows_its_message_and_what_to_do(qapp, dialogs, caplog):
    exc = RecordingError("Cannot read broken.bdf: the header is truncated.")
    with caplog.at_level(logging.WARNING, logger="app.errors"):
        shown = errors.notify_error(exc, context="opening broken.bdf")
    assert dialogs == [{"title": "Error while opening broken.bdf",
                        "text": "Cannot read broken.bdf: the header is truncated.",
                        "informative": shown.what_to_do, "details": ""}]
    assert "EDF" in shown.what_to_do and "open it again" in shown.what_to_do
    assert "broken.bdf" in caplog.text


def test_most_specific_advice_wins():
    assert "mask file" in errors.describe_error(MaskError("bad")).what_to_do


def test_unexpected_error_is_one_dialog_with_traceback_only_in_the_log(qapp, dialogs, caplog):
    exc = _raised(ZeroDivisionError("division by zero"))
    with caplog.at_level(logging.ERROR, logger="app.errors"):
        shown = errors.notify_error(exc, context="drawing the page of broken.bdf")
    assert len(dialogs) == 1 and shown.unexpected
    # the dialog names the step and the file, says what was wrong (one line) and what to do ...
    assert dialogs[0]["text"] == "An unexpected error occurred while drawing the page of broken.bdf."
    assert "ZeroDivisionError: division by zero" in dialogs[0]["informative"]
    assert "log panel" in dialogs[0]["informative"] and "report" in dialogs[0]["informative"]
    # ... and carries no traceback: no details pane, no frame in any of its texts
    assert dialogs[0]["details"] == ""
    assert not any("Traceback" in v or "_raised" in v for v in dialogs[0].values())
    # the traceback is in the log
    assert "Traceback" in caplog.text and "ZeroDivisionError" in caplog.text and "_raised" in caplog.text


def test_unexpected_error_text_is_one_printable_line(qapp, dialogs):
    errors.notify_error(_raised(ValueError("bad\nname\x1b[2J")), context="opening x.edf")
    assert "ValueError: bad\\nname\\x1b[2J." in dialogs[0]["informative"]
    assert "\n" not in dialogs[0]["informative"] and "\x1b" not in dialogs[0]["informative"]


def test_cancellation_is_not_an_error(qapp, dialogs):
    assert errors.notify_error(Cancelled("Cancelled by the user."), context="cleaning") is None
    assert dialogs == []


def test_no_dialog_when_dialogs_are_disabled(qapp, dialogs, monkeypatch):
    monkeypatch.setattr(errors, "dialogs_enabled", False)
    assert errors.notify_error(RecordingError("x")).text == "x"
    assert dialogs == []


def test_a_text_file_named_edf_is_refused_with_the_advice_once(window, tmp_path, qtbot, dialogs):
    from app.errors import RECORDING_WHAT_TO_DO

    path = tmp_path / "notes.edf"
    path.write_text("hello this is not an edf\n")
    window.open_file(path)
    qtbot.waitUntil(lambda: len(dialogs) == 1, timeout=10000)
    shown = dialogs[0]
    assert shown["title"] == "Error while opening notes.edf"
    assert "notes.edf" in shown["text"] and "not an EDF or BDF file" in shown["text"]
    assert shown["informative"] == RECORDING_WHAT_TO_DO
    both = f"{shown['text']} {shown['informative']}"
    assert both.count("Check that the file") <= 1  # it was said twice, in two wordings
    assert window.model.recording is None  # nothing half-open
