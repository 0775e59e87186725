"""The step plan: what Setup says before Start is what the Trainer then does."""

from __future__ import annotations

import pytest

from ssl_core.config import RunConfig
from ssl_core.data.loader import BatchPipeline
from ssl_core.data.sources import open_source
from ssl_core.train.control import RunControl
from ssl_core.train.events import RunStarted
from ssl_core.train.plan import (
    MIN_STEPS,
    SUGGESTED_MIN_STEPS,
    StepPlan,
    estimate,
    steps_per_epoch,
    suggested_epochs,
    training_count,
)
from ssl_core.train.trainer import Trainer


def test_steps_per_epoch_counts_full_batches_and_caps_the_batch():
    assert steps_per_epoch(1438, 256) == 5  # the partial sixth batch is dropped
    assert steps_per_epoch(1438, 32) == 44
    assert steps_per_epoch(120, 256) == 1  # a batch larger than the data is the whole set
    assert steps_per_epoch(0, 32) == 0


def test_step_plan_stops_at_the_step_limit():
    assert StepPlan.for_run(44, 10) == StepPlan(44, 440)
    plan = StepPlan.for_run(44, 10, max_steps=100)
    assert plan.total_steps == 100 and plan.epochs == 3 and plan.epoch_of(88) == 2


def test_training_count_leaves_out_the_held_out_share():
    assert training_count(1797, 0.2) == 1438
    assert training_count(120, 0.0) == 120
    assert training_count(3, 0.5) == 1  # rounds like the split does (each side keeps one)


def _config(**train) -> RunConfig:
    cfg = RunConfig()
    cfg.method.name = "simclr"
    for key, value in train.items():
        setattr(cfg.train, key, value)
    return cfg


def test_a_long_enough_run_has_a_summary_and_no_warning():
    est = estimate(_config(epochs=10, batch_size=32), 1797)
    assert est.total_steps == 440 and not est.too_short and est.warning() == ""
    assert est.summary() == "10 epochs × 44 steps = 440 optimizer steps (1,438 training images, batch 32)."


def test_a_tiny_data_set_with_a_big_batch_is_warned_about_in_words():
    cfg = _config(epochs=5, batch_size=256)
    cfg.data.val_fraction = 0.0
    est = estimate(cfg, 120, noun="photos")
    assert est.batch_size == 120 and est.plan.steps_per_epoch == 1 and est.total_steps == 5
    warning = est.warning()
    assert warning.startswith("120 photos with batch 256 is one step per epoch (all 120 in one batch)")
    assert "too few to learn anything" in warning
    # each suggestion alone reaches the minimum
    assert "batch 8" in warning and "50 epochs" in warning
    assert steps_per_epoch(120, 8) * 5 >= MIN_STEPS


def test_the_method_default_batch_is_used_when_unset():
    cfg = _config(epochs=1)
    est = estimate(cfg, 1797)
    assert est.batch_setting == 256 and est.plan.steps_per_epoch == 5  # SimCLR's default batch
    assert "Use batch 16 or 10 epochs" in est.warning()


def test_the_step_limit_is_named_when_it_makes_the_run_short():
    est = estimate(_config(epochs=10, batch_size=32, max_steps=6), 1797)
    assert est.total_steps == 6
    assert "step limit" in est.summary() and "step limit" in est.warning()


def test_too_few_samples_is_a_problem_not_a_plan():
    est = estimate(_config(epochs=10, batch_size=32), 1)
    assert est.problem and est.summary() == est.problem and est.warning() == ""


@pytest.mark.parametrize(
    ("val_fraction", "batch", "epochs", "max_steps"), [(0.2, 100, 2, None), (0.5, 4000, 3, 2)]
)
def test_the_estimate_is_what_the_trainer_does(tiny_config, val_fraction, batch, epochs, max_steps):
    cfg = tiny_config(
        f"data.val_fraction={val_fraction}", f"train.batch_size={batch}", f"train.epochs={epochs}"
    )
    cfg.train.max_steps = max_steps
    source = open_source(cfg.data.spec)
    est = estimate(cfg, len(source))

    control = RunControl()
    started: list[RunStarted] = []

    def on_event(event):
        if isinstance(event, RunStarted):
            started.append(event)
            control.stop()  # the plan is known: no need to train

    trainer = Trainer(cfg, control)
    trainer.events.subscribe(on_event)
    trainer.run()
    assert started, "the run did not start"
    assert (started[0].steps_per_epoch, started[0].total_steps) == (est.plan.steps_per_epoch, est.total_steps)


def test_steps_per_epoch_matches_the_batch_pipeline():
    source = open_source("digits")
    import torch

    for n, batch in [(1437, 256), (120, 256), (100, 7), (2, 2)]:
        pipeline = BatchPipeline(
            source, torch.arange(n), batch, torch.device("cpu"), memory_budget_bytes=2**30
        )
        assert pipeline.steps_per_epoch() == steps_per_epoch(n, batch), (n, batch)


@pytest.mark.parametrize(
    ("n_samples", "method", "epochs"),
    [(1797, "simclr", 60), (442, "simclr", 300), (60_000, "simclr", 10), (1797, "rotation", 28)],
)
def test_suggested_epochs_give_small_data_enough_steps_and_leave_large_data_alone(n_samples, method, epochs):
    cfg = RunConfig()
    cfg.method.name = method
    assert suggested_epochs(cfg, n_samples) == epochs
    cfg.train.epochs = epochs
    plan = estimate(cfg, n_samples)
    assert plan.total_steps >= SUGGESTED_MIN_STEPS and not plan.too_short
    cfg.train.epochs = epochs - 1  # one fewer would not be enough, unless the default already is
    assert epochs == RunConfig().train.epochs or estimate(cfg, n_samples).total_steps < SUGGESTED_MIN_STEPS
