"""The signal browser's key bindings: ONE table that drives the key handling, the shortcuts dialog and the README.

Each :class:`Binding` names keys (Qt's portable key-sequence text, e.g. ``"Shift+Down"``), the browser command
they run (a method name of :class:`app.signal_browser.SignalBrowser`, with arguments) and what it does in words.
Rows without keys but with ``gesture`` text are mouse gestures: listed in the dialog and the README, not
dispatched. Rows with an ``action`` name keys that a window action owns (a menu item whose shortcut works
whatever widget has the focus: annotate, event list, spectrum, undo/redo, go to time): the window sets that
action's shortcut from this table (:func:`shortcuts`) and the browser does not dispatch them, so each key is
bound once. The module is Qt-free (napari keeps its key bindings as plain functions in one table too); the browser
turns the key texts into key combinations once (:func:`app.signal_browser.key_map`).

Character keys ("+", ",") match whatever Shift the keyboard layout needs to type them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Binding:
    """Keys (or a mouse gesture) and the browser command they run."""

    keys: tuple[str, ...]  # key sequences in Qt's portable text ("PgDown", "Shift+Down", "+")
    command: str = ""  # SignalBrowser method run on a key press ("" for a gesture or a window action)
    args: tuple = ()  # arguments of the command
    text: str = ""  # what it does, for the dialog and the README
    gesture: str = ""  # mouse gesture that does the same (shown with the keys)
    group: str = ""  # keys shown together on one line of the dialog/README share a group name
    when: str = ""  # only while this browser property is true (e.g. "mask_mode")
    action: str = ""  # the window action that owns these keys (its shortcut comes from here); "" = a browser key


BINDINGS: tuple[Binding, ...] = (
    # time
    Binding(("PgDown",), "scroll_pages", (1,), "Next / previous page", "mouse wheel", group="page"),
    Binding(("PgUp",), "scroll_pages", (-1,), group="page"),
    Binding(("Right",), "scroll_pages", (0.25,), "A quarter page forward / back", group="quarter"),
    Binding(("Left",), "scroll_pages", (-0.25,), group="quarter"),
    Binding(("Home",), "set_start", (0.0,), "Start / end of the recording", group="ends"),
    Binding(("End",), "set_start", (float("inf"),), group="ends"),
    Binding((",",), "step_page_length", (-1,), "Shorter / longer page", "Ctrl+wheel", group="length"),
    Binding((".",), "step_page_length", (1,), group="length"),
    Binding(("Ctrl+G",), "", (), "Go to a time (hh:mm:ss, mm:ss, seconds, or @clock time)", action="go_to_time"),
    Binding(("T",), "toggle_clock_time", (), "Time axis: from the start / clock time"),
    # channels
    Binding(("Down",), "scroll_channels", (1,), "Channels: one row down / up", group="row"),
    Binding(("Up",), "scroll_channels", (-1,), group="row"),
    Binding((), "", (), "Channels: three rows down / up", "Shift+wheel"),
    Binding(("Shift+Down",), "scroll_channel_pages", (1,), "Next / previous page of channels", group="chpage"),
    Binding(("Shift+Up",), "scroll_channel_pages", (-1,), group="chpage"),
    Binding(("Ctrl+Shift+Down",), "step_channels_per_page", (1,), "More / fewer channels per page",
            group="perpage"),
    Binding(("Ctrl+Shift+Up",), "step_channels_per_page", (-1,), group="perpage"),
    # amplitude
    Binding(("+", "="), "change_scale_target", (True,), "Larger / smaller traces (the modality chosen, or all)",
            group="scale"),
    Binding(("-",), "change_scale_target", (False,), group="scale"),
    Binding(("]",), "change_selected_gain", (True,), "Larger / smaller gain of the selected channels only",
            group="gain"),
    Binding(("[",), "change_selected_gain", (False,), group="gain"),
    Binding(("\\",), "reset_gains", (), "Every channel back to its modality's gain"),
    Binding(("K",), "toggle_clip", (), "Clip traces to their row on/off"),
    Binding(("I",), "toggle_negative_up", (), "Polarity: negative up (clinical EEG convention) / positive up"),
    # what is drawn
    Binding(("C",), "cycle_mode", (), "Raw -> cleaned (model input) -> both overlaid"),
    Binding(("Ctrl+1",), "set_montage_index", (0,), "Montage: as recorded / average / linked ears / "
            "double banana / transverse / Laplacian (Hjorth)", group="montage"),
    Binding(("Ctrl+2",), "set_montage_index", (1,), group="montage"),
    Binding(("Ctrl+3",), "set_montage_index", (2,), group="montage"),
    Binding(("Ctrl+4",), "set_montage_index", (3,), group="montage"),
    Binding(("Ctrl+5",), "set_montage_index", (4,), group="montage"),
    Binding(("Ctrl+6",), "set_montage_index", (5,), group="montage"),
    Binding(("F",), "toggle_filters", (), "Display filters on/off (set them in View > Display filters)"),
    Binding(("H",), "toggle_heart_rate", (), "Heart-rate row (bpm, from the ECG/PPG beats) on/off"),
    # measuring and masking
    Binding(("Q",), "toggle_measure", (), "Measurement cursors on/off: drag the two lines; dt, 1/dt, d-amplitude"),
    Binding(("Ctrl+Left",), "nudge_measure", (0, -0.01), "Measurement cursor A back / forward (a hundredth of the "
            "page)", group="measure_a", when="measuring"),
    Binding(("Ctrl+Right",), "nudge_measure", (0, 0.01), group="measure_a", when="measuring"),
    Binding(("Ctrl+Shift+Left",), "nudge_measure", (1, -0.01), "Measurement cursor B back / forward",
            group="measure_b", when="measuring"),
    Binding(("Ctrl+Shift+Right",), "nudge_measure", (1, 0.01), group="measure_b", when="measuring"),
    Binding(("Ctrl+Up",), "step_measure_row", (-1,), "Measured channel (its d-amplitude): one row up / down",
            group="measure_row", when="measuring"),
    Binding(("Ctrl+Down",), "step_measure_row", (1,), group="measure_row", when="measuring"),
    Binding(("M",), "toggle_mask_mode", (), "Mask mode on/off (Esc leaves it)", group="mask"),
    Binding(("Esc",), "set_mask_mode", (False,), when="mask_mode", group="mask"),
    Binding((), "", (), "Mask a segment on the selected channels (all when none)", "Shift+drag on the traces"),
    Binding((), "", (), "Mask / unmask the whole channel (as recorded)", "Click a channel name"),
    Binding((), "", (), "Show its reconstruction; drag its edges to adjust it", "Click a masked segment"),
    Binding((), "", (), "Remove it", "Right click a masked segment"),
    Binding((), "", (), "Move the time cursor and the browser there", "Click in an analysis view"),
    Binding((), "", (), "Time cursor one window back / forward (Shift: ten; Home / End: first / last window)",
            "Left / Right in the trajectory, circumplex or attention view"),
    Binding((), "", (), "Zoom to it (Esc or Reset zoom: the whole recording again)",
            "Click a shaded span in the reconstruction view"),
    # annotations and inspection (window actions: menu items whose keys work wherever the focus is)
    Binding(("A",), text="Annotate mode: drag across the traces to annotate", action="annotate_mode"),
    Binding(("Shift+A",), text="Annotate at the cursor (with the measurement cursors: the span A-B)",
            action="annotate_cursor"),
    Binding((), "", (), "Edit its text, type, onset, duration (right-click in annotate mode: Edit / Delete)",
            "double-click an annotation"),
    Binding(("Alt+6",), text="Event list (search, filter by type, double-click to jump)", action="event_list"),
    Binding((), "", (), "Enter: first match, Enter again: go there; F2 edit, Delete remove; Esc back to the traces",
            "Keys in the event list (Alt+6 types in its search)"),
    Binding(("Ctrl+Shift+F",), text="Power spectrum (Welch, EEG bands shaded) and spectrogram of the selected "
            "channels", action="spectrum"),
    Binding(("Ctrl+I",), text="Recording information (header, patient/recording fields, channels as recorded)",
            action="recording_info"),
    # Ctrl+Y and Ctrl+Shift+Z on every platform, each once: listing Ctrl+Shift+Z and Qt's StandardKey.Redo (which
    # is Ctrl+Shift+Z on Linux) made the shortcut ambiguous there, and an ambiguous shortcut does nothing.
    Binding(("Ctrl+Z",), text="Undo / redo mask and annotation edits", group="undo", action="undo"),
    Binding(("Ctrl+Y", "Ctrl+Shift+Z"), group="undo", action="redo"),
)


def shortcuts(action: str) -> tuple[str, ...]:
    """The keys of the window action ``action`` (e.g. ``"undo"``), in Qt's portable text.

    Raises
    ------
    KeyError
        When the table has no row for ``action`` (a programming error: the action name is misspelt).
    """
    keys = tuple(k for b in BINDINGS if b.action == action for k in b.keys)
    if not keys:
        raise KeyError(f"no key binding for the window action {action!r}; known: "
                       f"{sorted({b.action for b in BINDINGS if b.action})}")
    return keys


def browser_bindings() -> tuple[Binding, ...]:
    """The rows the browser dispatches itself (keys, no window action)."""
    return tuple(b for b in BINDINGS if b.keys and not b.action)


def _grouped() -> list[list[Binding]]:
    """Bindings in table order, those of one group together."""
    out: list[list[Binding]] = []
    seen: dict[str, list[Binding]] = {}
    for b in BINDINGS:
        if b.group and b.group in seen:
            seen[b.group].append(b)
            continue
        line = [b]
        out.append(line)
        if b.group:
            seen[b.group] = line
    return out


#: How key names are written for people (Qt's portable names are terse: "PgDown", "Esc").
_PRETTY = {"PgDown": "PageDown", "PgUp": "PageUp"}


#: Keys bound but not listed: "=" is "+" on layouts where "+" needs a Shift that Qt reports as another key.
_UNLISTED = {"="}


def pretty_key(key: str) -> str:
    """A key text for people: "PgDown" -> "PageDown"."""
    if key in ("+", "-"):
        return key
    parts = key.split("+")
    return "+".join(_PRETTY.get(p, p) for p in parts)


def rows() -> list[tuple[str, str]]:
    """(keys, what they do) per line, for the shortcuts dialog; related keys share a line ("A / B"), further keys
    of one binding follow in brackets ("Ctrl+Z / Ctrl+Y (or Ctrl+Shift+Z)")."""
    out = []
    for line in _grouped():
        keys = " / ".join(pretty_key(b.keys[0]) for b in line if b.keys)
        more = [pretty_key(k) for b in line for k in b.keys[1:] if k not in _UNLISTED]
        if more:
            keys = f"{keys} (or {', '.join(more)})"
        gesture = line[0].gesture
        if keys and gesture:
            keys = f"{keys} ({gesture})"
        elif gesture:
            keys = gesture
        out.append((keys, line[0].text))
    return out


def markdown_table() -> str:
    """The bindings as the README's markdown table."""
    lines = ["| key / mouse | action |", "| --- | --- |"]
    for keys, text in rows():
        keys = keys.replace("|", "\\|")
        lines.append(f"| {keys} | {text} |")
    return "\n".join(lines)


if __name__ == "__main__":  # python -m app.key_bindings: print the README table
    print(markdown_table())
