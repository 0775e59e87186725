"""A race's fairness (ssl_core/train/race.py) and two Trainers in one process leaving each other's
randomness alone: a lane trains the same loss curve racing as alone (ssl_core/train/global_rng.py)."""

import threading

import pytest
import torch

from ssl_core.config import RunConfig
from ssl_core.data import open_source
from ssl_core.errors import UserError
from ssl_core.eval.race_verdict import LaneScores, lane_scores, race_verdict, table_rows
from ssl_core.runs.store import read_metrics
from ssl_core.train.builder import build_components
from ssl_core.train.global_rng import PrivateStream, draws_from_global_stream, isolated_global_stream
from ssl_core.train.race import (
    NO_PRETRAINING,
    NO_PRETRAINING_TITLE,
    default_second,
    plan_race,
    second_choices,
)
from ssl_core.train.trainer import Trainer

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_plan_shares_seed_split_batch_and_budget_and_says_what_differs(tiny_config):
    base = tiny_config(
        "train.seed=5",
        "train.max_steps=7",
        "train.time_limit_s=30",
        "method.params.temperature=0.3",
        "train.processes=4",  # Setup's "All 4 GPUs"
    )
    base.train.batch_size = None  # the method's default: fixed to lane A's for both lanes
    plan = plan_race(base, "byol")
    a, b = plan.a.config, plan.b.config
    assert (a.method.name, b.method.name) == ("simclr", "byol")
    assert a.data == b.data and a.train == b.train
    assert a.train.batch_size == 256 and a.train.seed == 5 and a.train.max_steps == 7
    assert a.train.time_limit_s == 0  # a time limit would give the faster method more steps
    assert a.train.processes == 1  # the lanes train side by side in this process
    assert a.method.params == {"temperature": 0.3} and b.method.params == {}
    assert a.name != b.name
    text = plan.summary()
    assert "seed 5" in text and "batch size 256" in text and "at most 7 steps" in text
    assert "SimCLR against BYOL" in text and "temperature = 0.3" in text and "no time limit" in text
    assert base.train.batch_size is None  # Setup's config is left as it was


def test_plan_without_pretraining_trains_one_lane(tiny_config):
    plan = plan_race(tiny_config(), NO_PRETRAINING)
    assert plan.a.trains and not plan.b.trains and plan.b.title == NO_PRETRAINING_TITLE
    assert "random starting weights" in plan.summary()


def test_second_lane_choices_fit_the_data(tiny_config):
    info = open_source("digits").info  # grayscale 8x8: colorization cannot run on it
    choices = second_choices("simclr", info)
    assert "simclr" not in choices and "colorization" not in choices and choices[-1] == NO_PRETRAINING
    assert default_second("simclr", info) == "byol" and default_second("byol", info) == "simclr"
    with pytest.raises(UserError, match="different method"):
        plan_race(tiny_config(), "simclr")
    with pytest.raises(UserError):
        plan_race(tiny_config(), "no_such_method")


def test_race_verdict_names_the_winner_at_the_fewest_labels_where_they_differ():
    a = LaneScores("SimCLR", {0.01: (0.70, 0.0), 0.1: (0.90, 0.0), 1.0: (0.95, 0.0)}, {0.01: 14, 0.1: 143})
    b = LaneScores("BYOL", {0.01: (0.55, 0.0), 0.1: (0.89, 0.0), 1.0: (0.95, 0.0)})
    verdict = race_verdict(a, b)
    assert verdict.outcome == "wins" and verdict.winner == "SimCLR" and verdict.fraction == 0.01
    assert verdict.text.startswith("With 14 labelled samples (1%), SimCLR reaches 70% and BYOL 55%")
    assert "SimCLR wins by 15 points" in verdict.text
    assert table_rows(a, b)[0] == ("1% (14 labels)", "70%", "55%")
    level = race_verdict(a, LaneScores("BYOL", {0.01: (0.705, 0.0)}))
    assert level.outcome == "ties" and not level.winner and "level" in level.text
    assert race_verdict(a, LaneScores("BYOL", {})).outcome == "empty"


def test_lane_scores_read_a_saved_report():
    row = {"fraction": 0.1, "labels_used": 30, "probe": {"mean": 0.8, "std": 0.02}}
    report = {"samples": "images", "features": {"random_init": {"label_efficiency": {"rows": [row]}}}}
    scores = lane_scores(report, "Random", features="random_init")
    assert scores.by_fraction == {0.1: (0.8, 0.02)} and scores.labels == {0.1: 30}
    assert lane_scores({}, "Nothing").by_fraction == {}


def _losses(run_dir) -> list[float]:
    return [r["loss"] for r in read_metrics(run_dir)]


def _race(configs: list[RunConfig]) -> list:
    """Train the configs at once, one thread each, starting together (their builds overlap)."""
    start = threading.Barrier(len(configs))
    results: list = [None] * len(configs)

    def lane(i: int) -> None:
        trainer = Trainer(configs[i])
        start.wait()
        results[i] = trainer.run()

    threads = [threading.Thread(target=lane, args=(i,)) for i in range(len(configs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(r is not None and r.status == "completed" for r in results), results
    return results


@pytest.mark.parametrize(
    "data, second",
    [("digits", "byol"), ("table:wine", "scarf")],  # the table MLP's dropout draws from the global stream
)
def test_a_lane_trains_the_same_curve_racing_as_alone(tiny_config, data, second):
    base = tiny_config(
        f"data.spec={data}",
        "method.backbone=auto",
        "train.max_steps=6",
        "train.batch_size=32",
        "train.amp=false",  # float32: see the bf16 test below
    )
    plan = plan_race(base, second)
    alone = [_losses(Trainer(lane.config).run().run_dir) for lane in plan.lanes]
    raced = [_losses(r.run_dir) for r in _race([lane.config for lane in plan.lanes])]
    assert [len(x) for x in alone] == [6, 6]
    assert raced == alone  # bit for bit: same weights, batches, views and dropout masks


def test_bf16_lanes_racing_stay_within_rounding_of_alone(tiny_config):
    """oneDNN's bf16 kernels (CPU mixed precision) are not bit-reproducible while two threads use them
    (bit-exact with torch.backends.mkldnn disabled, or in float32): the curves agree to rounding."""
    plan = plan_race(tiny_config("train.max_steps=6", "train.batch_size=32"), "byol")
    alone = [_losses(Trainer(lane.config).run().run_dir) for lane in plan.lanes]
    raced = [_losses(r.run_dir) for r in _race([lane.config for lane in plan.lanes])]
    for solo, race in zip(alone, raced, strict=True):
        assert race == pytest.approx(solo, rel=2e-3)


def test_builds_in_many_threads_get_the_same_starting_weights(tiny_config):
    config = tiny_config()
    reference = build_components(config).method.state_dict()
    built: list = []

    def build() -> None:
        built.append(build_components(config).method.state_dict())

    threads = [threading.Thread(target=build) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(built) == 4
    for weights in built:
        assert all(torch.equal(weights[k], reference[k]) for k in reference)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    with isolated_global_stream():  # as a saved run is rebuilt: the caller's stream is left alone
        build_components(config)
    assert torch.equal(torch.get_rng_state(), before)


def test_a_private_stream_is_unmoved_by_draws_elsewhere():
    dropout = torch.nn.Dropout(0.5)
    assert draws_from_global_stream(torch.nn.Sequential(dropout)) and not draws_from_global_stream(
        torch.nn.Linear(2, 2)
    )
    x = torch.ones(1000)
    first, second = PrivateStream(7, torch.device("cpu")), PrivateStream(7, torch.device("cpu"))
    with first.active():
        expected = dropout(x)
    torch.rand(500)  # another run drawing from the global stream in between
    with second.active():
        assert torch.equal(dropout(x), expected)


def test_runs_on_the_cpu_share_its_cores(monkeypatch):
    from ssl_core.train import cpu_share

    monkeypatch.setattr(cpu_share, "limit_cpu_threads", lambda: 4)
    cpu = torch.device("cpu")
    before = torch.get_num_threads()
    try:
        with cpu_share.sharing_cores(cpu) as first:
            assert first.adjust() == 4 and torch.get_num_threads() == 4  # alone: every core
            with cpu_share.sharing_cores(cpu) as second:
                assert cpu_share.runs_sharing() == 2
                assert first.adjust() == second.adjust() == 2 and torch.get_num_threads() == 2
            assert first.adjust() == 4  # the other run ended: all cores again
        assert cpu_share.runs_sharing() == 0
        with cpu_share.sharing_cores(torch.device("cuda")) as none:
            assert none is None and cpu_share.runs_sharing() == 0
    finally:
        torch.set_num_threads(before)
