import threading

import numpy as np
import pytest
import torch
from torch import nn

from ssl_core.eval import Cancelled, EmbeddingCache, extract_embeddings, raw_pixel_features
from ssl_core.eval.embeddings import encode_source, file_digest


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )


def _images(n: int = 40, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 1, 8, 8), generator=g, dtype=torch.uint8)


def test_train_mode_is_restored_and_batchnorm_stats_untouched():
    net = _net().train()
    bn = net[1]
    mean, var, batches = bn.running_mean.clone(), bn.running_var.clone(), bn.num_batches_tracked.clone()
    feats = extract_embeddings(net, _images(), batch_size=16, device="cpu")
    assert net.training and all(m.training for m in net.modules())
    assert torch.equal(bn.running_mean, mean) and torch.equal(bn.running_var, var)
    assert torch.equal(bn.num_batches_tracked, batches)
    # Eval mode means dropout is off: extraction is deterministic.
    again = extract_embeddings(net, _images(), batch_size=7, device="cpu")
    np.testing.assert_allclose(feats, again, rtol=1e-5, atol=1e-6)


def test_eval_mode_stays_eval_and_mixed_modes_are_restored():
    net = _net().eval()
    extract_embeddings(net, _images(8), device="cpu")
    assert not any(m.training for m in net.modules())
    net.train()
    net[1].eval()  # a frozen BatchNorm inside a training model keeps its own mode
    extract_embeddings(net, _images(8), device="cpu")
    assert net.training and net[0].training and not net[1].training


def test_mode_restored_when_the_encoder_fails():
    class Broken(nn.Module):
        def forward(self, x):
            raise RuntimeError("boom")

    net = Broken().train()
    with pytest.raises(RuntimeError, match="boom"):
        extract_embeddings(net, _images(4), device="cpu")
    assert net.training


def test_uint8_is_scaled_to_unit_range_and_output_is_float32_2d():
    images = torch.tensor([[[[0, 255], [51, 102]]]], dtype=torch.uint8)  # (1, 1, 2, 2)
    out = extract_embeddings(lambda x: x, images, device="cpu")
    assert out.dtype == np.float32 and out.shape == (1, 4)
    np.testing.assert_allclose(out[0], [0.0, 1.0, 0.2, 0.4], atol=1e-6)


def test_bound_encode_method_counts_as_its_module():
    class Method(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = _net()

        def encode(self, x):
            return self.backbone(x) * 2

    method = Method().train()
    direct = extract_embeddings(method, _images(6), device="cpu", amp=False)  # a module with `encode` uses it
    bound = extract_embeddings(method.encode, _images(6), device="cpu", amp=False)
    assert method.training and method.backbone.training
    np.testing.assert_allclose(direct, bound, rtol=1e-6)
    with torch.no_grad():
        expected = method.eval().encode(_images(6).float() / 255).numpy()
    np.testing.assert_allclose(direct, expected, rtol=1e-5, atol=1e-6)


def test_progress_is_reported_and_cancel_stops_between_batches():
    seen = []
    extract_embeddings(_net(), _images(40), batch_size=16, device="cpu", progress=lambda f, m: seen.append(f))
    assert seen == pytest.approx([16 / 40, 32 / 40, 1.0])

    cancel = threading.Event()
    net = _net().train()

    def stop_after_first(fraction, message):
        cancel.set()

    with pytest.raises(Cancelled):
        extract_embeddings(
            net, _images(40), batch_size=16, device="cpu", progress=stop_after_first, cancel=cancel
        )
    assert net.training


def test_encode_source_reads_in_chunks_and_matches_direct_extraction():
    from ssl_core.data.base import DataInfo, TensorSource

    images = _images(30)
    info = DataInfo("t", "t", 30, 1, 8, 8, has_labels=False)
    reads = []

    class CountingSource(TensorSource):
        def read(self, indices):
            reads.append(len(indices))
            return super().read(indices)

    source = CountingSource(images, None, info)
    net = _net()
    via_source = encode_source(net, source, batch_size=8, device="cpu", chunk=12)
    assert reads == [12, 12, 6]
    np.testing.assert_allclose(
        via_source, extract_embeddings(net, images, device="cpu"), rtol=1e-5, atol=1e-6
    )


def test_raw_pixel_features_flatten_and_downsample():
    images = torch.full((2, 3, 4, 4), 255, dtype=torch.uint8)
    images[1, :, :2, :2] = 0
    feats = raw_pixel_features(images)
    assert feats.shape == (2, 48) and feats.dtype == np.float32
    assert feats[0].min() == 1.0 and feats[1].min() == 0.0
    small = raw_pixel_features(images, max_side=2)  # 2x2 area averages
    assert small.shape == (2, 12)
    np.testing.assert_allclose(small[1].reshape(3, 2, 2)[0], [[0.0, 1.0], [1.0, 1.0]])


def test_embedding_cache_roundtrip_recompute_and_prune(tmp_path):
    cache = EmbeddingCache(tmp_path)
    calls = []

    def compute():
        calls.append(1)
        return np.arange(12, dtype=np.float32).reshape(4, 3), np.array([0, 1, 0, 1])

    first = cache.get_or_compute("abc", compute, expected_rows=4)
    second = cache.get_or_compute("abc", compute, expected_rows=4)
    feats, labels, again, labels2 = first.features, first.labels, second.features, second.labels
    assert len(calls) == 1 and np.array_equal(feats, again) and np.array_equal(labels, labels2)
    assert (tmp_path / "eval" / "embeddings-abc.npy").is_file()
    # Different data size: the cache is stale and recomputed.
    cache.get_or_compute("abc", compute, expected_rows=5)
    assert len(calls) == 2
    # A damaged file counts as missing.
    (tmp_path / "eval" / "embeddings-abc.npy").write_bytes(b"not an array")
    assert cache.load("abc") is None
    # A new checkpoint key removes the previous key's arrays.
    (tmp_path / "eval" / "projection-umap-abc.npy").write_bytes(b"x")
    cache.save("def", np.zeros((2, 2), np.float32))
    names = sorted(p.name for p in (tmp_path / "eval").iterdir())
    assert names == ["embeddings-def.npy"]
    assert cache.load("def").labels is None


def test_cache_refuses_pickled_arrays(tmp_path):
    cache = EmbeddingCache(tmp_path)
    path = cache.embeddings_path("k")
    path.parent.mkdir(parents=True)
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert cache.load("k") is None  # object arrays would need pickle: treated as damaged


def test_file_digest_changes_with_content(tmp_path):
    path = tmp_path / "last.pt"
    path.write_bytes(b"one")
    first = file_digest(path)
    path.write_bytes(b"two")
    assert len(first) == 16 and file_digest(path) != first


def test_cpu_extraction_uses_cache_sized_batches_and_restores_the_memory_format():
    from ssl_core.eval.embeddings import CPU_EXTRACT_BATCH

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3), nn.Flatten())
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (CPU_EXTRACT_BATCH * 2 + 5, 3, 8, 8), generator=g, dtype=torch.uint8)
    seen = []
    feats = extract_embeddings(
        net, images, batch_size=512, device="cpu", amp=False, progress=lambda f, m: seen.append(f)
    )
    assert len(seen) == 3  # 512 asked, CPU_EXTRACT_BATCH used: three batches
    for conv in (net[0].weight, net[2].weight):  # channels_last inside, the caller's layout after
        assert conv.is_contiguous() and not conv.is_contiguous(memory_format=torch.channels_last)
    with torch.no_grad():  # channels_last changes the layout, not the numbers
        expected = net.eval()(images.float() / 255).numpy()
    np.testing.assert_allclose(feats, expected, rtol=1e-5, atol=1e-6)


def test_default_precision_is_the_training_steps_and_close_to_float32():
    from ssl_core.train.perf import training_autocast_dtype

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3), nn.Flatten())
    g = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (20, 3, 8, 8), generator=g, dtype=torch.uint8)
    exact = extract_embeddings(net, images, device="cpu", amp=False)
    default = extract_embeddings(net, images, device="cpu")
    assert default.dtype == np.float32
    if training_autocast_dtype(torch.device("cpu")) is None:  # no native bf16: float32 throughout
        np.testing.assert_allclose(default, exact, rtol=1e-5, atol=1e-6)
    else:  # bf16 keeps ~3 significant digits
        assert not np.array_equal(default, exact)
        rel = np.linalg.norm(default - exact) / np.linalg.norm(exact)
        assert rel < 2e-2, rel
