"""Every joint-embedding method with two CPU processes (gloo) and ctx.gather=True, wrapped in DDP as the
trainer wraps it: queues, centres and momentum targets stay identical on every rank, the queues hold every
rank's keys, and the losses with in-batch negatives or batch statistics are those of one process on the
concatenated batch. Plus the single-process path of gather=True, which must change nothing.

One 2-process job (tests/distributed/_method_workers.py) runs every check once and saves each rank's
results; the tests compare them with references computed here in one process. The job is started with
the harness of test_two_processes (spawn, port retry, hard deadline).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.distributed.test_two_processes import run_gloo_job, saved_results, worker_module

HERE = Path(__file__).resolve().parent

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def workers():
    return worker_module("_method_workers")


@pytest.fixture(scope="module")
def ranks(workers, tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("gloo-methods")
    run_gloo_job(workers, out_dir)
    return saved_results(workers, out_dir)


def _close(actual, expected, what: str) -> None:
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-6, msg=lambda m: f"{what}: {m}")


# ---- the helpers the methods use ------------------------------------------------------------------------
@pytest.mark.parametrize("label, sizes", [("even", (4, 4)), ("uneven", (3, 5))])
def test_shuffle_batch_permutes_the_global_batch_and_unshuffles(ranks, label, sizes):
    parts = [r["functions"][f"shuffle_{label}"] for r in ranks]
    total = sum(sizes)
    order = parts[0]["order"]
    assert torch.equal(order, parts[1]["order"])  # rank 0's permutation, broadcast
    assert sorted(order.tolist()) == list(range(total)) and order.tolist() != list(range(total))
    values = torch.arange(total, dtype=torch.float32)
    for rank, part in enumerate(parts):
        start = sum(sizes[:rank])
        # Each rank encodes as many rows as it holds, taken from the shuffled global batch...
        assert part["shuffled"].shape == (sizes[rank], 2)
        assert torch.equal(part["shuffled"][:, 0], values[order[start : start + sizes[rank]]])
    # ... and gets its own rows back in order, each encoded with the statistics of the sub-batch it was
    # shuffled into (column 1: minus that sub-batch's mean).
    everyone = parts[0]["everyone"]
    assert torch.equal(everyone, parts[1]["everyone"])
    assert torch.equal(everyone[:, 0], values)
    expected = torch.empty(total)
    for rank in range(2):
        start = sum(sizes[:rank])
        rows = order[start : start + sizes[rank]]
        expected[rows] = values[rows] - values[rows].mean()
    torch.testing.assert_close(everyone[:, 1], expected)
    for rank, part in enumerate(parts):
        start = sum(sizes[:rank])
        assert torch.equal(part["mine"], everyone[start : start + sizes[rank]])


def test_shuffle_is_the_identity_in_one_process():
    from ssl_core.distributed.shuffle import shuffle_batch, unshuffle_batch

    x = torch.randn(5, 3)
    shuffled, shuffle = shuffle_batch(x, torch.Generator().manual_seed(0))
    assert shuffled is x and shuffle is None
    mine, everyone = unshuffle_batch(x, None)
    assert mine is x and everyone is x


def test_sinkhorn_over_the_global_batch(ranks):
    from ssl_core.losses import sinkhorn_knopp

    g = torch.Generator().manual_seed(21)
    queue = torch.randn(6, 4, generator=g)
    batch = torch.randn(9, 4, generator=g)
    sizes = (4, 5)
    single = sinkhorn_knopp(batch, 0.5, 3)
    single_queue = sinkhorn_knopp(torch.cat([queue, batch]), 0.5, 3)
    for rank, r in enumerate(ranks):
        start = sum(sizes[:rank])
        _close(r["functions"]["sinkhorn"], single[start : start + sizes[rank]], f"rank {rank} codes")
        # The queue (the same on both ranks) counts once: rows 6.. of one process on queue + batch.
        _close(
            r["functions"]["sinkhorn_queue"][6:],
            single_queue[6 + start : 6 + start + sizes[rank]],
            f"rank {rank} codes with a queue",
        )
        _close(r["functions"]["sinkhorn_queue"][:6], single_queue[:6], f"rank {rank} queue codes")
    # Without the all-reduce a rank balances its own rows only: not the global codes.
    assert not torch.allclose(sinkhorn_knopp(batch[:4], 0.5, 3), single[:4], atol=1e-3)


def test_dino_centre_and_all_reduce_sum(ranks):
    from ssl_core.losses import updated_center

    g = torch.Generator().manual_seed(21)
    torch.randn(6, 4, generator=g)
    batch = torch.randn(9, 4, generator=g)
    single = updated_center(torch.ones(1, 4), [batch * 2, batch - 1], 0.9)
    for r in ranks:
        _close(r["functions"]["center"], single, "centre over the global batch (4 + 5 rows)")
        assert r["functions"]["sum"].tolist() == [3.0, 4.0]


def test_gather_helpers_are_plain_in_one_process():
    from ssl_core.distributed.context import all_reduce_max, all_reduce_sum, broadcast_tensors_
    from ssl_core.losses import sinkhorn_knopp, updated_center

    t = torch.randn(4, 3)
    assert torch.equal(all_reduce_sum(t), t) and torch.equal(all_reduce_max(t), t)
    before = t.clone()
    broadcast_tensors_(t)
    assert torch.equal(t, before)
    assert torch.equal(sinkhorn_knopp(t, 0.5, 3, gather=True, shared=2), sinkhorn_knopp(t, 0.5, 3))
    center = torch.zeros(1, 3)
    assert torch.equal(updated_center(center, [t], 0.9, gather=True), updated_center(center, [t], 0.9))


# ---- the methods' losses at fixed weights -----------------------------------------------------------------
@pytest.mark.parametrize("name", ["simclr", "barlow_twins", "vicreg", "nnclr", "swav"])
def test_method_loss_is_the_global_batch_loss(ranks, workers, name):
    """ctx.gather makes the method's loss that of one process on the concatenated batch (the mean over
    ranks, which DDP optimises), unlike the rank's local-only loss."""
    sizes = workers.SIZES
    batch = workers.images()[workers.step_rows(0)]
    single, _ = workers.wiring_loss(name, batch, gather=False)
    parts = [r[f"wiring_{name}"] for r in ranks]
    if name == "swav":
        # SwAV's loss is a per-sample mean on each rank: weight the ranks by their rows.
        mean = sum(p["gathered"] * n for p, n in zip(parts, sizes, strict=True)) / sum(sizes)
    else:
        mean = sum(p["gathered"] for p in parts) / len(parts)
    assert mean == pytest.approx(single, rel=1e-5, abs=1e-6)
    local = sum(p["local"] for p in parts) / len(parts)
    assert abs(local - single) > 1e-4, f"{name}: the local-only loss should differ from the global one"
    if name in ("barlow_twins", "vicreg"):
        assert parts[0]["gathered"] == pytest.approx(parts[1]["gathered"], rel=1e-6)


def test_dino_centre_step_uses_the_global_batch(ranks, workers):
    batch = workers.images()[workers.step_rows(0)]
    _, method = workers.wiring_loss("dino", batch, gather=False)
    for r in ranks:
        _close(r["wiring_dino"]["center"], method.center, "DINO centre after one step")


# ---- training with DDP: what must stay identical on every rank --------------------------------------------
def _equal_across_ranks(ranks, name: str, kind: str, keys=None) -> list[str]:
    first, second = (r[f"train_{name}"][kind] for r in ranks)
    keys = list(first) if keys is None else keys
    assert keys, f"{name}: nothing to compare in {kind}"
    return [k for k in keys if not torch.equal(first[k], second[k])]


@pytest.mark.parametrize(
    "name", ["simclr", "barlow_twins", "vicreg", "moco", "nnclr", "byol", "simsiam", "dino", "swav"]
)
def test_every_parameter_stays_identical(ranks, name):
    """DDP keeps the online weights identical; momentum targets (BYOL, MoCo, DINO) follow them with the same
    update on every rank, so they stay identical too."""
    assert _equal_across_ranks(ranks, name, "params") == []
    for r in ranks:
        assert all(torch.isfinite(torch.tensor(r[f"train_{name}"]["losses"])))
    first, second = (r[f"train_{name}"]["losses"] for r in ranks)
    if name in ("barlow_twins", "vicreg"):
        assert first == second  # the global batch's loss, on every rank
    else:
        assert first != second  # the ranks trained on different rows


@pytest.mark.parametrize(
    "name, buffers",
    [
        ("moco", ["queue", "queue_ptr"]),
        ("nnclr", ["support", "support_ptr", "support_filled"]),
        ("dino", ["center"]),
        ("swav", ["queue"]),
    ],
)
def test_queues_and_centres_stay_identical(ranks, name, buffers):
    assert _equal_across_ranks(ranks, name, "buffers", buffers) == []


def test_teachers_are_identical(ranks):
    for name, prefixes in (
        ("byol", ("target_backbone.", "target_projector.")),
        ("moco", ("momentum_backbone.", "momentum_projector.")),
        ("dino", ("teacher_backbone.", "teacher_head.")),
    ):
        keys = [k for k in ranks[0][f"train_{name}"]["params"] if k.startswith(prefixes)]
        assert _equal_across_ranks(ranks, name, "params", keys) == [], name


def test_moco_queue_holds_every_ranks_keys(ranks, workers):
    sizes = workers.SIZES
    m = sum(sizes)
    first, second = (r["train_moco"] for r in ranks)
    queue = first["buffers"]["queue"]
    assert first["ptr_before"] == second["ptr_before"] == (workers.STEPS - 1) * 2 * m
    assert int(first["buffers"]["queue_ptr"]) == workers.STEPS * 2 * m  # the global key count per step
    # The last step enqueued view 1's keys of rank 0 then rank 1, then view 2's, in that order.
    k = [r["last_keys"] for r in (first, second)]
    expected = torch.cat([k[0][: sizes[0]], k[1][: sizes[1]], k[0][sizes[0] :], k[1][sizes[1] :]])
    rows = (first["ptr_before"] + torch.arange(2 * m)) % queue.shape[0]
    assert torch.equal(queue[rows], expected)


def test_swav_queue_holds_every_ranks_embeddings(ranks, workers):
    queue = ranks[0]["train_swav"]["buffers"]["queue"]
    assert (queue.abs().sum(dim=-1) > 0).all()  # full: 5 global batches of 16 rows, 32 kept
    assert torch.allclose(queue.norm(dim=-1), torch.ones_like(queue[..., 0]), atol=1e-5)


# ---- one process: gather=True is today's path ------------------------------------------------------------
@pytest.mark.parametrize("name", ["moco", "nnclr", "swav", "dino", "simclr"])
def test_gather_in_one_process_is_bit_identical(workers, name):
    from ssl_core.methods import StepContext

    states, losses = [], []
    for gather in (False, True):
        method = workers.build(name)
        method.train()
        generator = torch.Generator().manual_seed(4)
        opt = torch.optim.AdamW([p for p in method.parameters() if p.requires_grad], lr=1e-3)
        run = []
        for step in range(3):
            ctx = StepContext(step=step, total_steps=10, epoch=0, generator=generator, gather=gather)
            loss = method.training_step(workers.images()[step * 16 : (step + 1) * 16], ctx).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            method.after_optimizer_step(ctx)
            run.append(loss.detach())
        losses.append(torch.stack(run))
        states.append(method.state_dict())
    assert torch.equal(losses[0], losses[1])
    assert states[0].keys() == states[1].keys()
    assert [k for k in states[0] if not torch.equal(states[0][k], states[1][k])] == []
    if name == "moco":
        assert workers.build(name)._key_encoder_has_batch_norm()  # the shuffled path was the one taken


# ---- CPC, SCARF, SimCSE: their in-batch InfoNCE follows ctx.gather -----------------------------------------
def _components(name: str):
    """The method built by the engine on small data of its modality (the method tests' builders)."""
    if name == "cpc":
        from tests.methods.test_series_methods import build, synthetic_series

        return build("cpc", synthetic_series(n=32))
    if name == "scarf":
        from tests.modalities.test_table_modality import build, synthetic_table

        return build("scarf", synthetic_table())
    from tests.methods.test_text_methods import SMALL, build, corpus_source

    return build("simcse", "auto", SMALL, source=corpus_source(40))


@pytest.mark.parametrize("name", ["cpc", "scarf", "simcse"])
def test_in_batch_info_nce_methods_pass_ctx_gather(name, monkeypatch):
    """The loss's gather=True path is tested in test_two_processes; here: the method hands it ctx.gather
    (in one process both paths give the same loss)."""
    import importlib

    from ssl_core.methods import StepContext

    module = importlib.import_module(f"ssl_core.methods.{name}")
    plain = module.info_nce_in_batch
    seen: list[bool] = []

    def spy(*args, gather: bool = False, **kwargs):
        seen.append(gather)
        return plain(*args, gather=gather, **kwargs)

    monkeypatch.setattr(module, "info_nce_in_batch", spy)
    parts = _components(name)
    stored, _ = parts.source.read(parts.train_idx[:8])
    batch = parts.method.prepare(stored)
    losses = []
    for gather in (False, True):
        torch.manual_seed(0)  # SimCSE's two views are dropout masks
        ctx = StepContext(
            step=0, total_steps=4, epoch=0, generator=torch.Generator().manual_seed(1), gather=gather
        )
        losses.append(parts.method.training_step(batch, ctx).loss)
    assert seen and set(seen) == {False, True} and seen[: len(seen) // 2] == [False] * (len(seen) // 2)
    assert seen[len(seen) // 2 :] == [True] * (len(seen) // 2)
    assert torch.equal(losses[0], losses[1])
