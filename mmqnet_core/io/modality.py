"""Guess the modality of a channel from its label.

Files rarely say what a channel carries: EDF has a free-text label and an optional "EEG "/"EMG " prefix,
BioSemi files use "EXG1", DEAP uses "hEOG" and "Plet". :func:`infer_modality` turns such labels into a
:class:`~mmqnet_core.recording.Modality`; the user can always override the guess
(``load_recording(path, modalities={"EXG4": "EOG"})``).

Rules, first match wins:

1. an explicit type prefix: ``"EEG Fpz-Cz"``, ``"EOG left"``, ``"EMG chin"``, ``"ECG II"``, ``"EKG"``...; an
   "EEG " prefix that some exports put before every channel yields to what follows it when that names another
   kind of signal (``"EEG EKG1-REF"`` -> ECG, ``"EEG LOC-REF"`` -> EOG, ``"EEG PHOTIC-REF"`` -> MISC: the
   layout of the TUH EEG corpus and of Natus/XLTEK exports);
2. exact names known from DEAP, MAHNOB-HCI and common vendors (``hEOG``, ``GSR1``, ``EXG1``, ``Status``...);
3. a 10-20 / 10-10 / 10-05 electrode name, alone or as a bipolar pair (``"Fp1"``, ``"FCz"``, ``"Fp1-F7"``,
   ``"C3-A2"``, ``"O2:M1"``) -> EEG; the AASM eye leads against a reference (``"E1-M2"``, ``"ROC-A1"``) -> EOG;
4. keywords anywhere in the label (``"skin conductance"``, ``"thorax belt"``, ``"pleth"``...);
5. the mne channel type, if the caller has one that is not just a reader's default;
6. otherwise MISC: an unknown channel is never silently treated as EEG.

The electrode names are matched with a regular expression rather than mne's montage files: the grammar of the
10-05 system is short and fixed, it needs no file I/O, and mne is renaming its montages (1.13 deprecates
``standard_1005``), which would make a name list taken from them a moving target.
"""

from __future__ import annotations

import re

from ..recording import Modality

__all__ = ["infer_modality", "is_eeg_electrode", "MNE_CH_TYPE"]

#: mne channel type used for each modality when a recording is built (``raw.set_channel_types``).
MNE_CH_TYPE: dict[Modality, str] = {
    Modality.EEG: "eeg",
    Modality.EOG: "eog",
    Modality.EMG: "emg",
    Modality.ECG: "ecg",
    Modality.GSR: "gsr",
    Modality.RESP: "resp",
    Modality.TEMP: "temperature",
    Modality.PPG: "bio",  # mne has no PPG type; "bio" is its generic biological channel
    Modality.STIM: "stim",
    Modality.MISC: "misc",
}

# mne channel types that say something about the content (a reader's default "eeg" is not used: see rule 5).
_FROM_MNE_TYPE: dict[str, Modality] = {
    "eeg": Modality.EEG,
    "eog": Modality.EOG,
    "emg": Modality.EMG,
    "ecg": Modality.ECG,
    "gsr": Modality.GSR,
    "resp": Modality.RESP,
    "temperature": Modality.TEMP,
    "stim": Modality.STIM,
    "misc": Modality.MISC,
}

# Rule 1: explicit prefixes ("EEG Fp1", "EMG_chin", "ECG-II").
_PREFIX = re.compile(r"^(EEG|EOG|EMG|ECG|EKG|EDA|GSR|BVP|PPG|RESP|TEMP)(?:[\s_\-:.]+|$)", re.IGNORECASE)
_PREFIX_MODALITY = {
    "EEG": Modality.EEG, "EOG": Modality.EOG, "EMG": Modality.EMG, "ECG": Modality.ECG, "EKG": Modality.ECG,
    "EDA": Modality.GSR, "GSR": Modality.GSR, "BVP": Modality.PPG, "PPG": Modality.PPG, "RESP": Modality.RESP,
    "TEMP": Modality.TEMP,
}

# Rule 2: exact labels (compared case-insensitively, spaces/underscores/dashes removed).
_EXACT: dict[str, Modality] = {
    # DEAP (preprocessed release and raw BDF)
    "heog": Modality.EOG, "veog": Modality.EOG, "zemg": Modality.EMG, "temg": Modality.EMG,
    "gsr": Modality.GSR, "respirationbelt": Modality.RESP, "resp": Modality.RESP,
    "respiration": Modality.RESP, "plethysmograph": Modality.PPG, "plet": Modality.PPG,
    "temperature": Modality.TEMP, "temp": Modality.TEMP,
    # MAHNOB-HCI (BioSemi): EXG1-3 are ECG leads, EXG4-8 unused or undocumented, Erg1/2 = ergometer
    "exg1": Modality.ECG, "exg2": Modality.ECG, "exg3": Modality.ECG,
    "exg4": Modality.MISC, "exg5": Modality.MISC, "exg6": Modality.MISC, "exg7": Modality.MISC,
    "exg8": Modality.MISC, "gsr1": Modality.GSR, "gsr2": Modality.GSR, "erg1": Modality.MISC,
    "erg2": Modality.MISC, "status": Modality.STIM,
    # vendors
    "ekg": Modality.ECG, "ecg": Modality.ECG, "eda": Modality.GSR, "scl": Modality.GSR, "scr": Modality.GSR,
    "bvp": Modality.PPG, "ppg": Modality.PPG, "pleth": Modality.PPG, "pulseoximeter": Modality.PPG,
    "spo2": Modality.MISC, "sao2": Modality.MISC, "hr": Modality.MISC, "heartrate": Modality.MISC,
    "trigger": Modality.STIM, "trig": Modality.STIM, "sti014": Modality.STIM, "stim": Modality.STIM,
    "marker": Modality.STIM, "markers": Modality.STIM, "event": Modality.STIM, "events": Modality.STIM,
    "loc": Modality.EOG, "roc": Modality.EOG, "heogl": Modality.EOG, "heogr": Modality.EOG,
    "eog": Modality.EOG, "emg": Modality.EMG, "eeg": Modality.EEG,
    "thor": Modality.RESP, "thorax": Modality.RESP, "abdo": Modality.RESP, "abdomen": Modality.RESP,
    "airflow": Modality.RESP, "flow": Modality.RESP, "skintemp": Modality.TEMP,
    # polysomnography (AASM montage names): chin and leg EMG, belts and airflow, photic stimulator
    "abd": Modality.RESP, "chest": Modality.RESP, "chin": Modality.EMG, "chin1chin2": Modality.EMG,
    "chin1": Modality.EMG, "chin2": Modality.EMG, "chin3": Modality.EMG, "lleg": Modality.EMG,
    "rleg": Modality.EMG, "legl": Modality.EMG, "legr": Modality.EMG, "leg1": Modality.EMG, "leg2": Modality.EMG,
    "lat": Modality.EMG, "rat": Modality.EMG, "photic": Modality.MISC, "ibi": Modality.MISC,
    "bursts": Modality.MISC, "suppr": Modality.MISC, "leg/l": Modality.EMG, "leg/r": Modality.EMG,
}

# Rule 3 (eyes): AASM / clinical EOG leads against a reference ("E1-M2", "E2:M1", "LOC-A2", "ROC-A1").
_EYE_LEAD = re.compile(r"^(?:E[12]|LOC|ROC)\s*[-:/]\s*(?:M[12]|A[12]|FPZ|REF)$", re.IGNORECASE)
# Reference suffixes of one-sided labels ("EKG1-REF", "LOC-LE").
_REF_SUFFIX = re.compile(r"[-:/](?:REF|LE|AVG|AR)$", re.IGNORECASE)

# Rule 3: 10-20 / 10-10 / 10-05 electrode names (Fp1, AF3, FCz, FFC1h, TP10, PO9, Oz, Iz, Nz) and the old
# 10-20 names (T3-T6) plus ear/mastoid references (A1, A2, M1, M2). Numbers go to 10 at most.
_ELECTRODE = re.compile(
    r"^(?:(?:FP|AFF|AFP|AF|FFT|FFC|FTT|FT|FCC|FC|F|TTP|TPP|TP|T|CCP|CPP|CP|C|PPO|POO|PO|P|OI|O|I|N)"
    r"(?:(?:10|[1-9])H?|Z)|T[3-6]|A[12]|M[12])$",
    re.IGNORECASE,
)

# Rule 4: keywords anywhere in the label, checked in this order.
_KEYWORDS: tuple[tuple[str, Modality], ...] = (
    ("status", Modality.STIM),
    ("trigger", Modality.STIM),
    ("skinconduct", Modality.GSR),
    ("galvanic", Modality.GSR),
    ("electrodermal", Modality.GSR),
    ("gsr", Modality.GSR),
    ("plethysmo", Modality.PPG),
    ("pleth", Modality.PPG),
    ("bloodvolume", Modality.PPG),
    ("respir", Modality.RESP),
    ("belt", Modality.RESP),
    ("thorac", Modality.RESP),
    ("abdom", Modality.RESP),
    ("submental", Modality.EMG),
    ("tibial", Modality.EMG),
    ("nasal", Modality.RESP),
    ("thermist", Modality.RESP),
    ("temperat", Modality.TEMP),
    ("ecg", Modality.ECG),
    ("ekg", Modality.ECG),
    ("eog", Modality.EOG),
    ("emg", Modality.EMG),
    ("eeg", Modality.EEG),
)


def _squash(text: str) -> str:
    """Lower-case ``text`` and drop spaces, underscores, dashes and dots."""
    return re.sub(r"[\s_\-.]+", "", text).lower()


def _named(squashed: str, *, keywords: bool) -> Modality | None:
    """The modality a squashed label names by an exact name, a numbered exact name ("ekg1", "chin2"), or (with
    ``keywords``) a keyword; ``None`` when it names none."""
    if squashed in _EXACT:
        return _EXACT[squashed]
    unnumbered = squashed.rstrip("0123456789")
    if unnumbered != squashed and unnumbered in _EXACT and unnumbered not in ("exg", "gsr", "erg"):
        return _EXACT[unnumbered]
    if keywords:
        for key, modality in _KEYWORDS:
            if key in squashed:
                return modality
    return None


def is_eeg_electrode(label: str) -> bool:
    """Whether ``label`` is a 10-20/10-10/10-05 electrode name or a bipolar pair of them.

    Parameters
    ----------
    label : str
        Channel label, e.g. ``"Fp1"``, ``"Fp1-F7"`` or ``"C3:A2"``.

    Returns
    -------
    bool
        True if every part of the label (split at ``-``, ``:`` or ``/``) is an electrode name; a trailing
        ``-Ref``/``-REF``/``-AVG``/``-LE`` reference suffix is allowed.
    """
    parts = [p for p in re.split(r"[-:/]", label.strip()) if p]
    if not parts:
        return False
    if len(parts) == 2 and parts[1].lower() in ("ref", "avg", "le", "ar", "cz"):
        parts = parts[:1]
    return all(_ELECTRODE.match(p.strip()) for p in parts)


def infer_modality(ch_name: str, mne_type: str | None = None) -> Modality:
    """Guess the modality of a channel from its label.

    Parameters
    ----------
    ch_name : str
        Channel label as stored in the file (e.g. ``"Fp1"``, ``"EEG Fpz-Cz"``, ``"GSR1"``, ``"EXG2"``).
    mne_type : str or None
        The mne channel type (``"eog"``, ``"stim"``...) when it carries information, used only when the label
        says nothing. Do not pass the ``"eeg"`` that mne's EDF reader gives every channel by default.

    Returns
    -------
    Modality
        The inferred modality; :attr:`Modality.MISC` when nothing matches.

    Examples
    --------
    >>> infer_modality("Fp1"), infer_modality("hEOG"), infer_modality("EXG1")
    (<Modality.EEG: 'EEG'>, <Modality.EOG: 'EOG'>, <Modality.ECG: 'ECG'>)
    """
    label = str(ch_name).strip()
    if not label:
        return Modality.MISC if mne_type is None else _FROM_MNE_TYPE.get(mne_type.lower(), Modality.MISC)
    squashed = _squash(label)
    # Rule 2 before rule 1 so that "EOG" alone or "EEG" alone are matched exactly.
    if squashed in _EXACT:
        return _EXACT[squashed]
    m = _PREFIX.match(label)
    if m:
        prefixed = _PREFIX_MODALITY[m.group(1).upper()]
        rest = _REF_SUFFIX.sub("", label[m.end():].strip())
        if prefixed is Modality.EEG and rest and not is_eeg_electrode(rest):
            named = _named(_squash(rest), keywords=False)
            if named is not None and named is not Modality.EEG:
                return named  # "EEG EKG1-REF": the EEG prefix is on every channel of the file
        return prefixed
    if is_eeg_electrode(label):
        return Modality.EEG
    if _EYE_LEAD.match(label):
        return Modality.EOG
    named = _named(squashed, keywords=True)
    if named is not None:
        return named
    if mne_type is not None:
        return _FROM_MNE_TYPE.get(mne_type.lower(), Modality.MISC)
    return Modality.MISC
