"""What each of the 2 spawned processes runs for tests/distributed/test_trainer_two_processes.py: every
joint-embedding method trained in turn by the real Trainer, in one gloo process group set up once (as
torchrun's variables describe it), so the job pays Python's and torch's start-up once, not once per method.

Spawned children import this module by name (the test puts this folder on sys.path first).
"""

from __future__ import annotations

import json
from pathlib import Path

WORLD = 2
STEPS = 40
BATCH = 64

# Method settings that keep each step tiny; the loss still falls within STEPS steps.
SETTINGS: dict[str, tuple[str, ...]] = {
    "simclr": ("proj_hidden_dim=64", "proj_out_dim=32"),
    "moco": ("proj_hidden_dim=64", "proj_out_dim=32", "queue_size=256"),
    "byol": ("proj_hidden_dim=64", "proj_out_dim=32", "pred_hidden_dim=32"),
    "simsiam": ("proj_dim=64", "pred_hidden_dim=16"),
    "dino": ("n_local=2", "out_dim=256", "proj_hidden_dim=64"),
    "barlow_twins": ("proj_hidden_dim=64", "proj_out_dim=64"),
    "vicreg": ("proj_hidden_dim=64", "proj_out_dim=64"),
    "swav": ("n_local=2", "proj_hidden_dim=64"),
    "nnclr": ("proj_hidden_dim=64", "proj_out_dim=32", "pred_hidden_dim=32", "queue_size=256"),
}


def config_for(method: str, runs_dir: Path):
    from ssl_core.config import RunConfig

    sets = [
        "data.spec=digits",
        f'method.name="{method}"',
        f"train.max_steps={STEPS}",
        f"train.batch_size={BATCH}",
        'train.device="cpu"',
        "data.num_workers=0",
        "train.warmup_epochs=0.2",
        f'runs_dir="{runs_dir}"',
        *(f"method.params.{setting}" for setting in SETTINGS[method]),
    ]
    return RunConfig().with_overrides(sets)


def main(rank: int, port: int, out_dir: str, seed: int) -> None:
    import torch
    from _dist_workers import join

    from ssl_core.train.trainer import train

    join(rank, port, timeout_s=120)
    results = {}
    for method in SETTINGS:
        result = train(config_for(method, Path(out_dir) / "runs"))
        results[method] = {"run_dir": str(result.run_dir), "status": result.status, "message": result.message}
    torch.distributed.destroy_process_group()
    Path(out_dir, f"rank{rank}.json").write_text(json.dumps(results))
