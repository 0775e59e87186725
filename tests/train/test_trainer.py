import json
import math
import threading

import pytest
import torch

from ssl_core.runs.store import list_runs, load_run, read_metrics, read_summary
from ssl_core.train.control import RunControl
from ssl_core.train.events import CheckpointSaved, RunFailed, RunFinished, RunStarted, StepEnded
from ssl_core.train.trainer import Trainer


def _collect(trainer):
    events = []
    trainer.events.subscribe(events.append)
    return events


def test_training_writes_a_complete_reloadable_run(tiny_config):
    trainer = Trainer(tiny_config())
    events = _collect(trainer)
    result = trainer.run()
    assert result.status == "completed"
    started = next(e for e in events if isinstance(e, RunStarted))
    assert result.step == started.total_steps == 2 * started.steps_per_epoch
    steps = [e for e in events if isinstance(e, StepEnded)]
    assert [e.step for e in steps] == list(range(1, result.step + 1))
    assert all(math.isfinite(e.loss) and e.images_per_sec > 0 for e in steps)
    assert sum(isinstance(e, CheckpointSaved) for e in events) == 2
    assert isinstance(events[-1], RunFinished)

    run_dir = result.run_dir
    assert [r["step"] for r in read_metrics(run_dir)] == list(range(1, result.step + 1))
    summary = read_summary(run_dir)
    assert summary["status"] == "completed" and summary["epochs_done"] == 2
    assert math.isfinite(summary["final_loss"])
    loaded = load_run(run_dir)
    assert loaded.step == result.step and not loaded.method.training
    x = loaded.source.read(loaded.val_idx[:4])[0].float() / 255
    assert loaded.method.encode(x).shape == (4, loaded.method.feature_dim)
    assert [r.run_id for r in list_runs(run_dir.parent)] == [run_dir.name]


def test_config_saved_with_the_run_reruns_as_is(tiny_config):
    result = Trainer(tiny_config("train.max_steps=2")).run()
    from ssl_core.config import RunConfig

    again = RunConfig.load(result.run_dir / "config.toml")
    assert again == tiny_config("train.max_steps=2")


def test_stop_then_resume_matches_an_uninterrupted_run(tiny_config):
    full = Trainer(tiny_config("train.seed=3")).run()
    full_losses = [r["loss"] for r in read_metrics(full.run_dir)]

    control = RunControl()
    first = Trainer(tiny_config("train.seed=3"), control)
    first.events.subscribe(lambda e: control.stop() if isinstance(e, StepEnded) and e.step == 3 else None)
    stopped = first.run()
    assert stopped.status == "stopped" and stopped.step == 3

    resumed = Trainer.resume(stopped.run_dir).run()
    assert resumed.status == "completed" and resumed.step == full.step
    records = read_metrics(stopped.run_dir)
    assert [r["step"] for r in records] == list(range(1, full.step + 1))
    # Same data order, augmentation randomness and optimizer state: the same trajectory.
    assert [r["loss"] for r in records] == pytest.approx(full_losses, rel=1e-4, abs=1e-5)


def test_pause_blocks_and_resume_continues(tiny_config):
    control = RunControl()
    trainer = Trainer(tiny_config("train.max_steps=4"), control)
    seen = []
    paused_at = threading.Event()

    def on_event(e):
        if isinstance(e, StepEnded):
            seen.append(e.step)
            if e.step == 1:
                control.pause()
                paused_at.set()

    trainer.events.subscribe(on_event)
    worker = threading.Thread(target=trainer.run)
    worker.start()
    assert paused_at.wait(60)
    worker.join(0.5)
    assert worker.is_alive() and seen == [1]
    control.resume()
    worker.join(60)
    assert not worker.is_alive() and seen == [1, 2, 3, 4]


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tiny_config, monkeypatch):
    trainer = Trainer(tiny_config("train.epochs=3"))
    events = _collect(trainer)
    from ssl_core.methods.simclr import SimCLR

    original = SimCLR.training_step

    def poisoned(self, images, ctx):
        out = original(self, images, ctx)
        if ctx.epoch == 1 and ctx.step % 5 == 2:
            out.loss = out.loss * float("nan")
        return out

    monkeypatch.setattr(SimCLR, "training_step", poisoned)
    result = trainer.run()
    assert result.status == "failed"
    failure = next(e for e in events if isinstance(e, RunFailed))
    assert "loss became nan" in failure.message.lower() and "train.lr" in failure.message
    summary = read_summary(result.run_dir)
    assert summary["status"] == "failed"
    state = torch.load(result.run_dir / "checkpoints" / "last.pt", weights_only=True)
    steps_per_epoch = summary["steps_per_epoch"]
    assert state["step"] == steps_per_epoch  # the end of the last good epoch
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())
    json.dumps(summary)


def test_unknown_method_fails_before_creating_a_run(tiny_config, tmp_path):
    result = Trainer(tiny_config("method.name=simclrr")).run()
    assert result.status == "failed" and "Unknown method 'simclrr'" in result.message
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_batch_larger_than_dataset_is_clamped_with_a_warning(tiny_config, tmp_path):
    import numpy as np

    path = tmp_path / "small.npz"
    rng = np.random.default_rng(0)
    np.savez(path, images=rng.integers(0, 255, (40, 8, 8), dtype=np.uint8))
    trainer = Trainer(tiny_config(f"data.spec='npz:{path}'", "train.batch_size=512", "train.epochs=1"))
    events = _collect(trainer)
    result = trainer.run()
    assert result.status == "completed"
    assert any("larger than the" in getattr(e, "message", "") for e in events)


def test_exported_backbone_reloads_into_a_fresh_backbone(tiny_config, tmp_path):
    from ssl_core.models.backbones import build_backbone
    from ssl_core.runs.store import export_backbone

    result = Trainer(tiny_config("train.max_steps=2")).run()
    out = export_backbone(result.run_dir, tmp_path)
    state = torch.load(out, weights_only=True)
    assert state["backbone"] == "small_cnn" and state["method"] == "simclr"
    fresh = build_backbone("small_cnn", in_channels=1, image_size=8)
    fresh.load_state_dict(state["state_dict"])  # strict: every weight and the normalisation buffers
    loaded = load_run(result.run_dir)
    x = torch.rand(3, 1, 8, 8)
    fresh.eval()
    assert torch.allclose(fresh(x), loaded.method.backbone(x), atol=1e-6)


def test_resuming_removes_what_a_killed_writer_left_in_the_run_folder(tiny_config):
    """A process killed mid-write leaves '.NAME.PID-RANDOM.tmp' files; resuming clears them everywhere the
    trainer writes (the kept previews too), so a finished run's folder holds no half-written file."""
    from ssl_core.train.preview_archive import archive_dir

    control = RunControl()
    first = Trainer(tiny_config(), control)
    first.events.subscribe(lambda e: control.stop() if isinstance(e, StepEnded) and e.step == 2 else None)
    run_dir = first.run().run_dir
    archive_dir(run_dir).mkdir(parents=True, exist_ok=True)
    left = [
        archive_dir(run_dir) / ".step-00000002.npz.999999-ab12cd.tmp",
        run_dir / "checkpoints" / ".last.pt.999999-ab12cd.tmp",
        run_dir / ".metrics.jsonl.999999-ab12cd.tmp",
    ]
    for path in left:
        path.write_bytes(b"half a file")
    assert Trainer.resume(run_dir).run().status == "completed"
    assert not list(run_dir.rglob(".*.tmp"))
