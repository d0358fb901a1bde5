"""Small recordings written with the real EDF/BDF writer (edfio), and ways to damage them."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import edfio
import numpy as np

PYEDFLIB_DATA = Path(__import__("pyedflib").__file__).parent / "tests" / "data"


def write_edf(
    path: Path,
    channels: Sequence[tuple[str, float, str]] = (("Fp1", 256.0, "uV"), ("Cz", 256.0, "uV"), ("GSR", 256.0, "uS")),
    *,
    duration_s: float = 10.0,
    annotations: Sequence[tuple[float, float, str]] = (),
    kind: str = "edf",
    seed: int = 0,
    data: dict[str, np.ndarray] | None = None,
    patient_name: str = "SYNTHETIC",
) -> Path:
    """Write a small EDF/BDF (``kind``) with sine + noise signals; ``data`` overrides a channel's values."""
    rng = np.random.default_rng(seed)
    signals = []
    Signal = edfio.BdfSignal if kind == "bdf" else edfio.EdfSignal
    for k, (name, sfreq, unit) in enumerate(channels):
        n = int(round(duration_s * sfreq))
        t = np.arange(n) / sfreq
        if data is not None and name in data:
            x = np.asarray(data[name], dtype=float)
            prange = (float(x.min()) - 1.0, float(x.max()) + 1.0)
            drange = (-8388608, 8388607) if kind == "bdf" else (-32768, 32767)
            if name.lower() in ("status", "trigger"):  # integer codes stored exactly
                prange, drange = (-8388608.0, 8388607.0), (-8388608, 8388607)
                if kind == "edf":
                    prange, drange = (-32768.0, 32767.0), (-32768, 32767)
            signals.append(Signal(x, sfreq, label=name, physical_dimension=unit, physical_range=prange,
                                  digital_range=drange))
            continue
        x = 20.0 * np.sin(2 * np.pi * (5 + k) * t) + rng.normal(0, 2, n)
        signals.append(Signal(x, sfreq, label=name, physical_dimension=unit, physical_range=(-200.0, 200.0)))
    Edf = edfio.Bdf if kind == "bdf" else edfio.Edf
    edf = Edf(
        signals,
        patient=edfio.Patient(name=patient_name),
        annotations=[edfio.EdfAnnotation(o, d, s) for o, d, s in annotations] or None,
    )
    edf.write(path)
    return path


def ns_of(path: Path) -> int:
    """Number of signals in the header of ``path``."""
    return int(path.read_bytes()[252:256].decode().strip())


def patch_signal_field(path: Path, field_offset: int, width: int, index: int, value: str) -> None:
    """Overwrite one per-signal header field of ``path`` (offset in bytes per signal from the 256 main header)."""
    ns = ns_of(path)
    raw = bytearray(path.read_bytes())
    start = 256 + field_offset * ns + index * width
    raw[start : start + width] = value.ljust(width).encode("latin-1")
    path.write_bytes(bytes(raw))


def patch_main_field(path: Path, start: int, width: int, value: str) -> None:
    """Overwrite a field of the 256-byte main header."""
    raw = bytearray(path.read_bytes())
    raw[start : start + width] = value.ljust(width).encode("latin-1")
    path.write_bytes(bytes(raw))


# byte offsets (per signal, times ns) of per-signal fields: label 0, transducer 16, unit 96, pmin 104, pmax 112,
# dmin 120, dmax 128, prefilter 136, n_samples 216
PMIN, PMAX, DMIN, DMAX, NSAMP = 104, 112, 120, 128, 216
