"""*Annotations > Export recording with annotations* on a mixed-rate BDF (session 14, issue #12): the export streams
the file in a worker with progress and cancel, keeps each channel's rate and BDF's 24 bits, and a long recording is
no longer refused (the export held ~3 copies of the signal in memory and refused above 1.5 GB of signal)."""

from __future__ import annotations

import time

import edfio
import numpy as np
import pytest

from mmqnet_core.io import edf_writer
from mmqnet_core.io.edf_header import read_edf_header

from .conftest import wait_loaded


def _mixed_bdf(path, duration_s=30):
    rng = np.random.default_rng(0)
    signals = [edfio.BdfSignal(rng.standard_normal(duration_s * hz) * 20, hz, label=label, physical_dimension=unit,
                               physical_range=prange)
               for label, hz, unit, prange in (("Fp1", 256, "uV", (-200, 200)), ("Cz", 256, "uV", (-200, 200)),
                                               ("GSR", 4, "uS", (-100, 100)), ("Temp", 1, "degC", (-100, 100)))]
    edfio.Bdf(signals, annotations=[edfio.EdfAnnotation(2.0, 0.0, "file event")]).write(path)
    return path


@pytest.fixture
def mixed(window, tmp_path, qtbot):
    path = _mixed_bdf(tmp_path / "mixed.bdf")
    window.open_file(path)
    wait_loaded(qtbot, window, cleaned=True)  # the cleaning starts after the first paint: not a gap before it
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=20000)
    return path


def test_export_of_a_bdf_proposes_bdf_and_keeps_rates_and_24_bits(window, mixed, tmp_path, qtbot, dialogs,
                                                                    monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    asked = []
    out = tmp_path / "out.bdf"

    def save_name(parent, title, name, filters):
        asked.append((name, filters))
        return str(out), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_name)
    window.review.store.add(5.0, 1.0, "mine", "event")
    window.review.ask_export_edf()
    assert asked[0][0].endswith("mixed.annotated.bdf") and asked[0][1].startswith("BDF+")
    assert window.runner.busy
    qtbot.waitUntil(lambda: out.exists() and not window.runner.busy, timeout=20000)
    header, source = read_edf_header(out), read_edf_header(mixed)
    assert header.kind == "bdf" and [header.sfreq(i) for i in header.signal_indices] == [256, 256, 4, 1]
    assert header.n_records == source.n_records and dialogs == []
    import mne

    raw = mne.io.read_raw_bdf(out, verbose="error")
    assert sorted(raw.annotations.description) == ["file event", "mine"]


def test_cancel_stops_the_export_and_leaves_nothing(window, mixed, tmp_path, qtbot, dialogs, monkeypatch):
    monkeypatch.setattr(edf_writer, "CHUNK_BYTES", read_edf_header(mixed).record_bytes)  # one record per step
    real_report = edf_writer.report

    def slow_report(progress, fraction, message=""):
        time.sleep(0.05)  # 30 steps of 50 ms: long enough to see progress and cancel
        real_report(progress, fraction, message)

    monkeypatch.setattr(edf_writer, "report", slow_report)
    out = tmp_path / "out.edf"
    assert window.review.export_edf_in_background(out)
    qtbot.waitUntil(lambda: window.progress_bar.value() > 100, timeout=10000)  # progress shown (> 10 %)
    assert window.cancel_button.isVisible()
    window.cancel_button.click()
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=10000)
    qtbot.wait(50)
    assert not out.exists() and not [p.name for p in tmp_path.iterdir() if ".tmp" in p.name or "out.edf" in p.name]
    assert "cancelled; nothing was written" in window.statusBar().currentMessage()
    assert dialogs == []
