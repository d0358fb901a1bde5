"""Display montages: the EEG rows a reader looks at, as linear combinations of the recorded channels.

A montage never changes the data the model reads: it only says which rows the signal browser draws. Each row is
a :class:`Derivation` ``anode - mean(reference)``:

* as recorded (referential): every channel as it is in the file;
* average reference: each EEG channel minus the mean of all EEG channels;
* linked ears: each EEG channel minus the mean of A1/A2 (or M1/M2), where both exist;
* bipolar longitudinal ("double banana") and bipolar transverse chains of the 10-20 system, keeping the pairs
  whose two electrodes exist (old and new names: T3/T7, T4/T8, T5/P7, T6/P8);
* Laplacian (Hjorth's source derivation): each EEG electrode minus the mean of its nearest neighbours on the
  10-20/10-10 layout that the recording has (:func:`laplacian_neighbours`);
* custom: derivations typed as ``A - B`` (or ``A`` alone), saved as JSON.

Channels that are not EEG (EOG, ECG, GSR...) are always appended below the EEG rows as recorded.

Example
-------
>>> m = bipolar_longitudinal()
>>> rows = m.derive([("Fp1", "EEG"), ("F7", "EEG"), ("ECG", "ECG")])
>>> [r.label for r in rows]
['Fp1-F7', 'ECG']
"""

from __future__ import annotations

import functools
import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .errors import ConfigError
from .fileio import atomic_write_text
from .recording import Modality

#: Kinds of montage: those built from the recording's channels, and "custom" (explicit derivations).
KINDS = ("recorded", "average", "linked_ears", "bipolar_longitudinal", "bipolar_transverse", "laplacian", "custom")
#: Kinds whose reference is a mean over the channels there (all EEG, a Laplacian's neighbours): a channel masked
#: whole (missing data) is left out of that mean by the browser, as missing samples are by :class:`DerivationPlan`.
MEAN_REFERENCE_KINDS = ("average", "laplacian")

#: 10-20 names that changed between the old and the new nomenclature (old -> new).
_ALIASES = {"t3": "t7", "t4": "t8", "t5": "p7", "t6": "p8"}

#: Double banana: left temporal, right temporal, left parasagittal, right parasagittal, midline chains.
LONGITUDINAL_PAIRS: tuple[tuple[str, str], ...] = (
    ("Fp1", "F7"), ("F7", "T7"), ("T7", "P7"), ("P7", "O1"),
    ("Fp2", "F8"), ("F8", "T8"), ("T8", "P8"), ("P8", "O2"),
    ("Fp1", "F3"), ("F3", "C3"), ("C3", "P3"), ("P3", "O1"),
    ("Fp2", "F4"), ("F4", "C4"), ("C4", "P4"), ("P4", "O2"),
    ("Fz", "Cz"), ("Cz", "Pz"),
)
#: Transverse chains, front to back, left to right.
TRANSVERSE_PAIRS: tuple[tuple[str, str], ...] = (
    ("Fp1", "Fp2"),
    ("F7", "F3"), ("F3", "Fz"), ("Fz", "F4"), ("F4", "F8"),
    ("T7", "C3"), ("C3", "Cz"), ("Cz", "C4"), ("C4", "T8"),
    ("P7", "P3"), ("P3", "Pz"), ("Pz", "P4"), ("P4", "P8"),
    ("O1", "O2"),
)
#: Ear (or mastoid) pairs used by the linked-ears reference, in order of preference.
EAR_PAIRS: tuple[tuple[str, str], ...] = (("A1", "A2"), ("M1", "M2"), ("TP9", "TP10"))

#: Laplacian (Hjorth): each electrode minus the mean of at most this many nearest neighbours...
LAPLACIAN_NEIGHBOURS = 4
#: ...among the recording's electrodes within this distance (m) on mne's standard 10-05 head: 10-20 neighbours
#: along a row or a column lie 5.6-7.6 cm apart there, diagonal ones 8.3 cm or more (Fp1-Fz, Pz-O1), so on a
#: 10-20 recording an electrode takes its 2-4 orthogonal neighbours, on a 10-10 one its nearest 4.
LAPLACIAN_MAX_DISTANCE_M = 0.08
#: An electrode with fewer neighbours present than this is not derivable (not drawn, named as such).
LAPLACIAN_MIN_NEIGHBOURS = 2


def electrode_key(name: str) -> str:
    """A channel name reduced to its 10-20 electrode for matching: "EEG FP1-REF" -> "fp1", "T3" -> "t7"."""
    key = name.strip().lower()
    key = re.sub(r"^(eeg)[\s_:-]+", "", key)
    key = re.sub(r"[\s_:-]+(ref|le|ar|avg|cz)$", "", key)
    return _ALIASES.get(key, key)


@dataclass(frozen=True)
class Derivation:
    """One row of a montage: ``anode - mean(reference)`` (``reference`` empty: the anode as recorded)."""

    anode: str  # channel name as in the recording
    reference: tuple[str, ...] = ()  # channel names averaged and subtracted
    label: str = ""  # name drawn for the row; "" = built from the channels ("Fp1-F7")
    present_mean: bool = False  # the reference is the mean of its channels present at each sample, however few
    #                             (a Laplacian's neighbours); False: missing where one is (but see AVERAGE_MIN_CHANNELS)

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        if not self.reference:
            return self.anode
        if len(self.reference) == 1:
            return f"{self.anode}-{self.reference[0]}"
        return f"{self.anode}-avg({len(self.reference)})"

    @property
    def channels(self) -> tuple[str, ...]:
        return (self.anode,) + tuple(r for r in self.reference if r != self.anode)

    def to_text(self) -> str:
        """``"A - B"`` (or ``"A"``) as typed in the montage editor; only for 0 or 1 reference channel."""
        if len(self.reference) > 1:
            raise ConfigError(f"Derivation {self.name!r} has {len(self.reference)} reference channels; only "
                              "'A - B' derivations can be written as text.")
        return self.anode if not self.reference else f"{self.anode} - {self.reference[0]}"


def parse_derivation(text: str) -> Derivation:
    """A derivation typed as ``"A - B"`` or ``"A"`` (spaces around the minus are required if names hold '-').

    Raises
    ------
    ConfigError
        When the text is empty or has more than one minus between names.
    """
    raw = text.strip()
    if not raw:
        raise ConfigError("Empty derivation: write it as 'A - B' (e.g. 'Fp1 - F7') or a single channel name.")
    parts = [p.strip() for p in re.split(r"\s+-\s+", raw)]
    if len(parts) == 1 and raw.count("-") == 1 and " " not in raw:
        parts = [p.strip() for p in raw.split("-")]
    if len(parts) > 2 or any(not p for p in parts):
        raise ConfigError(f"Invalid derivation {text!r}: write it as 'A - B' (e.g. 'Fp1 - F7') or a single channel "
                          "name.")
    return Derivation(parts[0], tuple(parts[1:]))


@dataclass(frozen=True)
class Montage:
    """A named way to draw the EEG channels (see the module docstring for the kinds)."""

    name: str  # shown in the status bar and the menu
    kind: str = "recorded"  # one of KINDS
    derivations: tuple[Derivation, ...] = ()  # the rows of a "custom" montage
    eeg: tuple[Modality, ...] = field(default=(Modality.EEG,), repr=False)  # modalities the montage applies to

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"Invalid montage kind {self.kind!r}: allowed {', '.join(KINDS)}.")
        if self.kind == "custom" and not self.derivations:
            raise ConfigError(f"Custom montage {self.name!r} has no derivations: add lines such as 'Fp1 - F7'.")
        if not self.name.strip():
            raise ConfigError("A montage needs a name.")

    def derive(self, channels: Sequence[tuple[str, Modality | str]]) -> list[Derivation]:
        """The rows to draw for a recording with ``channels`` ((name, modality), top to bottom).

        EEG rows come first (the montage's), then every other channel as recorded. Derivations naming a channel
        that is not in ``channels`` are left out.
        """
        mods = [(n, Modality.parse(m)) for n, m in channels]
        eeg = [n for n, m in mods if m in self.eeg]
        others = [Derivation(n) for n, m in mods if m not in self.eeg]
        by_key = {electrode_key(n): n for n in eeg}
        present = {n for n, _ in mods}
        if self.kind == "recorded":
            return [Derivation(n) for n, _ in mods]
        if self.kind == "average":
            if len(eeg) < 2:
                return [Derivation(n) for n, _ in mods]
            return [Derivation(n, tuple(eeg), label=f"{n}-avg") for n in eeg] + others
        if self.kind == "linked_ears":
            ears = next(((by_key[a.lower()], by_key[b.lower()]) for a, b in EAR_PAIRS
                         if a.lower() in by_key and b.lower() in by_key), None)
            if ears is None:
                return [Derivation(n) for n, _ in mods]
            return [Derivation(n, ears, label=f"{n}-{ears[0]}{ears[1]}") for n in eeg if n not in ears] + others
        if self.kind == "laplacian":
            hood = laplacian_neighbours(eeg)
            rows = [Derivation(n, hood[n], label=f"{n}-lap", present_mean=True) for n in eeg
                    if len(hood[n]) >= LAPLACIAN_MIN_NEIGHBOURS]
            return rows + others if rows else [Derivation(n) for n, _ in mods]
        if self.kind in ("bipolar_longitudinal", "bipolar_transverse"):
            pairs = LONGITUDINAL_PAIRS if self.kind == "bipolar_longitudinal" else TRANSVERSE_PAIRS
            rows = []
            for a, b in pairs:
                ka, kb = electrode_key(a), electrode_key(b)
                if ka in by_key and kb in by_key:
                    rows.append(Derivation(by_key[ka], (by_key[kb],)))
            return rows + others
        # custom: the derivations whose channels exist, then the channels not of the montage's modalities
        rows = [d for d in self.derivations if all(c in present for c in d.channels)]
        return rows + others

    def not_derivable(self, channels: Sequence[tuple[str, Modality | str]]) -> tuple[str, ...]:
        """The EEG channels this montage cannot derive and leaves out, though it draws others (a Laplacian's
        electrodes with fewer than :data:`LAPLACIAN_MIN_NEIGHBOURS` neighbours in the recording, or without a
        10-05 position); () for the other kinds and when the montage is not possible at all."""
        if self.kind != "laplacian":
            return ()
        eeg = [n for n, m in channels if Modality.parse(m) in self.eeg]
        hood = laplacian_neighbours(eeg)
        if not any(len(v) >= LAPLACIAN_MIN_NEIGHBOURS for v in hood.values()):
            return ()
        return tuple(n for n in eeg if len(hood[n]) < LAPLACIAN_MIN_NEIGHBOURS)

    def available(self, channels: Sequence[tuple[str, Modality | str]]) -> bool:
        """Whether the montage draws anything other than the channels as recorded for these channels."""
        if self.kind == "recorded":
            return True
        return self.derive(channels) != [Derivation(n) for n, _ in channels]

    # --- JSON ------------------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        out: dict = {"name": self.name, "kind": self.kind}
        if self.kind == "custom":
            out["derivations"] = [d.to_text() for d in self.derivations]
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "Montage":
        if not isinstance(d, dict) or "name" not in d:
            raise ConfigError(f"Invalid montage {d!r}: expected an object with 'name' and 'derivations'.")
        kind = str(d.get("kind", "custom"))
        derivations = d.get("derivations", [])
        if not isinstance(derivations, list):
            raise ConfigError(f"Invalid montage {d['name']!r}: 'derivations' must be a list of 'A - B' strings.")
        return cls(str(d["name"]), kind, tuple(parse_derivation(str(t)) for t in derivations))


def montage_from_text(name: str, text: str) -> Montage:
    """A custom montage from one derivation per line (``A - B``); blank lines and ``#`` comments are skipped."""
    lines = [ln.split("#", 1)[0].strip() for ln in text.splitlines()]
    return Montage(name, "custom", tuple(parse_derivation(ln) for ln in lines if ln))


def save_montages(path: str | Path, montages: Iterable[Montage]) -> Path:
    """Write custom montages as JSON (atomically): ``{"montages": [{"name", "kind", "derivations"}, ...]}``."""
    data = {"montages": [m.to_dict() for m in montages]}
    return atomic_write_text(path, json.dumps(data, indent=2))


def load_montages(path: str | Path) -> list[Montage]:
    """Read montages written by :func:`save_montages` (a missing file gives none).

    Raises
    ------
    ConfigError
        When the file is not valid JSON or a montage in it is invalid (the message names the file).
    """
    path = Path(path)
    if not path.exists():
        return []
    if path.stat().st_size > 10_000_000:
        raise ConfigError(f"Montage file {path} is larger than 10 MB: not a montage file; remove or rename it.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        items = data["montages"] if isinstance(data, dict) else data
        return [Montage.from_dict(d) for d in items]
    except (json.JSONDecodeError, KeyError, TypeError, ConfigError) as exc:
        raise ConfigError(f"Cannot read montages from {path}: {exc}. Fix or remove the file.") from None


@functools.lru_cache(maxsize=1)
def electrode_positions() -> dict[str, np.ndarray]:
    """Head positions (m, x y z) of the 10-05 electrodes, keyed by :func:`electrode_key` ("fp1", "t7"...).

    From mne's standard 10-05 montage (``colin27_1005``; ``standard_1005``, the same positions, is deprecated in
    mne 1.13 and the only name before it): mne is imported here, the first time a Laplacian is asked for, not
    when this module is.
    """
    import mne  # noqa: PLC0415 - a second or so; only a Laplacian needs it

    name = "colin27_1005" if "colin27_1005" in mne.channels.get_builtin_montages() else "standard_1005"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # "standard_1005 is deprecated" in mne 1.13
        positions = mne.channels.make_standard_montage(name).get_positions()["ch_pos"]
    out: dict[str, np.ndarray] = {}
    for label, xyz in positions.items():
        out.setdefault(electrode_key(label), np.asarray(xyz, dtype=float))  # T3 and T7: one place
    return out


def laplacian_neighbours(names: Sequence[str], n_neighbours: int = LAPLACIAN_NEIGHBOURS,
                         max_distance_m: float = LAPLACIAN_MAX_DISTANCE_M) -> dict[str, tuple[str, ...]]:
    """For each EEG channel in ``names``, its nearest neighbours among ``names`` for Hjorth's source derivation.

    The neighbours are the ``n_neighbours`` nearest electrodes of ``names`` within ``max_distance_m`` (m) on the
    standard 10-05 head (:func:`electrode_positions`; old names T3/T4/T5/T6 as T7/T8/P7/P8), nearest first, ties
    by name. A channel without a 10-05 position (a non-standard name) and the ear/mastoid electrodes of
    :data:`EAR_PAIRS` (references, not scalp sites) have no neighbours and are nobody's neighbour. An electrode
    with fewer than :data:`LAPLACIAN_MIN_NEIGHBOURS` neighbours is not derivable (the montage leaves it out).

    Why by hand: mne offers the surface Laplacian only as the spherical-spline current source density
    (``mne.preprocessing.compute_current_source_density``), which needs the whole recording preloaded (on a
    lazily read Raw, mne 1.13 raises "Computing CSD requires raw data to be loaded"; the browser reads a page at
    a time), refuses bad channels instead of leaving them out ("CSD cannot be computed with bad EEG channels"),
    and mixes every electrode into every row. Hjorth's derivation, what clinicians read as "the
    Laplacian montage", is a fixed average of 2-4 neighbours: a :class:`Derivation` like any other, computed
    page by page with the missing samples of a neighbour left out of its mean (``present_mean``).
    """
    return dict(_neighbours(tuple(names), int(n_neighbours), float(max_distance_m)))


@functools.lru_cache(maxsize=16)
def _neighbours(names: tuple[str, ...], n_neighbours: int, max_distance_m: float
                ) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """:func:`laplacian_neighbours` as (name, neighbours) pairs, kept for the last channel lists (the status line
    asks at every display change)."""
    ears = {electrode_key(e) for pair in EAR_PAIRS for e in pair}
    table = electrode_positions()
    placed = [(n, table[electrode_key(n)]) for n in names
              if electrode_key(n) in table and electrode_key(n) not in ears]
    out: dict[str, tuple[str, ...]] = {n: () for n in names}
    if len(placed) >= 2:
        xyz = np.array([p for _, p in placed])
        dist = np.linalg.norm(xyz[:, None, :] - xyz[None, :, :], axis=-1)  # (n, n) m
        for i, (name, _) in enumerate(placed):
            near = sorted((round(float(dist[i, j]), 6), placed[j][0]) for j in range(len(placed))
                          if j != i and dist[i, j] <= max_distance_m)
            out[name] = tuple(n for _, n in near[:n_neighbours])
    return tuple(out.items())


def derivation_matrix(rows: Sequence[Derivation], ch_names: Sequence[str]) -> tuple[list[int], np.ndarray]:
    """Channel indices to read and the (n_rows, n_picks) matrix that turns them into the rows.

    ``data_rows = matrix @ data[picks]``. Each row has +1 on its anode and -1/len(reference) on each reference
    channel (a reference channel that is also the anode is counted as such).
    """
    index = {n: i for i, n in enumerate(ch_names)}
    needed: list[int] = []
    for d in rows:
        for c in d.channels:
            if c not in index:
                raise ConfigError(f"Derivation {d.name!r} needs channel {c!r}, which the recording lacks.")
            if index[c] not in needed:
                needed.append(index[c])
    picks = sorted(needed)
    col = {ch: k for k, ch in enumerate(picks)}
    matrix = np.zeros((len(rows), len(picks)))
    for r, d in enumerate(rows):
        matrix[r, col[index[d.anode]]] += 1.0
        for c in d.reference:
            matrix[r, col[index[c]]] -= 1.0 / len(d.reference)
    return picks, matrix


#: A reference of this many channels or more is an average: its mean is over the channels present at each sample.
AVERAGE_MIN_CHANNELS = 3


@dataclass(frozen=True)
class DerivationPlan:
    """How to compute montage rows from a read of some channels, without a matrix product (see :func:`plan`)."""

    picks: tuple[int, ...]  # recording channel indices to read, in this order
    anodes: tuple[int, ...]  # (R,) for each row, the position of its anode in ``picks``
    references: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]  # (positions in picks, rows using them)
    present_means: frozenset[int] = frozenset()  # indices of ``references`` averaged over the channels present
    #                                             at each sample however few they are (a Laplacian's neighbours)

    def apply(self, data: np.ndarray) -> np.ndarray:
        """The rows (R, n_times) from ``data`` (len(picks), n_times): anode minus the mean of its reference.

        A missing sample (NaN) of a channel makes only the rows that use that channel missing there. An average
        reference (:data:`AVERAGE_MIN_CHANNELS` or more channels) is the mean of the channels present at each
        sample, as the cleaning's average reference is: a channel masked over a segment leaves its own row missing
        there, not every row (each "-avg" row was blank over the segment); a one- or two-channel reference (an
        electrode, linked ears) is missing where one of its channels is, unless its rows say ``present_mean``
        (a Laplacian's 2-4 neighbours: the mean of the neighbours present there).

        Each row is written once, ``anode - reference`` straight into the output (a bipolar row's reference is a
        row of ``data``; a mean reference is computed once per distinct reference, over a view of ``data`` where
        its channels are read in a contiguous run): the same values as copying the anodes and subtracting the
        references reference by reference (tested), with a third of the memory traffic (a double-banana block of
        three filtered pages: one subtraction per row instead of a gather, then a gather, subtraction and scatter
        per reference).
        """
        out = np.empty((len(self.anodes), data.shape[1]), dtype=data.dtype)
        ref_of_row: dict[int, np.ndarray] = {}
        for i, (cols, rows) in enumerate(self.references):
            if len(cols) == 1:
                ref = data[cols[0]]
            else:
                k0 = cols[0]
                contiguous = cols == tuple(range(k0, k0 + len(cols)))
                # A view where it can (no copy); the same mean as over a gathered copy (same values, same order).
                block = data[k0:k0 + len(cols)] if contiguous else data[list(cols)]
                ref = block.mean(axis=0)
                if len(cols) >= AVERAGE_MIN_CHANNELS or i in self.present_means:
                    gaps = np.isnan(ref)  # one row's check; the page usually has none
                    if gaps.any():
                        with warnings.catch_warnings():  # every channel missing there: the reference is too
                            warnings.simplefilter("ignore", RuntimeWarning)
                            ref[gaps] = np.nanmean(block[:, gaps], axis=0)
            for r in rows:
                ref_of_row[r] = ref
        for r, a in enumerate(self.anodes):
            ref = ref_of_row.get(r)
            if ref is None:
                out[r] = data[a]
            else:
                np.subtract(data[a], ref, out=out[r])
        return out


def plan(rows: Sequence[Derivation], ch_names: Sequence[str]) -> DerivationPlan:
    """A :class:`DerivationPlan` for ``rows`` of a recording with channels ``ch_names``.

    Equivalent to ``matrix @ data[picks]`` of :func:`derivation_matrix` but with gathers and one subtraction per
    distinct reference: a page of a bipolar montage costs a copy, not a matrix product (whose BLAS threads fight
    the GUI for the CPU).
    """
    picks, _ = derivation_matrix(rows, ch_names)
    index = {n: i for i, n in enumerate(ch_names)}
    col = {ch: k for k, ch in enumerate(picks)}
    anodes = tuple(col[index[d.anode]] for d in rows)
    groups: dict[tuple[tuple[int, ...], bool], list[int]] = {}
    for r, d in enumerate(rows):
        if d.reference:
            groups.setdefault((tuple(col[index[c]] for c in d.reference), d.present_mean), []).append(r)
    return DerivationPlan(tuple(picks), anodes, tuple((cols, tuple(rs)) for (cols, _), rs in groups.items()),
                          frozenset(i for i, (_, present) in enumerate(groups) if present))


AS_RECORDED = Montage("As recorded", "recorded")
AVERAGE = Montage("Average reference", "average")
LINKED_EARS = Montage("Linked ears", "linked_ears")
LAPLACIAN = Montage("Laplacian (Hjorth)", "laplacian")


def bipolar_longitudinal() -> Montage:
    return Montage("Bipolar longitudinal (double banana)", "bipolar_longitudinal")


def bipolar_transverse() -> Montage:
    return Montage("Bipolar transverse", "bipolar_transverse")


#: The built-in montages, in menu order (hotkeys Ctrl+1..Ctrl+6 in the browser).
BUILTIN: tuple[Montage, ...] = (AS_RECORDED, AVERAGE, LINKED_EARS, bipolar_longitudinal(), bipolar_transverse(),
                                LAPLACIAN)
