"""The one key-binding table drives the browser's keys, the shortcuts dialog and the README table."""

import pytest
from PySide6.QtCore import Qt

from app import key_bindings
from app.key_bindings import BINDINGS
from app.signal_browser import SignalBrowser, key_map


def test_every_binding_runs_a_browser_command():
    for b in BINDINGS:
        if b.command:
            assert callable(getattr(SignalBrowser, b.command, None)), b.command
        if b.when:
            assert hasattr(SignalBrowser, b.when), b.when
        assert b.keys or b.gesture


def test_no_key_is_bound_twice(qapp):
    keys = [k for b in BINDINGS for k in b.keys]
    assert len(keys) == len(set(keys))
    assert len(key_map()) == len(keys)  # distinct key combinations too


def test_dialog_and_readme_list_every_binding():
    table = key_bindings.markdown_table()
    for b in BINDINGS:
        if b.text:
            assert b.text in table
    assert table.startswith("| key / mouse | action |")
    assert "| PageDown / PageUp (mouse wheel) | Next / previous page |" in table


def test_shortcuts_dialog_shows_the_table(window):
    dialog = window.show_shortcuts()
    rows = dialog.rows()
    for keys, text in key_bindings.rows():
        assert (keys, text) in rows
    dialog.close()


@pytest.mark.parametrize("key, mods, command", [
    (Qt.Key.Key_PageDown, Qt.KeyboardModifier.NoModifier, "scroll_pages"),
    (Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier, "scroll_channel_pages"),
    (Qt.Key.Key_Plus, Qt.KeyboardModifier.ShiftModifier, "change_scale_target"),  # '+' typed with Shift
    (Qt.Key.Key_Plus, Qt.KeyboardModifier.KeypadModifier, "change_scale_target"),  # the keypad's '+'
    (Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier, "set_montage_index"),
])
def test_key_presses_find_their_binding(window, key, mods, command):
    from PySide6.QtGui import QKeyEvent
    from PySide6.QtCore import QEvent

    text = {Qt.Key.Key_Plus: "+"}.get(key, "")
    event = QKeyEvent(QEvent.Type.KeyPress, key, mods, text)
    binding = window.browser.binding_for(event)
    assert binding is not None and binding.command == command


def test_escape_only_acts_in_mask_mode(window):
    from PySide6.QtGui import QKeyEvent
    from PySide6.QtCore import QEvent

    event = QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Escape, Qt.KeyboardModifier.NoModifier, "")
    assert window.browser.binding_for(event) is None
    window.browser.set_mask_mode(True)
    assert window.browser.binding_for(event).command == "set_mask_mode"
