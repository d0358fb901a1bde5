"""Masked attention: weights honour masks, empty key sets stay finite, fused and explicit paths agree."""

from __future__ import annotations

import torch

from mmqnet_core.model.blocks import GroupedLinear, MultiHeadAttention, QueryDecoderLayer


def _attn(seed=0):
    torch.manual_seed(seed)
    return MultiHeadAttention(16, 4)


def test_fused_and_explicit_paths_agree_and_weights_are_distributions():
    attn = _attn()
    x = torch.randn(2, 5, 16)
    ctx = torch.randn(2, 7, 16)
    kpm = torch.tensor([[False, True, False, False, True, False, False], [True] * 6 + [False]])
    fused, none = attn(x, ctx, key_padding_mask=kpm)
    explicit, w = attn(x, ctx, key_padding_mask=kpm, need_weights=True)
    assert none is None
    torch.testing.assert_close(fused, explicit, atol=1e-5, rtol=1e-5)
    assert w.shape == (2, 4, 5, 7)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 4, 5))
    assert (w.masked_select(kpm[:, None, None, :].expand_as(w)) == 0).all()


def test_query_without_keys_gives_zero_not_nan_and_zero_gradient_to_excluded_values():
    attn = _attn()
    x = torch.randn(1, 3, 16)
    ctx = torch.randn(1, 4, 16, requires_grad=True)
    # query 0 may see keys 0-1, query 1 nothing at all, query 2 only key 3
    blocked = torch.tensor([[False, False, True, True], [True] * 4, [True, True, True, False]])
    for need in (False, True):
        out, w = attn(x, ctx, attn_mask=blocked, need_weights=need)
        assert torch.isfinite(out).all()
        # zero attention output -> the layer returns only the output projection's bias for that query
        torch.testing.assert_close(out[0, 1], attn.to_out.bias)
        if need:
            assert (w[0, :, 1] == 0).all()
            torch.testing.assert_close(w[0, :, 2, 3], torch.ones(4))
    out[0, 1].sum().backward()
    assert torch.count_nonzero(ctx.grad) == 0  # the empty query read nothing
    assert torch.isfinite(ctx.grad).all()


def test_grouped_linear_uses_the_weights_of_each_tokens_group():
    lin = GroupedLinear(2, 3, 4)
    index = torch.tensor([0, 1, 1])
    x = torch.randn(5, 3, 3)
    out = lin(x, index)
    for n, gi in enumerate(index.tolist()):
        torch.testing.assert_close(out[:, n], x[:, n] @ lin.weight[gi] + lin.bias[gi])


def test_decoder_self_attention_stays_within_a_window():
    torch.manual_seed(0)
    layer = QueryDecoderLayer(16, 4, 2.0, 0.0).eval()
    queries = torch.randn(1, 3, 2, 16)
    memory = torch.randn(1, 5, 16)
    out, _ = layer(queries, memory)
    changed = queries.clone()
    changed[0, 2] += 1.0  # change the queries of window 2 only
    out2, _ = layer(changed, memory)
    torch.testing.assert_close(out[0, :2], out2[0, :2])
    assert not torch.allclose(out[0, 2], out2[0, 2])


def test_drop_path_drops_whole_samples_in_training_only():
    from mmqnet_core.model.blocks import DropPath, residual_dropout

    torch.manual_seed(0)
    layer = DropPath(0.25)
    x = torch.ones(4000, 3, 5)
    y = layer(x)
    per_sample = y.reshape(4000, -1)
    kept = per_sample[:, 0] > 0
    # every sample is either dropped entirely or kept entirely and scaled by 1 / (1 - p)
    assert torch.equal(per_sample[kept], torch.full_like(per_sample[kept], 1 / 0.75))
    assert (per_sample[~kept] == 0).all()
    assert abs((~kept).float().mean().item() - 0.25) < 0.03 and abs(y.mean().item() - 1.0) < 0.05
    layer.eval()
    assert torch.equal(layer(x), x)
    assert isinstance(residual_dropout(0.0, 0.0), torch.nn.Identity)
    assert isinstance(residual_dropout(0.0, 0.1), DropPath)
    assert isinstance(residual_dropout(0.1, 0.1), torch.nn.Sequential)
