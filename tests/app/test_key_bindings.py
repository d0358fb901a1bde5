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
    browser_keys = [k for b in key_bindings.browser_bindings() for k in b.keys]
    assert len(key_map()) == len(browser_keys)  # distinct key combinations too


def _combo(sequence) -> tuple[int, int]:
    combo = sequence[0]
    return int(combo.key().value), int(combo.keyboardModifiers().value)


def test_window_actions_take_their_keys_from_the_table(window):
    from PySide6.QtGui import QKeySequence

    actions = window.review.table_actions()
    for b in BINDINGS:
        if b.action:
            shown = [k.toString(QKeySequence.SequenceFormat.PortableText) for k in actions[b.action].shortcuts()]
            assert shown == list(b.keys), b.action
    assert {b.action for b in BINDINGS if b.action} == set(actions)
    with pytest.raises(KeyError, match="no key binding for the window action 'undoo'"):
        key_bindings.shortcuts("undoo")


def test_no_key_combination_is_bound_twice_in_the_window(window):
    """A key both a window action and the browser answer to (or two actions) is ambiguous: Qt then runs neither
    or only the action. Every combination of the window's actions and the browser's table is bound once."""
    from PySide6.QtGui import QAction

    seen: dict[tuple[int, int], str] = {}
    for action in window.findChildren(QAction):
        for seq in action.shortcuts():
            if not seq.isEmpty():
                combo = _combo(seq)
                assert combo not in seen, f"{seq.toString()} is bound to {seen[combo]!r} and {action.text()!r}"
                seen[combo] = action.text()
    for combo, binding in key_map().items():
        assert combo not in seen, f"browser key {binding.keys} is also the shortcut of {seen[combo]!r}"


def test_shortcuts_dialog_lists_each_key_once(window):
    dialog = window.show_shortcuts()
    keys = [k for k, _ in dialog.rows()]
    assert len(keys) == len(set(keys)), [k for k in keys if keys.count(k) > 1]
    assert ("Ctrl+Z / Ctrl+Y (or Ctrl+Shift+Z)", "Undo / redo mask and annotation edits") in dialog.rows()
    assert ("A", "Annotate mode: drag across the traces to annotate") in dialog.rows()
    dialog.close()


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
