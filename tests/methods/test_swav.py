"""SwAV: learns on digits, balanced codes, unit prototypes frozen at first, the queue and its state."""

from __future__ import annotations

import math

import pytest
import torch

from ssl_core.methods import METHODS, StepContext
from ssl_core.methods.swav import SwAV
from tests.methods.test_dino import _ctx, _mean, _train_logged
from tests.methods.test_joint_embedding import Digits, digits, make_method  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: one thread is fastest

QUICK = {"n_local": 2, "proj_hidden_dim": 256}


def test_loss_falls_on_digits(digits):
    method = make_method("swav", digits, QUICK)
    rows = _train_logged(method, digits.images, epochs=3, batch=64)
    assert all(math.isfinite(r["loss"]) for r in rows)
    per_epoch = len(digits.images) // 64
    first, last = _mean(rows[:per_epoch], "loss"), _mean(rows[-per_epoch:], "loss")
    assert last < first - 0.05, (first, last)
    # Below ln(K): the crops predict their images' clusters better than chance.
    assert last < math.log(100) - 0.05
    method.eval()
    with torch.no_grad():
        z = torch.nn.functional.normalize(method.projector(method.encode(digits.images[:512])), dim=1)
    # The embeddings spread over the sphere (no collapse to one point).
    assert z.std(dim=0).mean().item() * math.sqrt(z.shape[1]) > 0.3


def test_codes_are_balanced_over_prototypes(digits):
    method = make_method("swav", digits, {**QUICK, "n_prototypes": 8, "sinkhorn_iterations": 30})
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        crops = method.make_crops(digits.images[:64], g)
        z = torch.nn.functional.normalize(method.projector(method.backbone(crops[0])), dim=1)
        scores = z @ method.prototypes.weight.t()
        codes = method.codes([scores, scores], method.prototypes.weight)
    torch.testing.assert_close(codes[0].sum(dim=1), torch.ones(64))
    torch.testing.assert_close(codes[0].sum(dim=0), torch.full((8,), 8.0), atol=0.2, rtol=0)


def test_prototypes_unit_length_and_frozen_at_first(digits):
    method = make_method("swav", digits, {**QUICK, "freeze_prototypes": 0.3})
    with torch.no_grad():
        method.prototypes.weight.mul_(3.0)
    method.training_step(digits.images[:32], _ctx(step=2, total=10)).loss.backward()
    torch.testing.assert_close(method.prototypes.weight.norm(dim=1), torch.ones(100))
    assert method.prototypes.weight.grad is None  # step 2 of 10 is in the frozen 30%
    assert method.projector[0].weight.grad is not None
    method.zero_grad(set_to_none=True)
    method.training_step(digits.images[:32], _ctx(step=3, total=10)).loss.backward()
    assert method.prototypes.weight.grad is not None and method.prototypes.weight.grad.abs().sum() > 0


def test_queue_fills_then_takes_part_and_survives_state_dict(digits):
    method = make_method("swav", digits, {**QUICK, "queue_size": 64})
    assert method.queue.shape == (2, 64, 128) and not method._queue_ready()
    method.training_step(digits.images[:32], _ctx(0, 10))
    assert not method._queue_ready()  # half full: not used yet
    method.training_step(digits.images[32:64], _ctx(1, 10))
    assert method._queue_ready()
    torch.testing.assert_close(method.queue[0].norm(dim=1), torch.ones(64))  # normalised embeddings
    # Once full, the codes of a batch depend on the queue.
    scores = [torch.randn(8, 100), torch.randn(8, 100)]
    with_queue = method.codes(scores, method.prototypes.weight)
    without = make_method("swav", digits, QUICK).codes(scores, method.prototypes.weight)  # no queue
    assert not torch.allclose(with_queue[0], without[0])
    # The queue is a buffer: a restored copy continues with the same step exactly.
    copy = make_method("swav", digits, {**QUICK, "queue_size": 64}, seed=1)
    copy.load_state_dict(method.state_dict())
    a = method.training_step(digits.images[64:96], _ctx(2, 10, seed=5)).loss
    b = copy.training_step(digits.images[64:96], _ctx(2, 10, seed=5)).loss
    assert a.item() == pytest.approx(b.item(), rel=1e-6)
    torch.testing.assert_close(method.queue, copy.queue)


def test_preview_and_registry(digits):
    method = make_method("swav", digits, QUICK)
    method.eval()
    preview = method.preview(digits.images[:4], torch.Generator().manual_seed(0))
    assert preview.kind == "views"
    assert list(preview.images) == ["global 1", "global 2", "local 1", "local 2"]
    assert preview.images["local 1"].shape == (4, 1, 4, 4)
    spec = METHODS.get("swav")
    assert spec.factory is SwAV and spec.modalities == ("image",) and spec.preview_kind == "views"
    d = spec.params.defaults()
    assert (d["temperature"], d["epsilon"], d["sinkhorn_iterations"]) == (0.1, 0.05, 3)
    assert spec.paper and spec.description.count(". ") >= 3 and all(p.help for p in spec.params)


def test_step_context_is_all_it_needs(digits):
    method = make_method("swav", digits, {**QUICK, "n_local": 0})  # multi-crop off: two globals only
    out = method.training_step(digits.images[:16], StepContext(0, 1, 0, torch.Generator().manual_seed(0)))
    assert out.loss.requires_grad and math.isfinite(out.loss.item())
