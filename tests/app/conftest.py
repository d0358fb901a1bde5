"""Fixtures of the GUI tests: synthetic recordings, a main window that is always closed, no real dialogs.

Every test gets its own settings file (``$MMQNET_STUDIO_SETTINGS``), so the user's settings are never touched,
and ``QMessageBox.exec`` is replaced by a recorder: an error dialog is captured instead of blocking.
"""

from __future__ import annotations

from pathlib import Path

import mne
import numpy as np
import pytest
from edfio import Bdf, BdfSignal, EdfAnnotation
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from mmqnet_core.recording import ChannelInfo, Modality, Recording

SFREQ = 128.0
DURATION_S = 60.0
#: (name, modality, mne type, unit of the BDF) of the test recording.
CHANNELS = (
    ("Fp1", Modality.EEG, "eeg", "uV"),
    ("Fz", Modality.EEG, "eeg", "uV"),
    ("Cz", Modality.EEG, "eeg", "uV"),
    ("Pz", Modality.EEG, "eeg", "uV"),
    ("hEOG", Modality.EOG, "eog", "uV"),
    ("GSR", Modality.GSR, "misc", "uS"),
    ("Resp", Modality.RESP, "misc", "a.u."),
)


def synthetic_data(sfreq: float = SFREQ, duration_s: float = DURATION_S, seed: int = 0) -> np.ndarray:
    """(n_channels, n_times) test signals in SI/physical units (V for EEG/EOG); labelled synthetic by callers.

    EEG: 10 Hz alpha of 20 uV plus noise, with a 50 uV spike once per 10 s so that peaks can be checked; EOG: a
    slow wave; GSR: a level of 5 uS with a slow drift; respiration: 0.25 Hz.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * sfreq)) / sfreq
    eeg = [20e-6 * np.sin(2 * np.pi * 10 * t + i) + 4e-6 * rng.standard_normal(t.size) for i in range(4)]
    for row in eeg:
        row[(np.arange(t.size) % int(10 * sfreq)) == int(5 * sfreq)] += 50e-6
    eog = 150e-6 * np.sin(2 * np.pi * 0.3 * t)
    gsr = 5.0 + 0.5 * np.sin(2 * np.pi * 0.02 * t)
    resp = np.sin(2 * np.pi * 0.25 * t)
    return np.vstack(eeg + [eog, gsr, resp])


def make_recording(duration_s: float = DURATION_S) -> Recording:
    """An in-memory synthetic Recording (mne RawArray) with two annotations."""
    data = synthetic_data(duration_s=duration_s)
    info = mne.create_info([c[0] for c in CHANNELS], SFREQ, [c[2] for c in CHANNELS])
    raw = mne.io.RawArray(data, info, verbose=False)
    raw.set_annotations(mne.Annotations([5.0, 30.0], [10.0, 0.0], ["SYNTHETIC stimulus", "button"]))
    channels = tuple(ChannelInfo(name, mod, SFREQ, "V" if mod in (Modality.EEG, Modality.EOG) else "")
                     for name, mod, _, _ in CHANNELS)
    return Recording(raw=raw, channels=channels, is_synthetic=True)


def write_test_bdf(path: Path, duration_s: float = DURATION_S) -> Path:
    """Write the synthetic signals to a BDF+ file with edfio (EEG/EOG in uV as BDF files store them)."""
    data = synthetic_data(duration_s=duration_s)
    signals = []
    for (name, mod, _, unit), row in zip(CHANNELS, data):
        values = row * 1e6 if unit == "uV" else row
        lo, hi = float(values.min()), float(values.max())
        pad = 0.1 * (hi - lo) + 1e-3
        signals.append(BdfSignal(values, SFREQ, label=name, physical_dimension=unit,
                                 physical_range=(round(lo - pad, 3), round(hi + pad, 3))))
    bdf = Bdf(signals, annotations=[EdfAnnotation(5.0, 10.0, "SYNTHETIC stimulus")])
    bdf.write(path)
    return path


@pytest.fixture(autouse=True)
def settings_file(tmp_path, monkeypatch) -> Path:
    """A fresh settings file per test (the user's settings are never read or written)."""
    path = tmp_path / "settings" / "studio.ini"
    path.parent.mkdir()
    monkeypatch.setenv("MMQNET_STUDIO_SETTINGS", str(path))
    return path


@pytest.fixture(autouse=True)
def dialogs(monkeypatch) -> list[dict]:
    """Message boxes shown during the test, as dicts (title, text, informative, details); none is modal."""
    shown: list[dict] = []

    def fake_exec(box: QMessageBox) -> int:
        shown.append({"title": box.windowTitle(), "text": box.text(), "informative": box.informativeText(),
                      "details": box.detailedText()})
        return int(QMessageBox.StandardButton.Ok)

    monkeypatch.setattr(QMessageBox, "exec", fake_exec)
    return shown


@pytest.fixture(autouse=True)
def _refcount_guard():
    """Keep None/True/False alive under PySide6 6.12 on Python 3.11 (see app.qt_compat)."""
    from app.qt_compat import top_up_refcounts

    top_up_refcounts()
    yield
    top_up_refcounts()


@pytest.fixture
def recording() -> Recording:
    return make_recording()


@pytest.fixture
def bdf_path(tmp_path) -> Path:
    return write_test_bdf(tmp_path / "synthetic_test.bdf")


@pytest.fixture
def window(qtbot, settings_file):
    """The main window, shown; closed after the test with its thread pool drained."""
    from app.main_window import MainWindow

    from PySide6.QtCore import Qt

    from app.main_window import SIDE_DOCK_PX

    win = MainWindow(settings=QSettings(str(settings_file), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    win.resize(1200, 800)
    # The docks at their full default widths, as a large screen gives them (offscreen the screen is 800 px wide
    # and the window starts with the docks at their share of that): the browser tests' geometry does not depend
    # on the offscreen screen's size.
    win.resizeDocks([win.channel_dock, win.mask_dock], list(SIDE_DOCK_PX), Qt.Orientation.Horizontal)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()
    assert win.runner.wait_for_all(10), "a task was still running after the window closed"
    assert win.runner.pool.activeThreadCount() == 0
    qtbot.wait(10)  # deliver the last queued worker signals while the window still exists


def wait_loaded(qtbot, win, *, cleaned: bool = False, timeout: int = 20000) -> None:
    """Wait until the window shows a recording (and its cleaned signals when ``cleaned``)."""
    qtbot.waitUntil(lambda: win.model.recording is not None, timeout=timeout)
    if cleaned:
        qtbot.waitUntil(lambda: win.model.preprocess_result is not None, timeout=timeout)


def open_all_rows(window, rec, path, qtbot, monkeypatch):
    """``rec`` in the window without cleaning, 10-s pages with every channel in one page, focused browser."""
    monkeypatch.setattr(window, "start_cleaning", lambda: None)
    window.set_recording(rec, path)
    wait_loaded(qtbot, window)
    b = window.browser
    b.set_page_length(10.0)
    b.set_channels_per_page(len(b.visible_channels))
    b.setFocus()
    qtbot.wait(80)
    return b


@pytest.fixture(scope="session")
def tiny_model():
    """A small UNTRAINED MMQ-Net on the test recording's channels (built once per session, ~1 s)."""
    import torch

    from app.analysis import build_untrained_model

    torch.set_num_threads(1)  # 2 busy cores: OpenMP spinning makes 2 threads slower
    return build_untrained_model(make_recording(), span_s=20.0, n_windows=4)


def wait_analysis(qtbot, win, timeout: int = 30000) -> None:
    """Wait until the window's analysis finished and no task runs."""
    qtbot.waitUntil(lambda: win.model.analysis is not None and not win.runner.busy, timeout=timeout)


@pytest.fixture
def browser(window, recording, tmp_path, qtbot):
    """The window's signal browser on the synthetic ``recording``, 10-s pages, focused (test modules with another
    recording or layout define their own ``browser``)."""
    window.set_recording(recording, tmp_path / "synthetic_rec.bdf")
    wait_loaded(qtbot, window)
    b = window.browser
    b.set_page_length(10.0)
    b.setFocus()
    qtbot.wait(80)  # let the first resize settle
    return b


def use_small_tiles(monkeypatch, tile_s: float = 5.0):
    """Make a short test recording count as long, cleaned on demand in ``tile_s``-second tiles; the tile class."""
    from mmqnet_core.preprocessing import on_demand

    class SmallTiles(on_demand.OnDemandCleaning):
        def __init__(self, recording, fit, tile_s=tile_s):
            super().__init__(recording, fit, tile_s)

    monkeypatch.setattr(on_demand, "ON_DEMAND_ABOVE_BYTES", 0)  # the 60-s test recording counts as long
    monkeypatch.setattr(on_demand, "OnDemandCleaning", SmallTiles)
    return SmallTiles
