"""Write ``blinks_reference.json``: blinks on spkit's real frontal EEG found by mne and by neurokit2.

    PYTHONPATH=/work/nk2 python -m tests.core.real.make_blink_reference     # neurokit2: a private folder

Emotiv EPOC has no EOG electrode, so the frontal channels nearest the eyes (AF3, AF4, F7, F8) stand in for a
vertical EOG, each alone, in uV at 128 Hz, exactly as stored in ``tests/data/real/spkit_eeg16.npz``. Four
detectors, each independent of this project's:

- ``mne``: ``mne.preprocessing.find_eog_events`` (channel typed ``eog``; 1-10 Hz band-pass, threshold
  (max - min) / 4 of the whole channel, polarity from the larger extreme: its defaults);
- ``nk_neurokit``: neurokit2 ``eog_clean(method="neurokit")`` then ``eog_findpeaks(method="neurokit")``
  (template correlation with a simulated blink);
- ``nk_brainstorm``: ``eog_clean`` / ``eog_findpeaks`` ``method="brainstorm"`` (1.5-15 Hz, events > 2 SD);
- ``nk_blinker``: ``eog_clean`` / ``eog_findpeaks`` ``method="blinker"`` (Kleifges et al. 2017, BLINKER).

(neurokit2's ``method="mne"`` is ``mne.preprocessing.peak_finder``, the core of ``find_eog_events``: left out as
a duplicate.) A method that fails on a channel is stored as its error message. Times in s, rounded to 10 ms.
The file is committed, so the tests need neither neurokit2 nor a new run of mne.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

from .realdata import FRONTAL, spkit_eeg

OUT = Path(__file__).with_name("blinks_reference.json")
COMMAND = "PYTHONPATH=/work/nk2 python -m tests.core.real.make_blink_reference"
NK_METHODS = ("neurokit", "brainstorm", "blinker")


def mne_blinks(x_uv: np.ndarray, sfreq: float, name: str) -> list[float]:
    import mne

    info = mne.create_info([name], sfreq, ["eog"])
    raw = mne.io.RawArray(x_uv[None] * 1e-6, info, verbose="error")
    ev = mne.preprocessing.find_eog_events(raw, ch_name=name, verbose="error")
    return [round(float(s) / sfreq, 2) for s in ev[:, 0]]


def nk_blinks(x_uv: np.ndarray, sfreq: float, method: str) -> list[float] | str:
    import neurokit2 as nk

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clean = nk.eog_clean(x_uv, sampling_rate=int(sfreq), method=method)
            peaks = nk.eog_findpeaks(clean, sampling_rate=int(sfreq), method=method)
    except Exception as e:  # noqa: BLE001 - a reference method that fails is recorded, not fatal
        return f"{type(e).__name__}: {e}"
    return [round(float(p) / sfreq, 2) for p in np.unique(np.asarray(peaks, dtype=int))]


def main() -> None:
    import mne
    import neurokit2 as nk

    recs = {}
    for which in ("eeg16", "artifact_raw"):
        rec = spkit_eeg(which)
        per = {}
        for ch in FRONTAL:
            x = rec.channels[ch]
            per[ch] = {"mne": mne_blinks(x, rec.sfreq, ch)}
            per[ch].update({f"nk_{m}": nk_blinks(x, rec.sfreq, m) for m in NK_METHODS})
            print(rec.name, ch, {k: (len(v) if isinstance(v, list) else v) for k, v in per[ch].items()})
        recs[rec.name] = per
    out = {"mne_version": mne.__version__, "neurokit2_version": nk.__version__, "command": COMMAND,
           "sampling_rate_hz": 128, "unit": "uV", "channels": list(FRONTAL), "recordings": recs}
    OUT.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
