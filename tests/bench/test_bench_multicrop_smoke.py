"""bench/bench_multicrop.py runs end to end in --quick mode for DINO and SwAV: it prints its three tables with
finite ratios, writes only its own section and hands run_all its targets. Its per-sample reference makes
crops of the engine's sizes and scales, and trains the method with the method's own step code."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from ssl_core.augment.multicrop import MultiCrop, multi_crop
from ssl_core.data.base import DataInfo
from ssl_core.methods import StepContext, build_method
from ssl_core.models import build_backbone
from tests.bench.test_bench_smoke import EARLIER, load, results, run_quick  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_multicrop_bench_quick(results, tmp_path, capsys):  # noqa: F811
    text, targets = run_quick("bench_multicrop", results, tmp_path, "--device", "cpu")
    for method in ("dino", "swav"):
        rows = [line for line in text.splitlines() if line.startswith(f"| {method} | small_cnn | 8 |")]
        assert len(rows) == 1
        assert " x 16 px + " in rows[0]  # the crops per image: two globals at the image size, then locals
        speedup = float(rows[0].rstrip(" |").rsplit("|", 1)[1].strip().strip("*").rstrip("x"))
        assert math.isfinite(speedup) and speedup > 0
        assert f"| {method} | engine: batched MultiCrop on resident images |" in text
    assert "### The crops alone (no model)" in text and "### Where the gain comes from" in text
    assert "ATen CPU kernels:" in text  # the instruction set the CPU kernels were built for
    assert [t["target"] for t in targets] == [
        "dino small_cnn: engine >= 2.0x per-sample multi-crop pipeline",
        "swav small_cnn: engine >= 2.0x per-sample multi-crop pipeline",
    ]
    assert all(isinstance(t["met"], bool) and "images/s" in t["measured"] for t in targets)
    assert "crops alone done" in capsys.readouterr().out


def _columns(n: int, size: int) -> torch.Tensor:
    """uint8 RGB images whose value is the column position: a crop's value span is its relative width."""
    ramp = torch.linspace(0, 255, size).round().to(torch.uint8)
    return ramp.expand(n, 3, size, size).contiguous()


def test_reference_crops_match_the_engines_sizes_and_scales():
    bench = load("bench_multicrop")
    shapes_only = {"hflip_p": 0.0, "jitter_p": 0.0, "grayscale_p": 0.0, "blur_p": 0.0, "solarize_p": 0.0}
    dino = multi_crop("dino", image_size=32, channels=3, n_local=3)
    engine = MultiCrop(
        [aug.recipe.replace(**shapes_only) for aug in dino.globals],
        dino.local.recipe.replace(**shapes_only),
        n_local=3,
        global_size=32,
        local_size=dino.local_size,
        channels=3,
    )
    plan = bench.CropPlan.of(engine)
    assert plan.describe() == f"2 x 32 px + 3 x {dino.local_size} px"
    images = _columns(300, 32)
    torch.manual_seed(0)  # torchvision's transforms draw from torch's global generator
    dataset = bench.PerSampleMultiCrop(images, plan)
    reference = [torch.stack(parts) for parts in zip(*(dataset[i] for i in range(len(images))), strict=True)]
    made = engine(images, torch.Generator().manual_seed(0))
    assert [c.shape for c in reference] == [c.shape for c in made]
    assert all(c.dtype == torch.float32 and c.min() >= 0 and c.max() <= 1 for c in reference)

    def widths(crops: torch.Tensor) -> torch.Tensor:  # relative width of each crop of the image
        return crops.amax(dim=(1, 2, 3)) - crops.amin(dim=(1, 2, 3))

    # Globals come from 40-100% of the area and locals from far less, in both pipelines alike.
    for ref, eng in ((reference[0], made[0]), (torch.cat(reference[2:]), torch.cat(made[2:]))):
        assert widths(ref).mean().item() == pytest.approx(widths(eng).mean().item(), abs=0.05)
    assert widths(torch.cat(made[2:])).mean() < widths(made[0]).mean() - 0.2


def test_the_reference_trains_with_the_methods_own_step():
    """With its MultiCrop replaced by FedCrops holding the same crops, the method computes the same loss."""
    bench = load("bench_multicrop")
    info = DataInfo("t", "t", 64, 3, 16, 16, False)
    torch.manual_seed(0)
    backbone = build_backbone("small_cnn", 3, 16, mean=[0.5] * 3, std=[0.25] * 3)
    method = build_method("dino", backbone, {"n_local": 2}, info).train()
    fed_method = copy.deepcopy(method)
    name, replaced = bench.multi_crop_of(fed_method)
    fed = bench.feed_crops(fed_method)
    assert bench.multi_crop_of(method)[0] == name and not any(
        isinstance(m, MultiCrop) for m in fed_method.modules()
    )
    assert fed.n_crops == replaced.n_crops == 4
    images = torch.rand(8, 3, 16, 16)
    crops = replaced(images, torch.Generator().manual_seed(3))
    fed.pending = [c.clone() for c in crops]
    ctx = StepContext(step=5, total_steps=10, epoch=0, generator=torch.Generator().manual_seed(3))
    own = method.training_step(images, ctx).loss
    ctx = StepContext(step=5, total_steps=10, epoch=0, generator=torch.Generator().manual_seed(99))
    from_loader = fed_method.training_step(crops[0], ctx).loss
    assert from_loader.item() == pytest.approx(own.item(), rel=1e-6)
    with pytest.raises(RuntimeError, match="asked for crops twice"):
        fed_method.training_step(crops[0], ctx)


def test_method_settings_reach_every_case(tmp_path):
    bench = load("bench_multicrop")
    args = bench.parse_args(["--param", "n_local=2", "--param", "encoder=vit", "--cases", "dino:small_cnn"])
    assert args.param == ["n_local=2", "encoder=vit"]
    s = bench.Settings(torch.device("cpu"), 16, 3, 32, (0,), 0, True, 1, 8, 1, 1, (("dino", "small_cnn"),))
    s.method_params = dict(p.split("=", 1) for p in args.param)
    cfg = bench.config_for(bench.Case("dino", "small_cnn", 8, 1, 1), "digits", s, tmp_path)
    assert cfg.method.params == {"n_local": "2", "encoder": "vit"}
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        bench.main(["--quick", "--param", "n_local"])


def test_run_all_runs_it():
    assert "bench_multicrop.py" in load("run_all").SCRIPTS
