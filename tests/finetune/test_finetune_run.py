"""Fine-tuning a short SimCLR run on the digits: the comparison, the stored run, export, CLI and cancel.

One pretrained run (module fixture) and one full comparison at 1% labels (with FixMatch and pseudo-labels)
serve all tests here."""

import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from ssl_core.cli.main import main
from ssl_core.finetune import (
    Cancelled,
    FinetuneSettings,
    export_classifier,
    finetune_run,
    format_report,
    is_finetune_run,
    load_classifier,
    saved_finetune_results,
    torchscript_path,
)
from ssl_core.runs.store import RunPaths, list_runs, load_run, read_summary
from tests.tiny_runs import train_tiny

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # the Runs tab test; set before Qt starts
pytestmark = pytest.mark.usefixtures("one_torch_thread")

PRETRAIN_STEPS = 60  # ~5 epochs of SimCLR on the digits: enough for features far above random init


@pytest.fixture(scope="module")
def parent(tmp_path_factory):
    return train_tiny(
        tmp_path_factory.mktemp("runs"), f"train.max_steps={PRETRAIN_STEPS}", "train.epochs=100"
    )


# The recipe that beats the linear probe at 1% labels: FixMatch, whose model then pseudo-labels the
# unlabelled images for a fresh fine-tune (`ssl-core finetune --fixmatch --pseudo-labels`).
ONE_PERCENT = FinetuneSettings(labels=0.01, fixmatch=True, pseudo_labels=True)
VARIANTS = ["fine-tune", "fine-tune (random init)", "linear probe", "pseudo-labels", "fixmatch"]


@pytest.fixture(scope="module")
def one_percent(parent):
    progress: list[tuple[float, str]] = []
    report = finetune_run(parent, ONE_PERCENT, progress=lambda f, m: progress.append((f, m)))
    return report, progress


@pytest.mark.timeout(600)
def test_fine_tune_at_1_percent_beats_random_init_and_the_probe(one_percent):
    report, progress = one_percent
    print(format_report(report))  # the table for the closing note (pytest -s)
    rows = {r["variant"]: r for r in report.to_dict()["rows"]}
    assert list(rows) == VARIANTS
    fine, scratch, probe = rows["fine-tune"], rows["fine-tune (random init)"], rows["linear probe"]
    assert fine["n_labels"] == scratch["n_labels"] == probe["n_labels"] == 10  # 1% of 10 classes: one each
    assert len(fine["values"]) == len(scratch["values"]) == len(probe["values"]) == 3
    # Every variant of a seed sees the same labelled subset and is scored on the same test images, so the
    # comparisons are paired: the per-seed differences, not the spread of each row across seeds (mostly
    # which 10 images were drawn), say whether one variant beats another.
    over_scratch = np.subtract(fine["values"], scratch["values"])
    over_probe = np.subtract(fine["values"], probe["values"])
    print("paired fine-tune - random init:", over_scratch.round(3), "fine-tune - probe:", over_probe.round(3))
    # Measured (60 SimCLR steps, seeds 0-2): fine-tune 0.724 +- 0.062, random init 0.552 +- 0.008,
    # linear probe 0.720 +- 0.065; paired fine-tune - probe 0.000, 0.000, +0.013 (seeds 0-9: -0.007 +- 0.022;
    # from the projection head's first layer, SimCLRv2-style, +0.012 +- 0.026: see issue 14's notes).
    assert fine["accuracy"] > scratch["accuracy"] + 0.1, rows
    assert fine["accuracy"] - fine["std"] > scratch["accuracy"] + scratch["std"], (
        "gap must exceed the seed spread"
    )
    assert over_scratch.min() > 0.05 and over_scratch.mean() > 3 * over_scratch.std(ddof=1), over_scratch
    # Fine-tuning starts from the probe's solution (LP-FT) and keeps it unless the validation split
    # prefers a later epoch, so it is never much below the probe. It does NOT beat it by more than the
    # paired spread with one label per class: training on 10 images for longer lowers the test accuracy
    # (validation was right to stop), see the closing note of issue 14.
    assert fine["accuracy"] >= probe["accuracy"] - 0.02, rows
    assert over_probe.min() > -0.06, over_probe
    # With the unlabelled images, `ssl-core finetune --fixmatch --pseudo-labels` does beat the probe: the
    # FixMatch model's most confident predictions of every class (as many in all as it makes 0.7 sure,
    # shared among the classes like the labels) label the unlabelled images and a fresh fine-tune learns
    # from them. The margin is paired (per seed, same labelled images and test images): the mean difference
    # must exceed its spread over the seeds. (Each row's own spread, ~0.065, is mostly which 10 images a seed
    # drew, shared by both rows.) Measured, paired pseudo-labels - probe, on a bf16 parent (a CPU with native
    # bf16) and a float32 one (AVX2): this test's seeds 0-2 +3.3, +5.4, +3.3 and +0.8, +2.5, +4.2 points;
    # on parents trained apart, seeds 0-9 (where class-balanced selection was picked) +4.2 +- 3.5 and
    # +4.0 +- 2.7; fresh seeds 10-19 +5.3 +- 2.1 and +5.6 +- 2.6, 20 of 20 positive. Every prediction above
    # 0.7 instead (the recipe before) failed here in float32; on seeds 0-9 it gave +1.5 +- 3.7, 6 of 10
    # positive. See `pseudo_label_choice`.
    pseudo = rows["pseudo-labels"]
    semi_over_probe = np.subtract(pseudo["values"], probe["values"])
    print("paired pseudo-labels (by FixMatch) - probe:", semi_over_probe.round(3))
    assert pseudo["details"]["per_seed"][0]["teacher"] == "fixmatch"
    assert semi_over_probe.mean() > max(0.01, semi_over_probe.std(ddof=1)), semi_over_probe
    assert semi_over_probe.min() > 0, semi_over_probe
    assert np.mean(pseudo["values"]) > np.mean(fine["values"]), rows
    fractions = [f for f, _ in progress]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("random weights" in m for _, m in progress)


def test_the_result_is_its_own_run_linked_to_its_parent(parent, one_percent):
    report, _ = one_percent
    run_dir = Path(report.run_dir)
    assert run_dir.parent == Path(parent).parent and run_dir != Path(parent)
    summary = read_summary(run_dir)
    assert summary["kind"] == "finetune" and summary["parent"] == Path(parent).name
    assert summary["status"] == "completed" and is_finetune_run(run_dir)
    assert summary["finetune_accuracy"] == pytest.approx(report.row("fine-tune").accuracy)
    stored = json.loads(RunPaths(run_dir).finetune_result.read_text())
    assert stored == json.loads(json.dumps(report.to_dict()))
    # The run list shows both runs without trouble, and the fine-tuned network loads like any run.
    listed = {r.path.name: r for r in list_runs(Path(parent).parent)}
    assert run_dir.name in listed and listed[run_dir.name].status == "completed"
    loaded = load_run(run_dir)
    classifier, payload = load_classifier(run_dir)
    fine_tuned = classifier.backbone.state_dict()
    assert all(torch.equal(v, fine_tuned[k]) for k, v in loaded.method.backbone.state_dict().items())
    assert payload["projector_layers"] == classifier.neck_layers == 0  # the default: the backbone alone
    assert listed[run_dir.name].kind == "finetune" and listed[run_dir.name].parent == Path(parent).name
    assert listed[Path(parent).name].kind == "training" and listed[Path(parent).name].parent is None
    assert all(d["best_epoch"] >= 0 for d in report.row("fine-tune").details["per_seed"])
    assert payload["class_names"] == [str(c) for c in range(10)]


def test_runs_command_lists_the_fine_tune_run(parent, one_percent, capsys):
    report, _ = one_percent
    assert main(["runs", "--runs-dir", str(Path(parent).parent)]) == 0
    out = capsys.readouterr().out
    assert Path(report.run_dir).name in out and Path(parent).name in out
    line = next(x for x in out.splitlines() if Path(report.run_dir).name in x)
    assert f"fine-tune of {Path(parent).name}" in line


def test_saved_results_give_one_entry_per_variant_with_the_label_fraction(parent, one_percent):
    report, _ = one_percent
    entries = [
        e for e in saved_finetune_results(parent) if e["labels_setting"] == 0.01
    ]  # other tests add more
    assert {e["variant"] for e in entries} == set(VARIANTS)
    for e in entries:
        assert e["labels"] == pytest.approx(10 / report.n_train)  # labels as a fraction of training labels
        assert e["accuracy"] == pytest.approx(report.row(e["variant"]).accuracy)
        assert e["n_labels"] == 10 and e["run_dir"] == report.run_dir
    assert saved_finetune_results(report.run_dir) == []  # a fine-tune run has no fine-tunes of its own


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_exported_classifier_reloads_with_its_class_names_and_predicts_alike(parent, one_percent, tmp_path):
    report, _ = one_percent
    out = export_classifier(report.run_dir, tmp_path / "digits-classifier.pt")
    saved = torch.load(out, weights_only=True)
    assert saved["class_names"] == [str(c) for c in range(10)] and saved["num_classes"] == 10
    model, payload = load_classifier(report.run_dir)
    model.load_state_dict(saved["state_dict"])
    run = load_run(parent)
    images, labels = run.source.read(torch.as_tensor(run.val_idx[:64]))
    with torch.no_grad():
        logits = model(images)
        scripted = torch.jit.load(str(torchscript_path(out)))
        assert torch.allclose(scripted(images), logits, atol=1e-4)
    accuracy = float((logits.argmax(1) == labels).float().mean())
    assert accuracy > 0.5  # far above chance (0.1) on held-out digits


def test_pseudo_labels_fixmatch_and_distilled_rows_and_cli_json(parent, capsys):
    code = main([
        "finetune", str(parent), "--labels", "5/class", "--pseudo-labels", "--fixmatch", "--threshold", "0.7",
        "--distill", "--seeds", "0", "--epochs", "2", "--no-compare", "--json",
    ])  # fmt: skip
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    rows = {r["variant"]: r for r in result["rows"]}
    assert list(rows) == ["fine-tune", "pseudo-labels", "fixmatch", "distilled"]
    assert all(r["n_labels"] == 50 for r in rows.values()) and result["labels"] == 5
    pseudo = rows["pseudo-labels"]["details"]
    assert pseudo["pseudo_labels"] > 0 and 0.5 < pseudo["pseudo_label_accuracy"] <= 1.0
    assert pseudo["per_seed"][0]["teacher"] == "fixmatch"  # FixMatch's model gives the pseudo-labels
    assert 0.0 <= rows["fixmatch"]["details"]["confident_share"] <= 1.0
    distilled = rows["distilled"]["details"]
    assert distilled["per_seed"][0]["teacher"] == "pseudo-labels"  # the last model of the chain teaches
    assert distilled["distilled_on"] == result["n_train"]  # every training sample, labelled or not
    assert all(r["accuracy"] > 0.5 for r in rows.values())
    assert result["settings"]["distill"] is True
    summary = read_summary(Path(result["run_dir"]))
    assert summary["labels"] == 5 and "distilled" in summary["variants"]
    assert summary["recipe"] == {"fixmatch": True, "pseudo_labels": True, "distill": True}


def test_distillation_loss_is_the_labels_plus_the_teachers_soft_labels(parent):
    import torch.nn.functional as F

    from ssl_core.finetune.classifier import classifier_from_method
    from ssl_core.finetune.fit import Distillation, SampleSet, _distillation_loss

    run = load_run(parent)
    model = classifier_from_method(run.method, 10, seed=0).eval()
    images, labels = run.source.read(torch.arange(8))
    x = model.prepare(images)
    others, other_labels = run.source.read(torch.arange(8, 24))
    # A one-hot teacher: the soft term is then the ordinary cross-entropy with its labels.
    teacher = Distillation(
        SampleSet(run.source, np.arange(8, 24)), F.one_hot(other_labels.long(), 10).float()
    )
    rows = np.arange(16)

    def same(u, generator):  # no augmentation, to compare with a direct computation
        return u

    with torch.no_grad():
        loss = _distillation_loss(model, x, labels.long(), teacher, rows, same, None, torch.device("cpu"))
        expected = F.cross_entropy(model.logits(x), labels.long()) + F.cross_entropy(
            model.logits(model.prepare(others)), other_labels.long()
        )
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_cli_bad_labels_is_one_line_and_exit_2(parent, capsys):
    assert main(["finetune", str(parent), "--labels", "150%"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "labels" in err and "\n" not in err


def test_cancel_leaves_no_half_written_run(parent):
    runs_dir = Path(parent).parent
    before = sorted(p.name for p in runs_dir.iterdir())
    stop = threading.Event()

    def progress(fraction, message):
        if "epoch 1" in message:  # cancel once the first fine-tune has trained an epoch
            stop.set()

    with pytest.raises(Cancelled):
        finetune_run(parent, FinetuneSettings(labels=0.01, seeds=(0,)), progress=progress, cancel=stop)
    assert sorted(p.name for p in runs_dir.iterdir()) == before


def test_fine_tuning_a_fine_tune_run_is_refused(one_percent):
    from ssl_core.errors import UserError

    report, _ = one_percent
    with pytest.raises(UserError, match="parent"):
        finetune_run(report.run_dir, FinetuneSettings(labels=0.01, seeds=(0,)))


def test_fixmatch_consistency_ignores_guesses_below_the_threshold(parent):
    from ssl_core.finetune.classifier import classifier_from_method
    from ssl_core.finetune.fit import SampleSet, _Batches, _fixmatch_loss, weak_and_strong_views

    run = load_run(parent)
    views = weak_and_strong_views(run.method)
    model = classifier_from_method(run.method, 10, seed=0)
    images, labels = run.source.read(torch.arange(8))
    x = model.prepare(images)
    unlabelled = SampleSet(run.source, np.arange(8, 40))
    rows = _Batches(len(unlabelled), 16, torch.Generator().manual_seed(0)).next()
    settings = FinetuneSettings(threshold=1.0).checked()  # no softmax reaches 1.0: no guess is used
    g = torch.Generator().manual_seed(0)
    loss, share = _fixmatch_loss(model, x, labels, unlabelled, rows, views, g, settings, torch.device("cpu"))
    model.eval()  # BatchNorm stats of the joint batch differ; compare with the supervised term alone
    assert share == 0.0
    assert loss.item() > 0 and torch.isfinite(loss)


def test_the_gui_runs_tab_lists_the_fine_tune_run(parent, one_percent, qtbot):
    pytest.importorskip("PySide6")
    from app.tabs.runs_tab import RunsTab, load_curves
    from app.workers import JobRunner

    report, _ = one_percent
    tab = RunsTab(JobRunner())
    qtbot.addWidget(tab)
    tab.set_runs_dir(Path(parent).parent)
    names = [tab.table.item(i, 0).text() for i in range(tab.table.rowCount())]
    assert Path(report.run_dir).name in names and Path(parent).name in names
    tab.select_run(Path(report.run_dir))
    assert tab.selected_paths() == [Path(report.run_dir)]
    assert load_curves([Path(report.run_dir)]) == {Path(report.run_dir).name: ([], [])}


def test_the_same_seed_gives_the_same_numbers(parent):
    settings = FinetuneSettings(labels=3, epochs=2, seeds=(4,), compare=False, fixmatch=True)
    first, second = finetune_run(parent, settings), finetune_run(parent, settings)
    assert [r.values for r in first.rows] == [r.values for r in second.rows]
    assert first.run_dir != second.run_dir  # two runs, each its own folder
