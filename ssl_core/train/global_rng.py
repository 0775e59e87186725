"""torch's process-wide random stream, shared safely by runs that train at the same time in one process.

Two things in a run draw from torch's global stream rather than from the run's own generator: building
the model (module constructors draw their starting weights after `torch.manual_seed(seed)`), and layers
that cannot be given a generator (nn.Dropout, e.g. in the table MLP). With two runs in one process (a
race, or a run and an evaluation rebuilding a model) those draws would interleave and each run would get
some of the other's numbers. Here:

- `seeded_draws(seed)` makes "seed, then draw" one step that no other build or swap can enter, and
  `isolated_global_stream()` gives a caller its own stream back after a rebuild, under the same lock;
- `PrivateStream` is a run's own copy of the global stream, swapped in (under the same lock) only around
  the forward pass of a model that draws from it, so dropout masks depend on the run alone.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

# Every write to the global stream (seeding, swapping states in and out) happens under this lock.
GLOBAL_RNG_LOCK = threading.RLock()


@contextmanager
def seeded_draws(seed: int) -> Iterator[None]:
    """Seed torch's global CPU stream and draw from it with no other build or swap in between. The stream
    is left where the draws ended, as a plain `torch.manual_seed` would leave it."""
    with GLOBAL_RNG_LOCK:
        torch.manual_seed(int(seed))
        yield


@contextmanager
def isolated_global_stream() -> Iterator[None]:
    """The caller's global CPU stream back after the block (e.g. rebuilding a saved run's model), put back
    under the lock, so never in the middle of another thread's build."""
    with GLOBAL_RNG_LOCK, torch.random.fork_rng(devices=[]):
        yield


def draws_from_global_stream(model: nn.Module) -> bool:
    """True when training `model` draws from the global stream (an active dropout layer)."""
    return any(isinstance(m, nn.modules.dropout._DropoutNd) and m.p > 0 for m in model.modules())


def _get_state(device: torch.device) -> torch.Tensor:
    if device.type == "cuda":
        return torch.cuda.get_rng_state(device)
    return torch.get_rng_state()


def _set_state(state: torch.Tensor, device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.set_rng_state(state.cpu(), device)
    else:
        torch.set_rng_state(state.cpu())


class PrivateStream:
    """A run's own copy of the global stream of its device (dropout on a GPU draws from the GPU's)."""

    def __init__(self, seed: int, device: torch.device):
        self.device = device
        # A generator's state has the layout of the device's global stream: seed a private one, copy it.
        self.state = torch.Generator(device=device).manual_seed(int(seed)).get_state()

    @contextmanager
    def active(self) -> Iterator[None]:
        """The global stream is this run's while the block runs, and the caller's again after it."""
        with GLOBAL_RNG_LOCK:
            outer = _get_state(self.device)
            _set_state(self.state, self.device)
            try:
                yield
            finally:
                self.state = _get_state(self.device)
                _set_state(outer, self.device)
