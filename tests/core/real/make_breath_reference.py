"""Write ``breaths_neurokit2.json``: reference breaths of the real belts, found by neurokit2 (not a dependency).

    pip install --no-deps --target /tmp/nk2 neurokit2      # a private folder, never the project's environment
    PYTHONPATH=/tmp/nk2 python -m tests.core.real.make_breath_reference

Two published methods of neurokit2 (``rsp_clean`` + ``rsp_peaks`` with the same ``method``), each independent
of this project's detector and of each other:

- ``khodadad2018``: 0.05-3 Hz band-pass, zero crossings, extrema kept when their height differs from the
  neighbour's by >= 0.3 x the median difference (Khodadad et al. 2018; the same method as biopeaks');
- ``biosppy``: 0.1-0.35 Hz band-pass, zero crossings, a peak per rising/falling crossing pair (BioSPPy).

Inhalation peaks (s) are stored rounded to 1 ms. The file is committed, so the tests need neither package.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .realdata import biopeaks_belt, medical

OUT = Path(__file__).with_name("breaths_neurokit2.json")
METHODS = ("khodadad2018", "biosppy")


def main() -> None:
    import neurokit2 as nk

    out = {"neurokit2_version": nk.__version__, "recordings": {}}
    for rec in (medical(), biopeaks_belt()):
        x, sf = rec.channels["RESP"], rec.sfreq
        per = {}
        for method in METHODS:
            clean = nk.rsp_clean(x, sampling_rate=int(sf), method=method)
            _, info = nk.rsp_peaks(clean, sampling_rate=int(sf), method=method)
            per[method] = [round(float(t), 3) for t in np.asarray(info["RSP_Peaks"]) / sf]
            print(rec.name, method, len(per[method]), "breaths")
        out["recordings"][rec.name] = per
    OUT.write_text(json.dumps(out, indent=0) + "\n")


if __name__ == "__main__":
    main()
