"""Concatenate every process's tensor along dim 0, with gradients flowing back to each process's slice.

Why the backward sums. Under DistributedDataParallel every rank r computes a loss L_r, and DDP sets each
parameter's gradient to the mean over ranks, (1/W) * sum_r dL_r/dtheta. When L_r reads other ranks'
embeddings through a gather, rank r's embeddings z_r reach every rank's loss, so the gradient rank r must
backpropagate through its own encoder is sum_r' dL_r'/dz_r: the gradient that each rank r' computed for
slice r of the gathered tensor, summed over r'. The backward therefore all-reduces the full gradient with
SUM and keeps this rank's slice. With the losses in ssl_core.losses written so that the mean of the ranks'
losses is the single-process loss L on the concatenated batch, sum_r' L_r' = W * L, so each rank's
embedding gradient is W * dL/dz_r and DDP's 1/W brings the parameter gradients back to exactly dL/dtheta:
two processes with batch N each train like one process with batch 2N. Averaging in the backward instead
would leave the parameter gradients W times too small (the slip of the official Barlow Twins code, whose
all_reduce of the cross-correlation carries no gradient).

Ranks may hold different numbers of rows (the last, short batch): sizes are gathered first, tensors padded
to the largest and the padding dropped. That costs one small extra collective per gather.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from ssl_core.distributed.context import world_size as _world


def _sizes(n: int, device: torch.device, group) -> list[int]:
    world = dist.get_world_size(group)
    local = torch.tensor([n], dtype=torch.long, device=device)
    sizes = [torch.zeros_like(local) for _ in range(world)]
    dist.all_gather(sizes, local, group=group)
    return [int(s.item()) for s in sizes]


def _gather(tensor: torch.Tensor, sizes: list[int], group) -> torch.Tensor:
    biggest = max(sizes)
    local = tensor.contiguous()
    if local.shape[0] < biggest:
        pad = local.new_zeros((biggest - local.shape[0], *local.shape[1:]))
        local = torch.cat([local, pad], dim=0)
    parts = [torch.empty_like(local) for _ in sizes]
    dist.all_gather(parts, local, group=group)
    return torch.cat([part[:size] for part, size in zip(parts, sizes, strict=True)], dim=0)


class _AllGatherWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, tensor: torch.Tensor, group, sizes: list[int], offset: int) -> torch.Tensor:
        ctx.group = group
        ctx.offset = offset
        ctx.size = tensor.shape[0]
        return _gather(tensor, sizes, group)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM, group=ctx.group)
        return grad[ctx.offset : ctx.offset + ctx.size], None, None, None


def gather_with_offset(tensor: torch.Tensor, group=None) -> tuple[torch.Tensor, int]:
    """(all ranks' `tensor` concatenated along dim 0 in rank order, index of this rank's first row).

    Differentiable as described in the module docstring. In a single process: (`tensor`, 0), untouched.
    """
    if _world(group) == 1:
        return tensor, 0
    sizes = _sizes(tensor.shape[0], tensor.device, group)
    rank = dist.get_rank(group)
    offset = sum(sizes[:rank])
    return _AllGatherWithGrad.apply(tensor, group, sizes, offset), offset


def all_gather_with_grad(tensor: torch.Tensor, group=None) -> torch.Tensor:
    """All ranks' `tensor` concatenated along dim 0, gradients summed back to each rank's own slice.

    The identity in a single process.
    """
    return gather_with_offset(tensor, group)[0]


@torch.no_grad()
def all_gather_no_grad(tensor: torch.Tensor, group=None) -> torch.Tensor:
    """All ranks' `tensor` concatenated along dim 0, detached (MoCo's keys before they join the queue, so
    every rank enqueues the same global batch and the queues stay identical). `tensor` detached in a
    single process."""
    if _world(group) == 1:
        return tensor.detach()
    return _gather(tensor.detach(), _sizes(tensor.shape[0], tensor.device, group), group)
