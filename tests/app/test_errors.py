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


def test_unexpected_error_is_generic_with_traceback_in_the_log(qapp, dialogs, caplog):
    exc = _raised(ZeroDivisionError("division by zero"))
    with caplog.at_level(logging.ERROR, logger="app.errors"):
        shown = errors.notify_error(exc, context="drawing the page")
    assert dialogs[0]["text"] == "An unexpected error occurred while drawing the page."
    assert "log panel" in dialogs[0]["informative"]
    assert "ZeroDivisionError" in dialogs[0]["details"] and "_raised" in shown.details
    assert "Traceback" in caplog.text and "ZeroDivisionError" in caplog.text


def test_cancellation_is_not_an_error(qapp, dialogs):
    assert errors.notify_error(Cancelled("Cancelled by the user."), context="cleaning") is None
    assert dialogs == []


def test_no_dialog_when_dialogs_are_disabled(qapp, dialogs, monkeypatch):
    monkeypatch.setattr(errors, "dialogs_enabled", False)
    assert errors.notify_error(RecordingError("x")).text == "x"
    assert dialogs == []
