"""train.time_limit_s: a run ends as completed, with a checkpoint and a note, once its time is up."""

import functools
import itertools

from ssl_core.runs.store import load_run, read_summary
from ssl_core.train import trainer as trainer_module
from ssl_core.train.events import CheckpointSaved, RunFinished, RunStarted
from ssl_core.train.time_limit import TimeLimit
from ssl_core.train.trainer import Trainer


def test_time_limit_counts_from_its_start_and_zero_means_none():
    ticks = iter([10.0, 12.0, 14.9, 15.0])
    limit = TimeLimit(5, clock=lambda: next(ticks))
    assert not limit.reached() and not limit.reached()  # 2 s, 4.9 s
    assert limit.reached()  # 5 s
    assert not TimeLimit(0).reached()
    assert "after 12 of 300 planned steps" in limit.note(12, 300)


def test_a_run_past_its_time_limit_ends_completed_with_a_checkpoint(tiny_config, monkeypatch):
    # A fake clock that moves one second each time it is read: the limit falls mid-epoch, at a fixed step.
    fake = functools.partial(TimeLimit, clock=itertools.count().__next__)
    monkeypatch.setattr(trainer_module, "TimeLimit", fake)
    trainer = Trainer(tiny_config("train.epochs=50", "train.time_limit_s=10"))
    events = []
    trainer.events.subscribe(events.append)
    result = trainer.run()

    started = next(e for e in events if isinstance(e, RunStarted))
    assert result.status == "completed"
    assert 0 < result.step < started.total_steps  # ended by time, long before 50 epochs
    finished = events[-1]
    assert isinstance(finished, RunFinished) and "time limit of 10 s" in finished.note
    assert [e.step for e in events if isinstance(e, CheckpointSaved)][-1] == result.step
    summary = read_summary(result.run_dir)
    assert summary["status"] == "completed" and summary["step"] == result.step
    assert summary["note"] == finished.note
    assert load_run(result.run_dir).step == result.step


def test_no_time_limit_leaves_no_note(tiny_config):
    result = Trainer(tiny_config("train.epochs=1")).run()
    assert result.status == "completed" and read_summary(result.run_dir)["note"] == ""
