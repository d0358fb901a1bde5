"""Why a token (or one of its features) is missing in a window: one code per (window, token).

A token can be hidden from the model for different reasons, and the user should be told which: the channel is
absent from the recording, its signal is NaN or flat there, the detector of its features found nothing (no
breath near the window), the user masked it, or missingness was simulated. Feature extraction fills
:attr:`FeatureSet.reason` with the first four; the analysis adds the masks. A token that is present but has a
feature that could not be computed (e.g. its breathing rate) keeps ``PRESENT``: that feature alone is invalid
(:attr:`FeatureSet.feature_valid`).
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class MissingReason(IntEnum):
    """Why token n is missing in window t (stored as uint8; the larger code wins when several apply)."""

    PRESENT = 0  # the model sees the token
    NOT_DETECTED = 1  # signal present, but no feature of the token could be computed (detector found nothing)
    INTERFERENCE = 2  # hidden because of interference (reserved: detected interference is reported, not hidden)
    NO_DATA = 3  # the channel's signal is NaN or flat in the window
    NO_CHANNEL = 4  # the recording has no channel for this token
    SIMULATED = 5  # hidden by simulated missingness (simulate_missing / training)
    USER_MASK = 6  # masked by the user

    @property
    def label(self) -> str:
        """Short human text, e.g. "user mask", used in summaries and the app."""
        return _LABELS[self]


_LABELS = {
    MissingReason.PRESENT: "present",
    MissingReason.NOT_DETECTED: "detector found nothing",
    MissingReason.INTERFERENCE: "interference",
    MissingReason.NO_DATA: "no data (NaN or flat)",
    MissingReason.NO_CHANNEL: "no channel",
    MissingReason.SIMULATED: "simulated missing",
    MissingReason.USER_MASK: "user mask",
}

#: What "detector found nothing" means for each modality's event features, for messages.
NOT_DETECTED_TEXT = {"RESP": "no breath found", "PPG": "no pulse found", "ECG": "no R peak found",
                     "GSR": "no SCR found", "EOG": "no blink found"}


def reason_counts(reason: np.ndarray) -> dict[str, int]:
    """Count of each non-PRESENT reason in a (T,) or (T, N) code array, by label, largest first."""
    codes, counts = np.unique(np.asarray(reason, dtype=np.uint8), return_counts=True)
    out = {MissingReason(int(c)).label: int(k) for c, k in zip(codes, counts) if c != MissingReason.PRESENT}
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def describe_hidden(name: str, reason: np.ndarray, modality: str | None = None) -> str:
    """One line for a token's (T,) reason codes, e.g. "Resp: 3/120 windows hidden: 2 user mask, 1 no breath found"."""
    reason = np.asarray(reason, dtype=np.uint8)
    n = reason.size
    hidden = int((reason != MissingReason.PRESENT).sum())
    if hidden == 0:
        return f"{name}: all {n} windows visible"
    parts = []
    for label, k in reason_counts(reason).items():
        if label == MissingReason.NOT_DETECTED.label and modality in NOT_DETECTED_TEXT:
            label = NOT_DETECTED_TEXT[modality]
        parts.append(f"{k} {label}")
    return f"{name}: {hidden}/{n} windows hidden: " + ", ".join(parts)


def combine(*codes: np.ndarray) -> np.ndarray:
    """Element-wise larger reason (uint8): a user mask over a flat span reads "user mask"."""
    out = np.asarray(codes[0], dtype=np.uint8)
    for c in codes[1:]:
        out = np.maximum(out, np.asarray(c, dtype=np.uint8))
    return out
