"""The six joint-embedding methods: each learns on digits, previews two views, and keeps its state."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import pytest
import torch
from sklearn.datasets import load_digits

from ssl_core.data.base import DataInfo
from ssl_core.errors import UserError
from ssl_core.methods import METHODS, SSLMethod, StepContext, build_method
from ssl_core.methods._momentum import cosine_momentum, ema_update
from ssl_core.models import build_backbone


@dataclass
class Digits:
    images: torch.Tensor  # (N, 1, 8, 8) float in [0, 1]
    labels: torch.Tensor
    info: DataInfo


@pytest.fixture(scope="session")
def digits() -> Digits:
    raw = load_digits()
    images = torch.tensor(raw.images, dtype=torch.float32).unsqueeze(1) / 16.0
    info = DataInfo(
        spec="digits",
        name="digits",
        size=len(images),
        channels=1,
        height=8,
        width=8,
        has_labels=True,
        class_names=[str(i) for i in range(10)],
    )
    return Digits(images, torch.tensor(raw.target), info)


def make_method(name: str, digits: Digits, overrides: dict | None = None, seed: int = 0) -> SSLMethod:
    torch.manual_seed(seed)
    x = digits.images
    backbone = build_backbone("small_cnn", 1, 8, mean=[x.mean().item()], std=[x.std().item()])
    return build_method(name, backbone, overrides, digits.info)


def train(
    method: SSLMethod, images: torch.Tensor, epochs: int, batch_size: int, seed: int = 0
) -> list[float]:
    """The simplest trainer: AdamW at the method's default lr (scaled by batch / 256), no schedule."""
    spec = method.spec
    lr = spec.optim.lr * batch_size / 256
    trainable = [p for p in method.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=lr, weight_decay=spec.optim.weight_decay)
    g = torch.Generator().manual_seed(seed)
    steps_per_epoch = len(images) // batch_size
    total = epochs * steps_per_epoch
    losses, step = [], 0
    method.train()
    for epoch in range(epochs):
        order = torch.randperm(len(images), generator=g)
        for i in range(steps_per_epoch):
            ctx = StepContext(step=step, total_steps=total, epoch=epoch, generator=g)
            out = method.training_step(images[order[i * batch_size : (i + 1) * batch_size]], ctx)
            opt.zero_grad(set_to_none=True)
            out.loss.backward()
            opt.step()
            method.after_optimizer_step(ctx)
            losses.append(out.loss.item())
            step += 1
    return losses


JOINT = {
    "simclr": "contrastive",
    "moco": "contrastive",
    "byol": "self-distillation",
    "simsiam": "self-distillation",
    "barlow_twins": "redundancy reduction",
    "vicreg": "redundancy reduction",
}

# name -> (overrides, batch size, index of the first step to compare against).
# MoCo starts with a queue of random unit vectors (as in the reference code), which are easy negatives;
# its loss jumps once real keys replace them, so its baseline starts after the queue has turned over.
TRAINING = {
    "simclr": ({}, 256, 0),
    "moco": ({"queue_size": 512}, 128, 2),
    "byol": ({}, 256, 0),
    "simsiam": ({}, 256, 0),
    "barlow_twins": ({}, 256, 0),
    "vicreg": ({}, 256, 0),
}


_TRAINED: dict[str, tuple[SSLMethod, list[float]]] = {}


def trained(name: str, digits: Digits) -> tuple[SSLMethod, list[float]]:
    """The method after two epochs on digits, and its per-step losses (trained once per session)."""
    if name not in _TRAINED:
        overrides, batch, _ = TRAINING[name]
        method = make_method(name, digits, overrides)
        _TRAINED[name] = method, train(method, digits.images, epochs=2, batch_size=batch)
    return _TRAINED[name]


@pytest.mark.parametrize("name", list(JOINT))
def test_loss_falls_in_two_epochs_on_digits(name, digits):
    _, batch, first = TRAINING[name]
    _, losses = trained(name, digits)
    assert all(math.isfinite(v) for v in losses)
    steps_per_epoch = len(digits.images) // batch
    start = sum(losses[first : first + 3]) / 3
    last_epoch = sum(losses[-steps_per_epoch:]) / steps_per_epoch
    # Each method's loss has its own scale; ask for a drop of 2% of the starting value at least
    # (SimSiam starts near 0, so it gets an absolute margin instead).
    margin = max(0.02 * abs(start), 0.05)
    assert last_epoch < start - margin, f"{name}: first steps {start:.4f}, last epoch {last_epoch:.4f}"


def _spread(method: SSLMethod, images: torch.Tensor) -> float:
    """SimSiam's collapse indicator: mean per-dimension std of L2-normalised projector outputs, times
    sqrt(d). About 1 when outputs spread over the sphere, 0 when they collapse to one point."""
    method.eval()
    with torch.no_grad():
        z = torch.nn.functional.normalize(method.projector(method.encode(images)), dim=1)
    method.train()
    return z.std(dim=0).mean().item() * math.sqrt(z.shape[1])


@pytest.mark.parametrize("name", ["byol", "simsiam"])
def test_self_distillation_does_not_collapse(name, digits):
    method, _ = trained(name, digits)
    assert _spread(method, digits.images[:512]) > 0.3
    # The indicator does detect collapse: identical inputs give identical outputs.
    assert _spread(method, digits.images[:1].repeat(64, 1, 1, 1)) < 0.01


def test_registry_metadata(digits):
    for name, family in JOINT.items():
        spec = METHODS.get(name)
        assert spec.family == family
        assert spec.preview_kind == "views"
        assert spec.paper and spec.summary and spec.description.count(". ") >= 2
        json.dumps(spec.to_dict())  # the GUI and CLI serialise it
        for p in spec.params:
            assert p.help
            assert p.low is None or p.low <= p.default <= p.high
    assert METHODS.get("simclr").params.defaults()["temperature"] == 0.5
    moco = METHODS.get("moco").params.defaults()
    assert (moco["queue_size"], moco["base_momentum"]) == (4096, 0.99)
    assert METHODS.get("barlow_twins").params.defaults()["lambd"] == 0.005
    v = METHODS.get("vicreg").params.defaults()
    assert (v["sim_weight"], v["var_weight"], v["cov_weight"]) == (25.0, 25.0, 1.0)


def test_out_of_range_param_is_a_user_error(digits):
    with pytest.raises(UserError, match="temperature = 5.0 is out of range"):
        make_method("simclr", digits, {"temperature": 5.0})
    with pytest.raises(UserError, match="Unknown setting .*queue; known settings are"):
        make_method("moco", digits, {"queue": 100})


@pytest.mark.parametrize("name", list(JOINT))
def test_preview_and_encode(name, digits):
    method = make_method(name, digits, TRAINING[name][0])
    images = digits.images[:6]
    preview = method.preview(images, torch.Generator().manual_seed(0))
    assert preview.kind == "views"
    v1, v2 = preview.images["view 1"], preview.images["view 2"]
    assert v1.shape == v2.shape == images.shape
    assert v1.min() >= 0.0 and v1.max() <= 1.0 and v2.min() >= 0.0 and v2.max() <= 1.0
    assert not torch.allclose(v1, v2)  # two different augmentations of the same images
    method.eval()
    with torch.no_grad():
        assert method.encode(images).shape == (6, method.feature_dim)


@pytest.mark.parametrize("name", ["vicreg", "barlow_twins"])
def test_parts_are_detached_and_sum_to_loss(name, digits):
    method = make_method(name, digits)
    ctx = StepContext(step=0, total_steps=10, epoch=0, generator=torch.Generator().manual_seed(0))
    out = method.training_step(digits.images[:64], ctx)
    expected = {
        "vicreg": {"invariance", "variance", "covariance"},
        "barlow_twins": {"on_diagonal", "off_diagonal"},
    }
    assert set(out.parts) == expected[name]
    assert all(not v.requires_grad for v in out.parts.values())
    assert sum(out.parts.values()).item() == pytest.approx(out.loss.item(), rel=1e-5)


def test_moco_queue_survives_state_dict_round_trip(digits):
    method = make_method("moco", digits, {"queue_size": 256})
    train(method, digits.images[:384], epochs=1, batch_size=96)  # 4 steps x 192 keys: the pointer wraps
    assert method.queue_ptr.item() == (4 * 192) % 256
    state = {k: v.clone() for k, v in method.state_dict().items()}
    assert {"queue", "queue_ptr"} <= set(state)
    assert any(k.startswith("momentum_backbone.") for k in state)

    restored = make_method("moco", digits, {"queue_size": 256}, seed=1)
    assert not torch.equal(restored.queue, method.queue)
    restored.load_state_dict(state)
    assert torch.equal(restored.queue, method.queue)
    assert restored.queue_ptr.item() == method.queue_ptr.item()

    # A resumed step sees the same negatives and computes the same loss.
    batch = digits.images[:64]
    losses = []
    for m in (method, restored):
        ctx = StepContext(step=4, total_steps=10, epoch=1, generator=torch.Generator().manual_seed(7))
        losses.append(m.training_step(batch, ctx).loss.item())
    assert losses[0] == pytest.approx(losses[1], rel=1e-6)
    assert torch.equal(restored.queue, method.queue)


def test_moco_enqueues_newest_keys_and_wraps():
    from ssl_core.methods.moco import MoCo

    # Exercise the ring buffer directly with known keys.
    class Q(torch.nn.Module):
        _enqueue = MoCo._enqueue

    q = Q()
    q.register_buffer("queue", torch.zeros(5, 2))
    q.register_buffer("queue_ptr", torch.tensor(3))
    keys = torch.arange(8.0).view(4, 2)
    q._enqueue(keys)
    assert q.queue_ptr.item() == 2
    assert torch.equal(q.queue[3], keys[0]) and torch.equal(q.queue[4], keys[1])
    assert torch.equal(q.queue[0], keys[2]) and torch.equal(q.queue[1], keys[3])
    assert torch.equal(q.queue[2], torch.zeros(2))


def test_moco_eval_mode_leaves_queue_alone(digits):
    method = make_method("moco", digits, {"queue_size": 256})
    before = method.queue.clone()
    method.eval()
    ctx = StepContext(step=0, total_steps=10, epoch=0, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        method.training_step(digits.images[:32], ctx)
    assert torch.equal(before, method.queue) and method.queue_ptr.item() == 0


def test_cosine_momentum_schedule():
    assert cosine_momentum(0.99, 0, 100) == pytest.approx(0.99)
    assert cosine_momentum(0.99, 50, 100) == pytest.approx(0.995)
    assert cosine_momentum(0.99, 100, 100) == pytest.approx(1.0)
    assert cosine_momentum(0.99, 25, 100) == pytest.approx(1 - 0.01 * (math.cos(math.pi / 4) + 1) / 2)


def test_ema_update_by_hand():
    online, target = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    t0 = target.weight.detach().clone()
    ema_update(target, online, 0.9)
    assert torch.allclose(target.weight, 0.9 * t0 + 0.1 * online.weight.detach())


@pytest.mark.parametrize(
    "name,online,target", [("byol", "backbone", "target_backbone"), ("moco", "backbone", "momentum_backbone")]
)
def test_momentum_encoder_moves_toward_online(name, online, target, digits):
    method = make_method(name, digits, TRAINING[name][0])
    on, tg = getattr(method, online), getattr(method, target)
    assert all(not p.requires_grad for p in tg.parameters())

    def distance() -> float:
        return sum((a - b).pow(2).sum().item() for a, b in zip(on.parameters(), tg.parameters(), strict=True))

    # One optimizer step moves the online network away; the momentum update pulls the target after it.
    opt = torch.optim.AdamW([p for p in method.parameters() if p.requires_grad], lr=1e-2)
    ctx = StepContext(step=0, total_steps=100, epoch=0, generator=torch.Generator().manual_seed(0))
    before_target = [p.clone() for p in tg.parameters()]
    method.training_step(digits.images[:64], ctx).loss.backward()
    opt.step()
    gap = distance()
    assert gap > 0
    method.after_optimizer_step(ctx)
    assert distance() == pytest.approx(0.99**2 * gap, rel=1e-3)  # m = 0.99 at step 0
    assert any(not torch.equal(a, b) for a, b in zip(before_target, tg.parameters(), strict=True))


@pytest.mark.parametrize("name", ["moco", "barlow_twins"])
def test_step_under_cpu_autocast_and_channels_last(name, digits):
    method = make_method(name, digits, TRAINING[name][0]).to(memory_format=torch.channels_last)
    images = digits.images[:32].contiguous(memory_format=torch.channels_last)
    ctx = StepContext(step=0, total_steps=10, epoch=0, generator=torch.Generator().manual_seed(0))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = method.training_step(images, ctx)
    assert out.loss.dtype == torch.float32 and torch.isfinite(out.loss)
    out.loss.backward()
    method.after_optimizer_step(ctx)
    if name == "moco":
        assert method.queue.dtype == torch.float32
