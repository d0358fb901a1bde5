"""The channel panel's name column: every name drawn in full up to a limit, elided with a tooltip beyond it."""

from __future__ import annotations

import mne
import numpy as np

from app.channel_panel import NAME
from mmqnet_core.recording import ChannelInfo, Modality, Recording

LONG = "Respiration belt (thoracic, synthetic)"


def _recording(names: list[str]) -> Recording:
    info = mne.create_info(names, 64.0, "misc")
    raw = mne.io.RawArray(np.zeros((len(names), 640)), info, verbose=False)
    channels = tuple(ChannelInfo(n, Modality.MISC, 64.0, "") for n in names)
    return Recording(raw=raw, channels=channels, is_synthetic=True)


def test_names_of_the_sample_recording_are_drawn_in_full(window, recording, tmp_path, qtbot):
    window.set_recording(recording, tmp_path / "rec.bdf")
    qtbot.wait(50)  # let the dock take the panel's new minimum width
    panel = window.channel_panel
    tree, header = panel.tree, panel.tree.header()
    fm = tree.fontMetrics()
    for name, item in panel._items.items():
        rect = tree.visualItemRect(item)
        # The text starts after indent and check box and must fit in the column: the whole name is drawn.
        assert header.sectionSize(NAME) >= panel.name_width_needed(item) > fm.horizontalAdvance(name)
        assert rect.isValid()
    # ...and the columns fit in the panel, so no column is pushed out of sight behind a scroll bar.
    total = sum(header.sectionSize(c) for c in range(tree.columnCount()))
    assert total <= tree.viewport().width()
    assert not tree.horizontalScrollBar().isVisible()


def test_a_name_beyond_the_limit_is_elided_with_its_tooltip(window, tmp_path, qtbot):
    window.set_recording(_recording(["GSR", LONG]), tmp_path / "rec.bdf")
    panel = window.channel_panel
    header = panel.tree.header()
    assert panel.name_width_needed(panel.item(LONG)) > panel.name_width_limit()
    assert header.sectionSize(NAME) == panel.name_width_limit()
    assert panel.item(LONG).toolTip(NAME).startswith(LONG)


def test_the_column_follows_the_longest_name_of_each_recording(window, tmp_path, qtbot):
    window.set_recording(_recording(["A", "B"]), tmp_path / "a.bdf")
    short = window.channel_panel.tree.header().sectionSize(NAME)
    window.set_recording(_recording(["A", "Respiration belt"]), tmp_path / "b.bdf")
    panel = window.channel_panel
    wide = panel.tree.header().sectionSize(NAME)
    assert wide > short
    assert wide >= panel.name_width_needed(panel.item("Respiration belt"))


def test_a_group_label_is_drawn_in_full_when_the_channel_names_are_short(window, tmp_path, qtbot):
    """One EEG channel "Fp1" (pyedflib's test_utf8.edf): the column fitted "Fp1" and drew the group "EEG (...)"."""
    info = mne.create_info(["Fp1"], 128.0, "eeg")
    raw = mne.io.RawArray(np.zeros((1, 1280)), info, verbose=False)
    rec = Recording(raw=raw, channels=(ChannelInfo("Fp1", Modality.EEG, 128.0, "V"),), is_synthetic=True)
    window.set_recording(rec, tmp_path / "one.edf")
    panel = window.channel_panel
    tree = panel.tree
    # Qt's own measure of what the column's cells need (indent, check box, text, margins), groups included.
    assert tree.header().sectionSize(NAME) >= tree.sizeHintForColumn(NAME)
    assert tree.topLevelItem(0).text(NAME) == "EEG (1)"
