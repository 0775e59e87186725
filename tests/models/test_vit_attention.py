"""The ViT's CPU attention (two matrix products, float32 softmax) computes what the fused kernel does."""

import torch
import torch.nn.functional as F

from ssl_core.models.vit import Attention


def _fused(attn: Attention, x: torch.Tensor) -> torch.Tensor:
    b, n, d = x.shape
    qkv = attn.qkv(x).reshape(b, n, 3, attn.heads, d // attn.heads).permute(2, 0, 3, 1, 4)
    out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
    return attn.proj(out.transpose(1, 2).reshape(b, n, d))


def test_cpu_attention_matches_scaled_dot_product_attention():
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


def test_cpu_attention_under_bf16_autocast_stays_close():
    torch.manual_seed(0)
    attn = Attention(dim=64, heads=4)
    x = torch.randn(8, 64, 64)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = attn(x)
    assert mixed.dtype == torch.bfloat16
    exact = _fused(attn, x)
    assert (mixed.float() - exact).abs().max() < 0.05 * exact.abs().max()
