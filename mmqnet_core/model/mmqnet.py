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
  whole sensors or segments inside a modality.
* *Ours*: one token per (window, channel) built by a per-modality linear embedding of the window's
  features, plus learned token, time and modality-group embeddings. "Multi-masked" is read as three masks:
  (a) the **data mask** -- missing or user-masked tokens are replaced by a learned ``mask_token`` and are
  excluded as keys from *every* attention, so nothing of their values reaches any output; (b) random extra
  masking during training (done by the training code) so modality queries learn to reconstruct; (c)
  **attention masks that keep each query family to its role**: category and interference queries of window
  t see only visible tokens of windows t-k..t+k; the modality query of token (t, n) sees the visible tokens
  of its context but never (t, n) itself; each family has its own decoder layers, and category and
  interference queries self-attend only among the queries of their own family and window, so category queries
  never read interference outputs (modality queries do not self-attend: each reconstructs its token on its
  own, which lets a subset of tokens be reconstructed alone, see ``recon_tokens``). A transformer encoder
  contextualises all tokens first (mask tokens are queries there, so they receive a representation, but never
  keys). The interference family predicts a per-window interference score and artifact types; a
  decorrelation loss between its outputs and the category outputs (``losses.py``) pushes artifact content
  out of the emotion features.
* *Ours, ablations*: ``use_modality_queries=False`` drops reconstruction (missing tokens stay mask tokens:
  the "mask/zero-fill" baseline on the same encoder); ``use_category_queries=False`` reads the mean of the
  window's visible encoder tokens instead of category queries; ``use_interference_queries=False`` drops the
  interference family (its outputs are then None).

Note on (c): the encoder mixes visible tokens, so for a token that is *visible* its own value reaches its
modality query indirectly; reconstruction is only trained and used on tokens that are missing, where no path
from their values exists.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Collection

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


def window_context(visible: torch.Tensor, k: int) -> torch.Tensor:
    """visible (B, T, N) bool -> (B, T) bool: some token of windows t-k..t+k is visible."""
    t = visible.shape[1]
    win = torch.arange(t, device=visible.device)
    near = ((win[:, None] - win[None, :]).abs() <= k).to(torch.float32)  # (T, T)
    return (visible.any(-1).to(torch.float32) @ near.T) > 0  # (B, T)


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
    #   T*n_interference_queries for "interference". Rows sum to 1 over visible keys, 0 where none is visible.

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
        self.register_buffer("group_index", torch.tensor(c.group_index, dtype=torch.long), persistent=False)
        self.register_buffer("feature_valid", torch.tensor(c.feature_valid, dtype=torch.bool), persistent=False)

        # tokens
        self.embed = GroupedLinear(g, f, d)  # per-modality Linear(F -> D)
        self.token_embedding = nn.Parameter(torch.randn(n, d) * 0.02)
        self.time_embedding = nn.Parameter(torch.randn(t, d) * 0.02)
        self.group_embedding = nn.Parameter(torch.randn(g, d) * 0.02)
        self.mask_token = nn.Parameter(torch.randn(d) * 0.02)

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
        self.class_head = GroupedLinear(c.n_targets, d, 2)  # per-target Linear(D -> 2)
        if c.regression:
            self.regression_head = GroupedLinear(c.n_targets, d, 1)  # per-target Linear(D -> 1)
        if c.use_interference_queries:
            self.interference_queries = nn.Parameter(torch.randn(c.n_interference_queries, d) * 0.02)
            self.interference_decoder = layers(QueryDecoderLayer, c.n_dec_layers)
            self.interference_norm = nn.LayerNorm(d)
            self.interference_head = nn.Linear(d, 1)
            self.artifact_head = nn.Linear(d, len(c.artifact_types))

    # --- config round trip --------------------------------------------------------------------------------
    @classmethod
    def from_config(cls, config: MMQNetConfig) -> "MMQNet":
        return cls(config)

    def get_config(self) -> MMQNetConfig:
        return self.config

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # --- input checks -------------------------------------------------------------------------------------
    def _check_inputs(self, x: torch.Tensor, missing: torch.Tensor, allow_empty: bool) -> None:
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
        bad = ~torch.isfinite(x) & ~missing[..., None] & self.feature_valid  # (B, T, N, F)
        if bool(bad.any()):
            i, w, tok, col = (int(v) for v in bad.nonzero()[0])
            raise ConfigError(
                f"Features contain {int(bad.sum())} NaN/infinite value(s) in visible tokens (first: sample {i}, "
                f"window {w}, token {c.names[tok]!r}, feature {col}): mark those tokens as missing."
            )
        if not allow_empty:
            empty = missing.reshape(b, -1).all(-1)  # (B,)
            if bool(empty.any()):
                raise MaskError(
                    f"Every token of sample {int(empty.nonzero()[0])} is missing or masked: nothing to analyse "
                    "-- unmask at least one channel."
                )

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
        if recon_tokens.dtype != torch.bool or recon_tokens.shape != (b, t, n):
            raise ConfigError(
                f"Invalid value for 'recon_tokens': expected a bool tensor of shape {(b, t, n)}, got "
                f"{recon_tokens.dtype} {tuple(recon_tokens.shape)}."
            )
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

    # --- forward ------------------------------------------------------------------------------------------
    def forward(
        self,
        x: torch.Tensor,
        missing: torch.Tensor,
        *,
        return_attention: bool | Collection[str] = False,
        allow_empty: bool = False,
        recon_tokens: torch.Tensor | None = None,
    ) -> MMQNetOutput:
        """Predict emotion, interference and reconstructions for a batch of feature windows.

        Parameters
        ----------
        x
            (B, T, N, F) float normalised features. Values of missing tokens and invalid columns are ignored
            (they may be NaN).
        missing
            (B, T, N) bool, True = token missing or masked; such tokens never influence any output.
        return_attention
            Also return the head-averaged cross-attention weights of the last decoder layer of each family
            (True), or of the families named (e.g. ``("category", "interference")``: the modality family's
            (L, L) maps cost the most).
        allow_empty
            Accept samples whose tokens are all missing (their outputs are the learned priors and
            ``no_context`` is True); by default they raise :class:`~mmqnet_core.errors.MaskError`.
        recon_tokens
            (B, T, N) bool: reconstruct only these tokens (e.g. the missing ones, or the extra-masked ones in
            training); the others get 0 in ``recon`` and zero attention rows. Their values are identical to a
            full reconstruction; only the time differs. None = reconstruct every token. Ignored without
            modality queries.

        Returns
        -------
        MMQNetOutput
        """
        self._check_inputs(x, missing, allow_empty)
        if isinstance(return_attention, bool):
            wanted = set(FAMILIES) if return_attention else set()
        else:
            wanted = set(return_attention)
            if wanted - set(FAMILIES):
                raise ConfigError(
                    f"Invalid value for 'return_attention': unknown famil(ies) {sorted(wanted - set(FAMILIES))}; "
                    f"allowed {list(FAMILIES)} or True/False."
                )
        c = self.config
        b, t, n, f = x.shape
        d = c.d_model
        visible = ~missing  # (B, T, N)

        # tokens: embed visible features, swap missing tokens for the learned mask token, add positions
        x = x.to(self.embed.weight.dtype)  # float64 features from numpy work too
        x = torch.where(visible[..., None] & self.feature_valid, x, torch.zeros((), dtype=x.dtype, device=x.device))
        h = self.embed(x, self.group_index)  # (B, T, N, D)
        h = torch.where(missing[..., None], self.mask_token.to(h.dtype), h)
        token_pos = self.token_embedding + self.group_embedding[self.group_index]  # (N, D)
        time_pos = self.time_embedding[:t, None, :]  # (T, 1, D)
        h = (h + token_pos + time_pos).reshape(b, t * n, d)  # (B, L, D)

        # encoder: every token is a query, only visible tokens are keys
        key_missing = missing.reshape(b, t * n)  # (B, L)
        for layer in self.encoder:
            h = layer(h, key_padding_mask=key_missing)
        memory = self.encoder_norm(h)  # (B, L, D)

        attention: dict[str, torch.Tensor] | None = {} if wanted else None

        def decode(family: str, queries: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
            q = queries.expand(b, -1, -1, -1)  # (B, T, Q, D)
            decoder = getattr(self, f"{family}_decoder")
            for i, layer in enumerate(decoder):
                last = i == len(decoder) - 1
                q, w = layer(
                    q, memory, key_padding_mask=key_missing, attn_mask=mask, need_weights=family in wanted and last
                )
                if w is not None:
                    attention[family] = w.mean(1)  # (B, T*Q, L)
            return q

        # modality queries: one per token, reconstruct its features from the visible tokens around it
        recon = None
        if c.use_modality_queries:
            queries = (self.modality_queries[self.group_index] + token_pos)[None] + time_pos  # (T, N, D)
            mask = context_block_mask(t, n, n, c.recon_context_windows, exclude_self=True, device=x.device)
            if recon_tokens is None:
                q = decode("modality", queries[None], mask)  # (B, T, N, D)
            else:
                q = self._decode_subset(decode, queries, mask, recon_tokens, attention)  # (B, T, N, D)
            recon = self.recon_head(self.modality_norm(q), self.group_index) * self.feature_valid  # (B, T, N, F)
            if recon_tokens is not None:
                recon = recon * recon_tokens[..., None]

        # category queries (or the ablation: mean of the window's visible encoder tokens)
        k_targets = c.n_targets
        if c.use_category_queries:
            queries = self.category_queries[None] + time_pos  # (T, K*P, D)
            mask = context_block_mask(t, n, c.n_category_queries, c.context_windows, device=x.device)
            q = decode("category", queries[None], mask)  # (B, T, K*P, D)
            q = q.reshape(b, t, k_targets, c.n_queries_per_target, d).mean(3)  # (B, T, K, D)
            no_context = ~window_context(visible, c.context_windows)  # (B, T)
        else:
            pool = visible.to(memory.dtype)  # (B, T, N)
            pool = pool / pool.sum(-1, keepdim=True).clamp(min=1.0)  # mean over visible tokens of the window
            pooled = torch.einsum("btn,btnd->btd", pool, memory.reshape(b, t, n, d))  # (B, T, D)
            q = pooled[:, :, None, :].expand(b, t, k_targets, d)  # (B, T, K, D)
            no_context = ~visible.any(-1)  # (B, T)
            if attention is not None and "category" in wanted:
                eye = torch.eye(t, dtype=pool.dtype, device=pool.device)  # (T, T)
                attention["category"] = (eye[None, :, :, None] * pool[:, None]).reshape(b, t, t * n)  # (B, T, L)
        category_features = self.category_norm(q)  # (B, T, K, D)
        logits = self.class_head(category_features, self.target_index)  # (B, T, K, 2)
        regression = None
        if c.regression:
            z = self.regression_head(category_features, self.target_index)[..., 0]  # (B, T, K)
            regression = 1.0 + 8.0 * torch.sigmoid(z)  # on the 1-9 scale

        # interference queries: absorb artifact content of the window's context
        interference = artifact_logits = interference_features = None
        if c.use_interference_queries:
            queries = self.interference_queries[None] + time_pos  # (T, I, D)
            mask = context_block_mask(t, n, c.n_interference_queries, c.context_windows, device=x.device)
            q = decode("interference", queries[None], mask)  # (B, T, I, D)
            interference_features = self.interference_norm(q).mean(2)  # (B, T, D)
            interference = self.interference_head(interference_features)[..., 0]  # (B, T)
            artifact_logits = self.artifact_head(interference_features)  # (B, T, A)

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
        )
