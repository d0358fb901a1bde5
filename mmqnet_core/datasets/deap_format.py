"""The DEAP layout and its "preprocessed python" file format.

DEAP (Koelstra et al., 2012) records 32 EEG channels and 8 peripheral channels. Its preprocessed release
(``data_preprocessed_python/sNN.dat``) stores one Python pickle per subject: a dict with ``'data'``, an array of
40 trials x 40 channels x 8064 samples (128 Hz, 63 s: a 3 s baseline then the 60 s stimulus), and
``'labels'``, 40 trials x 4 ratings (valence, arousal, dominance, liking; 1-9). EEG values are in microvolts.

This module holds those facts (names, order, rate) and a writer for that format. Reading belongs to
:mod:`mmqnet_core.io`.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..fileio import atomic_path
from ..io.deap import DEAP_CHANNEL_NAMES, DEAP_LABELS, DEAP_SFREQ  # noqa: F401 (DEAP_SFREQ re-exported)
from ..recording import Modality

#: All 40 DEAP channel names in file order, the 32 EEG channels, and the 8 peripheral channels (channels 33-40).
DEAP_CHANNELS: tuple[str, ...] = DEAP_CHANNEL_NAMES
DEAP_EEG_CHANNELS: tuple[str, ...] = DEAP_CHANNEL_NAMES[:32]
DEAP_PERIPHERAL_CHANNELS: tuple[str, ...] = DEAP_CHANNEL_NAMES[32:]

#: Modality of each DEAP channel (zEMG: zygomaticus major, tEMG: trapezius, Plet: plethysmograph).
DEAP_MODALITIES: dict[str, Modality] = {
    **{name: Modality.EEG for name in DEAP_EEG_CHANNELS},
    "hEOG": Modality.EOG,
    "vEOG": Modality.EOG,
    "zEMG": Modality.EMG,
    "tEMG": Modality.EMG,
    "GSR": Modality.GSR,
    "Resp": Modality.RESP,
    "Plet": Modality.PPG,
    "Temp": Modality.TEMP,
}

DEAP_BASELINE_S = 3.0  # s, pre-trial baseline at the start of every trial
DEAP_TRIAL_S = 60.0  # s, stimulus (music video) duration
DEAP_N_TIMES = 8064  # samples per trial: 63 s x 128 Hz


def write_deap_pickle(data: np.ndarray, labels: np.ndarray, path: str | os.PathLike, *,
                      synthetic: bool = False) -> Path:
    """Write arrays in DEAP's preprocessed-python pickle format.

    Parameters
    ----------
    data : np.ndarray
        (n_trials, 40, n_times) values in DEAP units (EEG/EOG/EMG in µV); DEAP itself has (40, 40, 8064).
    labels : np.ndarray
        (n_trials, 4) ratings 1-9: valence, arousal, dominance, liking.
    path : str or os.PathLike
        Output file, conventionally ``sNN.dat``. Written atomically (temporary file, then rename).
    synthetic : bool
        Also store ``'synthetic': True`` (a key DEAP's own files lack; :func:`mmqnet_core.io.load_deap` honours
        it), so that the data are labelled synthetic wherever they are opened, whatever the file's name.

    Returns
    -------
    Path
        The file written.
    """
    data = np.asarray(data, dtype=np.float64)  # DEAP stores float64
    labels = np.asarray(labels, dtype=np.float64)
    if data.ndim != 3 or data.shape[1] != len(DEAP_CHANNELS):
        raise ConfigError(
            f"DEAP data must have shape (n_trials, {len(DEAP_CHANNELS)}, n_times), got {data.shape}."
        )
    if labels.shape != (data.shape[0], len(DEAP_LABELS)):
        raise ConfigError(
            f"DEAP labels must have shape ({data.shape[0]}, {len(DEAP_LABELS)}) to match {data.shape[0]} "
            f"trials, got {labels.shape}."
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        # Protocol 4: readable with encoding="latin1" exactly like the original Python 2 DEAP files.
        content = {"data": data, "labels": labels, **({"synthetic": True} if synthetic else {})}
        pickle.dump(content, f, protocol=4)
    return path
