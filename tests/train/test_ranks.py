"""The single-process side of distributed training, without starting processes: how a global batch is
split between ranks, which random streams a resumed process gets back, the control folder, and that one
process is unchanged by all of it."""

from __future__ import annotations

import torch

from ssl_core.data.loader import BatchPipeline
from ssl_core.data.sources import open_source
from ssl_core.distributed import rank_seed
from ssl_core.train.checkpointing import (
    TrainingState,
    restore_checkpoint,
    rng_state,
    save_training_checkpoint,
)
from ssl_core.train.file_control import (
    FileControl,
    announce_run_dir,
    read_command,
    read_run_dir,
    write_command,
)
from ssl_core.train.optim import SINGLE_PART
from ssl_core.train.ranks import Ranks


def _pipeline(source, rank: int, world: int, budget: int) -> BatchPipeline:
    idx = torch.arange(len(source))
    return BatchPipeline(
        source, idx, 32, torch.device("cpu"), budget, num_workers=0, rank=rank, world_size=world
    )


def _rows(pipeline: BatchPipeline, epoch: int) -> list[torch.Tensor]:
    return [images.flatten(1) for images, _ in pipeline.epoch(epoch, seed=3)]


def test_the_ranks_batches_are_the_one_process_batch_split_between_them():
    source = open_source("digits")
    for budget in (2**30, 0):  # resident, then streamed
        one = _rows(_pipeline(source, 0, 1, budget), epoch=1)
        ranks = [_rows(_pipeline(source, r, 3, budget), epoch=1) for r in range(3)]
        assert all(len(batches) == len(one) for batches in ranks)  # the same steps per epoch
        for k, batch in enumerate(one):
            parts = [batches[k] for batches in ranks]
            assert [len(p) for p in parts] == [11, 11, 10]  # 32 rows by stride
            together = torch.cat(parts)
            # the same rows: sort both by their bytes
            assert torch.equal(_sorted(together), _sorted(batch))


def _sorted(rows: torch.Tensor) -> torch.Tensor:
    keys = [tuple(r.tolist()) for r in rows]
    return rows[sorted(range(len(rows)), key=keys.__getitem__)]


def test_images_per_step_counts_every_process():
    source = open_source("digits")
    pipeline = _pipeline(source, 1, 2, 2**30)
    images, _ = next(iter(pipeline.epoch(0, seed=0)))
    assert images.shape[0] == 16 and pipeline.images_per_step(images) == 32


class _Method(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = torch.nn.Linear(3, 2)


def _state(seed: int) -> TrainingState:
    model = _Method()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    return TrainingState(
        method=model,
        optimizers={SINGLE_PART: optimizer},
        schedulers={SINGLE_PART: torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0)},
        scaler=torch.amp.GradScaler("cpu", enabled=False),
        generator=torch.Generator().manual_seed(seed),
        device=torch.device("cpu"),
    )


def test_a_resumed_process_gets_its_own_random_streams_back_only_with_as_many_processes(tmp_path):
    states = [_state(rank_seed(5, r)) for r in range(2)]
    for state in states:
        torch.rand(4, generator=state.generator)
    path = tmp_path / "last.pt"
    rngs = [rng_state(s.generator, s.device) for s in states]
    save_training_checkpoint(path, states[0], step=7, epoch=0, backbone="x", rng_ranks=rngs)
    expected = [torch.rand(3, generator=s.generator) for s in states]

    for rank in range(2):
        fresh = _state(0)
        restored = restore_checkpoint(path, fresh, rank, 2)
        assert (restored.step, restored.world_size, restored.own_rng) == (7, 2, True)
        assert torch.equal(torch.rand(3, generator=fresh.generator), expected[rank])

    alone = _state(123)
    restored = restore_checkpoint(path, alone, 0, 1)  # one process now: its seeded stream is kept
    assert (restored.world_size, restored.own_rng) == (2, False)
    assert torch.equal(
        torch.rand(3, generator=alone.generator), torch.rand(3, generator=_state(123).generator)
    )


def test_a_one_process_checkpoint_is_unchanged(tmp_path):
    state = _state(9)
    path = tmp_path / "last.pt"
    save_training_checkpoint(path, state, step=3, epoch=0, backbone="x")
    saved = torch.load(path, weights_only=True)
    assert "rng_ranks" not in saved and "world_size" not in saved
    expected = torch.rand(2, generator=state.generator)
    fresh = _state(0)
    restored = restore_checkpoint(path, fresh)
    assert (restored.world_size, restored.own_rng) == (1, True)
    assert torch.equal(torch.rand(2, generator=fresh.generator), expected)


def test_one_process_ranks_change_nothing():
    ranks = Ranks.from_env()
    assert (ranks.distributed, ranks.is_main, ranks.rank, ranks.world_size) == (False, True, 0, 1)
    assert ranks.seed(42) == 42
    assert ranks.device(torch.device("cpu")) == torch.device("cpu")
    assert ranks.shared_control(True, False, True) == (True, False, True)
    assert ranks.share("x") == "x" and ranks.gather_objects(1) == [1]
    model = torch.nn.Linear(2, 2)
    assert ranks.wrap(model, torch.device("cpu"), sync_batchnorm=True) == [] and ranks.steps is None
    values = torch.tensor([1.0, 2.0])
    assert torch.equal(ranks.mean(values), values)


def test_the_control_folder_pauses_and_stops_and_names_the_run(tmp_path):
    control = FileControl(tmp_path, poll_s=0.0)
    assert not control.paused and not control.stop_requested
    assert read_command(tmp_path) == "run" and read_run_dir(tmp_path) is None
    write_command(tmp_path, "pause")
    assert control.paused and not control.stop_requested
    write_command(tmp_path, "run")
    assert not control.paused
    control.stop()  # a stop asked in this process (Ctrl+C) counts too
    assert control.stop_requested and not control.paused
    write_command(tmp_path, "stop")
    assert FileControl(tmp_path).stop_requested
    announce_run_dir(tmp_path, tmp_path / "runs" / "r1")
    assert read_run_dir(tmp_path) == (tmp_path / "runs" / "r1").resolve()
