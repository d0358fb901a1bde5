"""SpectrumDialog: Welch power spectrum of the chosen channels over a span, log scale, EEG bands shaded.

The spectrum is computed by :func:`mmqnet_core.features.psd.welch_spectrum` (mne's Welch estimate); the dialog
only draws it. The span starts as the browser's page and the channels as the selection (else the EEG channels on
the page). A second tab shows the spectrogram of one channel over the whole recording
(:func:`~mmqnet_core.features.spectrogram_track.spectrogram_track`, in the window's worker), on the same time axis
(h:mm:ss from the recording start) as the trajectory view; the span's ends read and accept h:mm:ss, mm:ss or
seconds like the browser's Ctrl+G.
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from mmqnet_core.errors import MMQNetError
from mmqnet_core.features.config import DEFAULT_BANDS, DELTA_BAND
from mmqnet_core.features.psd import Spectrum, welch_spectrum
from mmqnet_core.features.spectrogram_track import SpectrogramTrack, spectrogram_track
from mmqnet_core.recording import Modality, Recording

from .browser_state import display_unit, format_hms
from .plot_helpers import use_time_axis
from .time_edit import TimeSpinBox  # noqa: F401 (here before; the annotation dialog uses it too)

log = logging.getLogger(__name__)

#: Bands shaded on the spectrum (name, low Hz, high Hz): delta and the feature bands of the model.
BANDS: tuple[tuple[str, float, float], ...] = (DELTA_BAND,) + DEFAULT_BANDS
BAND_COLOURS = ("#fff3e0", "#e8f5e9", "#e3f2fd", "#f3e5f5", "#fffde7")
#: Highest frequency drawn by default, Hz (the EEG range of interest; the Nyquist frequency if lower).
FMAX_HZ = 60.0
#: Modalities whose content lies above FMAX_HZ: their spectrum goes up to the Nyquist frequency (surface EMG has
#: most of its power at 50-150 Hz; a MISC channel can be anything).
BROADBAND_MODALITIES = frozenset({Modality.EMG, Modality.MISC})


def spectrum_fmax(recording: Recording, names: Sequence[str]) -> float:
    """Highest frequency to compute and draw for channels ``names``, Hz: :data:`FMAX_HZ` (the EEG bands), or the
    Nyquist frequency when one of them is EMG or MISC (an EMG spectrum stopped at 60 Hz, below most of its power)."""
    nyquist = recording.sfreq / 2
    broadband = any(recording.channels[recording.index(n)].modality in BROADBAND_MODALITIES for n in names
                    if n in recording.ch_names)
    return nyquist if broadband else min(FMAX_HZ, nyquist)
#: Most time columns of the spectrogram (a screen has fewer pixels; adjacent columns are averaged beyond).
SPECTROGRAM_COLUMNS = 2000
#: Longest span of a power spectrum, s: the span is read whole (24 h x 8 channels took 52 s and 4.3 GB in the
#: window's thread); the Spectrogram tab shows the whole recording.
MAX_SPECTRUM_SPAN_S = 3600.0
#: Decades of power shown below the spectrum's top (a cleaner EEG spectrum spans 4-6).
DECADES = 10.0
#: pyqtgraph's default colour cycle is hard to read on white: these are the first curve colours.
CURVE_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")


class SpectrumDialog(QDialog):
    """Power spectrum of channels over a span (s), and a spectrogram of one channel."""

    def __init__(self, recording: Recording, channels: Sequence[str], start_s: float, stop_s: float,
                 parent: QWidget | None = None, runner: Any = None, clock: Any = None) -> None:
        """``clock``: the browser's state (a :class:`~app.browser_state.BrowserState`); with clock time on its
        axis (T) the span, the title and the spectrogram's axis read clock time as the browser does."""
        super().__init__(parent)
        self.recording = recording
        self.clock = clock
        clock_start = clock.start_time if clock is not None and clock.clock_time else None
        self.setWindowTitle(f"Power spectrum - {recording.title}")
        self.resize(900, 560)
        self.spectrum: Spectrum | None = None
        self.power_shown: np.ndarray | None = None  # the power drawn, in the units of the axis label
        self.spectrogram: SpectrogramTrack | None = None
        self.runner = runner  # the window's task runner: the spectrogram is computed there (None: in this thread)
        self.error = ""

        self.channel_list = QListWidget(self)
        self.channel_list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.channel_list.addItems(recording.ch_names)
        self.channel_list.setMaximumWidth(160)
        wanted = set(channels)
        for i in range(self.channel_list.count()):
            item = self.channel_list.item(i)
            item.setSelected(item.text() in wanted)
        self.start_edit = TimeSpinBox(recording.duration_s, self, start=clock_start)
        self.stop_edit = TimeSpinBox(recording.duration_s, self, start=clock_start)
        typed = ("clock time hh:mm:ss, or seconds from the recording's start" if clock_start
                 else "h:mm:ss, mm:ss or seconds from the recording's start")
        for box, value, what in ((self.start_edit, start_s, "Start"), (self.stop_edit, stop_s, "End")):
            box.setValue(value)
            box.setToolTip(f"{what} of the span whose spectrum is shown: {typed}")
        self.log_x = QPushButton("log frequency", self)
        self.log_x.setCheckable(True)
        self.log_x.toggled.connect(lambda on: self.plot.setLogMode(x=on, y=True))
        self.message = QLabel(self)
        self.message.setStyleSheet("color: #b71c1c")

        self.plot = pg.PlotWidget(background="w")
        self.plot.setLogMode(x=False, y=True)
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setLabel("bottom", "frequency", units="Hz")
        self.plot.addLegend(offset=(-10, 10))
        for axis in ("left", "bottom"):
            self.plot.getAxis(axis).setTextPen("#303030")
        self.plot.getAxis("left").enableAutoSIPrefix(False)  # it read "power (V²/Hz) (x1e-09)"

        self.sg_channel = QComboBox(self)
        self.sg_channel.addItems(recording.ch_names)
        first = next((c for c in recording.ch_names if c in wanted), recording.ch_names[0])
        self.sg_channel.setCurrentText(first)
        self.sg_plot = pg.PlotWidget(background="w")
        sg_axis = use_time_axis(self.sg_plot.getPlotItem())  # h:mm:ss as the other axes ("time (ks)" on long files)
        if clock is not None:
            sg_axis.set_clock(clock)  # clock time when the browser shows it (T)
        self.sg_plot.setLabel("left", "frequency", units="Hz")
        self.sg_plot.getAxis("left").enableAutoSIPrefix(False)
        # the recording's span and frequencies before the spectrogram is drawn (empty, it read -500..500 mHz)
        self.sg_plot.setXRange(0.0, recording.duration_s, padding=0)
        self.sg_plot.setYRange(0.0, min(FMAX_HZ, recording.sfreq / 2), padding=0)
        self.sg_message = QLabel(self)  # the spectrogram's errors, on its own tab (they went to the other one)
        self.sg_message.setStyleSheet("color: #b71c1c")
        self.sg_message.setWordWrap(True)
        self.sg_image = pg.ImageItem(axisOrder="row-major")
        self.sg_plot.addItem(self.sg_image)
        self.sg_bar = pg.ColorBarItem(colorMap=pg.colormap.get("viridis"), label="log10 power")
        self.sg_bar.setImageItem(self.sg_image, insert_in=self.sg_plot.getPlotItem())

        controls = QHBoxLayout()
        controls.addWidget(QLabel("from", self))
        controls.addWidget(self.start_edit)
        controls.addWidget(QLabel("to", self))
        controls.addWidget(self.stop_edit)
        controls.addWidget(self.log_x)
        controls.addStretch(1)
        spectrum_tab = QWidget(self)
        body = QHBoxLayout(spectrum_tab)
        body.addWidget(self.channel_list)
        right = QVBoxLayout()
        right.addLayout(controls)
        right.addWidget(self.plot, 1)
        right.addWidget(self.message)
        body.addLayout(right, 1)
        sg_tab = QWidget(self)
        sg_layout = QVBoxLayout(sg_tab)
        top = QHBoxLayout()
        top.addWidget(QLabel("channel", self))
        top.addWidget(self.sg_channel)
        top.addStretch(1)
        sg_layout.addLayout(top)
        sg_layout.addWidget(self.sg_plot, 1)
        sg_layout.addWidget(self.sg_message)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(spectrum_tab, "Spectrum")
        self.tabs.addTab(sg_tab, "Spectrogram")
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)

        self.channel_list.itemSelectionChanged.connect(self.update_spectrum)
        self.start_edit.editingFinished.connect(self.update_spectrum)
        self.stop_edit.editingFinished.connect(self.update_spectrum)
        self.sg_channel.currentTextChanged.connect(lambda _t: self.update_spectrogram())
        self.tabs.currentChanged.connect(lambda i: self.update_spectrogram() if i == 1 and
                                         self.spectrogram is None else None)
        self.update_spectrum()

    def selected_channels(self) -> list[str]:
        return [self.channel_list.item(i).text() for i in range(self.channel_list.count())
                if self.channel_list.item(i).isSelected()]

    def update_spectrum(self) -> None:
        """Compute and draw the spectrum of the selected channels over the span."""
        names = self.selected_channels()
        self.plot.clear()
        self.message.setText("")
        fmax = spectrum_fmax(self.recording, names)
        for (name, lo, hi), colour in zip(BANDS, BAND_COLOURS):
            if lo >= fmax:
                continue
            region = pg.LinearRegionItem((lo, min(hi, fmax)), movable=False, brush=pg.mkBrush(colour),
                                         pen=pg.mkPen(None))
            region.setZValue(-10)
            self.plot.addItem(region, ignoreBounds=True)
            label = pg.TextItem(name, color="#707070", anchor=(0.5, 0))
            label.setParentItem(region)
            self.plot.addItem(label, ignoreBounds=True)
            region.label = label  # kept for positioning below
        span = self.stop_edit.value() - self.start_edit.value()
        if span > MAX_SPECTRUM_SPAN_S:
            self.spectrum = None
            self.error = (f"The span is {format_hms(span)} long: a spectrum is computed over at most "
                          f"{format_hms(MAX_SPECTRUM_SPAN_S)} (change From or To); the Spectrogram tab shows the whole "
                          "recording.")
            self.message.setText(self.error)
            return
        try:
            self.spectrum = welch_spectrum(self.recording, [self.recording.index(n) for n in names],
                                           self.start_edit.value(), self.stop_edit.value(), fmax=fmax)
        except MMQNetError as exc:
            self.spectrum, self.error = None, str(exc)
            self.message.setText(str(exc))
            return
        self.error = ""
        spec = self.spectrum
        # In the unit the browser shows (µV for a channel read in volts: a MISC channel recorded in uV read V²/Hz)
        shown = [display_unit(u) for u in spec.units]
        factors = np.array([f * f for _, f in shown])[:, None]
        with np.errstate(divide="ignore"):
            power = np.where(spec.power > 0, spec.power * factors, np.nan)
        self.power_shown = power
        for k, (name, row) in enumerate(zip(spec.ch_names, power)):
            self.plot.plot(spec.freqs, row, pen=pg.mkPen(CURVE_COLOURS[k % len(CURVE_COLOURS)], width=1.5),
                           name=name)
        units = sorted({u for u, _ in shown})
        self.plot.setLabel("left", "power (" + ", ".join(f"{u}\u00b2/Hz" for u in units) + ")")
        self.plot.setXRange(0, fmax, padding=0)
        top = np.nanmax(np.log10(power)) if np.isfinite(power).any() else 0.0
        if np.isfinite(power).any():  # at most DECADES below the top: a pure sine's 1e-36 floor hid the peaks
            low = max(float(np.nanmin(np.log10(power))), top - DECADES)
            self.plot.setYRange(low, top, padding=0.05)
        for item in self.plot.getPlotItem().items:
            if isinstance(item, pg.LinearRegionItem):
                lo, hi = item.getRegion()
                item.label.setPos((lo + hi) / 2, top)
        fmt = self.clock.format_time if self.clock is not None else (lambda t, d: format_hms(t, decimals=d))
        self.setWindowTitle(f"Power spectrum - {self.recording.title} - {fmt(spec.start_s, 1)}-"
                            f"{fmt(spec.stop_s, 1)}")

    def update_spectrogram(self) -> None:
        """Compute (in the window's worker when the dialog has one) and draw the chosen channel's spectrogram over
        the whole recording: :func:`~mmqnet_core.features.spectrogram_track.spectrogram_track`, read in chunks and
        at most :data:`SPECTROGRAM_COLUMNS` columns (the whole-recording ``spectrogram`` took 21.7 s in the window's
        thread and a 121 x 86399 image for 24 h; the track 6.5 s and 0.3 GB)."""
        name = self.sg_channel.currentText()
        kwargs = {"fmax_hz": spectrum_fmax(self.recording, [name]), "max_columns": SPECTROGRAM_COLUMNS}
        self.spectrogram = None
        if self.runner is None:
            try:
                track = spectrogram_track(self.recording, name, **kwargs)
            except MMQNetError as exc:
                self._spectrogram_failed(exc)
                return
            self._show_spectrogram(track)
            return
        self.sg_message.setStyleSheet("color: palette(text)")  # progress, not an error
        self.sg_message.setText(f"computing the spectrogram of {name}...")
        self.runner.submit(spectrogram_track, self.recording, name, key="spectrogram", name=f"Spectrogram of {name}",
                           on_result=self._show_spectrogram, on_error=self._spectrogram_failed, **kwargs)

    def _spectrogram_failed(self, exc: BaseException) -> None:
        self.spectrogram = None
        self.sg_message.setStyleSheet("color: #b71c1c")
        if not isinstance(exc, MMQNetError):
            from .errors import notify_error

            notify_error(exc, self, "computing a spectrogram")
            return
        self.sg_message.setText(str(exc))

    def _show_spectrogram(self, track: SpectrogramTrack) -> None:
        if track.ch_name != self.sg_channel.currentText():
            return  # another channel was chosen meanwhile: its own result follows
        self.spectrogram = track
        self.sg_message.setText("")
        unit, factor = display_unit(track.unit)  # in the browser's unit (µV for a channel read in volts)
        image = track.power_db.T + 20.0 * np.log10(factor)  # (F, T): frequency up, time along
        self.sg_image.setImage(image)
        df = track.freqs_hz[1] - track.freqs_hz[0] if track.freqs_hz.size > 1 else 1.0
        self.sg_image.setRect(float(track.times_s[0] - track.column_s / 2), float(track.freqs_hz[0] - df / 2),
                              float(track.column_s * track.times_s.size), float(df * track.freqs_hz.size))
        lo, hi = track.levels()
        self.sg_bar.setLevels((lo + 20.0 * np.log10(factor), hi + 20.0 * np.log10(factor)))
        self.sg_plot.setTitle(f"{track.ch_name} (dB re 1 {unit}\u00b2/Hz)")
        self.sg_bar.getAxis("left").setLabel(f"power (dB re 1 {unit}\u00b2/Hz)")
