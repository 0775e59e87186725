"""How long a run is, in optimizer steps: what the Trainer follows, and what Setup says before Start.

`StepPlan` is the Trainer's plan (steps per epoch, total steps, capped by train.max_steps). `estimate`
works the same plan out from a config and the data's size alone, before anything is built, and says in
words when it is too short to learn anything ("120 photos with batch 256 is one step per epoch; use
batch 32 or 40 epochs")."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ssl_core.config import RunConfig
from ssl_core.data.split import _val_count
from ssl_core.errors import UserError
from ssl_core.wording import format_seconds

MIN_STEPS = 50  # fewer optimizer steps than this rarely teach a network anything
MIN_SUGGESTED_BATCH = 8  # smaller batches are not suggested (contrastive losses need negatives)
# Setup proposes enough epochs for at least this many steps. The default 10 epochs are 10-50 steps on the
# bundled sets (digits, OSULeaf, breast_cancer, speech), and bench/bench_time_to_quality.py found most runs
# ending below their untrained encoder's probe: SSL losses first disturb the random features. With ~100
# epochs, OSULeaf SimCLR reached 0.65 (10% labels) at 80 steps instead of 0.48, digits BYOL 0.933 at 158
# steps instead of 0.916, each within 4 CPU-minutes on 2 cores.
SUGGESTED_MIN_STEPS = 300


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """Batches in an epoch as the BatchPipeline serves them: full batches only (the last, partial one is
    dropped), and a batch larger than the data is the whole set."""
    if n_train < 1:
        return 0
    return n_train // max(1, min(int(batch_size), n_train))


@dataclass(frozen=True)
class StepPlan:
    """How long the run is, in optimizer steps."""

    steps_per_epoch: int
    total_steps: int

    @classmethod
    def for_run(cls, steps_per_epoch: int, epochs: int, max_steps: int | None = None) -> StepPlan:
        """`epochs` of `steps_per_epoch` steps, stopped at `max_steps` when that is set."""
        total = steps_per_epoch * int(epochs)
        if max_steps:
            total = min(total, int(max_steps))
        return cls(steps_per_epoch, total)

    @property
    def epochs(self) -> int:
        return math.ceil(self.total_steps / self.steps_per_epoch) if self.steps_per_epoch else 0

    def epoch_of(self, step: int) -> int:
        return step // self.steps_per_epoch


def training_count(n_samples: int, val_fraction: float) -> int:
    """Samples left to train on once the held-out share (data.val_fraction) is set aside."""
    return n_samples - _val_count(n_samples, val_fraction)


@dataclass(frozen=True)
class RunEstimate:
    """A run's length worked out before it starts."""

    n_train: int
    batch_setting: int  # the batch size asked for (the method's default when unset)
    batch_size: int  # the one used: capped by the training samples
    epochs: int
    max_steps: int | None
    plan: StepPlan
    noun: str = "images"
    at_most: bool = False  # only some training samples are used (data.train_on = normal)
    problem: str = ""  # why the run cannot start at all, e.g. too few samples
    time_limit_s: float = 0.0  # train.time_limit_s: the run may end sooner

    @property
    def total_steps(self) -> int:
        return self.plan.total_steps

    @property
    def too_short(self) -> bool:
        return not self.problem and self.total_steps < MIN_STEPS

    def summary(self) -> str:
        """One line: "10 epochs × 44 steps = 440 optimizer steps (1,438 training images, batch 32)"."""
        if self.problem:
            return self.problem
        up_to = "up to " if self.at_most else ""
        steps = _plural(self.total_steps, "optimizer step")
        line = (
            f"{_plural(self.epochs, 'epoch')} × {_plural(self.plan.steps_per_epoch, 'step')} = {up_to}{steps}"
            f" ({up_to}{self.n_train:,} training {self.noun}, batch {self.batch_size})"
        )
        if self.max_steps and self.total_steps < self.plan.steps_per_epoch * self.epochs:
            line = f"{up_to}{steps}: the step limit ends the run before its {_plural(self.epochs, 'epoch')}"
        if self.time_limit_s > 0:  # the time is what a person waits for; the steps are only an upper bound
            line = f"{format_seconds(self.time_limit_s)} of training (a faster computer does more in it), at most {line}"
        return line + "."

    def warning(self) -> str:
        """Why this run is too short to learn anything and what would fix it; "" when it is long enough."""
        if not self.too_short:
            return ""
        spe = self.plan.steps_per_epoch
        steps = _plural(self.total_steps, "step")
        if self.max_steps and self.max_steps < self.plan.steps_per_epoch * self.epochs:
            return (
                f"Only {steps} in all: too few to learn anything. Raise the step limit to at least "
                f"{MIN_STEPS}, or clear it."
            )
        per_epoch = "one step" if spe == 1 else f"{spe} steps"
        whole = f" (all {self.n_train} in one batch)" if self.batch_setting > self.n_train else ""
        fixes = [f"{math.ceil(MIN_STEPS / spe)} epochs"]
        batch = _batch_for(self.n_train, math.ceil(MIN_STEPS / self.epochs))
        if batch is not None and batch < self.batch_size:
            fixes.insert(0, f"batch {batch}")
        return (
            f"{self.n_train:,} {self.noun} with batch {self.batch_setting} is {per_epoch} per epoch{whole}, "
            f"{steps} in all: too few to learn anything. Use {' or '.join(fixes)} "
            f"(at least {MIN_STEPS} steps)."
        )


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _batch_for(n_train: int, steps: int) -> int | None:
    """The largest power of two that gives at least `steps` steps per epoch, or None below the minimum."""
    largest = n_train // max(1, steps)
    if largest < MIN_SUGGESTED_BATCH:
        return None
    return 2 ** int(math.log2(largest))


def estimate(config: RunConfig, n_samples: int, noun: str = "images") -> RunEstimate:
    """The run `config` describes on data of `n_samples` samples, in steps, before anything is built.

    Uses what the Trainer uses: the held-out split's size, the batch size resolved from the method's
    defaults (`resolve_hyper`), `steps_per_epoch` and `StepPlan.for_run`."""
    from ssl_core.methods import METHODS
    from ssl_core.train.optim import resolve_hyper

    spec = METHODS.get(config.method.name)
    n_train = training_count(int(n_samples), config.data.val_fraction)
    setting = int(config.train.batch_size or spec.optim.batch_size)
    try:
        batch = resolve_hyper(config, spec, n_train, noun).batch_size
        problem = ""
    except UserError as exc:
        batch, problem = max(1, min(setting, n_train)), str(exc)
    plan = StepPlan.for_run(steps_per_epoch(n_train, batch), config.train.epochs, config.train.max_steps)
    return RunEstimate(
        n_train=n_train,
        batch_setting=setting,
        batch_size=batch,
        epochs=int(config.train.epochs),
        max_steps=config.train.max_steps,
        plan=plan,
        noun=noun,
        at_most=config.data.train_on == "normal",
        problem=problem,
        time_limit_s=float(config.train.time_limit_s or 0.0),
    )


def suggested_epochs(config: RunConfig, n_samples: int, noun: str = "images") -> int:
    """The epochs Setup proposes for `n_samples` samples with `config`'s method and batch (see
    `epochs_for_steps`)."""
    return epochs_for_steps(estimate(config, n_samples, noun).plan.steps_per_epoch)


def epochs_for_steps(steps_per_epoch: int) -> int:
    """The default epochs (10) where they already make SUGGESTED_MIN_STEPS optimizer steps, else as many as it
    takes (small data sets need many epochs to get anywhere; a large one is left alone)."""
    epochs = RunConfig().train.epochs
    if steps_per_epoch < 1:  # too few samples for a batch: the estimate's problem says so
        return epochs
    return max(epochs, math.ceil(SUGGESTED_MIN_STEPS / steps_per_epoch))
