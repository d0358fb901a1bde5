"""Write ``ppg_neurokit2.json``: reference pulse peaks of heartpy's real ``data3.csv`` PPG, found by neurokit2.

    pip install --no-deps --target /tmp/nk2 neurokit2      # a private folder, never the project's environment
    PYTHONPATH=/tmp/nk2 python -m tests.core.real.make_ppg_reference

neurokit2's ``ppg_clean`` + ``ppg_findpeaks(method="elgendi")`` (Elgendi et al. 2013: 0.5-8 Hz band-pass, two
moving averages of the squared signal), independent of this project's detector and of heartpy's (moving-average
threshold on the raw signal). Peak times (s) are stored rounded to 1 ms; the tests need neither package.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .realdata import heartpy_data3

OUT = Path(__file__).with_name("ppg_neurokit2.json")


def main() -> None:
    import neurokit2 as nk

    rec = heartpy_data3()
    x, sf = rec.channels["PPG"], rec.sfreq
    info = nk.ppg_findpeaks(nk.ppg_clean(x, sampling_rate=sf), sampling_rate=sf, method="elgendi")
    peaks = [round(float(t), 3) for t in np.asarray(info["PPG_Peaks"]) / sf]
    print(rec.name, sf, "Hz:", len(peaks), "peaks")
    OUT.write_text(json.dumps({"neurokit2_version": nk.__version__, "method": "elgendi", "sfreq": sf,
                               "recordings": {rec.name: peaks}}, indent=0) + "\n")


if __name__ == "__main__":
    main()
