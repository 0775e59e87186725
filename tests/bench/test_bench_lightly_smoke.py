"""bench/_lightly_reference.py, lightly's documented SimCLR / BYOL pipeline (bench_train_throughput.py's second
reference), trains the engine's small CNN for two steps where lightly is installed (the optional `bench`
extra), and the benchmark says why its rows are missing where it is not."""

from __future__ import annotations

import math

import pytest
import torch

from ssl_core.models import build_backbone
from tests.bench.test_bench_smoke import load

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize(("method", "channels_last"), [("simclr", False), ("byol", True)])
def test_lightly_reference_trains_two_steps(method, channels_last):
    ref = load("_lightly_reference")
    reason = ref.missing()
    if reason is not None:
        pytest.skip(reason)
    backbone = build_backbone("small_cnn", 3, 32)
    before = [p.detach().clone() for p in backbone.parameters()]
    images = torch.randint(
        0, 256, (16, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    result = ref.lightly_rate(
        method,
        backbone,
        backbone.feature_dim,
        images,
        batch_size=8,
        warmup=0,
        steps=2,
        workers=0,
        device=torch.device("cpu"),
        channels_last=channels_last,
    )
    assert math.isfinite(result.images_per_sec) and result.images_per_sec > 0
    assert 0 <= result.waiting < 1 and result.workers == 0 and result.warmup == 0
    # The backbone passed in is the one trained (SGD moved its weights).
    assert any(not torch.equal(a, b) for a, b in zip(before, backbone.parameters(), strict=True))
    assert ref.version().startswith("1.6.")  # the version docs/method_defaults.md compares against


def test_lightly_rows_are_skipped_with_a_note_without_lightly():
    bench = load("bench_train_throughput")
    s = bench.Settings(
        device=torch.device("cpu"), images=64, workers=0, seed=0, quick=True, compile=False, numerics_epochs=1
    )
    note = "lightly is not importable (ModuleNotFoundError: No module named 'lightly')"
    lines = "\n".join(bench.lightly_lines(s, [], note, threads=1))
    assert "### Against lightly's documented pipeline" in lines and f"Not measured: {note}." in lines
    assert bench.lightly_versions(note) == []
    assert 1 <= load("_lightly_reference").default_workers() <= 8
