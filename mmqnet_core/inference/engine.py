"""Run a model over whole trials / recordings: sliding contexts of T windows, batched, outputs averaged.

A sequence of ``n_total`` windows is cut into contexts of the model's ``T`` windows at stride ``T``; when
``n_total`` is not a multiple of ``T`` one last context is aligned to the end, and the windows it shares with
the previous context get the mean of both predictions. Shared by :mod:`mmqnet_core.inference`,
:mod:`mmqnet_core.evaluation` and the validation step of :mod:`mmqnet_core.training`.

Monte-Carlo uncertainty (MC dropout, Gal & Ghahramani 2016; ``mc_samples`` > 0): after the deterministic pass
of each batch, the batch is run ``mc_samples`` more times with only the stochastic layers (``nn.Dropout`` and
friends, :class:`~mmqnet_core.model.blocks.DropPath`) switched to training mode -- every other module keeps its
mode, whatever its type -- and the probabilities become the mean over those samples, with their standard
deviation beside them. Each sample averages the contexts covering a window first (as the deterministic pass
does), so the spread is that of the per-window prediction. The random draws come from torch's default
generators seeded with ``mc_seed`` inside :func:`torch.random.fork_rng` (DropPath and ``nn.Dropout`` take no
generator argument), so the result depends only on the seed and the batch composition (``batch_size``), and the
caller's global RNG state is the same afterwards.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError
from ..model.blocks import DropPath
from ..progress import CancelToken, ProgressCallback, check_cancel, report

#: Module types switched to training mode for Monte-Carlo sampling (by type: never normalisation layers).
STOCHASTIC_TYPES: tuple[type[nn.Module], ...] = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d,
                                                  nn.AlphaDropout, nn.FeatureAlphaDropout, DropPath)
#: Most Monte-Carlo samples accepted (each is a full pass over the recording).
MAX_MC_SAMPLES = 1000


def context_starts(n_total: int, t: int) -> np.ndarray:
    """First window of every context covering ``n_total`` windows with contexts of ``t`` windows."""
    if n_total <= t:
        return np.zeros(1, dtype=np.int64)
    starts = list(range(0, n_total - t + 1, t))
    if starts[-1] + t < n_total:
        starts.append(n_total - t)
    return np.asarray(starts, dtype=np.int64)


@dataclass(frozen=True)
class ContextOutputs:
    """Per-window model outputs over whole sequences (S sequences of n windows)."""

    probabilities: np.ndarray  # (S, n, K) probability of the high class per target
    no_context: np.ndarray  # (S, n) bool: no visible token in the window's context (prediction = prior)
    interference: np.ndarray | None  # (S, n) predicted interference score in [0, 1], or None
    artifacts: np.ndarray | None  # (S, n, A) artifact-type probabilities, or None
    recon: np.ndarray | None  # (S, n, N, F) reconstructed normalised features, or None
    attention: dict[str, np.ndarray] | None  # family -> (S, n, N) attention mass over tokens (see below)
    probability_std: np.ndarray | None = None  # (S, n, K) std of the probabilities over MC samples; None: no MC
    #                                            (``probabilities`` is then the deterministic prediction)
    scores: np.ndarray | None = None  # (S, n, K) predicted 1-9 scores (deterministic pass), or None (no regression)


def _batches_in_threads(forward, add, n_batches: int, n_threads: int, owners: set[int],
                        progress: ProgressCallback | None, cancel: CancelToken | None) -> None:
    """``add(*forward(bi)[:2])`` for every batch in order, the forward passes ``n_threads`` at a time in helper
    threads (each takes the next batch; at most ``n_threads`` batches' outputs wait for their turn) with torch's
    intra-op threads divided among them. This thread adds the outputs in batch order, reports progress and
    checks ``cancel`` every 0.05 s; the helpers check it before every submodule (their idents join
    ``owners``) and stop after a cancel or another helper's error, which is raised here."""
    from ..progress import start_daemon
    from .spill import trim

    lock = threading.Lock()
    slots = threading.Semaphore(n_threads)  # batches taken and not yet added: bounded memory
    done = [threading.Event() for _ in range(n_batches)]
    results: list = [None] * n_batches
    errors: list = []
    stop = threading.Event()
    todo = iter(range(n_batches))

    def worker() -> None:
        owners.add(threading.get_ident())
        try:
            while not stop.is_set():
                while not slots.acquire(timeout=0.05):
                    if stop.is_set():
                        return
                with lock:
                    bi = next(todo, None)
                if bi is None:
                    return
                try:
                    results[bi] = forward(bi)[:2]
                except BaseException as exc:  # handed to the waiting thread
                    errors.append(exc)
                    stop.set()
                finally:
                    done[bi].set()
        finally:
            owners.discard(threading.get_ident())

    intra = max(1, torch.get_num_threads() // n_threads)
    with _intra_op_threads(intra):
        futures = [start_daemon(worker, name="mmqnet-batch") for _ in range(n_threads)]
        try:
            for bi in range(n_batches):
                while not done[bi].wait(0.05):
                    check_cancel(cancel)
                check_cancel(cancel)
                if errors:
                    raise errors[0]
                sl, got = results[bi]
                results[bi] = None
                add(sl, got)
                del sl, got
                slots.release()
                report(progress, (bi + 1) / n_batches, f"batch {bi + 1}/{n_batches}")
                if bi % 8 == 7:
                    trim()
        except BaseException:
            stop.set()
            raise
        finally:
            # the helpers use torch's thread setting: wait for them before it is restored (after a cancel they stop
            # at their next submodule; after an error, once their batch is done)
            for f in futures:
                f.exception()


def attention_to_tokens(weights: torch.Tensor, t: int, n: int) -> torch.Tensor:
    """Aggregate (B, Q, L) attention weights (L = t*n keys, Q = t*q queries, window-major) to (B, t, n).

    For window t: the mean over that window's *active* queries of the attention mass they put on token n summed
    over all key windows, i.e. how much the window's output relied on channel n. A query is active when its row
    has mass (category and interference queries whenever the window's context has a visible key; modality
    queries only for the tokens that were reconstructed, see ``recon_tokens``). Each row sums to 1 (or 0 when
    no query of the window was active).
    """
    b, q_total, l_total = weights.shape
    q = q_total // t
    w = weights.reshape(b, t, q, t, n)  # (B, T, q, T', N)
    active = (w.sum((3, 4)) > 0).sum(2).clamp(min=1)  # (B, T) queries with attention mass
    return w.sum((2, 3)) / active[..., None]  # (B, T, N)


def stochastic_modules(model: nn.Module) -> list[nn.Module]:
    """The modules of ``model`` that Monte-Carlo sampling switches on: dropout layers and DropPath with p > 0."""
    return [m for m in model.modules() if isinstance(m, STOCHASTIC_TYPES) and float(getattr(m, "p", 0.0)) > 0]


def check_mc_samples(model: nn.Module, mc_samples: int | None) -> int:
    """``mc_samples`` as an int (None = 0) after checking it against ``model``.

    Raises
    ------
    ConfigError
        Not 0 or an integer in [2, MAX_MC_SAMPLES], or > 0 for a model without any stochastic layer (its
        samples would all equal the deterministic prediction).
    """
    n = 0 if mc_samples is None else mc_samples
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0 or n == 1 or n > MAX_MC_SAMPLES:
        raise ConfigError(f"Invalid value for 'mc_samples': 0 (off) or an integer from 2 to {MAX_MC_SAMPLES}, "
                          f"got {mc_samples!r}.")
    n = int(n)
    if n and not stochastic_modules(model):
        cfg = getattr(model, "config", None)
        rates = (f" (dropout = {cfg.dropout:g}, drop_path = {cfg.drop_path:g} in its config)"
                 if cfg is not None and hasattr(cfg, "dropout") and hasattr(cfg, "drop_path") else "")
        raise ConfigError(
            f"Invalid value for 'mc_samples': {n} Monte-Carlo samples need a model with dropout or stochastic depth, "
            f"but this model has no stochastic layer{rates}, so every sample would equal the deterministic "
            "prediction; use 0 (entropy only) or a checkpoint trained with dropout or drop_path > 0."
        )
    return n


@contextmanager
def mc_sampling_mode(model: nn.Module) -> Iterator[list[nn.Module]]:
    """Switch only the stochastic layers of ``model`` to training mode; restore every one's flag on exit
    (also on an error or a cancel)."""
    mods = stochastic_modules(model)
    before = [m.training for m in mods]
    try:
        for m in mods:
            m.training = True  # the flag only: these are leaves, and nothing else may change mode
        yield mods
    finally:
        for m, flag in zip(mods, before):
            m.training = flag


@contextmanager
def seeded_rng(device: torch.device | str, seed: int) -> Iterator[None]:
    """Seed torch's default generators of the CPU and ``device`` with ``seed`` inside; restore them on exit."""
    dev = torch.device(device)
    if dev.type == "cuda":
        idx = dev.index if dev.index is not None else torch.cuda.current_device()
        with torch.random.fork_rng(devices=[idx], device_type="cuda"):
            torch.default_generator.manual_seed(seed)
            with torch.cuda.device(idx):
                torch.cuda.manual_seed(seed)  # this device only: the others keep their state
            yield
    elif dev.type == "mps":
        with torch.random.fork_rng(device_type="mps"):
            torch.manual_seed(seed)  # CPU and MPS generators (fork_rng restores both)
            yield
    else:
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(seed)
            yield


@contextmanager
def cancel_inside_forward(model: nn.Module, cancel: CancelToken | None) -> Iterator[set[int]]:
    """Check ``cancel`` before the forward of every submodule of ``model`` (forward pre-hooks), so that a cancel
    stops a batch within one layer instead of at its end (a batch of 64 contexts with reconstructions and
    attention takes seconds on a busy CPU). Only calls from the thread that entered are checked, and from the
    threads whose ident the caller adds to the set this yields (helper threads running batches): the app may run
    a new analysis with the same model while a cancelled one is still unwinding."""
    owners = {threading.get_ident()}
    if cancel is None:
        yield owners
        return

    def hook(_module: nn.Module, _inputs: tuple) -> None:
        if threading.get_ident() in owners:
            check_cancel(cancel)

    handles = [m.register_forward_pre_hook(hook) for m in model.modules()]
    try:
        yield owners
    finally:
        for h in handles:
            h.remove()


#: Threads running batches of contexts at once in :func:`run_contexts` (``batch_threads``), each with
#: torch's intra-op threads divided among them. On 2 CPU cores, one batch at a time over both cores (torch's
#: intra-op threads) kept them ~65 % busy -- the model's many small operations leave one thread waiting on the
#: other -- while two batches at a time with one thread each keep both busy: the model stage of ``mmqnet analyze``
#: on 1 h took 1.4-1.5 instead of 2.5-2.7 s (256 Hz, load 2; 512 Hz 1.2-1.3 vs 1.7-1.8 s), on 24 h 35.6 s (50.8 s
#: in session 9), for ~10 % less CPU and +110-160 MB at its peak. The values are those of one batch at a time with the
#: helpers' intra-op threads (tested: the batches' outputs are added up in batch order), within float rounding
#: of one batch over two intra-op threads (1 ULP in a small last batch).
#: Session 10, the lead's quiet re-measurement (``bench_scale.py``, load 0.0-2.0): the 24-h model stage (in this
#: process) 50.3 s with 2 vs 80.2 s with 1 (the shipped checkpoint's long-context read-out costs more than session 9's
#: model); a 1-h ``mmqnet analyze`` (forked model process) level within noise (256 Hz 9.91 / 8.92 vs 9.79 / 9.25 s;
#: 512 Hz 10.85 / 9.76 s with 2, 12.63 / 11.72 s with 1 in the model process) for +300-400 MB in the model process
#: (866 vs 502-568 MB; 1-h total 1.25 GB, 24 h 1.32 GB: within 1.5 GB).
BATCH_THREADS = 2

_INTRA_LOCK = threading.Lock()
_INTRA_USERS = [0, 0]  # runs inside, torch's thread count before the first


@contextmanager
def _intra_op_threads(n: int) -> Iterator[None]:
    """torch's intra-op threads set to ``n`` inside (a process-wide setting: restored when the last run that
    set it leaves)."""
    with _INTRA_LOCK:
        if _INTRA_USERS[0] == 0:
            _INTRA_USERS[1] = torch.get_num_threads()
            torch.set_num_threads(n)
        _INTRA_USERS[0] += 1
    try:
        yield
    finally:
        with _INTRA_LOCK:
            _INTRA_USERS[0] -= 1
            if _INTRA_USERS[0] == 0:
                torch.set_num_threads(_INTRA_USERS[1])


def _batch_threads(requested: int | None, n_batches: int, n_mc: int, device: torch.device | str) -> int:
    """How many batches :func:`run_contexts` runs at once: 1 unless asked for, on the CPU, without Monte-Carlo
    samples (their random draws must come in batch order) and with more than one batch and intra-op thread."""
    if not requested or requested < 2 or n_mc or n_batches < 2 or torch.device(device).type != "cpu":
        return 1
    return max(1, min(int(requested), n_batches, torch.get_num_threads()))


@torch.no_grad()
def run_contexts(
    model: torch.nn.Module,
    x: np.ndarray,
    missing: np.ndarray,
    *,
    n_valid: np.ndarray | None = None,
    feature_valid: np.ndarray | None = None,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    return_recon: bool = False,
    return_attention: bool = False,
    mc_samples: int | None = 0,
    mc_seed: int = 0,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    batch_threads: int | None = None,
    window_range: tuple[int, int] | None = None,
) -> ContextOutputs:
    """Predict every window of S sequences with sliding contexts.

    Parameters
    ----------
    model : MMQNet
        In eval mode; its ``config.n_windows`` is the context length T.
    x : ndarray, shape (S, n, N, F)
        Normalised features (values of missing tokens are ignored).
    missing : ndarray, shape (S, n, N)
        True = token missing or masked.
    n_valid : ndarray, shape (S,), optional
        Real windows per sequence (the rest is padding); default all ``n``.
    feature_valid : ndarray, shape (S, n, N, F), optional
        bool, True = this feature of a visible token is present (``MMQNet.forward``); None = all of them.
    batch_size : int
        Contexts per forward pass.
    device
        Device of the model.
    return_recon, return_attention : bool
        Also collect reconstructions / attention maps (more memory). Only the ``missing`` tokens are
        reconstructed (the modality queries' job; a visible token's own value would reach its reconstruction
        through the encoder), the others get 0, and the modality family's attention map covers those
        reconstructions only. Without ``return_recon`` nothing is reconstructed (much faster on the CPU).
    mc_samples : int, optional
        0 or None: one deterministic pass (``probability_std`` is None). Otherwise 2 or more Monte-Carlo
        passes per batch with the dropout / DropPath layers on (see the module docstring): ``probabilities``
        becomes their mean and ``probability_std`` their standard deviation (ddof = 1). Reconstructions,
        attention maps and interference outputs stay those of the deterministic pass.
    mc_seed : int
        Seed of the Monte-Carlo draws (same seed and batch size: same result).
    progress, cancel
        Progress per batch; cancel checked between batches, between Monte-Carlo samples and before every
        submodule's forward (:func:`cancel_inside_forward`).
    batch_threads : int, optional
        Run up to this many batches at once in helper threads, torch's intra-op threads divided among them
        (see :data:`BATCH_THREADS`; the CPU only, not with ``mc_samples``). None / 1 (default): one batch at a
        time in this thread. The outputs are those of one batch at a time with the helpers' intra-op threads.
    window_range : (int, int), optional
        Only the windows ``lo <= w < hi`` of every sequence are wanted: only the contexts covering one of them are
        run (the same contexts, long spans and averages as without it, so those windows get exactly the values of
        the whole pass); every output is 0 (``no_context`` False) on the other windows. None: every window.

    Raises
    ------
    ConfigError
        Bad ``mc_samples``, or ``mc_samples`` > 0 for a model without stochastic layers.
    Cancelled
        ``cancel`` was set (the layers' modes are restored).
    """
    cfg = model.config
    n_mc = check_mc_samples(model, mc_samples)
    s_total, n_total, n_tok, n_feat = x.shape
    t = min(cfg.n_windows, n_total)
    n_valid = np.full(s_total, n_total) if n_valid is None else np.asarray(n_valid)
    items = [(s, int(st)) for s in range(s_total) for st in context_starts(int(n_valid[s]), t)]
    if window_range is not None:  # the contexts covering a wanted window, cut from the whole sequence as ever
        lo, hi = (int(v) for v in window_range)
        items = [(s, st) for s, st in items if st < hi and st + t > lo]
    k = cfg.n_targets
    probs = np.zeros((s_total, n_total, k), np.float32)
    count = np.zeros((s_total, n_total), np.float32)
    no_ctx = np.zeros((s_total, n_total), bool)
    has_int = cfg.use_interference_queries
    inter = np.zeros((s_total, n_total), np.float32) if has_int else None
    arts = np.zeros((s_total, n_total, len(cfg.artifact_types)), np.float32) if has_int else None
    want_recon = return_recon and cfg.use_modality_queries
    from .spill import trim, zeros as spill_zeros

    # (S, n, N, F): a temp-file mapping for long recordings, its touched pages trimmed every few batches
    recon = spill_zeros((s_total, n_total, n_tok, n_feat), np.float32) if want_recon else None
    att: dict[str, np.ndarray] | None = {} if return_attention else None
    mc = np.zeros((n_mc, s_total, n_total, k), np.float32) if n_mc else None  # per-sample sums over contexts
    scores = np.zeros((s_total, n_total, k), np.float32) if cfg.regression else None
    offs = np.arange(t)
    n_batches = max(1, -(-len(items) // batch_size))

    def forward(bi: int) -> tuple:
        """Batch ``bi``: its inputs and its outputs as numpy arrays (the model's forward pass)."""
        chunk = items[bi * batch_size:(bi + 1) * batch_size]
        si = np.array([c[0] for c in chunk])
        wi = np.array([c[1] for c in chunk])[:, None] + offs  # (B, T)
        xb = torch.from_numpy(np.ascontiguousarray(x[si[:, None], wi])).to(device)  # (B, T, N, F)
        mb = torch.from_numpy(np.ascontiguousarray(missing[si[:, None], wi])).to(device)  # (B, T, N)
        fv = None if feature_valid is None else torch.from_numpy(
            np.ascontiguousarray(feature_valid[si[:, None], wi])).to(device)  # (B, T, N, F)
        recon_tokens = no_recon = None
        if cfg.use_modality_queries:  # reconstruct what is missing, or nothing when no reconstruction is wanted
            no_recon = torch.zeros_like(mb)
            recon_tokens = mb if want_recon else no_recon
        long = {}
        if getattr(cfg, "evidence_long", ()):  # the long-context read-out: windows around the context
            from ..model.mmqnet import long_context_rows, sequence_long_context

            long = {"long_context": sequence_long_context(  # only for the contexts where it can add evidence
                x, missing, feature_valid, si, wi[:, 0], t, cfg.long_context_windows, n_valid,
                np.asarray(cfg.feature_valid, bool), device, rows=long_context_rows(cfg, mb, fv))}
        with torch.no_grad():  # (per thread: a helper thread's forward too)
            out = model(xb, mb, return_attention=return_attention, allow_empty=True, recon_tokens=recon_tokens,
                        feature_valid=fv, **long)
        got = {"probs": out.probabilities.float().cpu().numpy(), "no_ctx": out.no_context.cpu().numpy()}
        if scores is not None and out.regression is not None:
            got["scores"] = out.regression.float().cpu().numpy()
        if inter is not None and out.interference is not None:
            got["inter"] = torch.sigmoid(out.interference).float().cpu().numpy()
            got["arts"] = torch.sigmoid(out.artifact_logits).float().cpu().numpy()
        if recon is not None and out.recon is not None:
            got["recon"] = out.recon.float().cpu().numpy()
        if att is not None and out.attention:
            got["att"] = {family: attention_to_tokens(w.float(), t, n_tok).cpu().numpy()
                          for family, w in out.attention.items()}  # (B, T, N)
        return (si[:, None], wi), got, (xb, mb, fv, no_recon, long)

    def add(sl: tuple, got: dict) -> None:
        """Add a batch's outputs into the per-window sums (in batch order: the same sums whatever the threads)."""
        s_i, w_i = sl  # (B, 1), (B, T)
        # contexts of a batch overlap only where a sequence's last context was moved back to fit: without that,
        # every window appears once and ``a[sl] += v`` makes the same single addition per element as np.add.at
        # (~10x faster: 0.08 s of a 1-h model stage in the thread that adds while the helpers compute)
        once = not bool(np.any((s_i[1:, 0] == s_i[:-1, 0]) & (w_i[1:, 0] < w_i[:-1, 0] + w_i.shape[1])))

        def acc(total: np.ndarray, value: np.ndarray | float) -> None:
            if once:
                total[sl] += value
            else:
                np.add.at(total, sl, value)

        acc(probs, got["probs"])
        acc(count, 1.0)
        no_ctx[sl] |= got["no_ctx"]
        if "scores" in got:
            acc(scores, got["scores"])
        if "inter" in got:
            acc(inter, got["inter"])
            acc(arts, got["arts"])
        if "recon" in got:
            acc(recon, got["recon"])
        for family, agg in got.get("att", {}).items():
            if family not in att:
                att[family] = np.zeros((s_total, n_total, n_tok), np.float32)
            acc(att[family], agg)

    n_threads = _batch_threads(batch_threads, n_batches, n_mc, device)
    with seeded_rng(device, int(mc_seed)) if n_mc else nullcontext(), \
            cancel_inside_forward(model, cancel) as owners:
        if n_threads > 1:
            _batches_in_threads(forward, add, n_batches, n_threads, owners, progress, cancel)
        for bi in range(n_batches if n_threads == 1 else 0):
            check_cancel(cancel)
            sl, got, (xb, mb, fv, no_recon, long) = forward(bi)
            add(sl, got)
            del got
            if mc is not None:  # Monte-Carlo passes: probabilities only (no reconstruction, no attention)
                with mc_sampling_mode(model):
                    for i in range(n_mc):
                        check_cancel(cancel)
                        out = model(xb, mb, allow_empty=True, recon_tokens=no_recon, feature_valid=fv, **long)
                        np.add.at(mc[i], sl, out.probabilities.float().cpu().numpy())
                        report(progress, (bi + (i + 1) / (n_mc + 1)) / n_batches,
                               f"batch {bi + 1}/{n_batches}, sample {i + 1}/{n_mc}")
            report(progress, (bi + 1) / n_batches, f"batch {bi + 1}/{n_batches}")
            if bi % 8 == 7:
                trim()
    c = np.maximum(count, 1.0)
    probs /= c[..., None]
    std = None
    if mc is not None:
        mc /= c[..., None]  # (n_mc, S, n, K): each sample's per-window prediction (contexts averaged)
        probs = mc.mean(0).astype(np.float32)
        std = mc.std(0, ddof=1).astype(np.float32)
    if scores is not None:
        scores /= c[..., None]
    if inter is not None:
        inter /= c
        arts /= c[..., None]
    if recon is not None:
        for a in range(0, n_total, 4096):  # in blocks of windows (spilled: pages trimmed after each)
            recon[:, a:a + 4096] /= c[:, a:a + 4096, None, None]
            trim()
    if att is not None:
        for family in att:
            att[family] /= c[..., None]
    return ContextOutputs(probs, no_ctx, inter, arts, recon, att, std, scores)
