"""SimulateMissingDialog: Edit > Simulate missing data... (rate and seed for ``masking.simulate_missing``)."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QSpinBox, QWidget

#: Highest rate offered, % of physiological channel-time (``simulate_missing`` accepts up to 0.9).
MAX_RATE_PERCENT = 90


class SimulateMissingDialog(QDialog):
    """Ask for the share of channel-time to remove and the seed; :meth:`values` returns (rate 0-0.9, seed)."""

    def __init__(self, rate: float = 0.3, seed: int = 0, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Simulate missing data")
        form = QFormLayout(self)
        note = QLabel("Masks a share of the physiological channel-time as failing sensors would: whole-modality "
                      "drop-outs and segments on single channels. The masks are marked 'simulated'; "
                      "Edit > Clear simulated masks removes them. A new simulation replaces the previous one.",
                      self)
        note.setWordWrap(True)
        form.addRow(note)
        self.rate = QSpinBox(self)
        self.rate.setRange(0, MAX_RATE_PERCENT)
        self.rate.setSuffix(" %")
        self.rate.setValue(int(round(rate * 100)))
        self.rate.setToolTip("Share of the channel-time to remove (0-90 %)")
        form.addRow("Missing rate", self.rate)
        self.seed = QSpinBox(self)
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(int(seed))
        self.seed.setToolTip("Same seed and rate = same masks")
        form.addRow("Seed", self.seed)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, parent=self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def values(self) -> tuple[float, int]:
        """(rate as a fraction 0-0.9, seed)."""
        return self.rate.value() / 100.0, int(self.seed.value())
