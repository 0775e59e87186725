"""What entering a step does, through the same controls a person uses: the Setup tab's data, method and
training settings, the window's Start, its tabs, the Evaluate and Anomalies tabs' buttons. A move that
cannot be done raises DemoProblem with words for the narrator.

Moves with effects (opening data, starting a run) are done once per story; moves that only show something
(`view_only`) are done again when Back returns to their step."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from app.demo.context import DemoContext, DemoProblem
from app.demo.targets import tab
from ssl_core.config import RunConfig

BUSY = (
    "A run is training, so its settings cannot change now. Stop it (Run → Stop) or let it finish, then "
    "start the demo again."
)


def _not_training(ctx: DemoContext) -> None:
    if ctx.window.session.busy:
        raise DemoProblem(BUSY)


@dataclass(frozen=True)
class ShowTab:
    name: str
    view_only: ClassVar[bool] = True

    def do(self, ctx: DemoContext) -> None:
        ctx.window.tabs.setCurrentWidget(tab(ctx.window, self.name))


@dataclass(frozen=True)
class ChooseData:
    spec: str
    view_only: ClassVar[bool] = False

    def do(self, ctx: DemoContext) -> None:
        _not_training(ctx)
        ctx.data_spec = self.spec
        ctx.window.setup_tab.open_data(self.spec)  # on a worker; the "data" wait waits for it


def _change_settings(ctx: DemoContext, change: Callable[[RunConfig], None]) -> None:
    """Change the settings Setup shows the way a loaded config does, keeping every other setting."""
    _not_training(ctx)
    setup = ctx.window.setup_tab
    config = setup.snapshot(str(ctx.window.runs_dir))
    change(config)
    setup.load_config(config)


@dataclass(frozen=True)
class TrainOn:
    """Tables: train on every row ("all") or on the normal rows only ("normal"), for anomaly detection."""

    rows: str
    view_only: ClassVar[bool] = False

    def do(self, ctx: DemoContext) -> None:
        _change_settings(ctx, lambda config: setattr(config.data, "train_on", self.rows))


@dataclass(frozen=True)
class ChooseMethod:
    """A method with its default settings and backbone."""

    name: str
    view_only: ClassVar[bool] = False

    def do(self, ctx: DemoContext) -> None:
        def choose(config: RunConfig) -> None:
            config.method.name, config.method.params = self.name, {}
            config.method.backbone, config.method.backbone_params = "auto", {}

        _change_settings(ctx, choose)
        if ctx.window.setup_tab.snapshot("").method.name != self.name:
            raise DemoProblem(
                f"This demo needs the method {self.name}, which this installation does not have."
            )


@dataclass(frozen=True)
class Configure:
    """The story's training settings: its time limit, or a few steps for a short try."""

    view_only: ClassVar[bool] = False

    def do(self, ctx: DemoContext) -> None:
        plan = ctx.story.run

        def configure(config: RunConfig) -> None:
            train = config.train
            train.epochs, train.batch_size, train.seed = plan.epochs, plan.batch_size, plan.seed
            train.max_steps = ctx.step_budget
            train.time_limit_s = 0.0 if ctx.step_budget else plan.time_limit_s

        _change_settings(ctx, configure)


@dataclass(frozen=True)
class StartTraining:
    view_only: ClassVar[bool] = False

    def do(self, ctx: DemoContext) -> None:
        window = ctx.window
        _not_training(ctx)
        blocker = window.setup_tab.start_blocker()
        if blocker:
            raise DemoProblem(f"Training cannot start: {blocker}")
        ctx.start_requested = True
        if window.start_training() is None:  # it said why: the narrator shows the message
            ctx.start_requested = False


@dataclass(frozen=True)
class ShowMap:
    """The finished run's map: the live map when it drew one, else the full map is computed."""

    view_only: ClassVar[bool] = False

    def do(self, ctx: DemoContext) -> None:
        embeddings = ctx.window.embeddings_tab
        if ctx.run_dir is None or ctx.live_map_drawn or embeddings.result is not None or embeddings.busy:
            return
        embeddings.compute(ctx.run_dir)


@dataclass(frozen=True)
class Evaluate:
    """Few-label accuracy of the story's run (the Evaluate tab's button)."""

    view_only: ClassVar[bool] = False

    def do(self, ctx: DemoContext) -> None:
        evaluate = ctx.window.evaluate_tab
        if ctx.run_dir is None or evaluate.run_dir != ctx.run_dir:
            raise DemoProblem("There is no finished run of this demo to evaluate.")
        if evaluate.evaluate() is None and evaluate.view is None and not evaluate.busy:
            raise DemoProblem("The evaluation could not start; see the Evaluate tab.")


@dataclass(frozen=True)
class EvaluateAnomalies:
    """Score every sample with the story's run (the Anomalies tab's button)."""

    view_only: ClassVar[bool] = False

    def do(self, ctx: DemoContext) -> None:
        anomalies = ctx.window.anomalies_tab
        if ctx.run_dir is None or anomalies.run_dir != ctx.run_dir:
            raise DemoProblem("There is no finished run of this demo to score.")
        if anomalies.evaluate() is None and anomalies.view is None:
            raise DemoProblem("The anomaly scores could not be computed; see the Anomalies tab.")
