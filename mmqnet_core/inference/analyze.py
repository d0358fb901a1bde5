"""Analysis of a whole recording with MMQ-Net: trajectories, reconstructions, attention maps, interference.

Pipeline (each step Qt-free, with progress and cancel between steps and between model batches)::

    recording (+ masks: missing data) -> preprocess -> features on the model's token layout -> token mask
              (user masks.to_token_mask  OR  features.missing) -> sliding contexts of T windows -> outputs

Outputs per window ``t`` (see :class:`AnalysisResult`):

* probability of high valence / arousal and its *uncertainty*: the binary entropy of that probability in bits
  (0 = certain, 1 = p = 0.5); windows whose context had no visible token are flagged ``no_context`` (prediction
  = prior). The entropy is a function of ``p`` alone. With ``mc_samples`` = N > 0 the model is also run N times
  with its dropout / stochastic-depth layers on (MC dropout, Gal & Ghahramani 2016; see
  :mod:`mmqnet_core.inference.engine`): the probability is then the mean over the samples, the entropy that of
  this mean, and ``probability_std`` the samples' standard deviation -- a spread the entropy cannot show (N
  more passes over the recording, reproducible with ``mc_seed``);
* reconstructions of hidden tokens (modality queries) in the features' own units (inverted with the same
  statistics the input was normalised with); visible tokens are not reconstructed (NaN),
  including the downsampled waveform columns of slow signals (GSR, RESP, TEMP);
* attention maps per query family, aggregated to (T, N): for window t, the share of the family's attention
  (mean over that window's active queries, summed over key windows) that went to token n -- for the modality
  family only the queries of hidden tokens are active, so windows without hidden tokens have an empty column;
* predicted interference score and artifact-type probabilities, beside the interference detected by
  preprocessing/features.

Normalisation follows the checkpoint (``LoadedModel.normalization``): a model trained with ``"global"`` statistics
applies them; one trained per subject / per trial z-scores the recording with its own statistics over its
visible windows (transductive, unsupervised), falling back to the stored training statistics when the recording
has fewer than ``LoadedModel.min_windows`` windows (said in ``steps``). The recording then stands for a subject:
its own mean is removed, so a recording should span several states (a single 60-s trial of one emotion loses
the level that distinguishes it from the subject's other trials).

Contexts are cut at stride T; windows covered by two contexts (only at the end) get the mean of both.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

if TYPE_CHECKING:  # imported when a table is made (pandas: ~0.5 s of start-up)
    import pandas as pd

from ..errors import ConfigError, MaskError, MMQNetError, RecordingError
from ..features.missing import MissingReason, NOT_DETECTED_TEXT, combine, reason_counts
from ..fileio import atomic_write
from ..progress import CancelToken, ProgressCallback, check_cancel, report, scaled
from .model_loading import LoadedModel, start_loading

#: Names of :mod:`.engine` used here. The engine imports torch (seconds of start-up), so it is imported when one
#: of them is first used, i.e. when the model runs: the cleaning and features of ``mmqnet analyze`` overlap with
#: torch loading in a helper thread. They stay attributes of this module (tests replace ``run_contexts`` here).
_ENGINE_NAMES = ("check_mc_samples", "run_contexts")


def _engine(name: str) -> Any:
    """This module's ``name`` (one of :data:`_ENGINE_NAMES`): a replacement set on the module, else the engine's."""
    fn = globals().get(name)
    if fn is None:
        from . import engine

        fn = globals()[name] = getattr(engine, name)
    return fn


def _engine_attr(name: str) -> Any:
    """The engine's module attribute ``name`` (imported when the model runs, like :func:`_engine`)."""
    from . import engine

    return getattr(engine, name)


def check_samples(model: Any, mc_samples: Any) -> int:
    """:func:`~mmqnet_core.inference.engine.check_mc_samples` of ``model.model``, except that 0 / None (one
    deterministic pass: nothing to check) neither imports the engine (torch) nor waits for a model still loading
    (:class:`~mmqnet_core.inference.model_loading.DeferredModel`)."""
    if mc_samples is None or (isinstance(mc_samples, (int, np.integer)) and not isinstance(mc_samples, bool)
                              and mc_samples == 0):
        return 0
    from .model_process import RemoteModel

    if isinstance(model, RemoteModel) and model.remote:  # checked where the model is (no torch here)
        return model.check_mc_samples(mc_samples)
    return _engine("check_mc_samples")(model.model, mc_samples)


def __getattr__(name: str) -> Any:  # PEP 562: ``analyze.run_contexts`` imports the engine when first asked
    if name in _ENGINE_NAMES:
        return _engine(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

log = logging.getLogger(__name__)


def binary_entropy(p: np.ndarray) -> np.ndarray:
    """Entropy in bits of a Bernoulli(p) prediction: 0 when p is 0 or 1, 1 when p = 0.5."""
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
    return (-(p * np.log2(p) + (1 - p) * np.log2(1 - p))).astype(np.float32)


@dataclass(frozen=True, eq=False)
class AnalysisResult:
    """Everything the analysis of one recording produced (T windows, N tokens, F features, K targets)."""

    title: str  # the recording's title (marked SYNTHETIC when it is)
    is_synthetic: bool  # the recording is synthetic
    model_description: str  # which checkpoint, and whether it was trained on synthetic data
    window_starts: np.ndarray  # (T,) s on the recording clock
    window_s: float  # window length, s
    targets: tuple[str, ...]  # (K,) "valence", "arousal"
    probabilities: np.ndarray  # (T, K) probability of the high class (score >= 5); the MC mean when mc_samples > 0
    uncertainty: np.ndarray  # (T, K) binary entropy of ``probabilities``, bits in [0, 1]
    no_context: np.ndarray  # (T,) bool: no visible token in the window's context (prediction = prior)
    token_names: tuple[str, ...]  # (N,)
    token_modalities: tuple[str, ...]  # (N,) modality names
    token_channels: tuple[str | None, ...]  # (N,) recording channel feeding each token (None = absent)
    features: np.ndarray  # (T, N, F) float32 features in their own units (0 where missing / undefined)
    valid: np.ndarray  # (N, F) bool defined feature columns
    feature_names: Mapping[str, tuple[str, ...]]  # modality -> column names
    feature_units: Mapping[str, tuple[str, ...]]  # modality -> column units
    waveform: Mapping[str, slice]  # modality -> columns of the downsampled waveform (slow signals)
    data_missing: np.ndarray  # (T, N) bool: no usable data (absent channel, NaN, flat)
    user_masked: np.ndarray  # (T, N) bool: masked by the user's MaskSet
    hidden: np.ndarray  # (T, N) bool: data_missing | user_masked (what the model did not see)
    recon: np.ndarray | None  # (T, N, F) reconstructed features of hidden tokens in their own units, NaN where the
    #                          token was visible (not reconstructed), 0 in undefined columns; None: no modality queries
    attention: Mapping[str, np.ndarray]  # family -> (T, N) attention mass over tokens
    interference_pred: np.ndarray | None  # (T,) predicted interference score in [0, 1]
    artifact_probs: np.ndarray | None  # (T, A) predicted artifact-type probabilities
    artifact_types: tuple[str, ...]  # (A,)
    interference_detected: np.ndarray  # (T,) interference score from preprocessing/features, [0, 1]
    interference_spans: tuple[Any, ...]  # Annotation spans found by preprocessing ("BAD_muscle", ...)
    steps: tuple[str, ...]  # what was done (preprocessing log + analysis)
    timings: Mapping[str, float] = field(default_factory=dict)  # seconds per stage
    probability_std: np.ndarray | None = None  # (T, K) std of the probability over the MC samples; None: no MC
    mc_samples: int = 0  # Monte-Carlo samples behind ``probabilities`` / ``probability_std`` (0 = deterministic)
    scores: np.ndarray | None = None  # (T, K) predicted 1-9 scores (a model trained with ``regression``), else None
    reason: np.ndarray | None = None  # (T, N) uint8 MissingReason of each hidden token (PRESENT = visible)
    feature_valid: np.ndarray | None = None  # (T, N, F) bool: feature computed and seen by the model
    # occlusion attribution (``attribution`` option; :func:`mmqnet_core.model.attribution.analysis_attribution`)
    occlusion: np.ndarray | None = None  # (T, U, K) P(high) with unit u hidden minus P(high) of the deterministic
    #                                      pass; 0 where the unit was hidden already; None: not computed
    occlusion_units: tuple[str, ...] = ()  # (U,) occluded units: modality groups or token names
    occlusion_by: str = ""  # "modality" or "token" ("" when not computed)
    missing_evidence: np.ndarray | None = None  # (T, K) SD (logit units) of the prediction's shift owed to hidden
    #                 evidence (:mod:`mmqnet_core.inference.evidence`); included in ``uncertainty``; None: not computed
    baseline_recon: np.ndarray | None = None  # (T, N, F) baseline reconstruction of hidden EEG (spherical splines)
    #   and slow-signal (linear interpolation) tokens in their own units, NaN elsewhere; None: nothing to do
    #   (:mod:`mmqnet_core.inference.recon_baseline`)
    recording_start: datetime | None = None  # clock time of the recording's first sample (EDF/BDF header, no time
    #   zone, as ``mmqnet info`` prints it); None when unknown (DEAP files, in-memory recordings): no clock times

    @property
    def uncertainty_method(self) -> str:
        """How ``uncertainty`` (and ``probability_std``) were computed, in one sentence."""
        if self.probability_std is None:
            text = ("binary entropy of the window's probability, bits (0 certain, 1 = chance); a function of the "
                    "probability alone, no sampling")
        else:
            text = (f"binary entropy (bits) of the mean probability over {self.mc_samples} Monte-Carlo samples "
                    "with the model's dropout / stochastic-depth layers on (MC dropout); <target>_std: standard "
                    "deviation of the probability over those samples")
        if self.missing_evidence is not None:
            text += ("; with missing evidence: the probability is first marginalised over a logit shift of SD "
                     "<target>_missing_evidence, the change when the hidden modalities are restored with the model's "
                     "reconstruction, plus the spread of their own evidence read-outs where the checkpoint stores it "
                     "(0 where nothing is hidden)")
        return text

    @property
    def n_windows(self) -> int:
        return int(self.window_starts.shape[0])

    def token_index(self, name: str) -> int:
        try:
            return self.token_names.index(name)
        except ValueError:
            raise ConfigError(f"No token named {name!r}; tokens are: {', '.join(self.token_names)}.") from None

    def reconstructed_waveform(self, token: str) -> tuple[np.ndarray, np.ndarray]:
        """Times (s) and values of a slow signal's downsampled waveform, reconstructed where it was hidden.

        Returns the original waveform samples in visible windows and the reconstruction in hidden windows
        (NaN where neither exists), in the feature's units.
        """
        n = self.token_index(token)
        mod = self.token_modalities[n]
        if mod not in self.waveform:
            raise ConfigError(f"Token {token!r} ({mod}) has no waveform columns; only "
                              f"{', '.join(self.waveform)} do.")
        cols = self.waveform[mod]
        vals = self.features[:, n, cols].astype(np.float64)  # (T, P)
        hidden = self.hidden[:, n]
        vals[self.data_missing[:, n]] = np.nan
        if self.recon is not None:
            vals[hidden] = self.recon[hidden, n, cols]
        else:
            vals[hidden] = np.nan
        p = vals.shape[1]
        times = self.window_starts[:, None] + (np.arange(p) + 0.5) * self.window_s / p  # (T, P)
        return times.ravel(), vals.ravel()

    def trajectories(self) -> pd.DataFrame:
        """One row per window: probabilities, uncertainties, masking share, interference."""
        import pandas as pd

        return pd.DataFrame(self.trajectory_columns())

    def trajectory_columns(self) -> dict[str, np.ndarray]:
        """The columns of :meth:`trajectories` (name -> (T,) array, in order), without pandas.

        The last column, ``clock_time``, is the clock time of each window's start (ISO 8601, ``YYYY-MM-DD
        hh:mm:ss.sss``, the recording's own clock without a time zone) when the recording's start is known
        (:attr:`recording_start`: EDF/BDF files); without a start (DEAP, in-memory recordings) there is no such
        column."""
        cols = {"window_start_s": self.window_starts, "window_end_s": self.window_starts + self.window_s}
        for k, name in enumerate(self.targets):
            cols[f"{name}_prob"] = self.probabilities[:, k]
            cols[f"{name}_uncertainty"] = self.uncertainty[:, k]
            if self.probability_std is not None:
                cols[f"{name}_std"] = self.probability_std[:, k]
            if self.missing_evidence is not None:
                cols[f"{name}_missing_evidence"] = self.missing_evidence[:, k]
            if self.scores is not None:
                cols[f"{name}_score"] = self.scores[:, k]
        cols["no_context"] = self.no_context
        cols["hidden_fraction"] = self.hidden.mean(1)
        cols["user_masked_fraction"] = self.user_masked.mean(1)
        cols["interference_detected"] = self.interference_detected
        if self.interference_pred is not None:
            cols["interference_pred"] = self.interference_pred
            for a, name in enumerate(self.artifact_types):
                cols[f"artifact_{name}_prob"] = self.artifact_probs[:, a]
        if self.recording_start is not None:  # last, so that the columns before it keep their places
            cols["clock_time"] = _clock_times(self.recording_start, self.window_starts)
        return cols

    def summary(self) -> dict:
        """JSON-able summary: recording, model, mean probabilities, masking, steps, timings."""
        means = {name: float(np.mean(self.probabilities[~self.no_context, k])) if (~self.no_context).any()
                 else None for k, name in enumerate(self.targets)}
        return {
            "recording": self.title,
            # clock time of the recording's first sample (EDF/BDF header; ISO 8601, no time zone), None: unknown
            "recording_start": _iso(self.recording_start),
            "synthetic_recording": self.is_synthetic,
            "model": self.model_description,
            "n_windows": self.n_windows,
            "window_s": self.window_s,
            "duration_s": float(self.n_windows * self.window_s),
            "mean_probability_high": means,
            "predicted_class": {k: (None if v is None else ("high" if v >= 0.5 else "low")) for k, v in means.items()},
            "hidden_fraction": float(self.hidden.mean()),
            "user_masked_fraction": float(self.user_masked.mean()),
            "windows_without_context": int(self.no_context.sum()),
            "tokens": [{"name": n, "modality": m, "channel": c} for n, m, c in
                       zip(self.token_names, self.token_modalities, self.token_channels)],
            "uncertainty": self.uncertainty_method,
            "mc_samples": int(self.mc_samples),
            "mean_predicted_score": (None if self.scores is None else
                                     {name: float(np.mean(self.scores[~self.no_context, k]))
                                      if (~self.no_context).any() else None for k, name in enumerate(self.targets)}),
            "mean_probability_std": (None if self.probability_std is None else
                                     {name: float(np.mean(self.probability_std[~self.no_context, k]))
                                      if (~self.no_context).any() else None for k, name in enumerate(self.targets)}),
            "missing": self._missing_summary(),
            "attribution": self.attribution_summary(),
            "steps": list(self.steps),
            "timings_s": dict(self.timings),
        }

    def attribution_summary(self) -> dict | None:
        """Per target and occluded unit, the mean absolute change of P(high) over the windows where the unit was
        visible (None when no occlusion was computed)."""
        if self.occlusion is None:
            return None
        moved = np.abs(self.occlusion)  # (T, U, K)
        units = list(self.occlusion_units)
        if self.occlusion_by == "token":
            seen = ~self.hidden  # (T, N): tokens are the units
        else:
            seen = np.stack([(~self.hidden[:, [m == u for m in self.token_modalities]]).any(1) for u in units], 1)
        mean = {name: {u: (float(moved[seen[:, i], i, k].mean()) if seen[:, i].any() else None)
                       for i, u in enumerate(units)} for k, name in enumerate(self.targets)}
        return {"by": self.occlusion_by, "units": units, "mean_abs_change_of_probability": mean,
                "note": "occlusion: P(high) with the unit hidden minus P(high) as analysed (attention is not "
                        "attribution: see attribution.npz for the per-window map)"}

    def _missing_summary(self) -> dict:
        """Per token: windows hidden by reason, and windows where a feature of a visible token was not computed."""
        tokens = {}
        for n, (name, mod) in enumerate(zip(self.token_names, self.token_modalities)):
            entry: dict[str, Any] = {"hidden_windows": int(self.hidden[:, n].sum())}
            if self.reason is not None:
                entry["reasons"] = reason_counts(self.reason[:, n])
            if self.feature_valid is not None:
                cols = self.feature_names.get(mod, ())
                seen = ~self.hidden[:, n]
                nan = {c: int((seen & ~self.feature_valid[:, n, f]).sum()) for f, c in enumerate(cols)}
                entry["features_not_computed"] = {c: k for c, k in nan.items() if k}
                if entry["features_not_computed"] and mod in NOT_DETECTED_TEXT:
                    entry["features_not_computed_why"] = NOT_DETECTED_TEXT[mod]
            tokens[name] = entry
        total = reason_counts(self.reason) if self.reason is not None else {}
        return {"n_windows": self.n_windows, "reasons_total": total, "tokens": tokens,
                "reason_codes": {r.label: int(r) for r in MissingReason}}

    def save(self, folder: str | os.PathLike, cancel: CancelToken | None = None) -> dict[str, Path]:
        """Write ``trajectories.csv``/``.parquet``, ``reconstructions.npz``, ``attention.npz``, ``summary.json``
        and, with occlusion maps, ``attribution.npz`` into ``folder`` (each file atomically: temp file +
        os.replace).

        Clock time: ``summary.json`` has ``recording_start`` (the first sample's clock time from the EDF/BDF header,
        ISO 8601 as ``mmqnet info`` prints it; null when unknown, as for DEAP files) and the trajectories tables
        end with ``clock_time`` (each window's start, ``YYYY-MM-DD hh:mm:ss.sss``) when the start is known; without
        a start there is no such column (the columns before it are the same either way).

        ``cancel`` is checked (in this thread) between the files and between the members of the archives it writes: a
        cancel raises :class:`~mmqnet_core.errors.Cancelled` within a fraction of a second; the files written
        before it stay whole, the one being written is not left behind (its temp file is removed), and nothing
        marks the folder done (a cohort's marker is written after this returns)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        traj = self.trajectory_columns()  # written without pandas (its import: ~0.5 s of every run)
        names = np.array(self.token_names)
        rec = {"features": self.features, "valid": self.valid, "hidden": self.hidden,
               **({} if self.reason is None else {"reason": self.reason}),
               **({} if self.feature_valid is None else {"feature_valid": self.feature_valid}),
               "data_missing": self.data_missing, "user_masked": self.user_masked,
               "window_starts": self.window_starts, "token_names": names}
        if self.recon is not None:
            rec["recon"] = self.recon
        if self.baseline_recon is not None:
            rec["baseline_recon"] = self.baseline_recon
        att = {f"attention_{k}": v for k, v in self.attention.items()}
        att.update(window_starts=self.window_starts, token_names=names)
        # the largest file in a helper thread (its compression releases the interpreter lock) beside the others
        # (the CSV writer holds it): ~0.4 of ~0.65 s for 1 h
        from concurrent.futures import wait

        from ..progress import start_daemon
        from .table_io import write_csv, write_parquet

        check_cancel(cancel)
        # the helper thread never reads the token (a cohort worker's token is read from the worker's own thread);
        # a cancel stops the files of this thread, then the wait below (~0.1 s for 1 h)
        recon = start_daemon(atomic_write, folder / "reconstructions.npz", lambda p: _savez(p, rec),
                             name="mmqnet-save")
        try:
            csv = atomic_write(folder / "trajectories.csv", lambda p: write_csv(traj, p, float_format="%.6g"))
            check_cancel(cancel)
            parquet = atomic_write(folder / "trajectories.parquet", lambda p: write_parquet(traj, p))
            check_cancel(cancel)
            attention = atomic_write(folder / "attention.npz", lambda p: _savez(p, att, cancel))
            check_cancel(cancel)
            summary = atomic_write(folder / "summary.json", lambda p: Path(p).write_text(
                json.dumps(self.summary(), indent=1), encoding="utf-8"))
        finally:
            wait([recon])  # never return (nor raise) while a file is still being written
        paths = {"csv": csv, "parquet": parquet, "reconstructions": recon.result(), "attention": attention,
                 "summary": summary}
        if self.occlusion is not None:  # read back with read_attribution
            occ = {"occlusion": self.occlusion, "units": np.array(self.occlusion_units),
                   "by": np.array(self.occlusion_by), "targets": np.array(self.targets),
                   "window_starts": self.window_starts}
            if self.missing_evidence is not None:
                occ["missing_evidence"] = self.missing_evidence
            check_cancel(cancel)
            paths["attribution"] = atomic_write(folder / "attribution.npz", lambda p: _savez(p, occ, cancel))
        return paths


def _iso(when: datetime | None) -> str | None:
    """``when`` as ``mmqnet info`` prints a start: ISO 8601 with a space, microseconds only when there are any."""
    return None if when is None else when.replace(tzinfo=None).isoformat(sep=" ")


def _clock_times(start: datetime, seconds: np.ndarray) -> np.ndarray:
    """(T,) text clock times ``YYYY-MM-DD hh:mm:ss.sss`` of ``start`` + ``seconds`` (ms: windows start at fractions
    of a second)."""
    base = start.replace(tzinfo=None)
    return np.array([(base + timedelta(seconds=float(s))).isoformat(sep=" ", timespec="milliseconds")
                     for s in np.asarray(seconds, np.float64)], dtype=str)


def recording_start(recording: Any) -> datetime | None:
    """Clock time of ``recording``'s first sample (its ``meas_date``, no time zone), None when it has none."""
    raw = getattr(recording, "raw", None)
    meas = None if raw is None else raw.info.get("meas_date")
    return None if meas is None else meas.replace(tzinfo=None)


def read_attribution(folder: str | os.PathLike) -> dict[str, Any] | None:
    """The occlusion map saved by :meth:`AnalysisResult.save` (``attribution.npz``), None when there is none.

    Returns
    -------
    dict
        ``occlusion`` (T, U, K), ``units`` (U,) str, ``by`` str, ``targets`` (K,) str, ``window_starts`` (T,) s,
        ``missing_evidence`` (T, K) logit SD or None. Read without pickle.
    """
    path = Path(folder) / "attribution.npz"
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as z:
        return {"occlusion": z["occlusion"], "units": tuple(str(u) for u in z["units"]), "by": str(z["by"]),
                "targets": tuple(str(t) for t in z["targets"]), "window_starts": z["window_starts"],
                "missing_evidence": z["missing_evidence"] if "missing_evidence" in z.files else None}


#: zlib level of the result archives (``.npz``): 1 = fastest (see :func:`_savez`).
SAVE_DEFLATE_LEVEL = 1


def _savez(path: str, arrays: dict, cancel: CancelToken | None = None) -> None:
    """``np.savez_compressed`` (the same format: a zip of ``.npy`` members, deflated), writing arrays spilled to a
    temp file (:mod:`.spill`) block by block with their pages dropped from resident memory after each block, so
    that saving a long analysis does not bring its per-window arrays back into memory whole. No pickled objects.

    Deflate level 1 instead of zlib's default 6: the reconstructions of a 1-h analysis compress in 0.22 instead of
    0.35 s of CPU (4.30 instead of 4.15 MB), at the end of every run where nothing else is left to do.

    ``cancel`` is checked before each member and each 16-MiB block (raises
    :class:`~mmqnet_core.errors.Cancelled`; the caller's atomic write then removes the partial file)."""
    import zipfile

    from .spill import is_spilled, trim

    with open(path, "wb") as fh, zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True,
                                                  compresslevel=SAVE_DEFLATE_LEVEL) as zf:
        for name, value in arrays.items():
            check_cancel(cancel)
            arr = np.asanyarray(value)
            with zf.open(f"{name}.npy", "w", force_zip64=True) as out:
                if is_spilled(arr) and arr.flags.c_contiguous and arr.ndim >= 1:
                    np.lib.format.write_array_header_1_0(out, np.lib.format.header_data_from_array_1_0(arr))
                    step = max(1, (16 * 2**20) // max(1, arr[:1].nbytes))
                    for a in range(0, arr.shape[0], step):
                        check_cancel(cancel)
                        out.write(arr[a:a + step].tobytes())
                        trim()
                else:
                    np.lib.format.write_array(out, arr, allow_pickle=False)


def analyze(
    recording: Any,
    masks: Any,
    model: LoadedModel,
    *,
    window_s: float | None = None,
    preprocess_config: Any = None,
    start_s: float = 0.0,
    stop_s: float | None = None,
    batch_size: int = 64,
    attention: bool = True,
    subject_statistics: Any = None,
    mc_samples: int | None = 0,
    mc_seed: int = 0,
    cache: Any = None,
    streaming: bool | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    attribution: str | bool | None = None,
) -> AnalysisResult:
    """Analyse a whole recording (or the span ``start_s``-``stop_s``) with a loaded model.

    Parameters
    ----------
    recording : Recording
        The recording (any channels; those of the model's layout are used, absent ones become missing tokens).
    masks : MaskSet or None
        The user's (and simulated) masks, whole channels and segments; None = nothing masked. They enter the
        cleaning (:func:`~mmqnet_core.preprocessing.preprocess` treats masked samples as missing data: nothing
        under a mask reaches a visible channel) and the model's token mask.
    model : LoadedModel
        From :func:`load_model`.
    window_s : float, optional
        Window length, s; must equal the model's (default: the model's).
    preprocess_config : PreprocessConfig, optional
        Cleaning settings (default: those the model was trained with).
    start_s, stop_s : float
        Span to analyse, s (default: everything). A span is analysed *inside* the recording: the whole recording
        is cleaned and featurised (the cleaning cache or the bounded-memory path, as for the whole analysis), a
        per-subject model normalises with the whole recording's statistics (or ``subject_statistics``), and the
        model's contexts are cut on the whole recording's window grid; only the windows inside the span
        (:func:`span_windows`) are run through the model and returned. Each window thus gets the prediction the
        whole analysis gives it, whichever span is chosen (a span's own statistics and edges made them depend on
        it: P(high) of window 0 0.58 / 0.36 whole vs 0.30 / 0.99 with ``stop_s=5``). To leave data out of the
        statistics, mask it.
    batch_size : int
        Contexts per forward pass.
    attention : bool
        Also compute the attention maps (about a third of the model time on the CPU).
    subject_statistics : Normalizer, optional
        For a model trained with per-subject normalisation: the subject's feature statistics from more of
        their recordings (e.g. every trial of a DEAP subject file), used instead of this recording's own. Worth
        it for a short recording of one emotional state, whose own mean would remove the state's level.
        Ignored by a globally normalised model.
    mc_samples : int, optional
        0 or None (default): deterministic prediction, ``probability_std`` None. N >= 2: N Monte-Carlo passes
        with the model's dropout / DropPath layers on; ``probabilities`` is their mean and ``probability_std``
        their standard deviation (N times the model time).
    mc_seed : int
        Seed of the Monte-Carlo draws (same seed, same result).
    cache : CleaningCache, optional
        Take the cleaning from this cache (:mod:`mmqnet_core.preprocessing.cache`) and store it there; None =
        clean without a cache. A long recording the app cleans on demand for display
        (:func:`~mmqnet_core.preprocessing.on_demand.clean_for_display` registers it there) is analysed with
        the display's fit and the tiles it has cleaned, and the pieces cleaned here fill the display's store.
    streaming : bool, optional
        Clean and featurise in pieces, in memory bounded independently of the length
        (:func:`~mmqnet_core.inference.streaming.analyze_streaming`; same cleaning, the cache is not used).
        None (default): :func:`~mmqnet_core.inference.streaming.should_stream` (the cleaning is not in ``cache``
        and the span holds more than ``STREAM_ABOVE_BYTES`` of input samples).
    progress, cancel
        Progress callback and cancel token (checked between stages, model batches and Monte-Carlo samples).
    attribution : {"modality", "token"}, bool or None
        Also compute per-window occlusion maps (``AnalysisResult.occlusion``: the change of P(high) when each
        modality -- True or "modality", one probability-only pass per modality -- or each token is hidden) and
        the missing-evidence term of the uncertainty (:mod:`mmqnet_core.inference.evidence`). None/False: not.

    Raises
    ------
    ConfigError
        Bad ``mc_samples``, or ``mc_samples`` > 0 for a model without dropout / stochastic depth.
    MMQNetError
        No channel of the recording matches the model's layout, everything is masked, NaN in the features.
    Cancelled
        ``cancel`` was set.
    """
    from .streaming import run_cancellable

    check_cancel(cancel)
    run_cancellable(_import_cleaning, cancel=cancel)  # seconds on a loaded machine: a cancel meanwhile is seen
    from ..features import extract_features
    from ..preprocessing import preprocess

    timings: dict[str, float] = {}
    if window_s is not None and abs(float(window_s) - model.feature_config.window_s) > 1e-9:
        raise ConfigError(
            f"Invalid value for 'window_s': this model was trained on {model.feature_config.window_s:g}-s windows, "
            f"got {window_s:g} s; use {model.feature_config.window_s:g} or another checkpoint."
        )
    # before the preprocessing, not after it (a model still loading is waited for only when there are samples)
    check_samples(model, mc_samples)
    if any(t.modality.value == "EEG" for t in model.layout):
        from ..io import check_has_eeg

        check_has_eeg(recording)  # a clear error instead of an analysis of nothing but missing EEG tokens
    check_span_holds_a_window(recording, model, start_s, stop_s)
    check_rate_holds_the_features(recording, model, preprocess_config)
    check_cancel(cancel)
    windows = span_of(recording, start_s, stop_s)
    if windows is not None:  # a span is analysed inside the whole recording (see the docstring), then cut out
        start_s, stop_s = 0.0, None
    cfg = preprocess_config if preprocess_config is not None else model.preprocess_config
    from .streaming import analyze_streaming, should_stream

    # the app's on-demand display cleaning of this recording (long recordings): its fit and tiles are reused
    display = (cache.lookup_on_demand(recording, cfg, masks, start_s=start_s, stop_s=stop_s)
               if cache is not None and hasattr(cache, "lookup_on_demand") and streaming is not False else None)
    if streaming is None:
        streaming = display is not None or should_stream(recording, cfg, masks, cache, start_s=start_s,
                                                         stop_s=stop_s)
    if streaming:
        return _with_start(recording, analyze_streaming(
                                 recording, masks, model, preprocess_config=cfg, start_s=start_s, stop_s=stop_s,
                                 batch_size=batch_size, attention=attention, subject_statistics=subject_statistics,
                                 mc_samples=mc_samples, mc_seed=mc_seed, attribution=attribution,
                                 display=display, progress=progress, cancel=cancel, windows=windows))
    start_loading(model)  # a model loading in a helper thread: beside the cleaning (see DeferredModel.start)
    t0 = time.perf_counter()
    clean = preprocess if cache is None else cache.get_or_clean
    pre = clean(recording, preprocess_config if preprocess_config is not None else model.preprocess_config,
                masks=masks, start_s=start_s, stop_s=stop_s, progress=scaled(progress, 0.0, 0.45), cancel=cancel)
    timings["preprocess"] = time.perf_counter() - t0
    check_cancel(cancel)
    t0 = time.perf_counter()
    from ..preprocessing.pipeline import small_pages

    with small_pages():  # large numpy temporaries: see small_pages
        fs = extract_features(pre.cleaned, model.feature_config, layout=model.layout, interference=pre.interference,
                              progress=scaled(progress, 0.45, 0.6), cancel=cancel)
    if float(start_s) > 0 and fs.n_windows and fs.window_starts[0] < float(start_s) - 1e-9:
        # features of a span are on the span's clock: move them onto the recording's
        import dataclasses

        fs = dataclasses.replace(fs, window_starts=fs.window_starts + float(start_s))
    timings["features"] = time.perf_counter() - t0
    if all(t.channel is None for t in fs.tokens):
        wanted = ", ".join(f"{t.name} ({t.modality.value})" for t in model.layout[:6])
        raise MMQNetError(
            f"No channel of {recording.title} matches the model's layout (expects e.g. {wanted}, ...; the recording "
            f"has {', '.join(recording.ch_names[:8])}{'...' if recording.n_channels > 8 else ''}): rename the "
            "channels or set their modality, or use a checkpoint trained on this layout."
        )
    with small_pages():
        result = analyze_features(fs, masks, model, batch_size=batch_size, attention=attention,
                                  subject_statistics=subject_statistics, mc_samples=mc_samples, mc_seed=mc_seed,
                                  attribution=attribution, progress=scaled(progress, 0.6, 1.0),
                                  cancel=cancel, title=recording.title, is_synthetic=recording.is_synthetic,
                                  steps=tuple(pre.steps) + span_step(windows),
                                  interference_spans=spans_within(pre.interference, windows),
                                  reuse_features=True,  # fs is ours: the result's features are written into it
                                  windows=windows)
    timings.update(result.timings)
    import dataclasses

    return _with_start(recording, dataclasses.replace(result, timings=timings))


def span_of(recording: Any, start_s: float = 0.0, stop_s: float | None = None) -> tuple[float, float] | None:
    """``(start_s, stop_s)`` when they name a part of the recording, None when they cover all of it."""
    duration = float(recording.duration_s)
    start = max(0.0, float(start_s))
    stop = duration if stop_s is None else min(float(stop_s), duration)
    if start <= 1e-9 and stop >= duration - 1e-9:
        return None
    return start, stop


def span_step(windows: tuple[float, float] | None) -> tuple[str, ...]:
    """The ``steps`` line of an analysis of the span ``windows`` (none for the whole recording)."""
    if windows is None:
        return ()
    return (f"span {windows[0]:g}-{windows[1]:g} s analysed inside the whole recording: cleaned, featurised and "
            "normalised as the whole recording (a per-subject model: the recording's statistics, not the span's), "
            "so its windows get the whole recording's predictions; mask what should not count",)


def spans_within(spans: Sequence[Any], windows: tuple[float, float] | None) -> tuple[Any, ...]:
    """The interference ``spans`` (Annotations) that overlap ``windows`` (all of them when None)."""
    if windows is None:
        return tuple(spans)
    a, b = windows
    return tuple(s for s in spans if s.onset < b and s.onset + s.duration > a)


def check_span_holds_a_window(recording: Any, model: Any, start_s: float = 0.0, stop_s: float | None = None) -> None:
    """Refuse, before any cleaning, a span shorter than one window of the model (the checkpoint's window length,
    which the analysis cannot change): the error says how long a span must be and where it may start."""
    window_s = float(getattr(getattr(model, "feature_config", None), "window_s", 0.0) or 0.0)
    duration = float(getattr(recording, "duration_s", 0.0) or 0.0)
    if window_s <= 0 or duration <= 0:
        return
    stop = duration if stop_s is None else min(float(stop_s), duration)
    span = stop - max(0.0, float(start_s))
    if span >= window_s - 1e-9:
        return
    if duration < window_s - 1e-9:
        raise ConfigError(f"{getattr(recording, 'title', 'The recording')} lasts {duration:g} s, shorter than one "
                          f"window of the model ({window_s:g} s, fixed by the checkpoint): analyse a recording of at "
                          f"least {window_s:g} s.")
    start = max(0.0, float(start_s))
    ways = []
    if stop - window_s >= -1e-9:
        ways.append(f"an earlier start: --start {stop - window_s:g} or before")
    if stop < duration and start + window_s <= duration + 1e-9:
        ways.append(f"a later stop: --stop {start + window_s:g} or after")
    raise ConfigError(
        f"The span from {start:g} s to {stop:g} s lasts {max(span, 0.0):g} s, shorter than one window of the model "
        f"({window_s:g} s, fixed by the checkpoint): analyse a span of at least {window_s:g} s ({'; or '.join(ways)}).")


def check_rate_holds_the_features(recording: Any, model: Any, preprocess_config: Any = None) -> None:
    """Refuse, before any cleaning, a recording sampled too slowly for the model's features: EEG whose bands lie
    above the analysis rate's Nyquist frequency (the EEG features need 2 x their top band), or a rate at which one
    window of the model (its length fixed by the checkpoint: no option changes it) holds fewer than 2 samples.
    Without this a 1-Hz recording was cleaned first and then told "use window_s >= 2 s", which ``mmqnet analyze``
    cannot do."""
    from ..features.layout import bind_layout, layout_for
    from ..features.spectral import check_eeg_rate
    from ..preprocessing.streaming import analysis_sfreq
    from ..recording import Modality

    fc = getattr(model, "feature_config", None)
    cfg = preprocess_config if preprocess_config is not None else getattr(model, "preprocess_config", None)
    sfreq = float(getattr(recording, "sfreq", 0.0) or 0.0)
    if fc is None or cfg is None or sfreq <= 0:
        return
    sf = analysis_sfreq(sfreq, cfg.target_sfreq)
    layout = getattr(model, "layout", None) or layout_for(recording.channels)
    if any(t.modality == Modality.EEG and t.channel is not None for t in bind_layout(layout, recording.channels)):
        check_eeg_rate([(lo, hi) for _, lo, hi in fc.all_bands], sf)
    n = int(round(fc.window_s * sf))
    if n < 2:
        raise ConfigError(
            f"{getattr(recording, 'title', 'The recording')} is sampled at {sfreq:g} Hz: one window of the model "
            f"({fc.window_s:g} s, fixed by the checkpoint) holds {n} sample(s), and its features need at least 2. "
            f"Analyse a recording sampled at {2 / fc.window_s:g} Hz or more.")


def _with_start(recording: Any, result: AnalysisResult) -> AnalysisResult:
    """``result`` with the recording's start (:func:`recording_start`), for the clock times of its outputs."""
    import dataclasses

    return dataclasses.replace(result, recording_start=recording_start(recording))


def _import_cleaning(cancel: CancelToken | None = None) -> None:
    """Import the cleaning and feature modules (scipy.signal and scipy.ndimage, without scipy.stats and without
    scipy rewriting their docstrings: :mod:`mmqnet_core._scipy_signal`; 0.16-0.23 s of CPU instead of 0.54-0.80 s,
    measured at load 11). :func:`analyze` runs this in a helper thread while it checks its cancel token
    (:func:`~mmqnet_core.inference.streaming.run_cancellable`), so a cancel during the imports is seen at once."""
    import importlib

    # first scipy.signal and scipy.ndimage, lean (see mmqnet_core._scipy_signal), then the modules that use them
    for name in ("mmqnet_core._scipy_signal", "mmqnet_core.features.extract", "mmqnet_core.preprocessing.pipeline",
                 "mmqnet_core.preprocessing.streaming"):
        check_cancel(cancel)
        importlib.import_module(name)


def subject_statistics(
    recordings: Sequence[Any],
    model: LoadedModel,
    *,
    masks: Sequence[Any] | None = None,
    cache: Any = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Any:
    """Feature statistics of one subject from several of their recordings (e.g. the 40 trials of a DEAP file).

    For a model trained with per-subject normalisation, pass the result to :func:`analyze` as
    ``subject_statistics`` so that a short recording of one emotional state keeps its level relative to the
    subject's other recordings (its own statistics would remove it). Each recording is cleaned and featurised
    exactly as :func:`analyze` does; statistics are taken over every visible window of all of them -- only the
    windows inside a recording's stimulus span when it has one (DEAP trials, MAHNOB-HCI sessions), as in
    training -- with the model's training statistics as the fallback for columns with too few values. With
    ``cache`` (a :class:`~mmqnet_core.preprocessing.CleaningCache`) each cleaning is taken from / kept there;
    ``masks`` (one MaskSet or None per recording) makes masked data missing in the statistics too.
    """
    if masks is not None and len(masks) != len(recordings):
        raise ConfigError(f"Invalid value for 'masks': one MaskSet or None per recording ({len(recordings)}), "
                          f"got {len(masks)}.")
    from ..model.normalization import Normalizer
    from .streaming import recording_features

    if not recordings:
        raise ConfigError("Invalid value for 'recordings': give at least one recording of the subject.")
    values, missing = [], []
    for i, rec in enumerate(recordings):
        check_cancel(cancel)
        rec_masks = None if masks is None else masks[i]
        fs = recording_features(rec, model, rec_masks, cache=cache, cancel=cancel)
        keep = np.ones(fs.n_windows, dtype=bool)
        span = getattr(rec, "stim_span", None)
        if span is not None:  # as in training (datasets.corpus): only the stimulus, not the pre-trial baseline
            inside = (fs.window_starts >= span[0] - 1e-6) & (fs.window_starts + fs.window_s <= span[1] + 1e-6)
            keep = inside if inside.any() else keep
        values.append(fs.values[keep].reshape(-1, fs.n_tokens, fs.n_features))  # (T_i, N, F)
        missing.append(fs.missing[keep].reshape(-1, fs.n_tokens))  # (T_i, N)
        report(progress, (i + 1) / len(recordings), f"subject statistics {i + 1}/{len(recordings)}")
    return Normalizer.fit(np.concatenate(values), np.concatenate(missing), fallback=model.normalizer,
                          min_count=model.min_windows)


def _window_blocks(n_windows: int, size: int = 4096):
    """Slices of ``size`` windows covering ``n_windows`` (element-wise steps over (T, N, F) arrays); after each
    block the pages of spilled arrays touched so far leave the resident memory (:func:`.spill.trim`)."""
    from .spill import trim

    for a in range(0, max(n_windows, 1), size):
        yield slice(a, min(a + size, n_windows))
        trim()


def _fit_normalizer(values: np.ndarray, hidden: np.ndarray, fallback: Any, min_count: int,
                    use: np.ndarray | None = None) -> Any:
    """:meth:`Normalizer.fit` of (T, N, F) ``values`` with ``hidden`` (T, N) missing, over blocks of windows.

    The same rule (mean and population SD per column over the finite values of visible tokens; SD 1 below 1e-6 or
    with fewer than 2 values; the fallback's statistics with fewer than ``min_count``), computed with float64
    sums over blocks instead of float64 copies of the whole array (24 h: ~1.5 GB less). Short recordings call
    :meth:`Normalizer.fit` itself. ``use`` ((T, N, F) bool, optional): the values to use, instead of the finite
    values of visible tokens (the same statistics as ``values`` set to NaN outside ``use``, without that copy).
    """
    from ..model.normalization import Normalizer

    if values.shape[0] <= 4096:
        if use is not None:
            values = np.where(use, values, np.float32(np.nan))
        return Normalizer.fit(values, hidden, fallback=fallback, min_count=min_count)

    def used(sl: slice) -> np.ndarray:
        return use[sl] & ~hidden[sl, :, None] if use is not None else np.isfinite(values[sl]) & ~hidden[sl, :, None]

    count = np.zeros(values.shape[1:])
    total = np.zeros(values.shape[1:])
    for sl in _window_blocks(values.shape[0]):
        u = used(sl)
        count += u.sum(0)
        total += np.where(u, values[sl], 0.0).sum(0, dtype=np.float64)
    mean = total / np.maximum(count, 1)
    sq = np.zeros(values.shape[1:])
    for sl in _window_blocks(values.shape[0]):
        u = used(sl)
        sq += np.where(u, (values[sl].astype(np.float64) - mean) ** 2, 0.0).sum(0)
    std = np.sqrt(sq / np.maximum(count, 1))
    std = np.where((count > 1) & (std >= 1e-6), std, 1.0)
    few = count < max(int(min_count), 2)
    mean = np.where(few, fallback.mean, mean)
    std = np.where(few, fallback.std, std)
    return Normalizer(mean=mean.astype(np.float32), std=std.astype(np.float32))


def _input_normalizer(model: LoadedModel, values: np.ndarray, hidden: np.ndarray,
                      subject_statistics: Any = None, use: np.ndarray | None = None) -> tuple[Any, str]:
    """The Normalizer for this recording's features (T, N, F) and a line for ``steps`` saying which (``use``: the
    values the statistics are taken over, see :func:`_fit_normalizer`)."""
    mode = getattr(model, "normalization", "global")
    if mode == "global":
        return model.normalizer, "features z-scored with the training subjects' statistics (global normalisation)"
    if subject_statistics is not None:
        if subject_statistics.shape != model.normalizer.shape:
            raise ConfigError(
                f"Invalid value for 'subject_statistics': (tokens, features) {subject_statistics.shape}, the model "
                f"expects {model.normalizer.shape}; compute them on this model's feature layout."
            )
        return subject_statistics, (f"features z-scored with the subject's statistics given by the caller ({mode} "
                                    "normalisation, as in training)")
    n_visible = int((~hidden).any(1).sum())
    if n_visible < model.min_windows:
        return model.normalizer, (
            f"features z-scored with the training subjects' statistics: the model normalises each recording with "
            f"its own statistics ({mode} normalisation), but only {n_visible} window(s) are visible, fewer than "
            f"{model.min_windows}; predictions are less reliable than on a longer recording"
        )
    norm = _fit_normalizer(values, hidden, model.normalizer, model.min_windows, use)
    return norm, (f"features z-scored with this recording's own statistics over {n_visible} visible windows "
                  f"({mode} normalisation, as in training; channels with fewer than {model.min_windows} visible "
                  "windows keep the training statistics; a recording of a single emotional state loses its level: "
                  "analyse whole sessions or pass the subject's statistics)")


def analyze_features(
    features: Any,
    masks: Any,
    model: LoadedModel,
    *,
    token_mask: np.ndarray | None = None,
    batch_size: int = 64,
    attention: bool = True,
    subject_statistics: Any = None,
    mc_samples: int | None = 0,
    mc_seed: int = 0,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    title: str = "features",
    is_synthetic: bool = False,
    steps: Sequence[str] = (),
    interference_spans: Sequence[Any] = (),
    attribution: str | bool | None = None,
    reuse_features: bool = False,
    windows: tuple[float, float | None] | None = None,
) -> AnalysisResult:
    """Run the model on an existing :class:`~mmqnet_core.features.FeatureSet` (the last stage of :func:`analyze`).

    ``masks`` (a MaskSet) and/or ``token_mask`` ((T, N) bool) say what the user masked;
    ``subject_statistics``, ``mc_samples``, ``mc_seed`` and ``attribution`` as in :func:`analyze`.
    ``reuse_features``: the caller hands ``features`` over (it made them and does not use them afterwards): the
    result's ``features`` and ``feature_valid`` are written into its ``values`` and ``feature_valid`` arrays
    instead of new ones (24 h: ~200 MB less at the peak). The model's normalised input is computed batch by
    batch (never whole) unless ``attribution`` needs it whole.

    ``windows`` ((start_s, stop_s) on the features' clock, stop None = the end): the result holds only the windows
    inside that span (:func:`span_windows`), analysed *inside* the feature set: the missingness, the normalisation
    statistics, the model's contexts (cut on the whole set's grid) and its long-context spans are those of the
    whole set, so each window gets exactly the values the whole analysis gives it; only the contexts covering
    the span are run.
    """
    from .model_process import RemoteModel

    if isinstance(model, RemoteModel) and model.remote:  # the same function, in the model's process
        extra_args = {} if windows is None else {"windows": windows}
        return model.analyze_features(features, masks, token_mask=token_mask, batch_size=batch_size,
                                      attention=attention, subject_statistics=subject_statistics,
                                      mc_samples=mc_samples, mc_seed=mc_seed, progress=progress, cancel=cancel,
                                      title=title, is_synthetic=is_synthetic, steps=tuple(steps),
                                      interference_spans=interference_spans, attribution=attribution, **extra_args)
    from ..model.checkpoint import check_compatible

    t0 = time.perf_counter()
    n_mc = _engine("check_mc_samples")(model.model, mc_samples)
    by = _attribution_unit(attribution)
    check_compatible(model.meta, features)
    n_t, n_tok, _ = features.values.shape
    if n_t == 0:
        raise MMQNetError(f"{title} is shorter than one {features.window_s:g}-s window: nothing to analyse.")
    keep = None if windows is None else span_windows(features.window_starts, features.window_s, *windows)
    user = np.zeros((n_t, n_tok), bool)
    simulated = np.zeros((n_t, n_tok), bool)
    if masks is not None:
        user |= np.asarray(masks.to_token_mask(features), bool)
        if any(seg.source == "simulated" for seg in masks.segments):
            simulated = user & ~np.asarray(masks.without_source("simulated").to_token_mask(features), bool)
    if token_mask is not None:
        tm = np.asarray(token_mask, bool)
        if tm.shape != (n_t, n_tok):
            raise ConfigError(f"Invalid value for 'token_mask': expected shape {(n_t, n_tok)}, got {tm.shape}.")
        user |= tm
    data_missing = np.asarray(features.missing, bool)
    hidden = data_missing | user
    if hidden.all() and not user.any():  # nothing masked: the data themselves (flat, NaN) or the layout
        if np.any(np.asarray(features.reason) == MissingReason.NO_DATA):
            raise RecordingError(f"Nothing to analyse in {title}: every channel the model reads is flat or empty "
                                 "(NaN) throughout, and nothing is masked. Check the electrodes and the file: a "
                                 "recording of flat channels holds no signal to analyse.")
        raise RecordingError(f"Nothing to analyse in {title}: none of its channels is one the model reads, and "
                             "nothing is masked. Check the channel names and modalities (command line: --modality "
                             "NAME=EEG; app: the Modality column of the channel panel).")
    if hidden.all():
        raise MaskError(
            f"Every token of {title} is masked or missing: nothing to analyse -- unmask at least one channel "
            "(or check that the recording's channels match the model's layout)."
        )
    if keep is not None and hidden[keep[0]:keep[1]].all():
        a, b = float(features.window_starts[keep[0]]), float(features.window_starts[keep[1] - 1]) + features.window_s
        raise MaskError(
            f"Every token of {title} from {a:g} s to {b:g} s is masked or missing: nothing to analyse there -- "
            "unmask at least one channel in that span, or choose another span."
        )
    values = np.asarray(features.values, np.float32)
    valid = np.asarray(features.valid, bool)
    feature_valid = np.asarray(features.feature_valid, bool)
    own = reuse_features and values is features.values and feature_valid is features.feature_valid
    # Element-wise steps run over blocks of windows into arrays allocated once (_window_blocks): 24 h of features
    # (T x N x F = 86,400 x 40 x 12) is 166 MB in float32, and a few whole-array temporaries per step would
    # take the analysis past its memory budget.
    for sl in _window_blocks(n_t):
        bad = np.isinf(values[sl]) & ~hidden[sl, :, None] & valid
        if bad.any():
            t, n, f = (int(v) for v in np.argwhere(bad)[0])
            t += sl.start
            n_bad = sum(int((np.isinf(values[b]) & ~hidden[b, :, None] & valid).sum()) for b in _window_blocks(n_t))
            raise MMQNetError(
                f"Features of {title} contain {n_bad} infinite value(s) in visible tokens "
                f"(first: window {t} at {features.window_starts[t]:.1f} s, token {features.tokens[n].name!r}, column "
                f"{f}): mask that channel or span, or check the recording."
            )
    # feature-level missingness: a NaN (or a feature the extractor could not compute) is missing on its own;
    # the token stays visible unless none of its features is left
    fv = feature_valid if own else np.empty(values.shape, bool)
    for sl in _window_blocks(n_t):
        check_cancel(cancel)
        np.logical_and(valid[None] & np.isfinite(values[sl]), feature_valid[sl], out=fv[sl])
    none_left = np.zeros(hidden.shape, bool)
    for sl in _window_blocks(n_t):
        none_left[sl] = ~hidden[sl] & ~fv[sl].any(axis=-1)
    if none_left.any():
        data_missing = data_missing | none_left
        hidden = hidden | none_left
    for sl in _window_blocks(n_t):
        fv[sl] &= ~hidden[sl, :, None]
    # one code per token-window, the larger wins: user mask > simulated > no channel > no data > not detected
    reason = combine(features.reason, np.where(none_left, MissingReason.NOT_DETECTED, 0),
                     np.where(simulated, MissingReason.SIMULATED, 0),
                     np.where(user & ~simulated, MissingReason.USER_MASK, 0))
    # the statistics over the features the model sees (``fv``: finite, defined, computed, visible)
    norm, norm_step = _input_normalizer(model, values, hidden, subject_statistics, use=fv)
    x = _NormalisedInput(values, fv, hidden, norm)  # the model's input, computed batch by batch
    for sl in _window_blocks(n_t):
        check_cancel(cancel)
        if not np.isfinite(x.block(sl)).all():  # a zero/NaN std in the statistics: never a silent NaN trajectory
            raise MMQNetError(f"Normalising the features of {title} gave NaN/infinite values ({norm_step}): the "
                              "normalisation statistics are invalid (zero or NaN spread); check the checkpoint or "
                              "the subject's recordings.")
    if by:  # the occlusion passes take the input whole
        x = x.block(slice(0, n_t))
    # the features as the model saw them (before normalisation), 0 where missing: where the model sees a value
    # (``fv``) it is ``values``' own, so they can be written over ``values`` when the caller handed them over
    feats = values if own else np.empty(values.shape, np.float32)
    for sl in _window_blocks(n_t):
        np.copyto(feats[sl], np.where(fv[sl] & ~data_missing[sl, :, None], values[sl], np.float32(0.0)))
    run_contexts = _engine("run_contexts")
    params = inspect.signature(run_contexts).parameters  # (tests replace run_contexts with simpler ones)
    extra = {"feature_valid": fv[None]} if "feature_valid" in params else {}
    if keep is not None:
        extra["window_range"] = keep
    if "batch_threads" in params:  # batches in parallel (the CPU, no Monte-Carlo samples): see engine.BATCH_THREADS
        extra["batch_threads"] = _engine_attr("BATCH_THREADS")
    out = run_contexts(model.model, x[None], hidden[None], batch_size=batch_size, device=model.device,
                       return_recon=True, return_attention=attention, mc_samples=n_mc, mc_seed=mc_seed,
                       progress=scaled(progress, 0.0, 0.6) if by else progress, cancel=cancel, **extra)
    # occlusion maps and the missing-evidence term: probability-only passes with the same contexts, here while
    # ``x`` and the normalised reconstruction ``out.recon`` (the restoration's fill) are as the model saw them
    occ = evidence_sd = None
    attribution_step: tuple[str, ...] = ()
    if by:
        from ..model.attribution import analysis_attribution
        from .evidence import hidden_readout_variance, missing_evidence_sd

        t1 = time.perf_counter()
        occ = analysis_attribution(model.model, x[None], hidden[None], by=by, fill=out.recon,
                                   base=None if n_mc else out.probabilities, valid=np.asarray(features.valid, bool),
                                   feature_valid=fv[None], device=model.device,
                                   # probability-only passes: bigger batches cost ~35 % less CPU per window
                                   batch_size=max(4 * batch_size, 256), window_range=keep,
                                   progress=scaled(progress, 0.6, 1.0), cancel=cancel)
        evidence_sd = missing_evidence_sd(occ.restoration,  # (T, K) + the hidden groups' read-outs, if fitted
                                          hidden_readout_variance(model.model.config, hidden[None]))[0]
        attribution_step = (f"occlusion of {len(occ.units)} {by} unit(s) and the missing-evidence term of the "
                            f"uncertainty in {time.perf_counter() - t1:.2f} s",)
    del x
    recon = None
    if out.recon is not None:
        recon = out.recon[0]  # (T, N, F) float32, ours: inverted in place, block by block (after the attribution
        for sl in _window_blocks(n_t):  # passes above, which need it in the model's units as their fill)
            r = np.where(valid, norm.invert(recon[sl]), 0.0)
            np.copyto(recon[sl], np.where(hidden[sl, :, None], r, np.nan))  # only hidden tokens are reconstructed
    probs = out.probabilities[0]
    if not np.isfinite(probs).all():
        raise MMQNetError(f"{model.describe()} gave NaN/infinite outputs on {title}: the model is broken (diverged "
                          "training or damaged weights); choose another checkpoint.")
    cfg = model.model.config
    has_int = out.interference is not None
    mods = tuple(t.modality.value if hasattr(t.modality, "value") else str(t.modality) for t in features.tokens)
    from .evidence import marginal_probability
    t1 = time.perf_counter()  # the baselines a reviewer expects, beside the model's reconstruction
    baseline = _baseline_in_blocks(feats, hidden, [t.name for t in features.tokens], mods,
                                   np.asarray(features.valid, bool))
    baseline_step = () if baseline is None else (
        f"reconstruction baselines (spherical splines for EEG, linear interpolation for slow signals) in "
        f"{time.perf_counter() - t1:.2f} s",)
    key = (lambda m: m.value if hasattr(m, "value") else str(m))
    mc_step = ((f"uncertainty: {n_mc} Monte-Carlo samples (seed {mc_seed}) with the dropout / stochastic-depth "
                "layers on; probabilities are their mean",) if n_mc else ()) + baseline_step + attribution_step
    uncertainty = binary_entropy(probs) if evidence_sd is None else binary_entropy(
        marginal_probability(probs, evidence_sd))
    result = AnalysisResult(
        title=title,
        is_synthetic=bool(is_synthetic),
        model_description=model.describe(),
        window_starts=np.asarray(features.window_starts, np.float64),
        window_s=float(features.window_s),
        targets=tuple(cfg.targets),
        probabilities=probs,
        uncertainty=uncertainty,
        no_context=out.no_context[0],
        token_names=tuple(t.name for t in features.tokens),
        token_modalities=mods,
        token_channels=tuple(t.channel for t in features.tokens),
        features=feats,
        reason=reason,
        feature_valid=fv,
        valid=np.asarray(features.valid, bool),
        feature_names={key(k): tuple(v) for k, v in features.feature_names.items()},
        feature_units={key(k): tuple(v) for k, v in features.feature_units.items()},
        waveform={key(k): v for k, v in features.waveform.items()},
        data_missing=data_missing,
        user_masked=user,
        hidden=hidden,
        recon=recon,
        attention={k: v[0] for k, v in (out.attention or {}).items()},
        interference_pred=out.interference[0] if has_int else None,
        artifact_probs=out.artifacts[0] if has_int else None,
        artifact_types=tuple(cfg.artifact_types),
        interference_detected=np.asarray(features.interference, np.float32),
        interference_spans=tuple(interference_spans),
        steps=tuple(steps) + (norm_step, f"analysed {n_t} windows with {model.describe()}") + mc_step,
        timings={"inference": time.perf_counter() - t0},  # including the reconstruction baselines
        probability_std=None if out.probability_std is None else out.probability_std[0],
        scores=None if out.scores is None else out.scores[0],
        mc_samples=n_mc,
        occlusion=None if occ is None else np.moveaxis(occ.occlusion[:, 0], 0, 1),  # (T, U, K)
        occlusion_units=() if occ is None else occ.units,
        occlusion_by=by or "",
        missing_evidence=evidence_sd,
        baseline_recon=baseline,
    )
    return result if keep is None else _windows_of(result, *keep)


def span_windows(window_starts: np.ndarray, window_s: float, start_s: float, stop_s: float | None) -> tuple[int, int]:
    """The windows ``[i0, i1)`` of a feature set (``window_starts``, s) that lie inside ``start_s``-``stop_s``.

    A window is inside when it starts at or after ``start_s`` and ends at or before ``stop_s`` (1e-6 s of
    rounding allowed). A span that holds no whole window of the grid (at least one window long, but across two
    of them) gets the window that overlaps it most. ``stop_s`` None: the end.
    """
    starts = np.asarray(window_starts, np.float64)
    a = float(start_s)
    b = float("inf") if stop_s is None else float(stop_s)
    inside = np.flatnonzero((starts >= a - 1e-6) & (starts + window_s <= b + 1e-6))
    if inside.size:
        return int(inside[0]), int(inside[-1]) + 1
    overlap = np.minimum(starts + window_s, b) - np.maximum(starts, a)
    best = int(np.argmax(overlap))
    if overlap[best] <= 0:
        raise ConfigError(f"Invalid span {a:g}-{b:g} s: no analysis window overlaps it (windows from "
                          f"{starts[0]:g} s to {starts[-1] + window_s:g} s).")
    return best, best + 1


#: AnalysisResult fields whose first axis is the window (T) axis.
_PER_WINDOW = ("window_starts", "probabilities", "uncertainty", "no_context", "features", "data_missing",
               "user_masked", "hidden", "recon", "interference_pred", "artifact_probs", "interference_detected",
               "probability_std", "scores", "reason", "feature_valid", "occlusion", "missing_evidence",
               "baseline_recon")


def _windows_of(result: AnalysisResult, i0: int, i1: int) -> AnalysisResult:
    """``result`` cut to its windows ``[i0, i1)`` (copies: the whole arrays are freed), with a step saying so."""
    import dataclasses

    def cut(a: Any) -> Any:
        return None if a is None else np.array(a[i0:i1])

    n = result.n_windows
    a, b = float(result.window_starts[i0]), float(result.window_starts[i1 - 1]) + result.window_s
    step = (f"windows {a:g}-{b:g} s ({i1 - i0} of {n}) analysed inside the whole: its normalisation statistics, "
            "model contexts cut on its grid and long-context spans, so they get the whole analysis' predictions")
    return dataclasses.replace(result, **{f: cut(getattr(result, f)) for f in _PER_WINDOW},
                               attention={k: np.array(v[i0:i1]) for k, v in result.attention.items()},
                               steps=tuple(result.steps) + (step,))


#: Windows per call of the EEG spline baseline on a long recording (16,384 x 32 tokens x 12 features: 25 MB).
BASELINE_BLOCK = 16384


def _baseline_in_blocks(values: np.ndarray, hidden: np.ndarray, names: Sequence[str], mods: Sequence[str],
                        valid: np.ndarray) -> np.ndarray | None:
    """:func:`~.recon_baseline.baseline_reconstruction` without its whole-array temporaries on long recordings.

    Up to :data:`BASELINE_BLOCK` windows: that function itself. Longer: the slow-signal tokens (interpolation
    across gaps: their whole series, a few tokens) in one call, the EEG tokens (spherical splines, window by
    window) in blocks of windows, into a result allocated once (:mod:`.spill`). The same values: each token's
    interpolation only uses its own series, and the spline of a window only that window -- unless there are more
    hidden-channel patterns than the function interpolates (``MAX_SPLINE_PATTERNS``, a random draw over the
    whole recording), in which case the EEG tokens go in one call.
    """
    from .recon_baseline import MAX_SPLINE_PATTERNS, SLOW_MODALITIES, baseline_reconstruction
    from .spill import full

    n_t = values.shape[0]
    if n_t <= BASELINE_BLOCK:
        return baseline_reconstruction(values, hidden, names, mods, valid)
    mods_a = np.asarray(mods)
    eeg = np.flatnonzero(mods_a == "EEG")
    slow = np.flatnonzero(np.isin(mods_a, SLOW_MODALITIES))
    if not (hidden[:, np.concatenate([eeg, slow])]).any():
        return None
    out = full(values.shape, np.nan, np.float32)
    names_a = np.asarray(names)

    def part(rows: slice, cols: np.ndarray) -> None:
        sub = np.empty((rows.stop - rows.start, len(cols), values.shape[2]), np.float32)
        for sl in _window_blocks(sub.shape[0]):  # gathered block by block (spilled values: pages trimmed)
            sub[sl] = values[rows.start + sl.start: rows.start + sl.stop][:, cols]
        r = baseline_reconstruction(sub, hidden[rows][:, cols], list(names_a[cols]), list(mods_a[cols]),
                                    valid[cols])
        del sub
        if r is not None:
            for sl in _window_blocks(r.shape[0]):
                out[rows.start + sl.start: rows.start + sl.stop, cols] = r[sl]

    if slow.size and hidden[:, slow].any():
        part(slice(0, n_t), slow)
    if eeg.size and hidden[:, eeg].any():
        h = hidden[:, eeg]
        some = h.any(1) & ((~h).sum(1) >= 4)  # spherical_spline's windows (min_visible=4)
        if len(np.unique(h[some], axis=0)) > MAX_SPLINE_PATTERNS:
            part(slice(0, n_t), eeg)  # the random draw of patterns is over the whole recording
        else:
            for sl in _window_blocks(n_t, BASELINE_BLOCK):
                part(sl, eeg)
    return out


class _NormalisedInput:
    """The model's input (T, N, F) float32 -- the features normalised, 0 where the model does not see them --
    computed for the windows asked for (``x[s, w]`` with the (S=1, T, N, F) shape that
    :func:`~mmqnet_core.inference.engine.run_contexts` indexes, or :meth:`block`) instead of held whole (24 h:
    166 MB). Element-wise, so any block equals the same rows of the whole array exactly."""

    def __init__(self, values: np.ndarray, use: np.ndarray, hidden: np.ndarray, norm: Any) -> None:
        self.values, self.use, self.hidden, self.norm = values, use, hidden, norm
        self.shape = values.shape
        self.dtype = np.dtype(np.float32)
        self.ndim = values.ndim

    def _make(self, v: np.ndarray, use: np.ndarray, hidden: np.ndarray) -> np.ndarray:
        xs = self.norm.apply(np.where(hidden[..., None] | ~use, np.float32(0.0), v), hidden)
        return np.where(use, xs, np.float32(0.0)).astype(np.float32, copy=False)

    def block(self, sl: slice) -> np.ndarray:
        return self._make(self.values[sl], self.use[sl], self.hidden[sl])

    def __getitem__(self, index: Any) -> Any:
        if index is None:
            return _Batched(self)
        return self._make(self.values[index], self.use[index], self.hidden[index])


class _Batched:
    """``x[None]`` of a :class:`_NormalisedInput`: indexed as ``[s, w]`` with s all 0 (one sequence)."""

    def __init__(self, inner: _NormalisedInput) -> None:
        self.inner = inner
        self.shape = (1,) + inner.shape
        self.dtype = inner.dtype
        self.ndim = inner.ndim + 1

    def __getitem__(self, index: Any) -> np.ndarray:
        s, w = index
        if np.any(np.asarray(s) != 0):
            raise IndexError("one sequence only")
        return self.inner[np.broadcast_to(w, np.broadcast_shapes(np.shape(s), np.shape(w)))]


def _attribution_unit(attribution: str | bool | None) -> str | None:
    """The occlusion unit of the ``attribution`` option ("modality", "token") or None (off)."""
    from ..model.attribution import OCCLUSION_UNITS

    if attribution is None or attribution is False:
        return None
    if attribution is True:
        return "modality"
    if attribution not in OCCLUSION_UNITS:
        raise ConfigError(f"Invalid value for 'attribution': allowed {', '.join(OCCLUSION_UNITS)} (or True for "
                          f"modality, False/None for none), got {attribution!r}.")
    return str(attribution)
