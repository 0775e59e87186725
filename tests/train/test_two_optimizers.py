"""Methods trained by several optimizers in turn (`SSLMethod.optimizer_parts`): the trainer steps each
part with its own optimizer and schedule while the others stay frozen, records each part's loss, clips
per part, and checkpoints every optimizer, while one-optimizer methods keep their checkpoint format."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ssl_core.errors import UserError
from ssl_core.methods.base import OptimizerPart, StepOutput
from ssl_core.methods.simclr import SimCLR
from ssl_core.runs.store import read_metrics
from ssl_core.train import trainer as trainer_module
from ssl_core.train.builder import build_components
from ssl_core.train.checkpointing import TrainingState, restore_training_checkpoint
from ssl_core.train.control import RunControl
from ssl_core.train.events import StepEnded
from ssl_core.train.optim import SINGLE_PART, Hyper, build_optimizers, build_scheduler
from ssl_core.train.trainer import Trainer

# What every checkpoint held before methods could have several optimizers.
ONE_OPTIMIZER_KEYS = {
    "model",
    "optimizer",
    "scheduler",
    "scaler",
    "rng",
    "step",
    "epoch",
    "backbone_name",
    "format",
}


class TwoPartSimCLR(SimCLR):
    """SimCLR split in two parts, as a method with two optimizers would be: the backbone ("encoder"),
    then the projector ("head") at a tenth of the learning rate. Records which parameters could learn
    during each part's step."""

    trainable_during: dict[str, set[str]] = {}

    def optimizer_parts(self) -> dict[str, OptimizerPart]:
        head = [p for name, p in self.named_parameters() if not name.startswith("backbone.")]
        return {
            "encoder": OptimizerPart(list(self.backbone.parameters())),
            "head": OptimizerPart(head, lr_scale=0.1),
        }

    def training_step(self, images, ctx, part=None):
        assert part in ("encoder", "head")
        TwoPartSimCLR.trainable_during[part] = {
            n.split(".")[0] for n, p in self.named_parameters() if p.requires_grad
        }
        out = super().training_step(images, ctx)
        return StepOutput(
            out.loss if part == "encoder" else out.loss * 0.5, {f"{part} check": out.loss.detach()}
        )


@pytest.fixture
def two_parts(monkeypatch):
    """Runs of SimCLR build TwoPartSimCLR instead (same weights, same data)."""
    real_build = trainer_module.build_components

    def build(config, **kw):
        parts = real_build(config, **kw)
        parts.method.__class__ = TwoPartSimCLR
        return parts

    monkeypatch.setattr(trainer_module, "build_components", build)
    TwoPartSimCLR.trainable_during = {}


def test_each_part_steps_with_its_own_optimizer_while_the_others_are_frozen(tiny_config, two_parts):
    result = Trainer(tiny_config("train.max_steps=3", "train.batch_size=64")).run()
    assert result.status == "completed" and result.step == 3
    assert TwoPartSimCLR.trainable_during == {"encoder": {"backbone"}, "head": {"projector"}}
    records = read_metrics(result.run_dir)
    for r in records:  # each part's loss by name; the step's loss is their sum
        assert set(r["parts"]) == {"encoder", "head", "encoder check", "head check"}
        assert r["loss"] == pytest.approx(r["parts"]["encoder"] + r["parts"]["head"], rel=1e-5)
        assert r["parts"]["head"] == pytest.approx(0.5 * r["parts"]["head check"], rel=1e-5)
    saved = torch.load(result.run_dir / "checkpoints" / "last.pt", weights_only=True)
    assert "optimizer" not in saved and "scheduler" not in saved
    assert list(saved["optimizers"]) == list(saved["schedulers"]) == ["encoder", "head"]
    lrs = [saved["optimizers"][n]["param_groups"][0]["lr"] for n in ("encoder", "head")]
    assert lrs[1] == pytest.approx(0.1 * lrs[0])  # the head's lr_scale, through its own schedule
    assert all(saved["schedulers"][n]["last_epoch"] == 3 for n in ("encoder", "head"))
    # every part's optimizer has state for its own parameters only
    sizes = {n: len(saved["optimizers"][n]["state"]) for n in ("encoder", "head")}
    assert sizes["encoder"] > 0 and sizes["head"] > 0


def test_a_stopped_two_part_run_resumes_exactly(tiny_config, two_parts):
    full = Trainer(tiny_config("train.seed=5", "train.max_steps=6", "train.batch_size=64")).run()
    full_losses = [r["loss"] for r in read_metrics(full.run_dir)]
    control = RunControl()
    first = Trainer(tiny_config("train.seed=5", "train.max_steps=6", "train.batch_size=64"), control)
    first.events.subscribe(lambda e: control.stop() if isinstance(e, StepEnded) and e.step == 2 else None)
    assert first.run().status == "stopped"
    resumed = Trainer.resume(first.run_dir).run()
    assert resumed.status == "completed" and resumed.step == 6
    assert [r["loss"] for r in read_metrics(first.run_dir)] == pytest.approx(full_losses, rel=1e-4, abs=1e-5)


def test_one_optimizer_checkpoints_keep_their_format_and_resume(tiny_config):
    control = RunControl()
    first = Trainer(tiny_config("train.seed=2", "train.max_steps=4", "train.batch_size=64"), control)
    first.events.subscribe(lambda e: control.stop() if isinstance(e, StepEnded) and e.step == 2 else None)
    assert first.run().status == "stopped"
    path = first.run_dir / "checkpoints" / "last.pt"
    saved = torch.load(path, weights_only=True)
    assert set(saved) == ONE_OPTIMIZER_KEYS  # what older versions wrote and still read
    # a checkpoint written before optimizer parts existed is this same dictionary: save it back as such
    torch.save({k: saved[k] for k in ONE_OPTIMIZER_KEYS}, path)
    resumed = Trainer.resume(first.run_dir).run()
    assert resumed.status == "completed" and resumed.step == 4


def test_a_checkpoint_from_other_optimizer_parts_is_refused_in_words(tiny_config, two_parts, tmp_path):
    result = Trainer(tiny_config("train.max_steps=1", "train.batch_size=64")).run()
    parts = build_components(tiny_config())
    hyper = Hyper(64, 1e-3, 0.0, 0.0)
    optimizers = build_optimizers(parts.method, parts.spec, hyper)  # SimCLR itself: one optimizer
    assert list(optimizers) == [SINGLE_PART]
    state = TrainingState(
        method=parts.method,
        optimizers=optimizers,
        schedulers={n: build_scheduler(o, 10, 0) for n, o in optimizers.items()},
        scaler=torch.amp.GradScaler("cpu", enabled=False),
        generator=torch.Generator(),
        device=torch.device("cpu"),
    )
    with pytest.raises(UserError, match="does not match the run's config"):
        restore_training_checkpoint(result.run_dir / "checkpoints" / "last.pt", state)


def test_parameters_must_belong_to_exactly_one_part(tiny_config):
    method = build_components(tiny_config()).method
    spec, hyper = method.spec, Hyper(64, 1e-3, 0.0, 0.0)
    backbone = list(method.backbone.parameters())
    method.optimizer_parts = lambda: {"a": OptimizerPart(backbone)}
    with pytest.raises(ValueError, match="in no optimizer part: projector"):
        build_optimizers(method, spec, hyper)
    method.optimizer_parts = lambda: {
        "a": OptimizerPart(list(method.parameters())),
        "b": OptimizerPart(backbone),
    }
    with pytest.raises(ValueError, match="is in parts a and b"):
        build_optimizers(method, spec, hyper)


def test_gradient_clipping_is_per_part(tiny_config, two_parts, monkeypatch):
    clipped = []
    real_clip = torch.nn.utils.clip_grad_norm_

    def clip(params, max_norm, *a, **kw):
        params = list(params)
        clipped.append((len(params), max_norm))
        return real_clip(params, max_norm, *a, **kw)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", clip)
    result = Trainer(tiny_config("train.max_steps=2", "train.batch_size=64", "train.grad_clip=0.5")).run()
    assert result.status == "completed"
    parts = build_components(tiny_config()).method
    sizes = (len(list(parts.backbone.parameters())), len(list(parts.projector.parameters())))
    assert clipped == [(sizes[0], 0.5), (sizes[1], 0.5)] * 2


def test_constant_schedule_keeps_the_rate_after_warm_up():
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = build_scheduler(opt, total_steps=10, warmup_steps=2, schedule="constant")
    rates = []
    for _ in range(10):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert rates == pytest.approx([0.5] + [1.0] * 9)
    with pytest.raises(ValueError, match="unknown learning-rate schedule"):
        build_scheduler(opt, 10, 0, schedule="linear")
