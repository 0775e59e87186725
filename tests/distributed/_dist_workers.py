"""Code the 2-process tests run in each spawned process (and the data both sides build).

Spawned children import this module by name, so the test puts this folder on sys.path first (the suite
imports test files with --import-mode=importlib, which leaves them unimportable by name). It imports
torch and ssl_core only: never Qt.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

WORLD = 2
DIM_IN, DIM = 5, 6
# Rows per rank: equal halves, and a short last batch (3 + 5) for the paths that allow it.
EVEN = (4, 4)
UNEVEN = (3, 5)
LOSSES = ("nt_xent", "barlow_twins", "vicreg", "info_nce_in_batch")
QT_PACKAGES = ("PySide6", "PyQt5", "PyQt6", "PySide2", "shiboken6", "pyqtgraph")


def global_batch(total: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x1, x2, linear weight) of the concatenated batch, identical in every process."""
    g = torch.Generator().manual_seed(seed)
    x1 = torch.randn(total, DIM_IN, generator=g)
    x2 = x1 + 0.5 * torch.randn(total, DIM_IN, generator=g)
    weight = torch.randn(DIM, DIM_IN, generator=g) / DIM_IN**0.5
    return x1, x2, weight


def loss_value(name: str, z1: torch.Tensor, z2: torch.Tensor, gather: bool) -> torch.Tensor:
    from ssl_core import losses

    if name == "nt_xent":
        return losses.nt_xent(z1, z2, temperature=0.5, gather=gather)
    if name == "barlow_twins":
        return losses.barlow_twins_loss(z1, z2, lambd=0.05, gather=gather)[0]
    if name == "vicreg":
        return losses.vicreg_loss(z1, z2, gather=gather)[0]
    if name == "info_nce_in_batch":
        return losses.info_nce_in_batch(z1, z2, temperature=0.2, gather=gather)[0]
    raise ValueError(name)


def loss_step(name: str, sizes: tuple[int, ...], rank: int | None, seed: int, ddp: bool = False) -> dict:
    """Loss and gradients (inputs and a linear layer's weight) of `rank`'s slice, or of the whole
    concatenated batch when rank is None (the single-process reference)."""
    x1, x2, weight = global_batch(sum(sizes), seed)
    if rank is not None:
        start = sum(sizes[:rank])
        x1, x2 = x1[start : start + sizes[rank]], x2[start : start + sizes[rank]]
    x1, x2 = x1.clone().requires_grad_(True), x2.clone().requires_grad_(True)
    layer = torch.nn.Linear(DIM_IN, DIM, bias=False)
    with torch.no_grad():
        layer.weight.copy_(weight)
    model = layer
    if ddp:
        # Real DDP: the weight gradient below is already averaged over the ranks.
        model = torch.nn.parallel.DistributedDataParallel(layer)
    loss = loss_value(name, model(x1), model(x2), gather=rank is not None)
    loss.backward()
    return {
        "loss": loss.detach(),
        "x1_grad": x1.grad,
        "x2_grad": x2.grad,
        "weight_grad": layer.weight.grad,
    }


def _collectives(rank: int) -> dict:
    from ssl_core import distributed as sd

    out: dict = {}
    sd.barrier()
    ctx = sd.current()
    out["context"] = [ctx.rank, ctx.world_size, ctx.local_rank, ctx.backend, ctx.is_main]
    env = sd.from_env()
    out["from_env"] = [env.rank, env.world_size, env.local_rank]
    out["broadcast"] = sd.broadcast_object({"run": "r-17", "steps": [1, 2]} if rank == 0 else None)
    out["broadcast_src1"] = sd.broadcast_object(f"from-{rank}", src=1)
    out["mean"] = sd.all_reduce_mean(torch.tensor([float(rank + 1), 10.0 * rank]))
    out["seed"] = sd.rank_seed(7, rank)
    out["draw"] = torch.rand(4, generator=torch.Generator().manual_seed(out["seed"]))
    for label, sizes in (("even", EVEN), ("uneven", UNEVEN)):
        g = torch.Generator().manual_seed(3)
        full = torch.randn(sum(sizes), 3, generator=g)
        weights = torch.randn(sum(sizes), 3, generator=g)
        start = sum(sizes[:rank])
        x = full[start : start + sizes[rank]].clone().requires_grad_(True)
        gathered = sd.all_gather_with_grad(x)
        (gathered * weights).sum().backward()
        out[f"gather_{label}"] = gathered.detach()
        out[f"gather_{label}_grad"] = x.grad
        out[f"gather_{label}_nograd"] = sd.all_gather_no_grad(x)
    return out


def join(rank: int, port: int, timeout_s: float = 60) -> None:
    """Set torchrun's variables for process `rank` of WORLD and join the gloo group, one torch thread."""
    torch.set_num_threads(1)
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(WORLD),
        LOCAL_RANK=str(rank),
    )
    from ssl_core.distributed import init_from_env

    init_from_env(backend="gloo", timeout_s=timeout_s)


def save(results: dict, out_dir: str, rank: int) -> None:
    """This process's results, for the test to read (rank{rank}.pt, written atomically)."""
    target = Path(out_dir) / f"rank{rank}.pt"
    torch.save(results, target.with_suffix(".tmp"))
    os.replace(target.with_suffix(".tmp"), target)


def main(rank: int, port: int, out_dir: str, seed: int) -> None:
    """One process of the job: join the gloo group, run every check, save the results to a file."""
    import torch.distributed as dist

    join(rank, port)
    try:
        results = _collectives(rank)
        for name in LOSSES:
            results[f"{name}_even"] = loss_step(name, EVEN, rank, seed, ddp=True)
            results[f"{name}_uneven"] = loss_step(name, UNEVEN, rank, seed)
        results["qt"] = sorted(m for m in sys.modules if m.split(".")[0] in QT_PACKAGES)
        save(results, out_dir, rank)
    finally:
        dist.destroy_process_group()
