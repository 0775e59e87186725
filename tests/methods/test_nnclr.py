"""NNCLR: the loss by hand, nearest neighbours from the filled part of the support queue, learning on
digits with neighbours of the same digit as positives, and the queue surviving a stop and resume."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F

from ssl_core.losses.nnclr import nnclr_loss
from ssl_core.methods import METHODS, StepContext
from ssl_core.methods.nnclr import NNCLR, nearest_neighbours
from ssl_core.runs.store import read_metrics
from ssl_core.train.control import RunControl
from ssl_core.train.events import StepEnded
from ssl_core.train.trainer import Trainer
from tests.methods.test_joint_embedding import digits, make_method, train  # noqa: F401 - fixture
from tests.methods.test_series_methods import build, synthetic_series
from tests.tiny_runs import tiny_config

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ---- the loss ---------------------------------------------------------------------------------------------
def test_loss_matches_a_hand_computed_value():
    neighbours = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    predictions = torch.tensor([[2.0, 0.0], [1.0, 1.0]])  # normalised: (1, 0) and (1, 1)/sqrt(2)
    # temperature 0.5: row 0 logits (2, sqrt 2), positive 2; row 1 logits (0, sqrt 2), positive sqrt 2.
    # -log softmax of the positive = log(1 + exp(other - positive)).
    row0 = math.log1p(math.exp(math.sqrt(2) - 2))
    row1 = math.log1p(math.exp(0 - math.sqrt(2)))
    assert nnclr_loss(neighbours, predictions, 0.5).item() == pytest.approx((row0 + row1) / 2, rel=1e-6)


def test_loss_trains_the_predictions_only_and_stays_float32_under_autocast():
    g = torch.Generator().manual_seed(0)
    neighbours = torch.randn(6, 4, generator=g, requires_grad=True)
    predictions = torch.randn(6, 4, generator=g, requires_grad=True)
    loss = nnclr_loss(neighbours, predictions, 0.1)
    loss.backward()
    assert neighbours.grad is None and predictions.grad is not None  # neighbours come from the queue
    # Scale does not matter (both sides are normalised); bf16 input still gives a float32 loss.
    assert nnclr_loss(3 * neighbours, predictions / 5, 0.1).item() == pytest.approx(loss.item(), rel=1e-5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = nnclr_loss(neighbours.bfloat16(), predictions.bfloat16(), 0.1)
    assert low.dtype == torch.float32 and math.isfinite(low.item())
    with pytest.raises(ValueError, match="neighbours, predictions"):
        nnclr_loss(torch.zeros(3, 4), torch.zeros(2, 4))


# ---- neighbours and the support queue ---------------------------------------------------------------------
def test_nearest_neighbour_is_by_cosine_not_dot_product():
    support = torch.tensor([[10.0, 0.0], [1.0, 1.0], [-1.0, 0.5]])
    query = torch.tensor([[1.0, 0.5], [-1.0, 0.0]])
    # Query 0: dot products favour row 0 (10 vs 1.5), cosines favour row 1 (0.894 vs 0.949).
    found = nearest_neighbours(query, support)
    assert torch.allclose(found, F.normalize(support[[1, 2]], dim=1))
    assert not found.requires_grad


def _support_method(digits, size: int = 64) -> NNCLR:  # noqa: F811
    return make_method("nnclr", digits, {"queue_size": size, "proj_out_dim": 8})


def test_support_fills_then_wraps_and_only_filled_rows_are_searched(digits):  # noqa: F811
    method = _support_method(digits)
    z = torch.randn(5, 8)
    # Nothing stored yet: each projection is its own neighbour.
    assert torch.allclose(method.neighbours(z), F.normalize(z, dim=1))

    first = -F.normalize(torch.rand(40, 8) + 0.1, dim=1)  # every stored row points away from `query`
    method._enqueue(first)
    assert (method.support_filled.item(), method.support_ptr.item()) == (40, 40)
    query = torch.rand(3, 8) + 0.1
    found = method.neighbours(query)
    # The empty rows (cosine 0) would beat every stored row (cosine < 0) if they were searched.
    assert (found.norm(dim=1) > 0.99).all()
    assert all(any(torch.allclose(f, row) for row in first) for f in found)

    second = F.normalize(torch.randn(40, 8), dim=1)
    method._enqueue(second)
    assert (method.support_filled.item(), method.support_ptr.item()) == (64, 16)
    assert torch.allclose(method.support[40:], second[:24]) and torch.allclose(
        method.support[:16], second[24:]
    )
    assert torch.allclose(method.support[16:40], first[16:])


def test_evaluation_passes_leave_the_support_alone(digits):  # noqa: F811
    method = _support_method(digits)
    ctx = StepContext(step=0, total_steps=4, epoch=0, generator=torch.Generator().manual_seed(0))
    method.train()
    method.training_step(digits.images[:32], ctx)
    assert method.support_filled.item() == 32  # view 1's projections are stored after a training step
    before = method.support.clone()
    method.eval()
    with torch.no_grad():
        method.training_step(digits.images[32:64], ctx)
    assert torch.equal(method.support, before) and method.support_filled.item() == 32


# ---- learning on digits -----------------------------------------------------------------------------------
def test_learns_on_digits_with_neighbours_of_the_same_digit(digits):  # noqa: F811
    batch = 128
    method = make_method("nnclr", digits, {"queue_size": 512})
    losses = train(method, digits.images, epochs=2, batch_size=batch)
    assert all(math.isfinite(v) for v in losses)
    steps_per_epoch = len(digits.images) // batch
    start = sum(losses[:3]) / 3
    last_epoch = sum(losses[-steps_per_epoch:]) / steps_per_epoch
    assert last_epoch < start - 0.1 * start, f"first steps {start:.3f}, last epoch {last_epoch:.3f}"

    # The positives NNCLR trains with: a view's nearest neighbour in a support set of other images'
    # projections. Training makes it an image of the same digit far more often (chance: about 10%).
    untrained = neighbour_agreement(make_method("nnclr", digits, {"queue_size": 512}), digits)
    learned = neighbour_agreement(method, digits)
    assert learned > untrained + 0.08, (untrained, learned)


def neighbour_agreement(method: NNCLR, digits) -> float:  # noqa: F811
    """Share of augmented views of images 1200+ whose nearest neighbour among the projections of images
    0-1199 shows the same digit."""
    method.eval()
    with torch.no_grad():
        support = method.projector(method.encode(digits.images[:1200]))
        view, _ = method.make_views(digits.images[1200:], torch.Generator().manual_seed(1))
        query = method.projector(method.encode(view))
    found = nearest_neighbours(query, support)
    index = (found @ F.normalize(support, dim=1).t()).argmax(dim=1)
    return (digits.labels[:1200][index] == digits.labels[1200:]).float().mean().item()


def test_stop_then_resume_keeps_the_support_queue(tmp_path):
    settings = (
        "method.name=nnclr",
        "method.params.queue_size=256",
        "train.max_steps=6",
        "train.seed=5",
    )
    full = Trainer(tiny_config(tmp_path / "full", *settings)).run()
    assert full.status == "completed"
    full_losses = [r["loss"] for r in read_metrics(full.run_dir)]

    control = RunControl()
    first = Trainer(tiny_config(tmp_path / "parts", *settings), control)
    first.events.subscribe(lambda e: control.stop() if isinstance(e, StepEnded) and e.step == 3 else None)
    stopped = first.run()
    assert stopped.status == "stopped" and stopped.step == 3
    resumed = Trainer.resume(stopped.run_dir).run()
    assert resumed.status == "completed" and resumed.step == full.step
    # After step 3 the neighbours come from the queue the checkpoint restored: the same trajectory.
    assert [r["loss"] for r in read_metrics(stopped.run_dir)] == pytest.approx(
        full_losses, rel=1e-4, abs=1e-5
    )


def test_state_dict_carries_the_queue(digits):  # noqa: F811
    method = _support_method(digits, 128)
    method._enqueue(torch.randn(100, 8))
    state = method.state_dict()
    assert {"support", "support_ptr", "support_filled"} <= set(state)
    restored = _support_method(digits, 128)
    restored.load_state_dict(state)
    assert torch.equal(restored.support, method.support) and restored.support_filled.item() == 100
    query = torch.randn(4, 8)
    assert torch.equal(restored.neighbours(query), method.neighbours(query))


# ---- the registry and other modalities --------------------------------------------------------------------
def test_registry_entry_and_queue_warning(digits):  # noqa: F811
    spec = METHODS.get("nnclr")
    assert spec.family == "contrastive" and spec.preview_kind == "views"
    assert spec.paper and spec.summary and spec.description.count(". ") >= 2
    json.dumps(spec.to_dict())
    defaults = spec.params.defaults()
    assert (defaults["temperature"], defaults["queue_size"]) == (0.2, 2048)
    for p in spec.params:
        assert p.help and p.label and (p.low is None or p.low <= p.default <= p.high)
    big = make_method("nnclr", digits)  # 2048 > the 1797 digits
    assert any("queue_size 2048 exceeds the 1797" in w for w in big.setup_warnings)
    assert not make_method("nnclr", digits, {"queue_size": 512}).setup_warnings
    preview = big.preview(digits.images[:4], torch.Generator().manual_seed(0))
    assert preview.kind == "views" and preview.images["view 1"].shape == (4, 1, 8, 8)


def test_one_method_file_serves_series():
    source = synthetic_series(64)
    parts = build("nnclr", source, queue_size=64, proj_hidden_dim=64, pred_hidden_dim=64)
    method = parts.method.train()
    stored, _ = source.read(torch.arange(32))
    ctx = StepContext(step=0, total_steps=2, epoch=0, generator=torch.Generator().manual_seed(0))
    out = method.training_step(method.prepare(stored), ctx)
    out.loss.backward()
    assert math.isfinite(out.loss.item()) and method.support_filled.item() == 32
    assert method.preview(method.prepare(stored[:3]), ctx.generator).payload == "signal"
