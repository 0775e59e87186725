"""`ssl-core embed` writes a PNG and a CSV of the map, announces UMAP's compile, accepts a run id, and
every option of eval, embed and score says what it does."""

import argparse
import csv
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ssl_core.cli.main import build_parser, main
from ssl_core.config import RunConfig
from ssl_core.eval import embed as embed_module
from ssl_core.eval.cli import UMAP_NOTICE
from ssl_core.eval.map_export import map_csv, render_map
from ssl_core.eval.projection import project_pca
from ssl_core.runs.location import resolve_run
from ssl_core.train.trainer import Trainer

DIGIT_NAMES = [str(i) for i in range(10)]


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    runs_dir = tmp_path_factory.mktemp("runs")
    overrides = [
        "data.spec=digits",
        "method.name=simclr",
        "method.backbone=small_cnn",
        "train.epochs=1",
        "train.max_steps=2",
        "train.batch_size=256",
        "train.device=cpu",
        "data.num_workers=0",
        f"runs_dir={str(runs_dir)!r}",
    ]
    result = Trainer(RunConfig().with_overrides(overrides)).run()
    assert result.status == "completed", result.message
    return Path(result.run_dir)


def _saved(out: str, name: str) -> Path:
    line = next(line for line in out.splitlines() if line.strip().startswith(f"{name}:"))
    return Path(line.split(":", 1)[1].strip())


def test_embed_writes_a_png_and_a_csv_of_the_map(digits_run, capsys):
    assert main(["embed", str(digits_run), "--projection", "pca", "--quiet"]) == 0
    out = capsys.readouterr().out
    png, table = _saved(out, "map_png"), _saved(out, "map_csv")
    assert png.parent == table.parent == digits_run / "eval"
    assert _saved(out, "projection").parent == png.parent  # next to the arrays
    if os.name == "posix":
        assert png.stat().st_mode & 0o777 == table.stat().st_mode & 0o777 == 0o644

    with Image.open(png) as img:
        img.load()
        assert img.format == "PNG" and img.size == (942, 764)
        colours = img.convert("RGB").getcolors(maxcolors=1 << 20)
    # white background, frame and text, and the ten class colours at least
    assert len(colours) > 12
    assert max(count for count, _ in colours) < img.size[0] * img.size[1] * 0.95

    with table.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1797
    assert list(rows[0]) == ["index", "x", "y", "label"]
    assert sorted(int(r["index"]) for r in rows) == list(range(1797))
    assert {r["label"] for r in rows} == set(DIGIT_NAMES)
    coords = np.array([[float(r["x"]), float(r["y"])] for r in rows])
    saved = np.load(_saved(out, "projection"), allow_pickle=False)
    np.testing.assert_allclose(coords, saved, rtol=1e-5, atol=1e-5)


def test_embed_json_lists_the_map_files(digits_run, capsys):
    import json

    assert main(["embed", str(digits_run), "--projection", "pca", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert Path(info["paths"]["map_png"]).is_file() and Path(info["paths"]["map_csv"]).is_file()


def test_embed_without_projection_writes_no_map(digits_run, capsys):
    assert main(["embed", str(digits_run), "--projection", "none", "--quiet"]) == 0
    assert "map_png" not in capsys.readouterr().out


def test_a_run_id_works_in_place_of_the_path(digits_run, capsys, monkeypatch):
    run_id = digits_run.name
    assert resolve_run(run_id, digits_run.parent) == digits_run
    monkeypatch.chdir(digits_run.parent.parent)  # the id is not a folder here
    assert (
        main(["embed", run_id, "--runs-dir", str(digits_run.parent), "--projection", "pca", "--quiet"]) == 0
    )
    assert str(digits_run / "eval") in capsys.readouterr().out

    monkeypatch.setenv("SSL_WORKBENCH_RUNS", str(digits_run.parent))  # the default runs folder
    assert main(["embed", run_id, "--projection", "pca", "--quiet"]) == 0
    assert str(digits_run / "eval") in capsys.readouterr().out


def test_eval_and_score_accept_a_run_id(digits_run, monkeypatch):
    from ssl_core.anomaly import scoring
    from ssl_core.eval import evaluate

    seen = []
    monkeypatch.setattr(evaluate, "evaluate_run", lambda run_dir, **kw: seen.append(run_dir) or 1 / 0)
    monkeypatch.setattr(scoring, "score_file", lambda run_dir, *a, **kw: seen.append(run_dir) or 1 / 0)
    monkeypatch.setenv("SSL_WORKBENCH_RUNS", str(digits_run.parent))
    with pytest.raises(ZeroDivisionError):
        main(["eval", digits_run.name, "--quiet"])
    with pytest.raises(ZeroDivisionError):
        main(["score", digits_run.name, "--data", "digits", "--quiet"])
    assert seen == [str(digits_run)] * 2


def test_an_unknown_run_id_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SSL_WORKBENCH_RUNS", str(tmp_path))
    assert main(["embed", "no-such-run", "--projection", "pca", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "no-such-run" in err and "\n" not in err


def test_umap_prints_a_compile_notice(digits_run, capsys, monkeypatch):
    calls = []

    def fake_umap(x, progress=None, **kwargs):  # skip the real numba compile
        calls.append(len(x))
        if progress is not None:
            progress(0.0, "Starting UMAP")
        return project_pca(x)

    monkeypatch.setattr(embed_module, "project_umap", fake_umap)
    assert main(["embed", str(digits_run), "--projection", "umap", "--max-points", "500"]) == 0
    captured = capsys.readouterr()
    assert calls == [500]
    assert captured.err.count(UMAP_NOTICE) == 1
    assert "map-umap-" in captured.out

    assert main(["embed", str(digits_run), "--projection", "umap", "--max-points", "500", "--quiet"]) == 0
    assert UMAP_NOTICE not in capsys.readouterr().err
    assert main(["embed", str(digits_run), "--projection", "pca"]) == 0
    assert UMAP_NOTICE not in capsys.readouterr().err


def test_every_option_of_eval_embed_and_score_has_help():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = [
        f"{name} {action.option_strings or action.dest}"
        for name in ("eval", "embed", "score")
        for action in sub.choices[name]._actions
        if not (action.help or "").strip() or action.help == argparse.SUPPRESS
    ]
    assert missing == []


def test_render_map_by_anomaly_score_and_csv_columns():
    rng = np.random.default_rng(0)
    coords = rng.normal(size=(200, 2)).astype(np.float32)
    scores = rng.random(200).astype(np.float32)
    img = render_map(coords, anomaly=scores, title="scores")
    assert len(img.getcolors(maxcolors=1 << 20)) > 20  # a gradient of colours, not one
    text = map_csv(np.arange(200), coords, np.arange(200) % 3, ["cat", "dog"], scores)
    rows = list(csv.DictReader(text.splitlines()))
    assert list(rows[0]) == ["index", "x", "y", "label", "anomaly_score"]
    assert [r["label"] for r in rows[:3]] == ["cat", "dog", "2"]  # a label without a name keeps its number
    assert float(rows[5]["anomaly_score"]) == pytest.approx(float(scores[5]), rel=1e-5)
