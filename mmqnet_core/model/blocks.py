"""Building blocks of MMQ-Net: masked multi-head attention, encoder layer, query-decoder layer.

Shape legend: B batch, H heads, Lq queries, Lk keys, D width, Dh = D / H head width, G groups,
T windows, Q queries per window.

Mask convention (as :class:`torch.nn.MultiheadAttention`): in ``key_padding_mask`` (B, Lk) and ``attn_mask``
(Lq, Lk) or (B, Lq, Lk), **True means "this key is excluded"**. A query whose every key is excluded gets a zero
output and zero attention weights instead of the NaN a plain softmax would give.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# ------------------------------------------------------------------------------------------------ helpers


def allowed_keys(
    key_padding_mask: torch.Tensor | None, attn_mask: torch.Tensor | None, batch: int, lq: int, lk: int
) -> torch.Tensor | None:
    """Combine the two exclusion masks into one (B|1, 1, Lq|1, Lk) bool mask, True = key may be used."""
    allowed = None
    if key_padding_mask is not None:
        allowed = ~key_padding_mask[:, None, None, :]  # (B, 1, 1, Lk)
    if attn_mask is not None:
        am = ~attn_mask
        am = am[None, None] if am.dim() == 2 else am[:, None]  # (1|B, 1, Lq, Lk)
        allowed = am if allowed is None else allowed & am
    return allowed


def masked_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, allowed: torch.Tensor | None, *, need_weights: bool = False,
    bias: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Scaled dot-product attention that stays finite when a query has no allowed key.

    Parameters
    ----------
    q, k, v
        (B, H, Lq, Dh), (B, H, Lk, Dh), (B, H, Lk, Dh).
    allowed
        bool, broadcastable to (B, H, Lq, Lk), True = key may be used; None = all keys.
    need_weights
        Also return the attention weights (computed explicitly; otherwise the fused
        :func:`torch.nn.functional.scaled_dot_product_attention` kernel is used).
    bias
        float, broadcastable to (B, H, Lq, Lk): added to the attention logits of allowed keys (e.g. the log of
        a per-key gate in (0, 1], which scales that key's share before the softmax renormalises); None = 0.

    Returns
    -------
    out
        (B, H, Lq, Dh); zero for queries without any allowed key.
    weights
        (B, H, Lq, Lk) rows summing to 1 over allowed keys (0 elsewhere; all 0 for a query without keys),
        or None.
    """
    has_key = None
    if allowed is not None:
        has_key = allowed.any(dim=-1, keepdim=True)  # (B|1, 1, Lq|1, 1)
        if not bool(has_key.all()):
            # Let empty rows see every key so the softmax stays finite, then zero their output below. The
            # values they mix are discarded, so nothing leaks from excluded keys.
            allowed = allowed | ~has_key
        else:
            has_key = None
    if need_weights:
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])  # (B, H, Lq, Lk)
        if bias is not None:
            scores = scores + bias
        if allowed is not None:
            scores = scores.masked_fill(~allowed, float("-inf"))
        weights = scores.softmax(dim=-1)
        if has_key is not None:
            weights = weights * has_key
        return weights @ v, weights
    mask = allowed
    if bias is not None:  # a float mask: the bias on allowed keys, -inf on excluded ones
        mask = bias.to(q.dtype)
        if allowed is not None:
            mask = torch.where(allowed, mask, torch.full((), float("-inf"), dtype=q.dtype, device=q.device))
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, H, Lq, Dh)
    if has_key is not None:
        out = out * has_key
    return out, None


class GroupedLinear(nn.Module):
    """One ``Linear(in_features -> out_features)`` per group, applied to the tokens of that group.

    ``forward(x, index)``: x (..., N, in), index (N,) long group of each token -> (..., N, out). Written by
    hand because torch has no grouped linear layer; one batched matmul over tokens keeps it vectorised.
    """

    def __init__(self, n_groups: int, in_features: int, out_features: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)  # nn.Linear's default initialisation
        self.weight = nn.Parameter(torch.empty(n_groups, in_features, out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n_groups, out_features).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        weight = self.weight[index]  # (N, in, out)
        return torch.einsum("...ni,nio->...no", x, weight) + self.bias[index]  # (..., N, out)


def dropout_layer(p: float) -> nn.Module:
    """nn.Dropout(p), or nn.Identity when p == 0 (dropout is costly on the CPU even at p = 0)."""
    return nn.Dropout(p) if p > 0 else nn.Identity()


class DropPath(nn.Module):
    """Stochastic depth: in training, drop a residual branch for whole samples with probability ``p`` (and scale
    the kept ones by 1 / (1 - p)); identity in eval mode.

    Written by hand because torch has no such layer (torchvision's ``StochasticDepth`` would add a dependency
    for five lines). One random number per sample instead of one per element: element-wise dropout's mask
    generation took ~15 % of a CPU training step of the default model.
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p <= 0:
            return x
        keep = torch.rand((x.shape[0],) + (1,) * (x.dim() - 1), device=x.device) >= self.p  # (B, 1, ...)
        return x * keep.to(x.dtype) / (1.0 - self.p)


def residual_dropout(dropout: float, drop_path: float) -> nn.Module:
    """What is applied to a residual branch before it is added: element-wise dropout, stochastic depth, both,
    or nothing (nn.Identity) when both are 0."""
    parts = [m for m in (dropout_layer(dropout), DropPath(drop_path) if drop_path > 0 else None)
             if m is not None and not isinstance(m, nn.Identity)]
    if not parts:
        return nn.Identity()
    return parts[0] if len(parts) == 1 else nn.Sequential(*parts)


class FeedForward(nn.Sequential):
    """Pre-norm MLP branch: LayerNorm -> Linear -> GELU -> Linear.

    No dropout on the hidden layer (only on the residual branch, in the layers): on the CPU every dropout mask
    costs about as much as a matmul of that size.
    """

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__(nn.LayerNorm(dim), nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))


# ------------------------------------------------------------------------------------------------- blocks


class MultiHeadAttention(nn.Module):
    """Multi-head attention with key-padding / attention masks and optional returned weights.

    ``forward(x, context=None, *, key_padding_mask=None, attn_mask=None, need_weights=False, key_bias=None)``:
    x (B, Lq, D) queries, context (B, Lk, D) keys/values (default: x, self-attention) ->
    (out (B, Lq, D), weights (B, H, Lq, Lk) or None). Masks: True = key excluded (see module docstring);
    ``key_bias`` (B, Lk) float is added to every query's attention logit of that key.
    """

    def __init__(self, dim: int, n_heads: int) -> None:
        super().__init__()
        assert dim % n_heads == 0, (dim, n_heads)
        self.n_heads = n_heads
        self.to_q = nn.Linear(dim, dim)
        self.to_k = nn.Linear(dim, dim)  # separate k/v projections: a fused one costs a concat in backward
        self.to_v = nn.Linear(dim, dim)
        self.to_out = nn.Linear(dim, dim)

    def forward(
        self,
        x: torch.Tensor,
        context: torch.Tensor | None = None,
        *,
        key_padding_mask: torch.Tensor | None = None,
        attn_mask: torch.Tensor | None = None,
        need_weights: bool = False,
        key_bias: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        context = x if context is None else context
        b, lq, d = x.shape
        lk = context.shape[1]
        h = self.n_heads
        q = self.to_q(x).view(b, lq, h, d // h).transpose(1, 2)  # (B, H, Lq, Dh)
        k = self.to_k(context).view(b, lk, h, d // h).transpose(1, 2)  # (B, H, Lk, Dh)
        v = self.to_v(context).view(b, lk, h, d // h).transpose(1, 2)  # (B, H, Lk, Dh)
        allowed = allowed_keys(key_padding_mask, attn_mask, b, lq, lk)
        bias = None if key_bias is None else key_bias[:, None, None, :]  # (B, 1, 1, Lk)
        out, weights = masked_attention(q, k, v, allowed, need_weights=need_weights, bias=bias)
        out = out.transpose(1, 2).reshape(b, lq, d)  # (B, Lq, D)
        return self.to_out(out), weights


class EncoderLayer(nn.Module):
    """Pre-norm transformer layer: x + SelfAttn(LN(x)), then x + MLP(LN(x)); masked keys are not attended."""

    def __init__(self, dim: int, n_heads: int, mlp_ratio: float, dropout: float, drop_path: float = 0.0) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.attn = MultiHeadAttention(dim, n_heads)
        self.mlp = FeedForward(dim, int(round(dim * mlp_ratio)))
        self.drop = residual_dropout(dropout, drop_path)

    def forward(self, x: torch.Tensor, *, key_padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, L, D), key_padding_mask (B, L) True = key excluded -> (B, L, D)."""
        x = x + self.drop(self.attn(self.norm(x), key_padding_mask=key_padding_mask)[0])
        return x + self.drop(self.mlp(x))


class QueryDecoderLayer(nn.Module):
    """Decoder layer of one query family.

    1. cross-attention of the queries to the encoder tokens (masked: visible keys in the query's context);
    2. self-attention among the queries of the same window (never across windows or families), unless
       ``self_attention`` is False (then every query is computed independently of the others);
    3. MLP. All pre-norm with residuals.
    """

    def __init__(self, dim: int, n_heads: int, mlp_ratio: float, dropout: float, drop_path: float = 0.0, *,
                 self_attention: bool = True) -> None:
        super().__init__()
        self.norm_cross = nn.LayerNorm(dim)
        self.cross = MultiHeadAttention(dim, n_heads)
        self.self_attention = self_attention
        if self_attention:
            self.norm_self = nn.LayerNorm(dim)
            self.self_attn = MultiHeadAttention(dim, n_heads)
        self.mlp = FeedForward(dim, int(round(dim * mlp_ratio)))
        self.drop = residual_dropout(dropout, drop_path)

    def forward(
        self,
        queries: torch.Tensor,
        memory: torch.Tensor,
        *,
        key_padding_mask: torch.Tensor | None = None,
        attn_mask: torch.Tensor | None = None,
        need_weights: bool = False,
        key_bias: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """queries (B, T, Q, D), memory (B, L, D), key_padding_mask (B, L), attn_mask (T*Q, L) or (B, T*Q, L),
        key_bias (B, L) float added to the cross-attention logits of each key (None = 0).

        Without in-window self-attention T may be 1 and Q any number of queries (e.g. a gathered subset).

        Returns the updated queries (B, T, Q, D) and the cross-attention weights (B, H, T*Q, L) or None.
        """
        b, t, nq, d = queries.shape
        x = queries.reshape(b, t * nq, d)  # (B, T*Q, D)
        a, weights = self.cross(
            self.norm_cross(x), memory, key_padding_mask=key_padding_mask, attn_mask=attn_mask,
            need_weights=need_weights, key_bias=key_bias,
        )
        x = (x + self.drop(a)).reshape(b * t, nq, d)  # (B*T, Q, D): one row per window
        if self.self_attention:
            x = x + self.drop(self.self_attn(self.norm_self(x))[0])
        x = x + self.drop(self.mlp(x))
        return x.reshape(b, t, nq, d), weights  # (B, T, Q, D)
