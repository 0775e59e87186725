"""The run report: `ssl-core report` evaluates a run that has none, writes one valid, self-contained HTML
file whose numbers are the evaluation's, compares two runs, and refuses bad input in one line."""

import json

import pytest

from ssl_core.cli.main import main
from ssl_core.eval.report import read_report
from ssl_core.eval.verdict import verdict
from ssl_core.report.build import write_report
from tests.report.conftest import check_html

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def single_report(tiny_runs, tmp_path_factory):
    """The CLI's report of the SimCLR run, which evaluates it first (it has no evaluation yet)."""
    run = tiny_runs[0]
    out = tmp_path_factory.mktemp("reports") / "report.html"
    assert read_report(run) is None
    assert main([*["report", "--quiet", "-o"], str(out), str(run)]) == 0
    return run, out.read_text(encoding="utf-8")


def _percent(value):
    return f"{value * 100:.1f}%"


def test_report_is_valid_self_contained_html(single_report):
    run, text = single_report
    parsed = check_html(text)
    # the loss curve, label-efficiency chart and confusion matrix (SVG); previews and the map (PNG)
    assert sum(src.startswith("data:image/svg+xml") for src in parsed.images) >= 3
    assert sum(src.startswith("data:image/png") for src in parsed.images) >= 2
    assert "Embedding map coloured by class" in text
    assert "<script" not in text.lower()
    assert "@media (max-width:700px)" in text  # reflows on a phone


def test_key_numbers_match_the_runs_evaluation(single_report):
    run, text = single_report
    keys = check_html(text).data_keys
    report = read_report(run)
    assert report is not None, "the report command evaluated the run"
    pre = report["features"]["pretrained"]
    assert keys["probe-all"] == _percent(pre["probe"]["accuracy"])
    assert keys["knn-all"] == _percent(pre["knn"]["accuracy"])
    for name, feature in report["features"].items():
        for row in feature["label_efficiency"]["rows"]:
            cell = keys[f"probe-{name}-{row['fraction']:g}"]
            assert cell.split(" ± ")[0] == _percent(row["probe"]["mean"]), (name, row["fraction"])
            cell = keys[f"knn-{name}-{row['fraction']:g}"]
            assert cell.split(" ± ")[0] == _percent(row["knn"]["mean"]), (name, row["fraction"])
    assert keys["verdict"] == verdict(report).text
    fewest = min(pre["label_efficiency"]["rows"], key=lambda r: r["fraction"])
    assert keys[f"probe-fewest-{fewest['fraction']:g}"] == _percent(fewest["probe"]["mean"])
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert keys["final-loss"] == f"{metrics[-1]['loss']:.4f}"
    assert keys["steps"] == str(metrics[-1]["step"])


def test_report_shows_previews_through_training_and_the_setup(single_report):
    run, text = single_report
    for step in (1, 2, 4, 6, 8):  # the first step and each quarter of the 8 planned steps
        assert f"Step {step:,} of 8" in text
    assert "SimCLR" in text and "digits" in text
    assert "Machine</th><td>CPU (" in text
    assert "of training" in text


def test_comparison_of_two_runs(tiny_runs, tmp_path, capsys):
    out = tmp_path / "compare.html"
    code, printed, err = run_cli(capsys, "report", "--quiet", "-o", str(out), *map(str, tiny_runs))
    assert code == 0, err
    assert printed.strip() == str(out)
    text = out.read_text(encoding="utf-8")
    parsed = check_html(text)
    for run in tiny_runs:
        assert run.name in text
        assert read_report(run) is not None
    assert 'id="comparison"' in text
    assert parsed.data_keys["probe-all-1"] == _percent(
        read_report(tiny_runs[1])["features"]["pretrained"]["probe"]["accuracy"]
    )
    assert "what the network was shown and what it rebuilt" in text  # run B: reconstructions
    assert parsed.data_keys["head-to-head"].startswith("Head to head: With ")  # whose features do better


def test_no_eval_says_in_one_line_how_to_evaluate(tmp_path, capsys):
    from tests.tiny_runs import train_tiny

    run = train_tiny(tmp_path / "runs", "train.max_steps=2")
    out = tmp_path / "plain.html"
    code, _, err = run_cli(capsys, "report", "--no-eval", "--quiet", "-o", str(out), str(run))
    assert code == 0, err
    text = out.read_text(encoding="utf-8")
    check_html(text)
    assert f"Not evaluated yet: run `ssl-core eval {run}`" in text
    assert read_report(run) is None  # --no-eval never evaluates


@pytest.mark.parametrize(
    "args, needle",
    [
        (["/nowhere/run", "-o", "{tmp}/r.html"], "does not exist"),
        (["{run}", "-o", "{tmp}/r.txt"], ".html or .pdf"),
        (["{run}", "-o", "{tmp}/missing/r.html"], "does not exist"),
        (["{run}", "{run}", "-o", "{tmp}/r.html"], "two different runs"),
        (["{run}", "{run}", "{run}", "-o", "{tmp}/r.html"], "one run or compares two"),
        (["{tmp}", "-o", "{tmp}/r.html"], "is not an SSL Workbench run"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tiny_runs, tmp_path, capsys, args, needle):
    argv = [a.format(run=tiny_runs[0], tmp=tmp_path) for a in args]
    code, _, err = run_cli(capsys, "report", "--quiet", *argv)
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    assert needle in lines[0]


def test_pdf_without_weasyprint_is_refused_in_one_line(tiny_runs, tmp_path, capsys, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_weasyprint(name, *args, **kwargs):
        if name == "weasyprint":
            raise ImportError("No module named 'weasyprint'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_weasyprint)
    code, _, err = run_cli(capsys, "report", "-o", str(tmp_path / "r.pdf"), str(tiny_runs[0]))
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and "pip install 'ssl-workbench[pdf]'" in lines[0], err
    assert not (tmp_path / "r.pdf").exists()


def test_pdf_through_weasyprint(single_report, tmp_path):
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError):  # not installed (it is the `pdf` extra), or Pango is missing
        pytest.skip("WeasyPrint is not usable here")
    run, _ = single_report
    path = write_report([run], tmp_path / "report.pdf", evaluate=False)
    assert path.read_bytes().startswith(b"%PDF")


def test_runs_on_different_data_are_not_ranked(tiny_runs):
    from ssl_core.report.build import prepare_run
    from ssl_core.report.facts import read_run
    from ssl_core.report.html import render_html

    for run in tiny_runs:
        prepare_run(run)  # evaluated, with a map (a no-op when an earlier test did it)
    facts = [read_run(run) for run in tiny_runs]
    facts[1].config.data.spec = "series:BasicMotions"  # as if run B had learned from other data
    keys = check_html(render_html(facts)).data_keys
    assert "learned from different data (digits and series:BasicMotions)" in keys["different-data"]
    assert "head-to-head" not in keys  # no winner is named across different data
