"""Evaluation of audio runs, and evaluation by groups (any data whose source says where samples came from).

The data: tones of 3 pitches played by 3 "voices" (timbres: a pure sine, odd harmonics, all harmonics),
4 recordings ("files") per pitch and voice, each cut into 2 clips of 0.5 s at 4 kHz. The label is the
pitch; `facets()` gives the voice, `groups()` the file. A short SimCLR run on the audio modality (mel_cnn)
is evaluated with the probe and kNN against the log-mel-statistics and random-init baselines, with the
run's split (files kept apart), one voice held out at a time and whole files held out.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import ssl_core.train.builder as builder
from ssl_core.config import RunConfig
from ssl_core.data.audio_info import audio_info
from ssl_core.data.base import TensorSource
from ssl_core.errors import UserError
from ssl_core.eval.evaluate import evaluate_run
from ssl_core.eval.hold_out import (
    combine_folds,
    hold_out_choices,
    keep_groups_apart,
    plan_hold_out,
    source_groups,
)
from ssl_core.eval.report import format_report, hold_out_report_path, read_report
from ssl_core.train.trainer import Trainer

RATE, SECONDS = 4000, 0.5
PITCHES = {"low": 220.0, "mid": 440.0, "high": 880.0}
VOICES = ("sine", "odd harmonics", "all harmonics")
FILES_PER_PAIR, CLIPS_PER_FILE = 4, 2


class GroupedSource(TensorSource):
    """A TensorSource that knows each sample's source file (`groups`) and a second labelling (`facets`)."""

    def __init__(self, samples, labels, info, groups=None, facets=None):
        super().__init__(samples, labels, info)
        self._groups = groups
        self._facets = facets or {}

    def groups(self):
        return self._groups

    def facets(self):
        return dict(self._facets)


def _tone(freq: float, voice: int, seconds: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(round(seconds * RATE))) / RATE
    harmonics = {0: [1], 1: [1, 3, 5], 2: [1, 2, 3, 4, 5]}[voice]
    phase = rng.uniform(0, 2 * np.pi)
    wave = sum(np.sin(2 * np.pi * freq * h * t + h * phase) / h for h in harmonics)
    wave = wave / np.abs(wave).max() * rng.uniform(0.3, 0.8)
    return (wave + 0.02 * rng.standard_normal(len(t))).astype(np.float32)


def tones(seed: int = 0) -> GroupedSource:
    """3 pitches x 3 voices x FILES_PER_PAIR files, each cut into CLIPS_PER_FILE clips of SECONDS."""
    rng = np.random.default_rng(seed)
    clips, labels, voices, files = [], [], [], []
    for p, freq in enumerate(PITCHES.values()):
        for v in range(len(VOICES)):
            for _ in range(FILES_PER_PAIR):
                recording = _tone(freq * rng.uniform(0.97, 1.03), v, SECONDS * CLIPS_PER_FILE, rng)
                file_id = len(set(files))
                for part in np.split(recording, CLIPS_PER_FILE):
                    clips.append(part[None])
                    labels.append(p)
                    voices.append(v)
                    files.append(file_id)
    n = len(clips)
    info = audio_info("tones", n, 1, RATE, SECONDS, class_names=list(PITCHES), origin="synthetic",
                      files=len(set(files)), spec="audio:tones", n_mels=32)  # fmt: skip
    return GroupedSource(
        torch.from_numpy(np.stack(clips)),
        torch.tensor(labels),
        info,
        groups=torch.tensor(files),
        facets={"voice": (torch.tensor(voices), list(VOICES))},
    )


# ---- the split logic ------------------------------------------------------------------------------------
def test_run_split_moves_held_out_clips_whose_file_has_training_clips():
    groups = np.array([0, 0, 1, 1, 2, 2, 3])
    train, val, moved = keep_groups_apart(np.array([0, 2, 4]), np.array([1, 3, 5, 6]), groups)
    assert moved == 3 and train.tolist() == [0, 1, 2, 3, 4, 5] and val.tolist() == [6]
    assert not set(groups[train]) & set(groups[val])
    same = keep_groups_apart(np.array([0, 1]), np.array([2, 3]), groups)
    assert same[0].tolist() == [0, 1] and same[1].tolist() == [2, 3] and same[2] == 0
    assert keep_groups_apart(np.array([0]), np.array([1]), None)[2] == 0


def test_hold_out_voice_gives_one_fold_per_voice():
    source = tones()
    voices = source.facets()["voice"][0].numpy()
    plan = plan_hold_out(source, "voice", "clips")
    assert plan.kind == "facet" and [f.name for f in plan.folds] == list(VOICES)
    for v, fold in enumerate(plan.folds):
        assert (voices[fold.test_idx] == v).all() and (voices[fold.train_idx] != v).all()
        assert len(fold.train_idx) + len(fold.test_idx) == len(source)


def test_hold_out_file_keeps_every_file_on_one_side_and_tests_each_once():
    source = tones()
    groups = source_groups(source)
    plan = plan_hold_out(source, "file", "clips", seed=3)
    assert plan.kind == "groups" and len(plan.folds) == 5
    tested = np.concatenate([f.test_idx for f in plan.folds])
    assert sorted(tested.tolist()) == list(range(len(source)))  # every clip tested exactly once
    for fold in plan.folds:
        assert not set(groups[fold.train_idx]) & set(groups[fold.test_idx])
    sizes = [len(f.test_idx) for f in plan.folds]
    assert max(sizes) - min(sizes) <= CLIPS_PER_FILE  # balanced by whole files
    assert [f.test_idx.tolist() for f in plan_hold_out(source, "groups", "clips", seed=3).folds] == [
        f.test_idx.tolist() for f in plan.folds
    ]


def test_bad_hold_out_names_are_one_line_naming_the_choices():
    source = tones()
    assert hold_out_choices(source) == ["voice", "file"]
    with pytest.raises(UserError, match=r"no such facet; choose one of: voice, file\.") as err:
        plan_hold_out(source, "speaker", "clips")
    assert "\n" not in str(err.value) and "audio:tones" in str(err.value)
    one_voice = GroupedSource(source.images, source._labels, source.info, source.groups(),
                              {"voice": (torch.zeros(len(source), dtype=torch.long), ["sine"])})  # fmt: skip
    with pytest.raises(UserError, match=r"have the same voice \(sine\).*choose one of: file\."):
        plan_hold_out(one_voice, "voice", "clips")
    plain = TensorSource(source.images, source._labels, source.info)
    with pytest.raises(UserError, match="does not say which file"):
        plan_hold_out(plain, "file", "clips")
    with pytest.raises(UserError, match="no second labelling"):
        plan_hold_out(plain, "voice", "clips")


def test_combined_folds_are_the_mean_over_folds_with_their_spread():
    from ssl_core.eval.knn import KNNResult
    from ssl_core.eval.probe import ProbeResult
    from ssl_core.eval.report import FeatureEval

    def fold(acc: float, knn: float, confusion):
        row = {"fraction": 1.0, "labels_used": 10, "runs": 1, "probe": {"mean": acc, "std": 0.0, "values": [acc]},
               "knn": {"mean": knn, "std": 0.0, "values": [knn]}, "probe_solver": "sklearn-lbfgs"}  # fmt: skip
        probe = ProbeResult(acc, [None, None], confusion, 1.0, 10, 4, 2, "sklearn-lbfgs", 5)
        return [FeatureEval("pretrained", "pretrained", 8, probe, KNNResult(knn, [], confusion, 3, 0.07, 10, 4, 2),
                            {"fractions": [1.0], "seeds": [0], "k": 3, "num_classes": 2, "rows": [row]})]  # fmt: skip

    (combined,) = combine_folds([fold(1.0, 0.5, [[2, 0], [0, 2]]), fold(0.5, 0.5, [[1, 1], [1, 1]])])
    assert combined.probe.accuracy == pytest.approx(0.75) and combined.probe.n_test == 8
    assert combined.probe.confusion == [[3, 1], [1, 3]] and combined.probe.per_class_accuracy == [0.75, 0.75]
    (row,) = combined.label_efficiency["rows"]
    assert row["runs"] == 2 and row["probe"]["values"] == [1.0, 0.5]
    assert row["probe"]["std"] == pytest.approx(np.std([1.0, 0.5], ddof=1))


# ---- end to end on the audio modality -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    source = tones()
    runs = tmp_path_factory.mktemp("runs")
    patch = pytest.MonkeyPatch()
    patch.setattr(builder, "open_config_source", lambda config, **kw: source)
    config = RunConfig().with_overrides(
        [
            "data.spec='audio:tones'",
            "method.name=simclr",
            "method.backbone=mel_cnn",
            "method.backbone_params.width=8",
            "data.val_fraction=0.25",
            "train.device=cpu",
            "data.num_workers=0",
            "train.batch_size=24",
            "train.max_steps=3",
            f"runs_dir={str(runs)!r}",
        ]
    )
    result = Trainer(config).run()
    assert result.status == "completed", result.message
    yield result.run_dir, source
    patch.undo()


SETTINGS = dict(fractions=(0.5, 1.0), seeds=(0, 1), k=5)


def test_audio_run_is_evaluated_against_log_mel_statistics_and_random_init(trained_run):
    run_dir, source = trained_run
    report = evaluate_run(run_dir, **SETTINGS).to_dict()
    assert report["samples"] == "clips" and report["backbone"] == "mel_cnn"
    titles = {name: f["title"] for name, f in report["features"].items()}
    assert titles == {
        "pretrained": "pretrained",
        "random_init": "random init",
        "raw_input": "log-mel statistics",
    }
    for feature in report["features"].values():
        assert 0.0 <= feature["probe"]["accuracy"] <= 1.0 and 0.0 <= feature["knn"]["accuracy"] <= 1.0
    # Pitch is easy for log-mel statistics: the baseline is a real one, not a placeholder.
    assert report["features"]["raw_input"]["probe"]["accuracy"] >= 0.9
    text = format_report(report)
    assert "log-mel statistics" in text and "random init" in text and "held-out clips" in text
    assert read_report(run_dir)["n_val"] == report["n_val"]  # the run's own report


def test_run_split_of_an_audio_run_never_splits_a_file(trained_run):
    from ssl_core.eval.evaluate import labelled_split
    from ssl_core.runs.store import load_run

    run_dir, source = trained_run
    split = labelled_split(load_run(run_dir, source=source))
    groups = source.groups().numpy()
    assert len(split.val_idx) > 0 and not set(groups[split.train_idx]) & set(groups[split.val_idx])
    assert split.moved == 0  # training split the clips by file already; nothing had to move


def test_hold_out_voice_evaluates_one_fold_per_voice(trained_run):
    run_dir, source = trained_run
    before = (
        (run_dir / "eval" / "report.json").read_bytes()
        if (run_dir / "eval" / "report.json").exists()
        else None
    )
    report = evaluate_run(run_dir, hold_out="voice", **SETTINGS).to_dict()
    held = report["hold_out"]
    assert held["facet"] == "voice" and [f["name"] for f in held["folds"]] == list(VOICES)
    assert all(
        f["n_test"] == len(source) // 3 and f["n_train"] == len(source) * 2 // 3 for f in held["folds"]
    )
    assert report["n_val"] == len(source)  # every clip tested once, in its voice's fold
    assert all(f["unseen_label"] == 0 for f in held["folds"])  # every voice plays every pitch
    for name, feature in report["features"].items():
        folds = [f["features"][name]["probe"] for f in held["folds"]]
        assert feature["probe"]["accuracy"] == pytest.approx(np.mean(folds))
        (all_labels,) = [r for r in feature["label_efficiency"]["rows"] if r["fraction"] == 1.0]
        assert all_labels["runs"] == 3 and all_labels["probe"]["values"] == pytest.approx(folds)
    saved = json.loads(hold_out_report_path(run_dir, "voice").read_text())
    assert saved["hold_out"]["facet"] == "voice"
    if before is not None:  # the run's own report (and the run list's figure) is left alone
        assert (run_dir / "eval" / "report.json").read_bytes() == before
    text = format_report(report)
    assert "held out: one voice at a time (3 folds)" in text and "Per fold" in text
    assert "± is the spread (standard deviation) over the 3 folds (one voice held out in each)" in text
    for voice in VOICES:
        assert f"\n{voice} " in text


def test_hold_out_file_and_bad_names_through_the_cli(trained_run, capsys):
    from ssl_core.cli.main import main

    run_dir, _ = trained_run
    assert main(["eval", str(run_dir), "--hold-out", "file", "--fractions", "1", "--seeds", "0",
                 "--k", "5", "--json", "--quiet"]) == 0  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert report["hold_out"]["kind"] == "groups" and len(report["hold_out"]["folds"]) == 5
    assert set(report["features"]) == {"pretrained", "random_init", "raw_input"}
    assert main(["eval", str(run_dir), "--hold-out", "speaker", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "choose one of: voice, file" in err


def test_held_out_verdict_compares_fold_by_fold():
    """Over folds the scores are paired (a hard voice is hard for every kind of features): a run ahead on
    every fold wins, even where the folds' spread is wider than the gap."""
    from ssl_core.eval.verdict import verdict

    def feature(values):
        mean, std = float(np.mean(values)), float(np.std(values, ddof=1))
        row = {
            "fraction": 1.0,
            "labels_used": 40,
            "runs": 3,
            "probe": {"mean": mean, "std": std, "values": values},
        }
        return {"label_efficiency": {"rows": [row]}}

    report = {
        "samples": "clips", "seeds": [0], "fractions": [1.0], "n_train": 40,
        "features": {"pretrained": feature([0.8, 0.6, 0.9]), "random_init": feature([0.7, 0.5, 0.8])},
        "hold_out": {"facet": "voice", "kind": "facet", "folds": [{}, {}, {}]},
    }  # fmt: skip
    assert verdict(report).outcome == "wins"
    report.pop("hold_out")  # the same numbers from independent picks: within the spread, a tie
    assert verdict(report).outcome == "ties"
