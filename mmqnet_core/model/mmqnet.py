"""MMQ-Net, the Multi-Masked Querying Network (Xu, Zuo & Li, arXiv 2507.20737), as we read it.

Shape legend
------------
B batch, T windows per sample, N tokens per window, F features per token, G modality groups,
L = T*N encoder tokens, Q queries per window (of one family), K targets (valence, arousal),
A artifact types, D width, H heads.

Our reading of the paper
------------------------
Only the abstract and public summaries of the paper could be read and no official code exists, so the
architecture below is **our design**, following what the abstract states:

* *From the paper*: three families of learnable queries in one transformer -- **modality queries**
  reconstruct missing data from the signals that are present, **category queries** gather the features of
  the emotional state (valence, arousal), **interference queries** separate artifact/noise content from the
  relevant information; inputs are band features (DE, PSD) of EEG plus peripheral features; missing data are
  whole sensors or segments inside a modality. The paper's ablation removes each query type and the
  accuracy drops, so each family must be able to change the prediction: a family that only adds a training
  loss is a regulariser, not a component.
* *Ours, tokens*: one token per (window, channel) built by a per-modality linear embedding of the window's
  features, plus learned token, time and modality-group embeddings. Features can also be missing one by one
  inside a visible token (``feature_valid`` of :meth:`MMQNet.forward`, e.g. a detector that rejects one band):
  those values are zeroed and a learned per-(modality, feature) vector ``feature_missing`` is added for each
  of them, so the embedding knows which features it lacks instead of reading a zero as a measurement.
* *Ours, "multi-masked"* is read as three masks: (a) the **data mask** -- missing or user-masked tokens are
  never keys of the encoder, so nothing of their values reaches any output; (b) random extra masking during
  training (done by the training code: whole modalities over whole samples or long spans, token runs and
  a masked-autoencoder share) so the modality queries learn to reconstruct and no single modality can carry
  the prediction; (c) **attention masks that keep each query family to its role without cutting the
  families off from one another**. How the families interact (``fusion="mmq"``, the default):

  1. A transformer encoder contextualises the visible tokens (missing tokens are never keys).
  2. **Modality queries** (one learned query per modality group, plus the token's position) decode every
     missing token from the visible tokens of its context (never from itself). Their output states -- the
     reconstructed hidden states -- *replace the missing tokens in the memory that the other families read*,
     marked by the learned ``mask_token`` (added to a reconstructed state, so a key says "inferred, not
     measured"). A missing EEG channel thus contributes what its neighbours and the other modalities imply
     instead of contributing nothing, and a reconstruction head decodes the same states into features (MSE
     on hidden tokens with ground truth). Windows with no visible token in their context keep their learned
     prior (reconstructed keys are not read there; ``no_context``).
  3. **Interference queries** read the same memory, predict the interference score and artifact types, and
     then **compete with the category queries for every token** (slot-attention style): for token (t, n)
     the competition is a softmax over the interference and category queries of window t of the scaled
     dot products between a shared projection of the queries and of the token; the share the interference
     queries win, ``interference_gate`` (B, T, N), gates the token for the category read-out: log(1 - gate)
     is added to every category query's attention logit of that key. Tokens the interference family claims
     (artifact-laden ones, as far as the classification and interference losses teach it) are down-weighted
     before the softmax over keys renormalises, so artifacts do not reach the classifier. Trained by the
     classification loss alone the gate hardly separated artifact windows (0.254 vs 0.250, AUROC 0.49 on fold 1);
     an optional supervised loss (``training.loop.gate_loss``, ``--gate-loss``, off by default) scores the
     window's largest gate over its measured tokens against the corpus' window-level artifact labels (a
     multiple-instance loss: which token carries the artifact is not labelled), which brings that AUROC to 0.82
     (blinks 0.997, EMG bursts 0.994), arousal level and EEG-only valence 2 points lower (session 8, model card).
  4. **Category queries** (``n_queries_per_target`` per target) read the memory of steps 2-3 within windows
     t-k..t+k and feed one binary head per target (optional 1-9 regression). They never read the
     interference queries' outputs directly (only through the gate), and a decorrelation loss between the
     two families' outputs (``losses.py``) keeps artifact content out of the emotion features.

  So scrambling any family's weights changes the logits; the per-family perturbation tests check this.
  Logits are divided by ``config.temperature`` (temperature scaling fitted on validation subjects after
  training, 1 when not fitted).
* *Ours, per-modality evidence* (``modality_evidence``, new models): every modality group also has its
  own **evidence read-out** -- a linear map of the group's measured features averaged over the same context
  windows t-k..t+k the category queries read -- whose per-target logits are **added to the fused read-out's**
  (a product of experts: the class probabilities multiply). Training adds an auxiliary unimodal loss: each
  group's read-out must predict the labels alone wherever its modality is present (the idea of
  OGM-GE / "balanced multimodal learning": a modality whose own classifier is trained cannot be left lazy
  behind an easier one). Why: trained jointly, the fused read-out learned valence from the zygomatic EMG
  token and ignored EEG even when whole-modality drop-outs forced it (EEG-only valence 0.50-0.52 on held-out
  subjects), while a linear probe shows the EEG evidence is there **as hemispheric differences**: on fold 1's
  held-out subjects, a logistic regression on per-subject-normalised EEG features (8-window context means, as
  the model sees them) reaches 0.60 valence on the raw channel features but 0.71 on the right-minus-left
  differences of the 14 homologous 10-20 pairs (0.745 on the four frontal pairs' alpha); adding the
  left+right sums back drops it to 0.60 (their variance across subjects swamps the asymmetry). So the EEG
  read-out reads pair differences (``hemisphere_pairs``: F4-F3, Fp2-Fp1, ..., found from the token names; the
  raw EEG tokens when no pair exists), every other group its tokens' features. An absent modality
  contributes **nothing** (logit 0, not its reconstruction: the reconstructions are close to a constant,
  R^2 ~0.2, and a reconstructed EMG would bring the EMG shortcut back through the EEG); its reconstruction
  still reaches the fused read-out (step 2), which keeps the query families' roles and their perturbation
  tests. The read-outs have no bias (per-subject-normalised features are 0 on average: no evidence), start at
  zero (a warm start begins where its checkpoint was), and ``MMQNetOutput.modality_logits`` exposes them.
  After training, what hiding each modality changes in the logit on the validation subjects beyond what its
  restoration with reconstructions shows is stored as ``config.evidence_spread`` (G x K, beside the
  temperature): a hidden modality's read-out is 0, and the missing-evidence term of the uncertainty
  (``inference/evidence.py``) marginalises over the change it would have made, which the restoration cannot see
  (reconstructions carry no hemispheric asymmetry).
  With the read-outs alone the fused read-out still spoke as loudly without the peripheral channels as with
  them (its valence is near chance with EEG only, 0.51-0.53, but not less confident), which pulled the sum
  back to 0.60; so (``evidence_gate``) its logits are scaled by a learned **reliability** of the modalities
  present, 2 * sigmoid(a + sum_g w_g * share_g), share_g the visible share of group g over the context
  (1 at initialisation): a reliability-weighted product of experts, where the fused expert may learn to
  whisper when the modality it leans on is gone and the EEG read-out then carries the prediction.
  Optionally (``evidence_common``, e.g. ``("arousal",)``; off for configs without it) the EEG read-out of the
  named targets also reads the **mean over the EEG channels** of each feature (the same context mean): felt
  arousal lowers alpha and raises beta/gamma on every channel, a common mode the pair differences cancel (fold 1
  linear probe, 8-s context means, held-out subjects: arousal 0.59 from the 14 pair differences, 0.735 from the
  channel mean); valence does not read it (the common mode swamps the asymmetry: 0.60 instead of 0.71).
* *Ours, long-context evidence* (``evidence_long``, e.g. ``("arousal",)``; off for configs without it): the
  evidence read-outs of the named targets also read **every token's features averaged over a longer span of
  the recording**, windows t-h..t+h with h = ``long_context_windows`` (30 windows of 1 s by default, about a
  minute), measured values only: a masked or missing token-window, an invalid feature and a window outside the
  recording never enter the mean, and a token with no measured value in the span contributes 0 (no evidence),
  like an absent modality. Why: felt arousal is a slow state. On fold 1's held-out subjects every linear probe
  of the model's input gains 2-4 points of arousal accuracy from whole-trial means over 8-s ones (every token
  0.762 -> 0.782; peripheral + EEG channel mean 0.781 -> 0.800), while the model (0.765) sits at the 8-s linear
  ceiling; its category queries see windows t-k..t+k only. The read-out is linear per (token, feature), EEG
  channels raw (not pair differences: arousal's EEG markers are common to every channel, which the pairs
  cancel), its logits join each token's modality group (so the unimodal loss, the presence flags and the
  missing-evidence spread treat it as part of that modality's evidence), its weights start at zero (an old
  checkpoint warm-started with it predicts exactly as before) and other targets read nothing. The span is
  handed to :meth:`MMQNet.forward` as ``long_context`` = (mean, count), each (B, T, N, F), computed from the
  whole sequence by :func:`sequence_long_context` (the analysis' sliding contexts index the recording's
  windows around each context, so a 24-h recording is still read block by block: each batch of contexts
  reads its own T + 2h windows); without it the model computes the same mean over its own T input windows
  only (:func:`long_context_mean`). Centred, so a window's evidence also uses the next h windows: an offline
  analysis, not a real-time one; on a recording with several stimuli the span mixes neighbouring episodes
  (60-s trials in the synthetic corpus: the span is about one trial).
  With ``evidence_long_gate`` (off for configs without it) the long-context logits are scaled by
  2 * sigmoid(a_k + sum_g w_gk * share_g), share_g the visible share of group g's tokens over the window's
  short context (the fused read-out's reliability gate, with its own weights; 1 at initialisation): a read-out
  of the long span adds evidence that the fused read-out already counts when the short context is complete
  (measured in session 9 with it frozen: arousal on the validation subjects below the parent with everything
  present, above it with data missing), so its weight may depend on what the short context lacks.
  With ``evidence_long_fill`` (off for configs without it; session 10) each token's long-context logit is
  weighted by the share h_n of windows t-k..t+k in which token n is hidden (masked, missing or without a valid
  feature): the long span then **fills in what the short context lacks** and is exactly 0 for a token measured
  throughout the short context. Why this form, not a learned gate: session 9's frozen read-out (480 weights)
  lost to its parent where the short context is complete (0 %, one peripheral modality missing: it re-counts
  evidence the fused read-out already has, and the arousal temperature rose from 1.64 to 2.8) and gained where
  data are missing (+1.6 at 70 %, +0.9 EEG only, test subjects); a learned gate got no gradient in 2 epochs and,
  trained alone, moved the wrong way (it fits the training subjects, where more long-span evidence always helps).
  A fixed weight has nothing to fit, keeps the parent's prediction wherever the short context is complete, and
  the read-out's weights only learn from hidden token-windows, a substitution of the long-span measurement for the
  short-span one the model lacks (a regulariser by construction: no double counting). A token hidden over the
  whole long span as well (e.g. a whole modality missing from the recording) still contributes 0. Calibrated in a
  frozen fine-tune by shrinking the read-out, not by refitting the temperature (``training.loop.fit_long_scale``):
  the parent's temperature stays, since with the short context complete the prediction is the parent's.
* *Ours, ablations*: ``use_modality_queries=False`` drops reconstruction (missing tokens are not keys at
  all: the "mask/zero-fill" baseline on the same encoder); ``use_category_queries=False`` reads the mean of
  the window's keys (visible or reconstructed, gated by the interference share) instead of category
  queries; ``use_interference_queries=False`` drops the interference family and its gate (its outputs are
  then None).
* *Legacy* (``fusion="legacy"``, how checkpoints written before this design are read): predictions come from
  the category queries alone, which read only visible tokens; reconstructions and the interference family
  are side outputs trained by their losses, and ``mask_token`` fills the encoder input of missing tokens
  (whose encoder outputs are never read, so it is never trained). Kept so that those checkpoints load and
  give the results they were evaluated with.

Note on (c): the encoder mixes visible tokens, so for a token that is *visible* its own value reaches its
modality query indirectly; reconstruction is only trained on tokens that are hidden, and only the missing
tokens' reconstructed states join the memory, where no path from their values exists.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, replace
from typing import Any, Collection, Sequence

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError, MaskError
from .blocks import EncoderLayer, GroupedLinear, QueryDecoderLayer
from .config import MMQNetConfig

log = logging.getLogger(__name__)

FAMILIES = ("modality", "category", "interference")

# ------------------------------------------------------------------------------------------------ helpers


def context_block_mask(
    t: int, keys_per_window: int, queries_per_window: int, k: int | None, *, exclude_self: bool = False,
    device: torch.device | None = None,
) -> torch.Tensor | None:
    """Attention mask (T*Q, T*N) bool, True = key excluded: keys outside windows t-k..t+k of the query's window.

    With ``exclude_self`` (Q == N, one query per token) the query of token (t, n) also excludes key (t, n).
    Returns None when nothing is excluded.
    """
    if (k is None or k >= t - 1) and not exclude_self:
        return None
    win = torch.arange(t, device=device)
    far = (win[:, None] - win[None, :]).abs() > (t if k is None else k)  # (T, T)
    mask = far[:, None, :, None].expand(t, queries_per_window, t, keys_per_window)  # (T, Q, T, N)
    if exclude_self:
        assert queries_per_window == keys_per_window
        eye = torch.eye(t * keys_per_window, dtype=torch.bool, device=device)  # (L, L)
        return mask.reshape(t * queries_per_window, t * keys_per_window) | eye
    return mask.reshape(t * queries_per_window, t * keys_per_window)  # (T*Q, L)


_SITE = re.compile(r"^([A-Za-z]+)(\d+)$")


def hemisphere_pairs(names: Sequence[str], groups: Sequence[str], modality: str = "EEG") -> list[tuple[int, int]]:
    """(left, right) token indices of homologous 10-20 sites of ``modality``: an odd number is the left
    hemisphere and the next even number its mirror (Fp1/Fp2, F3/F4, T7/T8, PO3/PO4); midline sites (Fz) have none."""
    index = {str(n).upper(): i for i, (n, g) in enumerate(zip(names, groups)) if g == modality}
    pairs = []
    for name, i in index.items():
        m = _SITE.match(name)
        if m and int(m.group(2)) % 2 == 1:
            j = index.get(f"{m.group(1)}{int(m.group(2)) + 1}")
            if j is not None:
                pairs.append((i, j))
    return sorted(pairs)


def window_context(visible: torch.Tensor, k: int) -> torch.Tensor:
    """visible (B, T, N) bool -> (B, T) bool: some token of windows t-k..t+k is visible."""
    t = visible.shape[1]
    win = torch.arange(t, device=visible.device)
    near = ((win[:, None] - win[None, :]).abs() <= k).to(torch.float32)  # (T, T)
    return (visible.any(-1).to(torch.float32) @ near.T) > 0  # (B, T)


def long_context_mean(x: torch.Tensor, used: torch.Tensor, half_width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and count of the measured values over windows w-h..w+h of the same sequence (clipped to it).

    x (B, W, N, F) float; used (B, W, N, F) bool (True = measured: the value counts). Returns (mean, count), each
    (B, W, N, F): mean 0 where count is 0. Values where ``used`` is False never enter (they may be NaN).
    """
    w = x.shape[1]
    u = used.to(x.dtype)
    v = torch.where(used, x, torch.zeros((), dtype=x.dtype, device=x.device))
    zero = v.new_zeros(v.shape[0], 1, *v.shape[2:])
    cv = torch.cat([zero, v.double().cumsum(1)], 1)  # (B, W+1, N, F) prefix sums (float64: long spans)
    cu = torch.cat([zero, u.double().cumsum(1)], 1)
    win = torch.arange(w, device=x.device)
    lo, hi = (win - half_width).clamp(min=0), (win + half_width + 1).clamp(max=w)
    count = (cu[:, hi] - cu[:, lo]).round()
    mean = (cv[:, hi] - cv[:, lo]) / count.clamp(min=1.0)
    mean = torch.where(count > 0, mean, torch.zeros((), dtype=mean.dtype, device=mean.device))
    return mean.to(x.dtype), count.to(x.dtype)


def long_context_rows(config: "MMQNetConfig", missing: torch.Tensor,
                      feature_valid: torch.Tensor | None = None) -> torch.Tensor:
    """(B,) bool: the contexts whose long-context read-out (``evidence_long``) can add to the logits.

    With ``evidence_long_fill`` a token's long-context logit is weighted by its hidden share over windows t-k..t+k
    of the context, which is exactly 0 at every window of a context whose tokens are all measured throughout
    (visible, with a valid feature the model defines): there the read-out adds 0 whatever the long span holds,
    and :func:`sequence_long_context` need not compute it (``rows``). Every context without the fill.
    ``missing`` (B, T, N) bool and ``feature_valid`` (B, T, N, F) bool or None, as :meth:`MMQNet.forward` takes them.
    """
    b = missing.shape[0]
    if not (config.evidence_long and config.evidence_long_fill):
        return torch.ones(b, dtype=torch.bool, device=missing.device)
    columns = torch.as_tensor(np.asarray(config.feature_valid, bool), device=missing.device)  # (N, F)
    valid = columns if feature_valid is None else feature_valid & columns
    measured = ~missing & valid.any(-1)  # (B, T, N): what the fill weight's hidden share counts as seen
    return ~measured.reshape(b, -1).all(1)


def sequence_long_context(
    x, missing, feature_valid, seq: np.ndarray, starts: np.ndarray, t: int, half_width: int,  # noqa: ANN001
    n_valid: np.ndarray, columns: np.ndarray, device: torch.device | str = "cpu",
    rows: np.ndarray | torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``long_context`` of :meth:`MMQNet.forward` for contexts of ``t`` windows cut from whole sequences.

    Parameters
    ----------
    x, missing, feature_valid
        Arrays indexed ``[s, w]`` like ``inference.engine.run_contexts``' inputs: (S, n, N, F) features, (S, n, N)
        bool missing, (S, n, N, F) bool or None; only windows ``starts - h .. starts + t + h`` are read.
    seq, starts : ndarray, shape (B,)
        Sequence and first window of every context.
    t, half_width
        Windows per context and h.
    n_valid : ndarray, shape (S,)
        Real windows per sequence (windows past it are padding and never enter).
    columns : ndarray, shape (N, F)
        bool, the feature columns the model defines.
    rows : ndarray, shape (B,), optional
        bool, the contexts whose long span is computed (:func:`long_context_rows`); the others get mean 0 and
        count 1 without reading anything: their read-out's logits are exactly 0 either way (finite inputs: the
        fill weight is 0 there) and, every token being measured there, a count > 0 keeps its presence flags. The
        model's outputs are bit-identical to those with every row computed (tested). None = every row.

    Returns
    -------
    (mean, count), each a (B, t, N, F) tensor on ``device``.
    """
    if rows is not None:
        rows = np.asarray(rows.cpu() if isinstance(rows, torch.Tensor) else rows, bool)
        if not rows.all():  # ~0.4 s of a 1-h analysis (gathering and summing 2h + t windows per context) saved
            shape = (len(rows), int(t)) + tuple(np.shape(columns))
            mean, count = torch.zeros(shape, dtype=torch.float32), torch.ones(shape, dtype=torch.float32)
            if rows.any():
                at = torch.from_numpy(np.flatnonzero(rows))
                mean[at], count[at] = sequence_long_context(
                    x, missing, feature_valid, np.asarray(seq)[rows], np.asarray(starts)[rows], t, half_width,
                    n_valid, columns)
            return mean.to(device), count.to(device)
    h = int(half_width)
    seq = np.asarray(seq, np.int64)
    wide = np.asarray(starts, np.int64)[:, None] - h + np.arange(t + 2 * h)  # (B, W)
    last = np.asarray(n_valid, np.int64)[seq][:, None]  # (B, 1)
    inside = (wide >= 0) & (wide < last)
    idx = np.clip(wide, 0, np.maximum(last - 1, 0))
    rows = seq[:, None]
    used = ~np.asarray(missing[rows, idx], bool)[..., None] & np.asarray(columns, bool) & inside[..., None, None]
    if feature_valid is not None:
        used &= np.asarray(feature_valid[rows, idx], bool)
    xw = np.asarray(x[rows, idx], np.float32)
    xw = np.where(used, xw, np.float32(0.0))  # NaN of unmeasured entries never reaches the sums
    mean, count = long_context_mean(torch.from_numpy(xw), torch.from_numpy(used), h)
    return mean[:, h:h + t].contiguous().to(device), count[:, h:h + t].contiguous().to(device)


@dataclass
class MMQNetOutput:
    """What :meth:`MMQNet.forward` returns (all tensors on the model's device)."""

    logits: torch.Tensor  # (B, T, K, 2) binary low/high logits per target (class 1 = score >= threshold)
    regression: torch.Tensor | None  # (B, T, K) predicted 1-9 score, or None (config.regression False)
    recon: torch.Tensor | None  # (B, T, N, F) reconstructed normalised features (0 on invalid columns) or None
    interference: torch.Tensor | None  # (B, T) interference-score logit (sigmoid -> [0, 1]) or None
    artifact_logits: torch.Tensor | None  # (B, T, A) multi-label artifact-type logits or None
    category_features: torch.Tensor  # (B, T, K, D) pooled category features read by the heads
    interference_features: torch.Tensor | None  # (B, T, D) pooled interference-query outputs or None
    no_context: torch.Tensor  # (B, T) bool: no visible token in the window's context (prediction = prior)
    attention: dict[str, torch.Tensor] | None  # family -> (B, Q_family, L) head-averaged weights, or None:
    #   rows are window-major (row = t * Q + q), keys are tokens (column = t * N + n); Q_family = T*N for
    #   "modality", T*n_category_queries for "category" (T with the pooled ablation: the pooling weights),
    #   T*n_interference_queries for "interference". Rows sum to 1 over the keys the family may read (visible
    #   tokens; with fusion "mmq" also reconstructed ones for category/interference), 0 where there is none.
    modality_logits: torch.Tensor | None = None  # (B, T, G, K, 2) each modality group's own evidence logits
    #   (``modality_evidence``; before temperature scaling; 0 where the group has no measured data in the
    #   window's context), summed into ``logits``; None without per-modality evidence
    modality_present: torch.Tensor | None = None  # (B, T, G) bool: the group has measured data in the context
    interference_gate: torch.Tensor | None = None  # (B, T, N) share of each token claimed by the interference
    #   queries (fusion "mmq"; it scales the token's weight in the category read-out by 1 - gate), or None

    @property
    def probabilities(self) -> torch.Tensor:
        """(B, T, K) probability of the high class."""
        return self.logits.softmax(-1)[..., 1]


# -------------------------------------------------------------------------------------------------- model


class MMQNet(nn.Module):
    """Multi-Masked Querying Network (see the module docstring for what is the paper's and what is ours).

    Parameters
    ----------
    config
        Shapes, widths and switches; :meth:`from_config` / :meth:`get_config` round-trip it.

    Notes
    -----
    ``forward(x, missing)`` takes normalised features x (B, T, N, F) and the data mask missing (B, T, N)
    (True = missing or masked by the user) and returns an :class:`MMQNetOutput`. T may be shorter than
    ``config.n_windows``.
    """

    def __init__(self, config: MMQNetConfig) -> None:
        super().__init__()
        self.config = c = config
        d, g, n, f, t = c.d_model, len(c.groups), c.n_tokens, c.n_features, c.n_windows
        self.fused = c.fusion == "mmq"
        self.register_buffer("group_index", torch.tensor(c.group_index, dtype=torch.long), persistent=False)
        self.register_buffer("feature_valid", torch.tensor(c.feature_valid, dtype=torch.bool), persistent=False)
        self.register_buffer("temperature", torch.tensor(c.temperature or (1.0,) * c.n_targets), persistent=False)

        # tokens
        self.embed = GroupedLinear(g, f, d)  # per-modality Linear(F -> D)
        if c.channel_embedding:
            # per-channel Linear(F -> D) added to the modality's map, zero at initialisation (a warm start from a
            # checkpoint without it begins exactly where that checkpoint was). Why: with one shared map per
            # modality, a feature enters every EEG token's state through the same matrix, and the read-out (a
            # convex, softmax-weighted sum over tokens) cannot give F3 alpha and F4 alpha opposite signs; frontal
            # alpha asymmetry, the EEG's valence marker, is exactly such a signed difference. The per-modality
            # EMG token has no such problem, which made it the easy (shortcut) route to valence.
            self.channel_embed = GroupedLinear(n, f, d)
            nn.init.zeros_(self.channel_embed.weight)
            nn.init.zeros_(self.channel_embed.bias)
            self.register_buffer("token_index", torch.arange(n), persistent=False)
        self.token_embedding = nn.Parameter(torch.randn(n, d) * 0.02)
        self.time_embedding = nn.Parameter(torch.randn(t, d) * 0.02)
        self.group_embedding = nn.Parameter(torch.randn(g, d) * 0.02)
        if not self.fused or c.use_modality_queries:
            # legacy: encoder input of missing tokens; mmq: marks a reconstructed state in the memory
            self.mask_token = nn.Parameter(torch.randn(d) * 0.02)
        if self.fused:
            self.feature_missing = nn.Parameter(torch.randn(g, f, d) * 0.02)  # added per missing feature

        def layers(kind: type[nn.Module], count: int, **kwargs: bool) -> nn.ModuleList:
            return nn.ModuleList(kind(d, c.n_heads, c.mlp_ratio, c.dropout, c.drop_path, **kwargs)
                                 for _ in range(count))

        self.encoder = layers(EncoderLayer, c.n_enc_layers)
        self.encoder_norm = nn.LayerNorm(d)

        if c.use_modality_queries:
            self.modality_queries = nn.Parameter(torch.randn(g, d) * 0.02)  # one per modality group
            # no self-attention among modality queries: each reconstructs its token independently, so a subset
            # of tokens can be reconstructed alone with identical results (``recon_tokens``)
            self.modality_decoder = layers(QueryDecoderLayer, c.n_dec_layers, self_attention=False)
            self.modality_norm = nn.LayerNorm(d)
            self.recon_head = GroupedLinear(g, d, f)  # per-modality Linear(D -> F)
        if c.use_category_queries:
            self.category_queries = nn.Parameter(torch.randn(c.n_category_queries, d) * 0.02)
            self.category_decoder = layers(QueryDecoderLayer, c.n_dec_layers)
        self.category_norm = nn.LayerNorm(d)
        self.register_buffer("target_index", torch.arange(c.n_targets), persistent=False)
        if c.modality_evidence:  # per-modality evidence read-outs (module docstring)
            self._init_evidence(c)
        self.class_head = GroupedLinear(c.n_targets, d, 2)  # per-target Linear(D -> 2)
        if c.regression:
            self.regression_head = GroupedLinear(c.n_targets, d, 1)  # per-target Linear(D -> 1)
        if c.use_interference_queries:
            self.interference_queries = nn.Parameter(torch.randn(c.n_interference_queries, d) * 0.02)
            self.interference_decoder = layers(QueryDecoderLayer, c.n_dec_layers)
            self.interference_norm = nn.LayerNorm(d)
            self.interference_head = nn.Linear(d, 1)
            self.artifact_head = nn.Linear(d, len(c.artifact_types))
            if self.fused:  # the shared projections of the competition for tokens (module docstring, step 3)
                self.compete_query = nn.Linear(d, d)
                self.compete_key = nn.Linear(d, d)

    # --- config round trip --------------------------------------------------------------------------------
    @classmethod
    def from_config(cls, config: MMQNetConfig) -> "MMQNet":
        return cls(config)

    def _init_evidence(self, c: MMQNetConfig) -> None:
        """Evidence units: (first, second) tokens whose difference is read (EEG pairs), or (token, -1)."""
        eeg = "EEG"
        pairs = hemisphere_pairs(c.names, c.token_groups, eeg)
        units = [(right, left) for left, right in pairs]  # right minus left
        units += [(i, -1) for i, g in enumerate(c.token_groups) if g != eeg or not pairs]
        first = torch.tensor([u[0] for u in units], dtype=torch.long)
        second = torch.tensor([max(u[1], 0) for u in units], dtype=torch.long)
        self.register_buffer("evidence_first", first, persistent=False)  # (M,)
        self.register_buffer("evidence_second", second, persistent=False)  # (M,)
        self.register_buffer("evidence_pair", torch.tensor([u[1] >= 0 for u in units]), persistent=False)  # (M,)
        self.register_buffer("evidence_group", self.group_index[first].clone(), persistent=False)  # (M,)
        # (M, F, K) linear evidence per unit feature and target; zero = no evidence (warm starts begin there)
        self.evidence_weight = nn.Parameter(torch.zeros(len(units), c.n_features, c.n_targets))
        if c.evidence_common and pairs:  # EEG common mode (config.evidence_common; without pairs it is read already)
            eeg_tokens = [i for i, grp in enumerate(c.token_groups) if grp == eeg]
            self.register_buffer("evidence_common_tokens", torch.tensor(eeg_tokens, dtype=torch.long),
                                 persistent=False)  # (E,)
            self.evidence_common_group = int(self.group_index[eeg_tokens[0]])
            self.register_buffer("evidence_common_mask", torch.tensor(
                [float(k in c.evidence_common) for k in c.targets]), persistent=False)  # (K,) targets that read it
            # (F, K) linear evidence of the channel mean per feature and target; zero = none (warm starts begin there)
            self.evidence_common_weight = nn.Parameter(torch.zeros(c.n_features, c.n_targets))
        if c.evidence_long:  # long-context read-out (config.evidence_long): every token's features, raw
            self.register_buffer("evidence_long_mask", torch.tensor(
                [float(k in c.evidence_long) for k in c.targets]), persistent=False)  # (K,) targets that read it
            # (N, F, K) linear evidence of each token's long-span mean; zero = none (warm starts begin there)
            self.evidence_long_weight = nn.Parameter(torch.zeros(c.n_tokens, c.n_features, c.n_targets))
            if c.evidence_long_gate:  # scale of the long-context logits given the short context's shares
                self.evidence_long_gate_weight = nn.Parameter(torch.zeros(len(c.groups), c.n_targets))
                self.evidence_long_gate_bias = nn.Parameter(torch.zeros(c.n_targets))
        if c.evidence_gate:  # reliability of the fused read-out given the modalities present; scale 1 at zero
            self.evidence_gate_weight = nn.Parameter(torch.zeros(len(c.groups), c.n_targets))
            self.evidence_gate_bias = nn.Parameter(torch.zeros(c.n_targets))

    def _evidence(self, x: torch.Tensor, used: torch.Tensor,
                  long_context: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-modality evidence logits (B, T, G, K, 2) and presence (B, T, G) from the measured features.

        x (B, T, N, F) with unused entries zeroed, used (B, T, N, F) bool (measured and valid); long_context
        (mean, count) of the long-context read-out (``evidence_long``; None: over the T input windows).
        """
        b, t = x.shape[:2]
        g = len(self.config.groups)
        pair = self.evidence_pair[:, None]  # (M, 1)
        xa, ua = x[:, :, self.evidence_first], used[:, :, self.evidence_first]  # (B, T, M, F)
        xb, ub = x[:, :, self.evidence_second], used[:, :, self.evidence_second]
        ok = ua & (ub | ~pair)  # (B, T, M, F)
        value = torch.where(ok, torch.where(pair, xa - xb, xa), torch.zeros((), dtype=x.dtype, device=x.device))
        win = torch.arange(t, device=x.device)
        near = ((win[:, None] - win[None, :]).abs() <= self.config.context_windows).to(x.dtype)  # (T, T)
        total = torch.einsum("st,btmf->bsmf", near, value)  # (B, T, M, F)
        count = torch.einsum("st,btmf->bsmf", near, ok.to(x.dtype))
        mean = total / count.clamp(min=1.0)  # context mean of the measured values, 0 where none
        z = torch.einsum("btmf,mfk->btmk", mean, self.evidence_weight.to(x.dtype))  # (B, T, M, K)
        per_group = z.new_zeros(b, t, g, z.shape[-1]).index_add(2, self.evidence_group, z)  # (B, T, G, K)
        has = (count.sum(-1) > 0).to(x.dtype)  # (B, T, M)
        present = has.new_zeros(b, t, g).index_add(2, self.evidence_group, has) > 0  # (B, T, G)
        if hasattr(self, "evidence_common_weight"):  # the EEG channels' context mean of each measured feature
            tok = self.evidence_common_tokens
            total_c = torch.einsum("st,btef->bsf", near, x[:, :, tok])  # unused entries of x are zero
            count_c = torch.einsum("st,btef->bsf", near, used[:, :, tok].to(x.dtype))  # (B, T, F)
            common = total_c / count_c.clamp(min=1.0)  # 0 where no EEG channel is measured
            weight = self.evidence_common_weight * self.evidence_common_mask  # other targets read nothing
            z_common = torch.einsum("btf,fk->btk", common, weight.to(x.dtype))  # (B, T, K)
            gi = self.evidence_common_group
            per_group = per_group.index_add(2, torch.tensor([gi], device=x.device), z_common[:, :, None])
            present[:, :, gi] |= count_c.sum(-1) > 0
        if hasattr(self, "evidence_long_weight"):  # every token's long-span mean (config.evidence_long)
            if long_context is None:  # only what the input holds
                long_context = long_context_mean(x, used, self.config.long_context_windows)
            mean_l, count_l = long_context
            known = (count_l > 0) & self.feature_valid  # (B, T, N, F)
            mean_l = torch.where(known, mean_l.to(x.dtype), torch.zeros((), dtype=x.dtype, device=x.device))
            weight = self.evidence_long_weight * self.evidence_long_mask  # other targets read nothing
            z_long = torch.einsum("btnf,nfk->btnk", mean_l, weight.to(x.dtype))  # (B, T, N, K)
            if hasattr(self, "evidence_long_gate_weight"):  # scaled by what the short context holds
                share = self._group_share(used.any(-1))  # (B, T, G)
                gate_z = self.evidence_long_gate_bias + share @ self.evidence_long_gate_weight.to(share.dtype)
                z_long = z_long * (2.0 * torch.sigmoid(gate_z)).to(x.dtype)[:, :, None, :]  # (B, T, N, K)
            if self.config.evidence_long_fill:  # only for what the short context lacks of each token
                z_long = z_long * self._token_hidden_share(used.any(-1)).to(x.dtype)[..., None]  # (B, T, N, K)
            per_group = per_group.index_add(2, self.group_index, z_long)
            has_l = known.any(-1).to(x.dtype)  # (B, T, N)
            present = present | (has_l.new_zeros(b, t, g).index_add(2, self.group_index, has_l) > 0)
        return torch.stack([-0.5 * per_group, 0.5 * per_group], -1), present  # (B, T, G, K, 2)

    def _fused_reliability(self, visible: torch.Tensor) -> torch.Tensor:
        """Scale (B, T, K) of the fused read-out's logits: 2 * sigmoid(bias + sum_g w_g * share_g), share_g the
        visible share of group g's tokens over the window's context (``evidence_gate``)."""
        share = self._group_share(visible)  # (B, T, G)
        z = self.evidence_gate_bias + share @ self.evidence_gate_weight.to(share.dtype)  # (B, T, K)
        return 2.0 * torch.sigmoid(z)

    def _token_hidden_share(self, measured: torch.Tensor) -> torch.Tensor:
        """Hidden share (B, T, N) float32 of each token over windows t-k..t+k of the input (the windows the
        category queries and the short evidence read-outs see); measured (B, T, N) bool."""
        t = measured.shape[1]
        win = torch.arange(t, device=measured.device)
        near = ((win[:, None] - win[None, :]).abs() <= self.config.context_windows).to(torch.float32)  # (T, T)
        seen = torch.einsum("st,btn->bsn", near, measured.to(torch.float32)) / near.sum(1)[None, :, None]
        return 1.0 - seen

    def _group_share(self, visible: torch.Tensor) -> torch.Tensor:
        """Visible share (B, T, G) float32 of each group's tokens over windows t-k..t+k; visible (B, T, N) bool."""
        t = visible.shape[1]
        win = torch.arange(t, device=visible.device)
        near = ((win[:, None] - win[None, :]).abs() <= self.config.context_windows).to(torch.float32)  # (T, T)
        seen = torch.einsum("st,btn->bsn", near, visible.to(torch.float32)) / near.sum(1)[None, :, None]
        g = len(self.config.groups)
        size = torch.zeros(g, device=visible.device).index_add(0, self.group_index, torch.ones_like(
            self.group_index, dtype=torch.float32))
        return seen.new_zeros(*seen.shape[:2], g).index_add(2, self.group_index, seen) / size  # (B, T, G)

    def get_config(self) -> MMQNetConfig:
        return self.config

    def set_temperature(self, temperature: Sequence[float]) -> None:
        """Store a fitted temperature per target (in the config, so that a saved checkpoint keeps it)."""
        self.config = replace(self.config, temperature=tuple(float(v) for v in temperature))
        self.temperature.copy_(torch.tensor(self.config.temperature, dtype=self.temperature.dtype))

    def set_evidence_spread(self, spread: Sequence[Sequence[float]]) -> None:
        """Store the fitted spread (G, K) of each modality group's evidence logit (in the config, saved with the
        checkpoint; ``MMQNetConfig.evidence_spread``)."""
        self.config = replace(self.config, evidence_spread=tuple(tuple(float(v) for v in row) for row in spread))

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # --- input checks -------------------------------------------------------------------------------------
    def _check_inputs(self, x: torch.Tensor, missing: torch.Tensor, feature_valid: torch.Tensor | None) -> None:
        c = self.config
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or not x.is_floating_point():
            raise ConfigError(
                "Invalid value for 'x': expected a float tensor (batch, windows, tokens, features), got "
                f"{getattr(x, 'shape', type(x).__name__)}."
            )
        b, t, n, f = x.shape
        if n != c.n_tokens or f != c.n_features or not 1 <= t <= c.n_windows:
            raise ConfigError(
                f"Features of shape (batch={b}, windows={t}, tokens={n}, features={f}) do not fit this model "
                f"(windows 1..{c.n_windows}, tokens={c.n_tokens}, features={c.n_features}): extract features "
                "with the layout the model was trained on."
            )
        if not isinstance(missing, torch.Tensor) or missing.dtype != torch.bool or missing.shape != (b, t, n):
            raise ConfigError(
                f"Invalid value for 'missing': expected a bool tensor of shape {(b, t, n)}, got "
                f"{getattr(missing, 'dtype', type(missing).__name__)} {tuple(getattr(missing, 'shape', ()))}."
            )
        if feature_valid is not None and (not isinstance(feature_valid, torch.Tensor)
                                          or feature_valid.dtype != torch.bool or feature_valid.shape != x.shape):
            raise ConfigError(
                f"Invalid value for 'feature_valid': expected None or a bool tensor of shape {tuple(x.shape)} "
                f"(True = feature present), got {getattr(feature_valid, 'dtype', type(feature_valid).__name__)} "
                f"{tuple(getattr(feature_valid, 'shape', ()))}."
            )
        used = ~missing[..., None] & self.feature_valid  # (B, T, N, F)
        if feature_valid is not None:
            used = used & feature_valid
        bad = ~torch.isfinite(x) & used
        if bool(bad.any()):
            i, w, tok, col = (int(v) for v in bad.nonzero()[0])
            raise ConfigError(
                f"Features contain {int(bad.sum())} NaN/infinite value(s) in visible tokens (first: sample {i}, "
                f"window {w}, token {c.names[tok]!r}, feature {col}): mark those tokens as missing, or those "
                "features as invalid with 'feature_valid'."
            )

    def _check_long_context(self, long_context: Any, shape: torch.Size) -> tuple[torch.Tensor, torch.Tensor]:
        ok = isinstance(long_context, (tuple, list)) and len(long_context) == 2 and all(
            isinstance(v, torch.Tensor) and v.is_floating_point() and tuple(v.shape) == tuple(shape)
            for v in long_context)
        if not ok:
            raise ConfigError(
                f"Invalid value for 'long_context': expected (mean, count), two float tensors of shape {tuple(shape)} "
                "(see sequence_long_context), got "
                f"{[tuple(getattr(v, 'shape', ())) for v in long_context] if isinstance(long_context, (tuple, list)) else type(long_context).__name__}."
            )
        mean, count = long_context
        if not bool((torch.isfinite(mean) | ~(count > 0)).all()):  # (no copy of the entries with a count)
            raise ConfigError("'long_context' has NaN/infinite means where its count is > 0: compute it from measured "
                              "values only (sequence_long_context).")
        return mean, count

    def _check_not_empty(self, missing: torch.Tensor) -> None:
        empty = missing.reshape(missing.shape[0], -1).all(-1)  # (B,)
        if bool(empty.any()):
            raise MaskError(
                f"Every token of sample {int(empty.nonzero()[0])} is missing or masked: nothing to analyse "
                "-- unmask at least one channel."
            )

    def _wanted(self, return_attention: bool | Collection[str]) -> set[str]:
        if isinstance(return_attention, bool):
            return set(FAMILIES) if return_attention else set()
        wanted = set(return_attention)
        if wanted - set(FAMILIES):
            raise ConfigError(
                f"Invalid value for 'return_attention': unknown famil(ies) {sorted(wanted - set(FAMILIES))}; "
                f"allowed {list(FAMILIES)} or True/False."
            )
        return wanted

    # --- steps of forward ---------------------------------------------------------------------------------
    def _embed(self, x: torch.Tensor, missing: torch.Tensor, feature_valid: torch.Tensor | None) -> torch.Tensor:
        """Token states before the encoder (B, L, D): embedded features, missing-feature vectors, positions."""
        b, t, n, f = x.shape
        x = x.to(self.embed.weight.dtype)  # float64 features from numpy work too
        used = ~missing[..., None] & self.feature_valid  # (B, T, N, F)
        if feature_valid is not None:
            used = used & feature_valid
        x = torch.where(used, x, torch.zeros((), dtype=x.dtype, device=x.device))
        h = self.embed(x, self.group_index)  # (B, T, N, D)
        if self.config.channel_embedding:
            h = h + self.channel_embed(x, self.token_index)
        if self.fused:
            lacking = (self.feature_valid & ~used).to(h.dtype)  # (B, T, N, F) defined but absent features
            h = h + torch.einsum("btnf,nfd->btnd", lacking, self.feature_missing[self.group_index])
            # missing tokens: their encoder outputs are replaced by reconstructions, the input does not matter
            h = torch.where(missing[..., None], torch.zeros((), dtype=h.dtype, device=h.device), h)
        else:
            h = torch.where(missing[..., None], self.mask_token.to(h.dtype), h)
        token_pos = self.token_embedding + self.group_embedding[self.group_index]  # (N, D)
        time_pos = self.time_embedding[:t, None, :]  # (T, 1, D)
        return (h + token_pos + time_pos).reshape(b, t * n, -1)  # (B, L, D)

    def _decode_subset(
        self,
        decode,  # noqa: ANN001 (the closure of forward)
        queries: torch.Tensor,
        mask: torch.Tensor,
        recon_tokens: torch.Tensor,
        attention: dict[str, torch.Tensor] | None,
    ) -> torch.Tensor:
        """Run the modality decoder on the queries of ``recon_tokens`` only; scatter back to (B, T, N, D)."""
        t, n, d = queries.shape
        b = recon_tokens.shape[0]
        chosen = recon_tokens.reshape(b, t * n)  # (B, L)
        m = max(1, int(chosen.sum(1).max()))
        order = torch.argsort((~chosen).to(torch.uint8), dim=1, stable=True)[:, :m]  # (B, M) chosen first
        pad = ~torch.gather(chosen, 1, order)  # (B, M) rows that only fill up the batch
        sub_mask = mask[order] | pad[..., None]  # (B, M, L): pad rows see nothing -> zero, no NaN
        q = decode("modality", queries.reshape(t * n, d)[order][:, None], sub_mask)  # (B, 1, M, D)
        target = torch.where(pad, t * n, order)  # (B, M): pad rows go to a spare row L, dropped below
        full = q.new_zeros(b, t * n + 1, d).scatter(1, target[..., None].expand(b, m, d), q[:, 0])
        if attention is not None and "modality" in attention:
            w = attention["modality"]  # (B, M, L)
            rows = w.new_zeros(b, t * n + 1, w.shape[-1]).scatter(1, target[..., None].expand_as(w), w)
            attention["modality"] = rows[:, : t * n]  # (B, L, L)
        return full[:, : t * n].reshape(b, t, n, d)  # (B, T, N, D)

    def _competition(self, interference_q: torch.Tensor, category_q: torch.Tensor,
                     memory: torch.Tensor) -> torch.Tensor:
        """Share of each token won by the interference queries of its window (B, T, N).

        interference_q (B, T, I, D) decoded interference queries; category_q (T, C, D) category queries with
        their time embedding; memory (B, T, N, D). A softmax over all I + C queries of a window, per token.
        """
        b, t = memory.shape[:2]
        scale = 1.0 / math.sqrt(memory.shape[-1])
        key = self.compete_key(memory)  # (B, T, N, D)
        q_int = self.compete_query(interference_q)  # (B, T, I, D)
        q_cat = self.compete_query(category_q)[None].expand(b, -1, -1, -1)  # (B, T, C, D)
        scores = torch.einsum("btqd,btnd->btqn", torch.cat([q_int, q_cat], 2), key) * scale  # (B, T, I+C, N)
        return scores.softmax(2)[:, :, : q_int.shape[2]].sum(2)  # (B, T, N)

    # --- forward ------------------------------------------------------------------------------------------
    def forward(
        self,
        x: torch.Tensor,
        missing: torch.Tensor,
        *,
        feature_valid: torch.Tensor | None = None,
        return_attention: bool | Collection[str] = False,
        allow_empty: bool = False,
        recon_tokens: torch.Tensor | None = None,
        long_context: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> MMQNetOutput:
        """Predict emotion, interference and reconstructions for a batch of feature windows.

        Parameters
        ----------
        x
            (B, T, N, F) float normalised features. Values of missing tokens, invalid columns and features
            marked invalid in ``feature_valid`` are ignored (they may be NaN).
        missing
            (B, T, N) bool, True = token missing or masked; such tokens' values never influence any output.
        feature_valid
            (B, T, N, F) bool, True = this feature of this (visible) token is present; None = every defined
            feature of the visible tokens is. Invalid features are zeroed and (fusion "mmq") announced to the
            embedding by a learned per-feature vector; a visible token without any valid feature is treated
            as missing.
        return_attention
            Also return the head-averaged cross-attention weights of the last decoder layer of each family
            (True), or of the families named (e.g. ``("category", "interference")``: the modality family's
            (L, L) maps cost the most).
        allow_empty
            Accept samples whose tokens are all missing (their outputs are the learned priors and
            ``no_context`` is True); by default they raise :class:`~mmqnet_core.errors.MaskError`.
        recon_tokens
            (B, T, N) bool: return reconstructions of these tokens only (e.g. the missing ones, or the
            extra-masked ones in training); the others get 0 in ``recon`` and zero attention rows. Their values
            are identical to a full reconstruction; only the time differs. None = reconstruct every token.
            With fusion "mmq" the missing tokens are always decoded as well (the prediction reads them).
            Ignored without modality queries.
        long_context
            (mean, count), each (B, T, N, F): every token's measured features averaged over windows t-h..t+h of
            the whole recording and how many measured values entered (:func:`sequence_long_context`), read by
            the long-context evidence read-out (``config.evidence_long``; ignored without it). None = over the
            T input windows (:func:`long_context_mean`). Entries with count 0 are no evidence.

        Returns
        -------
        MMQNetOutput
        """
        self._check_inputs(x, missing, feature_valid)
        if feature_valid is not None:  # a visible token without any valid feature carries no data
            missing = missing | ~(feature_valid & self.feature_valid).any(-1)
        if not allow_empty:
            self._check_not_empty(missing)
        wanted = self._wanted(return_attention)
        c = self.config
        b, t, n, f = x.shape
        d = c.d_model
        visible = ~missing  # (B, T, N)
        if recon_tokens is not None and (recon_tokens.dtype != torch.bool or recon_tokens.shape != (b, t, n)):
            raise ConfigError(
                f"Invalid value for 'recon_tokens': expected a bool tensor of shape {(b, t, n)}, got "
                f"{recon_tokens.dtype} {tuple(recon_tokens.shape)}."
            )

        # encoder: every token is a query, only visible tokens are keys
        h = self._embed(x, missing, feature_valid)  # (B, L, D)
        key_missing = missing.reshape(b, t * n)  # (B, L)
        for layer in self.encoder:
            h = layer(h, key_padding_mask=key_missing)
        memory = self.encoder_norm(h)  # (B, L, D)
        token_pos = self.token_embedding + self.group_embedding[self.group_index]  # (N, D)
        time_pos = self.time_embedding[:t, None, :]  # (T, 1, D)

        attention: dict[str, torch.Tensor] | None = {} if wanted else None

        def decode(family: str, queries: torch.Tensor, mask: torch.Tensor | None, source: torch.Tensor = memory,
                   keys_out: torch.Tensor | None = key_missing, key_bias: torch.Tensor | None = None
                   ) -> torch.Tensor:
            q = queries.expand(b, -1, -1, -1)  # (B, T, Q, D)
            decoder = getattr(self, f"{family}_decoder")
            for i, layer in enumerate(decoder):
                last = i == len(decoder) - 1
                q, w = layer(q, source, key_padding_mask=keys_out, attn_mask=mask,
                             need_weights=family in wanted and last, key_bias=key_bias)
                if w is not None:
                    attention[family] = w.mean(1)  # (B, T*Q, L)
            return q

        # modality queries: one per token, reconstruct its features from the visible tokens around it
        recon = None
        read, read_missing = memory, key_missing  # what category / interference queries read, and its excluded keys
        if c.use_modality_queries:
            queries = (self.modality_queries[self.group_index] + token_pos)[None] + time_pos  # (T, N, D)
            mask = context_block_mask(t, n, n, c.recon_context_windows, exclude_self=True, device=x.device)
            decoded = recon_tokens if not self.fused or recon_tokens is None else recon_tokens | missing
            if decoded is None:
                q = decode("modality", queries[None], mask)  # (B, T, N, D)
            else:
                q = self._decode_subset(decode, queries, mask, decoded, attention)  # (B, T, N, D)
            state = self.modality_norm(q)  # (B, T, N, D) reconstructed hidden states
            recon = self.recon_head(state, self.group_index) * self.feature_valid  # (B, T, N, F)
            if recon_tokens is not None:
                recon = recon * recon_tokens[..., None]
                if attention is not None and "modality" in attention and self.fused:
                    attention["modality"] = attention["modality"] * recon_tokens.reshape(b, t * n, 1)
            if self.fused:  # reconstructed states take the missing tokens' place in the memory (step 2)
                filled = torch.where(missing[..., None], state + self.mask_token, memory.reshape(b, t, n, d))
                read = filled.reshape(b, t * n, d)  # (B, L, D)
                read_missing = None

        k_ctx = c.context_windows
        no_context = ~window_context(visible, k_ctx) if c.use_category_queries else ~visible.any(-1)  # (B, T)

        def read_mask(queries_per_window: int) -> torch.Tensor | None:
            """Keys excluded for the queries of each window: outside the context, and (fusion "mmq")
            reconstructed keys for windows without any visible token in their context (they keep the prior)."""
            base = context_block_mask(t, n, queries_per_window, k_ctx, device=x.device)  # (T*Q, L) or None
            if read_missing is not None:
                return base
            blind = ~window_context(visible, k_ctx)  # (B, T)
            recon_key = missing.reshape(b, 1, t * n)  # (B, 1, L)
            per_sample = blind.repeat_interleave(queries_per_window, 1)[..., None] & recon_key  # (B, T*Q, L)
            return per_sample if base is None else per_sample | base[None]

        # interference queries: absorb artifact content of the window's context
        interference = artifact_logits = interference_features = gate = None
        key_bias = None
        if c.use_interference_queries:
            queries = self.interference_queries[None] + time_pos  # (T, I, D)
            q = decode("interference", queries[None], read_mask(c.n_interference_queries), read, read_missing)
            interference_q = self.interference_norm(q)  # (B, T, I, D)
            interference_features = interference_q.mean(2)  # (B, T, D)
            interference = self.interference_head(interference_features)[..., 0]  # (B, T)
            artifact_logits = self.artifact_head(interference_features)  # (B, T, A)
            if self.fused:  # competition for tokens (step 3): gate each key of the category read-out
                cat_q = (self.category_queries[None] if c.use_category_queries
                         else torch.zeros(1, c.n_category_queries, d, device=x.device)) + time_pos  # (T, C, D)
                gate = self._competition(interference_q, cat_q, read.reshape(b, t, n, d))  # (B, T, N)
                key_bias = torch.log1p(-gate.clamp(max=1.0 - 1e-4)).reshape(b, t * n)  # (B, L) log(1 - gate)

        # category queries (or the ablation: mean of the window's keys)
        k_targets = c.n_targets
        if c.use_category_queries:
            queries = self.category_queries[None] + time_pos  # (T, K*P, D)
            q = decode("category", queries[None], read_mask(c.n_category_queries), read, read_missing, key_bias)
            q = q.reshape(b, t, k_targets, c.n_queries_per_target, d).mean(3)  # (B, T, K, D)
        else:
            readable = visible if read_missing is not None else torch.ones_like(visible)
            pool = readable.to(read.dtype)  # (B, T, N)
            if gate is not None:
                pool = pool * (1.0 - gate)
            pool = pool / pool.sum(-1, keepdim=True).clamp(min=1e-6)  # weighted mean over the window's keys
            pool = pool * visible.any(-1, keepdim=True)  # no visible token: no evidence, the prior
            pooled = torch.einsum("btn,btnd->btd", pool, read.reshape(b, t, n, d))  # (B, T, D)
            q = pooled[:, :, None, :].expand(b, t, k_targets, d)  # (B, T, K, D)
            if attention is not None and "category" in wanted:
                eye = torch.eye(t, dtype=pool.dtype, device=pool.device)  # (T, T)
                attention["category"] = (eye[None, :, :, None] * pool[:, None]).reshape(b, t, t * n)  # (B, T, L)
        category_features = self.category_norm(q)  # (B, T, K, D)
        logits = self.class_head(category_features, self.target_index)  # (B, T, K, 2)
        modality_logits = modality_present = None
        if c.modality_evidence:  # product of experts: each modality's own evidence adds to the fused logits
            used = ~missing[..., None] & self.feature_valid  # (B, T, N, F)
            if feature_valid is not None:
                used = used & feature_valid
            xe = torch.where(used, x.to(logits.dtype), torch.zeros((), dtype=logits.dtype, device=x.device))
            if long_context is not None and c.evidence_long:
                long_context = self._check_long_context(long_context, x.shape)
            modality_logits, modality_present = self._evidence(xe, used, long_context)
            if c.evidence_gate:
                logits = logits * self._fused_reliability(visible)[..., None]
            logits = logits + modality_logits.sum(2)
        logits = logits / self.temperature.to(logits.dtype)[:, None]
        regression = None
        if c.regression:
            z = self.regression_head(category_features, self.target_index)[..., 0]  # (B, T, K)
            regression = 1.0 + 8.0 * torch.sigmoid(z)  # on the 1-9 scale

        return MMQNetOutput(
            logits=logits,
            regression=regression,
            recon=recon,
            interference=interference,
            artifact_logits=artifact_logits,
            category_features=category_features,
            interference_features=interference_features,
            no_context=no_context,
            attention=attention,
            interference_gate=gate,
            modality_logits=modality_logits,
            modality_present=modality_present,
        )
