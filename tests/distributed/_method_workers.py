"""Code the 2-process method tests run in each spawned process (and the builders both sides share).

Every joint-embedding method is built as the engine builds it (small CNN backbone, `build_method`, the
same seed on every rank), wrapped in DistributedDataParallel the way the trainer wraps it (a thin module
whose forward calls `training_step`; broadcast_buffers=False, find_unused_parameters=True) and trained for
a few steps on different, unequal per-rank batches with ctx.gather=True. Each rank saves what the tests
compare: parameters, queues, centres, the keys it enqueued, and losses at fixed weights with
deterministic views. Like _dist_workers it imports torch and ssl_core only, and the test puts this folder
on sys.path so spawned children can import it by name.
"""

from __future__ import annotations

import dataclasses
import warnings

import torch
from torch import nn

WORLD = 2
SIZES = (6, 10)  # rows per rank and step: unequal, as a short last batch would be
STEPS = 5
N_IMAGES = 64

# Tiny heads so each step costs milliseconds. SwAV's queue (32 rows) is full after two global batches of
# 16, so the last steps balance their codes over the queue too; MoCo's 256 keys are not reached in 5 steps
# (160 keys) and NNCLR's 64 wrap.
METHODS: dict[str, dict] = {
    "simclr": {"proj_hidden_dim": 32, "proj_out_dim": 16},
    "barlow_twins": {"proj_hidden_dim": 32, "proj_out_dim": 16},
    "vicreg": {"proj_hidden_dim": 32, "proj_out_dim": 16},
    "moco": {"proj_hidden_dim": 32, "proj_out_dim": 16, "queue_size": 256},
    "nnclr": {"proj_hidden_dim": 32, "proj_out_dim": 16, "pred_hidden_dim": 16, "queue_size": 64},
    "byol": {"proj_hidden_dim": 32, "proj_out_dim": 16, "pred_hidden_dim": 16},
    "simsiam": {"proj_dim": 16, "pred_hidden_dim": 8},
    "dino": {"out_dim": 16, "proj_hidden_dim": 16, "bottleneck_dim": 8, "n_local": 2},
    "swav": {
        "proj_hidden_dim": 16,
        "proj_out_dim": 8,
        "n_prototypes": 8,
        "n_local": 2,
        "queue_size": 32,
        "freeze_prototypes": 0.0,
    },
}
# Losses compared at fixed weights against one process on the concatenated batch.
WIRING = ("simclr", "barlow_twins", "vicreg", "nnclr", "swav", "dino")


def images(seed: int = 5) -> torch.Tensor:
    """Digits-sized random images (N, 1, 8, 8) in [0, 1], identical in every process."""
    return torch.rand(N_IMAGES, 1, 8, 8, generator=torch.Generator().manual_seed(seed))


def info():
    from ssl_core.data.base import DataInfo

    return DataInfo(
        spec="digits",
        name="digits",
        size=1797,
        channels=1,
        height=8,
        width=8,
        has_labels=True,
        class_names=[str(i) for i in range(10)],
    )


def build(name: str, overrides: dict | None = None, seed: int = 0):
    """The method on a small CNN, with the same initial weights for the same seed (as build_components
    seeds every rank alike)."""
    from ssl_core.methods import build_method
    from ssl_core.models import build_backbone

    x = images()
    torch.manual_seed(seed)
    backbone = build_backbone("small_cnn", 1, 8, mean=[x.mean().item()], std=[x.std().item()])
    params = {**METHODS[name], **(overrides or {})}
    return build_method(name, backbone, params, info())


def step_rows(step: int) -> torch.Tensor:
    """Indices of the global batch of `step` (sum(SIZES) rows; rank r takes its slice in rank order)."""
    g = torch.Generator().manual_seed(100 + step)
    return torch.randperm(N_IMAGES, generator=g)[: sum(SIZES)]


def rank_rows(step: int, rank: int) -> torch.Tensor:
    rows = step_rows(step)
    start = sum(SIZES[:rank])
    return rows[start : start + SIZES[rank]]


def fixed_views(method) -> None:
    """Deterministic per-sample views, so one process on the concatenated batch sees the same views as
    the ranks on their slices (the augmentations draw from a per-rank stream otherwise)."""
    if hasattr(method, "make_views"):
        method.make_views = lambda x, g: (x, x.flip(-1))
    if hasattr(method, "make_crops"):
        method.make_crops = lambda x, g: [x, x.flip(-1), x.flip(-2)]


def wiring_loss(name: str, batch: torch.Tensor, gather: bool) -> tuple[float, object]:
    """(loss, method) of one step at the initial weights in eval mode (BatchNorm uses its running
    statistics, so the embeddings of a row do not depend on which rows share its batch)."""
    from ssl_core.methods import StepContext

    method = build(name, {"queue_size": 0} if name == "swav" else None)
    fixed_views(method)
    # BatchNorm's running statistics from one pass over all the images (the same in every process), so the
    # eval-mode embeddings are spread like trained ones instead of the near-constant ones of fresh
    # statistics (which would leave Barlow Twins and VICReg barely sensitive to the batch).
    for module in method.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.momentum = 1.0
    ctx = StepContext(step=0, total_steps=10, epoch=0, generator=torch.Generator(), gather=gather)
    with torch.no_grad():
        method.train()
        method.training_step(images(), dataclasses.replace(ctx, gather=False))
        method.eval()
        return method.training_step(batch, ctx).loss.item(), method


class StepModule(nn.Module):
    """The trainer's thin wrapper: DDP's forward is the method's training step."""

    def __init__(self, method):
        super().__init__()
        self.method = method

    def forward(self, batch: torch.Tensor, ctx) -> torch.Tensor:
        return self.method.training_step(batch, ctx).loss


def _train(name: str, rank: int) -> dict:
    from ssl_core.distributed import rank_seed
    from ssl_core.methods import StepContext

    # MoCo's queue starts as random vectors: build rank 1's with another seed, so the test also sees the
    # queue made identical by the method itself (DDP syncs parameters at wrap time, not these buffers).
    method = build(name, seed=rank if name == "moco" else 0)
    method.train()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # broadcast_buffers is deprecated in torch >= 2.13
        model = nn.parallel.DistributedDataParallel(
            StepModule(method), broadcast_buffers=False, find_unused_parameters=True
        )
    opt = torch.optim.AdamW([p for p in method.parameters() if p.requires_grad], lr=1e-3)
    generator = torch.Generator().manual_seed(rank_seed(3, rank))
    data = images()
    recorded: dict = {}
    if name == "moco":
        import ssl_core.methods.moco as moco_module

        plain = moco_module.info_nce_queue

        def spy(q, k, queue, t):
            recorded.setdefault("keys", []).append(k.detach().clone())
            return plain(q, k, queue, t)

        moco_module.info_nce_queue = spy
    losses = []
    try:
        for step in range(STEPS):
            recorded["keys"] = []
            if name == "moco":
                recorded["ptr_before"] = int(method.queue_ptr)
            ctx = StepContext(step=step, total_steps=20, epoch=0, generator=generator, gather=True)
            loss = model(data[rank_rows(step, rank)], ctx)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            method.after_optimizer_step(ctx)
            losses.append(loss.item())
    finally:
        if name == "moco":
            moco_module.info_nce_queue = plain
    out = {
        "losses": losses,
        "params": {n: p.detach().clone() for n, p in method.named_parameters()},
        "buffers": {n: b.detach().clone() for n, b in method.named_buffers()},
    }
    if name == "moco":
        k2, k1 = recorded["keys"]  # info_nce_queue(q1, k2, ...) comes first
        out.update(last_keys=torch.cat([k1, k2]), ptr_before=recorded["ptr_before"])
    return out


def _functions(rank: int) -> dict:
    """The distributed helpers the methods use, on known inputs."""
    from ssl_core.distributed.context import all_reduce_sum
    from ssl_core.distributed.shuffle import shuffle_batch, unshuffle_batch
    from ssl_core.losses import sinkhorn_knopp, updated_center

    out: dict = {}
    for label, sizes in (("even", (4, 4)), ("uneven", (3, 5))):
        start = sum(sizes[:rank])
        x = (
            torch.arange(sum(sizes), dtype=torch.float32)
            .view(-1, 1)
            .repeat(1, 2)[start : start + sizes[rank]]
        )
        shuffled, shuffle = shuffle_batch(x, torch.Generator().manual_seed(9 + rank))
        # A batch-dependent "encoder": minus the batch mean, as BatchNorm would, and the row's own value.
        encoded = torch.cat([shuffled[:, :1], shuffled[:, 1:] - shuffled[:, 1:].mean()], dim=1)
        mine, everyone = unshuffle_batch(encoded, shuffle)
        out[f"shuffle_{label}"] = {
            "shuffled": shuffled,
            "order": shuffle.order,
            "mine": mine,
            "everyone": everyone,
        }
    g = torch.Generator().manual_seed(21)
    queue = torch.randn(6, 4, generator=g)
    batch = torch.randn(9, 4, generator=g)
    sizes = (4, 5)
    start = sum(sizes[:rank])
    local = batch[start : start + sizes[rank]]
    out["sinkhorn"] = sinkhorn_knopp(local, 0.5, 3, gather=True)
    out["sinkhorn_queue"] = sinkhorn_knopp(torch.cat([queue, local]), 0.5, 3, gather=True, shared=6)
    teacher = [batch[start : start + sizes[rank]] * 2, batch[start : start + sizes[rank]] - 1]
    out["center"] = updated_center(torch.ones(1, 4), teacher, 0.9, gather=True)
    out["sum"] = all_reduce_sum(torch.tensor([1.0 + rank, 2.0]))
    return out


def main(rank: int, port: int, out_dir: str, seed: int) -> None:
    """One process of the job: torchrun's variables, the gloo group, every check, results to a file."""
    import torch.distributed as dist
    from _dist_workers import join, save

    join(rank, port)
    try:
        results: dict = {"functions": _functions(rank)}
        data = images()
        for name in WIRING:
            batch = data[rank_rows(0, rank)]
            gathered, method = wiring_loss(name, batch, gather=True)
            local, _ = wiring_loss(name, batch, gather=False)
            results[f"wiring_{name}"] = {"gathered": gathered, "local": local}
            if name == "dino":
                results["wiring_dino"]["center"] = method.center.clone()
        for name in METHODS:
            results[f"train_{name}"] = _train(name, rank)
        save(results, out_dir, rank)
    finally:
        dist.destroy_process_group()
