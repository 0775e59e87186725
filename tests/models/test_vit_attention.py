"""The ViT's attention computes what PyTorch's fused kernel does: the module (its qkv split and head
layout) in float32, and the two-matrix-product path a CPU takes under bf16 autocast, gradients included."""

import torch
import torch.nn.functional as F

from ssl_core.models.vit import Attention, attention_matmul


def _fused(attn: Attention, x: torch.Tensor) -> torch.Tensor:
    b, n, d = x.shape
    qkv = attn.qkv(x).reshape(b, n, 3, attn.heads, d // attn.heads).permute(2, 0, 3, 1, 4)
    out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
    return attn.proj(out.transpose(1, 2).reshape(b, n, d))


def test_attention_module_matches_scaled_dot_product_attention_on_the_stacked_heads():
    torch.manual_seed(0)
    attn = Attention(dim=48, heads=3)
    x = torch.randn(4, 17, 48, requires_grad=True)
    ours = attn(x)
    ours.square().sum().backward()
    grad_ours = x.grad.clone()
    x.grad = None
    reference = _fused(attn, x)
    reference.square().sum().backward()
    assert torch.allclose(ours, reference, atol=1e-5)
    assert torch.allclose(grad_ours, x.grad, atol=1e-4)


def test_matmul_path_matches_the_fused_kernel_in_float32_with_gradients():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(3, 2, 19, 8, generator=g, requires_grad=True) for _ in range(3))
    weights = torch.randn(3, 2, 19, 8, generator=g)
    (attention_matmul(q, k, v) * weights).sum().backward()
    ours = [t.grad.clone() for t in (q, k, v)]
    for t in (q, k, v):
        t.grad = None
    (F.scaled_dot_product_attention(q, k, v) * weights).sum().backward()
    assert torch.allclose(attention_matmul(q, k, v), F.scaled_dot_product_attention(q, k, v), atol=1e-6)
    for ours_g, t in zip(ours, (q, k, v), strict=True):
        assert torch.allclose(ours_g, t.grad, atol=1e-5)


def test_cpu_attention_under_bf16_autocast_stays_close():
    torch.manual_seed(0)
    attn = Attention(dim=64, heads=4)
    x = torch.randn(8, 64, 64)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = attn(x)
    assert mixed.dtype == torch.bfloat16
    exact = _fused(attn, x)
    assert (mixed.float() - exact).abs().max() < 0.05 * exact.abs().max()


def test_softmax_of_bf16_scores_is_the_float32_softmax_rounded():
    """What Attention relies on to skip casting the scores to float32 and back."""
    scores = (torch.randn(64, 4, 64, 64, generator=torch.Generator().manual_seed(0)) * 4).bfloat16()
    assert torch.equal(scores.softmax(dim=-1), scores.float().softmax(dim=-1).bfloat16())


def test_cpu_attention_gradients_under_bf16_autocast_stay_close():
    torch.manual_seed(0)
    attn = Attention(dim=64, heads=4)
    x = torch.randn(8, 64, 64, requires_grad=True)
    weights = torch.randn(8, 64, 64)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        (attn(x).float() * weights).sum().backward()
    mixed = [x.grad.clone()] + [p.grad.clone() for p in attn.parameters()]
    attn.zero_grad()
    x.grad = None
    (_fused(attn, x) * weights).sum().backward()
    exact = [x.grad] + [p.grad for p in attn.parameters()]
    for m, e in zip(mixed, exact, strict=True):
        assert (m - e).norm() < 0.03 * e.norm()
