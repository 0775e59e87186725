"""The ViT's fast paths compute what the plain formulations do: embedding only the kept patches equals
convolving every patch and gathering afterwards, and `take_tokens` equals `gather` (values and
gradients)."""

import torch
import torch.nn.functional as F

from ssl_core.models.vit import ViTEncoder, random_masking, take_tokens


def _conv_then_gather(enc: ViTEncoder, images: torch.Tensor, ids_keep: torch.Tensor | None) -> torch.Tensor:
    """MAE's usual order: normalise, convolve all patches, add positions, keep the visible tokens."""
    x = (images - enc.mean) / enc.std
    x = F.conv2d(x, enc.patch_embed.weight, enc.patch_embed.bias, stride=enc.patch_size)
    x = x.flatten(2).transpose(1, 2) + enc.pos_embed
    if ids_keep is None:
        return x
    return x.gather(1, ids_keep[..., None].expand(-1, -1, x.shape[-1]))


def _encoder() -> ViTEncoder:
    torch.manual_seed(0)
    return ViTEncoder(3, (12, 16), 4, dim=32, depth=1, heads=2, mean=[0.4, 0.5, 0.6], std=[0.2, 0.3, 0.25])


def test_embedding_kept_patches_equals_convolution_then_gather():
    enc = _encoder()
    images = torch.rand(5, 3, 12, 16)
    ids_keep, _, _ = random_masking(5, enc.num_patches, 0.75, torch.Generator().manual_seed(1), "cpu")
    assert ids_keep.shape == (5, 3)  # 12 patches, 3 visible
    for keep in (ids_keep, None):
        ours = enc.embed(images, keep)
        ours.square().sum().backward()
        grads = [p.grad.clone() for p in (enc.patch_embed.weight, enc.patch_embed.bias)]
        enc.zero_grad()
        reference = _conv_then_gather(enc, images, keep)
        reference.square().sum().backward()
        assert ours.shape == reference.shape
        assert torch.allclose(ours, reference, atol=1e-5)
        for ours_g, p in zip(grads, (enc.patch_embed.weight, enc.patch_embed.bias), strict=True):
            assert torch.allclose(ours_g, p.grad, rtol=1e-4, atol=1e-5)
        enc.zero_grad()


def test_embedding_works_on_channels_last_images_and_keeps_a_float32_stream_under_bf16():
    enc = _encoder().to(memory_format=torch.channels_last)  # what the trainer does on a CPU
    images = torch.rand(4, 3, 12, 16).contiguous(memory_format=torch.channels_last)
    ids_keep, _, _ = random_masking(4, enc.num_patches, 0.5, torch.Generator().manual_seed(2), "cpu")
    assert torch.allclose(enc.embed(images, ids_keep), _conv_then_gather(enc, images, ids_keep), atol=1e-5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = enc.embed(images, ids_keep)
    assert mixed.dtype == torch.float32  # positions added in float32, as before the fast path
    exact = _conv_then_gather(enc, images, ids_keep)
    assert (mixed - exact).abs().max() < 0.02 * exact.abs().max()


def test_take_tokens_equals_gather_with_gradients():
    x = torch.randn(3, 7, 5, requires_grad=True)
    ids = torch.stack([torch.randperm(7)[:4] for _ in range(3)])
    ids[0, 1] = ids[0, 0]  # a repeated index: its gradients must add up, as gather's do
    ours = take_tokens(x, ids)
    weights = torch.randn_like(ours)
    (ours * weights).sum().backward()
    grad_ours = x.grad.clone()
    x.grad = None
    reference = x.gather(1, ids[..., None].expand(-1, -1, 5))
    (reference * weights).sum().backward()
    assert torch.equal(ours, reference)
    assert torch.allclose(grad_ours, x.grad, atol=1e-6)
    # A non-contiguous index (as anomaly scoring passes: one order expanded over the batch).
    order = torch.randperm(7)[:3]
    assert torch.equal(take_tokens(x, order.expand(3, -1)), x[:, order])
