"""Write ``scr_neurokit2.json``: reference skin-conductance responses (SCRs) of pyphysio's real EDA, found by
neurokit2 (never a project dependency).

    pip install --no-deps --target /work/nk2 neurokit2     # a private folder, never the project's environment
    PYTHONPATH=/work/nk2 python -m tests.core.real.make_scr_reference

neurokit2's own EDA chain at the recording's full rate (2048 Hz): ``eda_clean(method="neurokit")`` (4th-order
3-Hz low-pass), ``eda_phasic(method="highpass")`` (0.05-Hz high-pass: its default), then ``eda_peaks`` with two
published methods, each independent of this project's detector:

- ``neurokit``: peaks of the phasic signal with amplitude >= 10 % of the largest SCR (neurokit2's default);
- ``kim2004``: zero crossings of the smoothed derivative of the phasic signal, amplitude >= 0.1 x the largest
  (Kim, Bang & Kim 2004, the method of BioSPPy).

SCR onsets and peaks (s) are stored rounded to 1 ms, with the amplitudes (uS). The file is committed, so the
tests need neither package.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .realdata import medical

OUT = Path(__file__).with_name("scr_neurokit2.json")
METHODS = ("neurokit", "kim2004")
COMMAND = "PYTHONPATH=/work/nk2 python -m tests.core.real.make_scr_reference"


def _times(info: dict, key: str, sf: float) -> list[float | None]:
    return [None if not np.isfinite(v) else round(float(v) / sf, 3) for v in np.asarray(info[key], dtype=float)]


def main() -> None:
    import neurokit2 as nk

    rec = medical()
    x, sf = rec.channels["EDA"], int(rec.sfreq)
    clean = nk.eda_clean(x, sampling_rate=sf, method="neurokit")
    phasic = nk.eda_phasic(clean, sampling_rate=sf, method="highpass")["EDA_Phasic"].to_numpy()
    per = {}
    for method in METHODS:
        _, info = nk.eda_peaks(phasic, sampling_rate=sf, method=method)
        per[method] = {"onsets_s": _times(info, "SCR_Onsets", sf), "peaks_s": _times(info, "SCR_Peaks", sf),
                       "amplitudes_uS": [round(float(a), 5) for a in np.asarray(info["SCR_Amplitude"], float)]}
        print(rec.name, method, len(per[method]["peaks_s"]), "SCRs")
    out = {"neurokit2_version": nk.__version__, "command": COMMAND, "channel": "EDA (uS)", "sampling_rate_hz": sf,
           "chain": "eda_clean(method='neurokit') -> eda_phasic(method='highpass') -> eda_peaks(method=...)",
           "recordings": {rec.name: per}}
    OUT.write_text(json.dumps(out, indent=0) + "\n")


if __name__ == "__main__":
    main()
