"""One way to run a module in eval mode for a block: `with eval_mode(module): ...`.

Used wherever a model is run outside its training step (evaluation, anomaly scores, previews during
training and on demand, a method's own preview code), so BatchNorm uses its running statistics and
dropout is off, and the module comes back exactly as it was: every submodule's own train/eval flag (a
frozen BatchNorm inside a training model stays frozen) and, when the block moved it, its device.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

import torch
from torch import nn

M = TypeVar("M", bound=nn.Module)


def module_device(module: nn.Module) -> torch.device | None:
    """The device of a module's first parameter or buffer; None for a module without tensors."""
    for tensor in (*module.parameters(), *module.buffers()):
        return tensor.device
    return None


@contextmanager
def eval_mode(module: M | None, device: torch.device | str | None = None) -> Iterator[M | None]:
    """Eval mode for the block (and, with `device`, the module on that device); yields the module.

    Afterwards every submodule's train/eval flag is what it was and the module is back on its device,
    also when the block raised. `None` (no module to manage) does nothing, so a caller that may hold a
    plain function need not branch.
    """
    if module is None:
        yield None
        return
    modes = [(m, m.training) for m in module.modules()]
    original_device = module_device(module)
    target = torch.device(device) if device is not None else None
    moved = target is not None and original_device is not None and original_device != target
    try:
        module.eval()
        if moved:
            module.to(target)
        yield module
    finally:
        if moved:
            module.to(original_device)
        for m, training in modes:
            m.training = training
