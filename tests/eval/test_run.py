import json
import shutil
import threading

import numpy as np
import pytest
import torch

from ssl_core.errors import UserError
from ssl_core.eval import (
    Cancelled,
    embed_run,
    evaluate_run,
    format_report,
    load_embedding,
    loaded_run,
    read_report,
)
from ssl_core.eval.verdict import verdict
from ssl_core.runs.store import list_runs, load_run
from tests.tiny_runs import train_tiny


def _train(runs_dir, *overrides: str):
    return train_tiny(runs_dir, "train.max_steps=3", "train.batch_size=256", *overrides)


@pytest.fixture(scope="module")
def simclr_run(tmp_path_factory):
    return _train(tmp_path_factory.mktemp("runs"))


def test_evaluate_run_scores_pretrained_random_init_and_pixels(simclr_run, monkeypatch):
    encoded = []
    real_encode = loaded_run.encode_source
    monkeypatch.setattr(
        loaded_run, "encode_source", lambda *a, **k: encoded.append(1) or real_encode(*a, **k)
    )
    seen = []
    report = evaluate_run(
        simclr_run, fractions=(0.05, 1.0), seeds=(0, 1), k=10, progress=lambda f, m: seen.append(f)
    )

    assert [f.name for f in report.features] == ["pretrained", "random_init", "raw_input"]
    assert [f.dim for f in report.features] == [128, 128, 64]
    assert report.n_train + report.n_val == 1797 and report.num_classes == 10 and report.k == 10
    pixels = report.get("raw_input")
    assert pixels.probe.accuracy > 0.9  # logistic regression on digits pixels: ~0.96
    for feat in report.features:
        assert feat.probe.accuracy > 0.5 and feat.knn.accuracy > 0.5  # chance is 0.1
        rows = feat.label_efficiency["rows"]
        assert [r["fraction"] for r in rows] == [0.05, 1.0]
        assert rows[0]["runs"] == 2 and rows[0]["labels_used"] < rows[1]["labels_used"] == report.n_train
        assert rows[1]["probe"]["mean"] == feat.probe.accuracy  # the all-labels row is the full result
        assert rows[0]["probe"]["mean"] < rows[1]["probe"]["mean"]
        assert np.asarray(feat.probe.confusion).sum() == report.n_val
    assert seen == sorted(seen) and seen[-1] == 1.0
    assert len(encoded) == 2  # pretrained + random init

    saved = read_report(simclr_run)
    assert saved == json.loads(json.dumps(report.to_dict()))
    assert list(saved["features"]) == ["pretrained", "random_init", "raw_input"]
    record = list_runs(simclr_run.parent)[0]
    assert record.probe_accuracy == pytest.approx(report.pretrained.probe.accuracy)

    # Same checkpoint again: the pretrained embeddings come from the cache.
    encoded.clear()
    again = evaluate_run(simclr_run, fractions=(1.0,), seeds=(0,), include_baselines=False)
    assert len(encoded) == 0 and [f.name for f in again.features] == ["pretrained"]
    assert again.pretrained.probe.accuracy == pytest.approx(report.pretrained.probe.accuracy)

    text = format_report(report)
    assert "Linear probe accuracy (held-out)" in text and "kNN accuracy (held-out)" in text
    used = report.pretrained.label_efficiency["rows"][0]["labels_used"]
    assert "random init" in text and "raw pixels" in text and f"5% ({used} labels)" in text
    said = verdict(report)
    assert said.labels == (used if said.fraction == 0.05 else report.n_train)
    assert f"Verdict (linear probe): {said.text}" in text and said.text.startswith("With ")
    assert f"{pixels.probe.accuracy:.3f}" in text
    assert format_report(saved) == text  # the saved dictionary prints the same table


def test_random_init_baseline_is_the_seeded_starting_point(simclr_run):
    run = load_run(simclr_run)
    first = loaded_run.random_init_method(run).state_dict()
    second = loaded_run.random_init_method(run).state_dict()
    trained = run.method.state_dict()
    conv = "backbone.net.stages.0.0.weight"
    key = conv if conv in first else next(k for k in first if k.endswith("weight") and first[k].dim() == 4)
    assert torch.equal(first[key], second[key])  # deterministic: the run's seed
    assert not torch.equal(first[key], trained[key])  # and not the trained weights


def test_cancel_stops_evaluation_without_writing_a_report(simclr_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(simclr_run, copy)
    (copy / "eval" / "report.json").unlink(missing_ok=True)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        evaluate_run(copy, cancel=cancel)
    assert not (copy / "eval" / "report.json").exists()


def test_bad_arguments_and_runs_without_checkpoint(simclr_run, tmp_path):
    with pytest.raises(UserError, match="Label fraction 0 is outside"):
        evaluate_run(simclr_run, fractions=(0, 0.5))
    empty = tmp_path / "fresh"
    empty.mkdir()
    shutil.copy(simclr_run / "config.toml", empty / "config.toml")
    with pytest.raises(UserError, match="No checkpoint"):
        evaluate_run(empty)
    with pytest.raises(UserError, match="projection 'tsne' is unknown"):
        embed_run(simclr_run, projection="tsne")


def test_unlabelled_run_refuses_probes_but_embeds(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, size=(120, 8, 8), dtype=np.uint8)
    np.save(tmp_path / "images.npy", images)
    run_dir = _train(tmp_path / "runs", f"data.spec='npy:{tmp_path / 'images.npy'}'", "train.max_steps=1")
    with pytest.raises(UserError, match="has no labels; a probe needs labels — UMAP/PCA still work"):
        evaluate_run(run_dir)
    result = embed_run(run_dir, projection="pca")
    assert result.labels is None and result.projection.shape == (120, 2)
    assert "labels" not in result.paths


def test_embed_run_saves_umap_projection_and_reloads(simclr_run):
    seen = []
    result = embed_run(simclr_run, projection="umap", max_points=1000, progress=lambda f, m: seen.append(m))
    assert result.embeddings.shape == (1797, 128) and result.labels.shape == (1797,)
    assert result.projection.shape == (1000, 2) and len(np.unique(result.indices)) == 1000
    assert result.val_mask.sum() == len(load_run(simclr_run).val_idx)
    assert result.anomaly is None  # SimCLR does not rebuild images
    assert any("epoch" in m for m in seen)
    loaded = load_embedding(simclr_run)
    assert loaded is not None and loaded.projection_kind == "umap"
    np.testing.assert_array_equal(loaded.projection, result.projection)
    np.testing.assert_array_equal(loaded.indices, result.indices)
    np.testing.assert_array_equal(loaded.val_mask, result.val_mask)
    meta = json.loads((simclr_run / "eval" / "embed.json").read_text())
    assert meta["projected_points"] == 1000 and meta["has_labels"]


def test_embed_run_adds_anomaly_scores_for_generative_methods(tmp_path):
    run_dir = _train(tmp_path / "runs", "method.name=autoencoder", "train.max_steps=2")
    result = embed_run(run_dir, projection="none")
    assert result.projection is None and result.anomaly.shape == (1797,)
    assert np.isfinite(result.anomaly).all() and result.anomaly.min() >= 0
    assert load_embedding(run_dir).anomaly.shape == (1797,)


def test_cli_eval_and_embed(simclr_run, capsys):
    from ssl_core.cli.main import main

    code = main(["eval", str(simclr_run), "--json", "--fractions", "0.1", "1", "--seeds", "0", "--k", "5"])
    out = capsys.readouterr().out
    assert code == 0
    data = json.loads(out)
    assert data["fractions"] == [0.1, 1.0] and data["k"] == 5
    assert set(data["features"]) == {"pretrained", "random_init", "raw_input"}
    assert data["verdict"]["fraction"] in (0.1, 1.0) and data["verdict"]["text"].startswith("With ")

    code = main(["eval", str(simclr_run), "--fractions", "1.5", "--quiet"])
    assert code == 2 and "Label fraction 1.5 is outside (0, 1]" in capsys.readouterr().err

    code = main(["eval", str(simclr_run), "--quiet", "--no-baselines", "--seeds", "0"])
    out = capsys.readouterr().out
    assert code == 0 and "pretrained" in out and "raw pixels" not in out

    code = main(["embed", str(simclr_run), "--projection", "pca", "--quiet"])
    out = capsys.readouterr().out
    assert code == 0 and "projection: pca (1797 points)" in out and "projection-pca-" in out


def test_progress_names_each_stage_in_words(simclr_run, tmp_path):
    """The messages say which network is embedding (the second pass is the random-init baseline), their
    counts are the stage's own, and the overall fraction only grows."""
    seen: list[tuple[float, str]] = []
    evaluate_run(simclr_run, fractions=(0.1, 1.0), seeds=(0,), progress=lambda f, m: seen.append((f, m)))
    messages = [m for _, m in seen]
    baseline = [m for m in messages if m.startswith("Step 2 of 3, the same network with random weights")]
    counts = [m for m in baseline if "embedding" in m and " of 1,797 images" in m]
    assert counts, messages
    assert any("linear probe and kNN on the raw pixels (3 of 3)" in m for m in messages), messages
    assert any("10% of the labels" in m for m in messages), messages
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_embedding_a_run_reports_its_stages_with_their_own_counts(tmp_path):
    run_dir = _train(tmp_path / "runs", "train.max_steps=1")  # fresh: nothing cached to skip
    messages = []
    embed_run(run_dir, projection="pca", progress=lambda f, m: messages.append((f, m)))
    staged = [m for _, m in messages if m.startswith("Step ")]
    assert any(
        m.startswith("Step 1 of 2, features of every image") and "of 1,797 images" in m for m in staged
    )
    assert any(m.startswith("Step 2 of 2, PCA map of 1,797 points") for m in staged)
    fractions = [f for f, _ in messages]
    assert fractions == sorted(fractions)  # the bar never goes back
