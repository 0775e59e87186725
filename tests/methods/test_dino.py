"""DINO: learns on digits, the teacher sees the global crops only, its schedules, state and previews."""

from __future__ import annotations

import math

import pytest
import torch

from ssl_core.data.base import DataInfo
from ssl_core.errors import UserError
from ssl_core.methods import METHODS, StepContext, build_method
from ssl_core.methods.dino import DINO, vit_local_size, vit_patch_size
from ssl_core.models import build_backbone
from ssl_core.models.vit import ViTEncoder
from tests.methods.test_joint_embedding import Digits, digits, make_method  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: one thread is fastest

# Small and quick: 2 local crops, 256 outputs, a narrow head.
QUICK = {"n_local": 2, "out_dim": 256, "proj_hidden_dim": 256}


def _ctx(step: int = 0, total: int = 10, seed: int = 0) -> StepContext:
    return StepContext(step=step, total_steps=total, epoch=0, generator=torch.Generator().manual_seed(seed))


def _train_logged(method, images, epochs: int, batch: int) -> list[dict[str, float]]:
    """AdamW at the method's lr (scaled to the batch), as tests/methods/test_joint_embedding.train, keeping
    every step's loss and parts."""
    spec = method.spec
    opt = torch.optim.AdamW(
        [p for p in method.parameters() if p.requires_grad],
        lr=spec.optim.lr * batch / 256,
        weight_decay=spec.optim.weight_decay,
    )
    g = torch.Generator().manual_seed(0)
    steps = len(images) // batch
    total, rows, step = epochs * steps, [], 0
    method.train()
    for epoch in range(epochs):
        order = torch.randperm(len(images), generator=g)
        for i in range(steps):
            ctx = StepContext(step=step, total_steps=total, epoch=epoch, generator=g)
            out = method.training_step(images[order[i * batch : (i + 1) * batch]], ctx)
            opt.zero_grad(set_to_none=True)
            out.loss.backward()
            opt.step()
            method.after_optimizer_step(ctx)
            rows.append({"loss": out.loss.item(), **{k: v.item() for k, v in out.parts.items()}})
            step += 1
    return rows


def _mean(rows: list[dict[str, float]], key: str) -> float:
    return sum(r[key] for r in rows) / len(rows)


def test_loss_falls_on_digits_without_collapse(digits):
    method = make_method("dino", digits, QUICK)
    rows = _train_logged(method, digits.images, epochs=3, batch=64)
    assert all(math.isfinite(r["loss"]) for r in rows)
    per_epoch = len(digits.images) // 64
    first, last = rows[:per_epoch], rows[-per_epoch:]
    assert _mean(last, "loss") < _mean(first, "loss") - 0.05, (_mean(first, "loss"), _mean(last, "loss"))
    # The student's own part (its distance from the teacher) falls most...
    assert _mean(last, "kl") < 0.6 * _mean(first, "kl")
    # ...while the teacher neither collapses to uniform (entropy ln 256 = 5.55) nor to one-hot (0).
    assert 0.5 < _mean(last, "teacher_entropy") < 0.97 * math.log(256)
    for r in rows:
        assert r["loss"] == pytest.approx(r["teacher_entropy"] + r["kl"], rel=1e-5)


def test_teacher_sees_globals_only_and_student_every_crop(digits):
    method = make_method("dino", digits, {**QUICK, "n_local": 3})
    seen = {"teacher": [], "student": []}
    method.teacher_backbone.register_forward_hook(lambda m, i, o: seen["teacher"].append(tuple(i[0].shape)))
    method.backbone.register_forward_hook(lambda m, i, o: seen["student"].append(tuple(i[0].shape)))
    method.training_step(digits.images[:16], _ctx())
    assert seen["teacher"] == [(32, 1, 8, 8)]  # two globals, batched together
    assert seen["student"] == [(32, 1, 8, 8), (48, 1, 4, 4)]  # one pass per crop size


def test_temperature_schedule_and_center(digits):
    method = make_method("dino", digits, {**QUICK, "teacher_temp_warmup": 0.5})
    assert method.temperatures(_ctx(0, 100)) == (0.1, pytest.approx(0.04))
    assert method.temperatures(_ctx(25, 100))[1] == pytest.approx(0.055)
    assert method.temperatures(_ctx(50, 100))[1] == pytest.approx(0.07)
    assert method.temperatures(_ctx(99, 100))[1] == pytest.approx(0.07)
    assert torch.count_nonzero(method.center) == 0
    method.training_step(digits.images[:32], _ctx())
    assert torch.count_nonzero(method.center) > 0  # moved towards the teacher's batch mean
    assert "center" in method.state_dict() and "teacher_head.last" in method.state_dict()


def test_last_layer_frozen_at_first(digits):
    method = make_method("dino", digits, {**QUICK, "freeze_last_layer": 0.2})
    method.training_step(digits.images[:32], _ctx(step=1, total=10)).loss.backward()
    assert method.head.last.grad is None and method.head.mlp[0].weight.grad is not None
    method.zero_grad(set_to_none=True)
    method.training_step(digits.images[:32], _ctx(step=2, total=10)).loss.backward()
    assert method.head.last.grad is not None and method.head.last.grad.abs().sum() > 0


def test_teacher_follows_student_by_momentum(digits):
    method = make_method("dino", digits, QUICK)
    before = method.teacher_head.last.detach().clone()
    with torch.no_grad():
        method.head.last.add_(1.0)
    method.after_optimizer_step(_ctx(step=0, total=10))
    # At step 0 the momentum is base_momentum (0.99): the teacher moves 1% of the way.
    torch.testing.assert_close(method.teacher_head.last, before + 0.01, atol=1e-5, rtol=0)
    assert not any(p.requires_grad for p in method.teacher_backbone.parameters())


def test_state_round_trip_continues_exactly(digits):
    method = make_method("dino", digits, QUICK)
    _train_logged(method, digits.images[:192], epochs=1, batch=64)
    copy = make_method("dino", digits, QUICK, seed=1)
    copy.load_state_dict(method.state_dict())
    a = method.training_step(digits.images[:32], _ctx(5, 10, seed=3)).loss
    b = copy.training_step(digits.images[:32], _ctx(5, 10, seed=3)).loss
    assert a.item() == pytest.approx(b.item(), rel=1e-6)


def test_preview_shows_globals_and_locals(digits):
    method = make_method("dino", digits, QUICK)
    method.eval()
    preview = method.preview(digits.images[:5], torch.Generator().manual_seed(0))
    assert preview.kind == "views" and preview.payload == "image_grid"
    assert list(preview.images) == ["global 1", "global 2", "local 1", "local 2"]
    assert preview.images["global 1"].shape == (5, 1, 8, 8)
    assert preview.images["local 2"].shape == (5, 1, 4, 4)
    with torch.no_grad():
        assert method.encode(digits.images[:5]).shape == (5, 128)


def test_vit_encoder_trains_and_previews_attention(digits):
    torch.manual_seed(0)
    x = digits.images
    backbone = build_backbone("small_cnn", 1, 8, mean=[x.mean().item()], std=[x.std().item()])
    method = build_method("dino", backbone, {**QUICK, "encoder": "vit"}, digits.info)
    assert isinstance(method.backbone, ViTEncoder) and method.backbone.cls_token is not None
    assert method.backbone.mean.item() == pytest.approx(x.mean().item())  # the run's normalisation kept
    assert method.crops.local_size == 4  # two 2 px patches a side
    loss = method.training_step(x[:16], _ctx())
    loss.loss.backward()
    assert math.isfinite(loss.loss.item()) and method.backbone.cls_token.grad is not None
    method.eval()
    preview = method.preview(x[:3], torch.Generator().manual_seed(0))
    attention = preview.images["attention"]
    assert attention.shape == (3, 1, 8, 8)
    assert attention.min() >= 0.0 and attention.max() == pytest.approx(1.0)


def test_vit_attention_maps_and_position_grid():
    torch.manual_seed(0)
    vit = ViTEncoder(1, 8, 2, dim=32, depth=2, heads=4, cls_token=True)
    images = torch.rand(3, 1, 8, 8)
    maps = vit.attention_maps(images)
    assert maps.shape == (3, 4, 4, 4)
    torch.testing.assert_close(maps.sum(dim=(2, 3)), torch.ones(3, 4))
    assert vit.pos_embed_for(8, 8) is vit.pos_embed
    assert vit.pos_embed_for(4, 4).shape == (1, 4, 32)
    assert vit(torch.rand(2, 1, 4, 4)).shape == (2, 32)  # a local crop
    with pytest.raises(ValueError, match="not divisible"):
        vit(torch.rand(2, 1, 5, 5))
    plain = ViTEncoder(1, 8, 2, dim=32, depth=2, heads=4)  # MAE's: no class token, keys unchanged
    assert "cls_token" not in plain.state_dict()
    torch.testing.assert_close(plain.attention_maps(images).sum(dim=(2, 3)), torch.ones(3, 4))


def test_vit_sizes_and_setup_problems(digits):
    assert vit_patch_size(8, 8) == 2 and vit_patch_size(32, 32) == 4 and vit_patch_size(7, 7) is None
    assert vit_local_size(8, 2) == 4 and vit_local_size(32, 4) == 12  # 14 px -> 3 patches of 4 px
    spec = METHODS.get("dino")
    problems = spec.setup_problems({"encoder": "vit", "local_size": 3}, digits.info)
    assert [p.field for p in problems] == ["local_size"]
    assert spec.setup_problems({"encoder": "vit"}, digits.info, image_size=7)[0].field == "data.image_size"
    assert spec.setup_problems({"local_size": 3}, digits.info) == []  # any size with a convnet
    with pytest.raises(UserError, match="local_size"):
        make_method("dino", digits, {"encoder": "vit", "local_size": 3})


def test_registry_entry_and_other_modalities(digits):
    spec = METHODS.get("dino")
    assert spec.family == "self-distillation" and spec.preview_kind == "views"
    assert spec.modalities == ("image",) and spec.factory is DINO
    assert spec.paper and spec.description.count(". ") >= 3
    assert all(p.help for p in spec.params)
    d = spec.params.defaults()
    assert (d["student_temp"], d["teacher_temp"], d["center_momentum"]) == (0.1, 0.04, 0.9)
    series = DataInfo("s", "s", 10, 2, 0, 0, has_labels=False, modality="series", sample_shape=(2, 32))
    assert "image" in (spec.unavailable_reason(series) or "")


@pytest.mark.parametrize("name", ["dino", "swav"])
def test_trainer_stop_then_resume_matches_an_uninterrupted_run(name, tmp_path):
    """Through the real Trainer (previews, checkpoints): the teacher, the centre, the queue and the schedules
    come back from a checkpoint, so a stopped and resumed run follows the uninterrupted one exactly."""
    from ssl_core.runs.store import load_run, read_metrics
    from ssl_core.train.control import RunControl
    from ssl_core.train.events import StepEnded
    from ssl_core.train.trainer import Trainer
    from tests.tiny_runs import tiny_config

    params = ["method.params.n_local=2"] + (
        ["method.params.out_dim=256"] if name == "dino" else ["method.params.queue_size=128"]
    )
    settings = [f"method.name={name}", "train.seed=3", "train.max_steps=6", "train.batch_size=64", *params]
    full = Trainer(tiny_config(tmp_path / "full", *settings)).run()
    assert full.status == "completed", full.message
    full_losses = [r["loss"] for r in read_metrics(full.run_dir)]

    control = RunControl()
    first = Trainer(tiny_config(tmp_path / "parts", *settings), control)
    first.events.subscribe(lambda e: control.stop() if isinstance(e, StepEnded) and e.step == 3 else None)
    stopped = first.run()
    assert stopped.status == "stopped" and stopped.step == 3
    resumed = Trainer.resume(stopped.run_dir).run()
    assert resumed.status == "completed"
    assert [r["loss"] for r in read_metrics(stopped.run_dir)] == pytest.approx(
        full_losses, rel=1e-4, abs=1e-5
    )
    loaded = load_run(full.run_dir)
    x = loaded.source.read(loaded.val_idx[:4])[0].float() / 255
    assert loaded.method.encode(x).shape == (4, loaded.method.feature_dim)
