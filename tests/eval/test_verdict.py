"""The plain verdict on an evaluation report: told where the runs differ most, in counts of labels."""

from __future__ import annotations

import json

import pytest

from ssl_core.eval.report import format_report
from ssl_core.eval.verdict import error_bar_text, fraction_text, label_counts, verdict

FRACTIONS = (0.01, 0.1, 1.0)
USED = (14, 144, 1437)


def _rows(means, stds=(0.0, 0.0, 0.0), used=USED):
    return [
        {
            "fraction": f,
            "labels_used": n,
            "runs": 1 if f >= 1 else 3,
            "probe": {"mean": m, "std": s},
            "knn": {"mean": m - 0.01, "std": s},
        }
        for f, n, m, s in zip(FRACTIONS, used, means, stds, strict=True)
    ]


def _feature(name, title, means, stds=(0.0, 0.0, 0.0)):
    probe = {
        "accuracy": means[-1],
        "per_class_accuracy": [means[-1]] * 2,
        "solver": "lbfgs",
        "confusion": None,
    }
    return {
        "name": name,
        "title": title,
        "dim": 8,
        "probe": probe,
        "knn": {"accuracy": means[-1] - 0.01},
        "label_efficiency": {"rows": _rows(means, stds)},
    }


def _report(pre, rnd=None, raw=None, *, method="simclr", samples="images", raw_title="raw pixels", stds=None):
    stds = stds or (0.0, 0.0, 0.0)
    features = {"pretrained": _feature("pretrained", "pretrained", pre, stds)}
    if rnd is not None:
        features["random_init"] = _feature("random_init", "random init", rnd, stds)
    if raw is not None:
        features["raw_input"] = _feature("raw_input", raw_title, raw, stds)
    return {
        "run_dir": "runs/x",
        "method": method,
        "backbone": "small_cnn",
        "data": "digits",
        "step": 10,
        "n_train": 1437,
        "n_val": 360,
        "num_classes": 2,
        "class_names": ["a", "b"],
        "fractions": list(FRACTIONS),
        "seeds": [0, 1, 2],
        "k": 20,
        "seconds": 1.0,
        "samples": samples,
        "features": features,
    }


def test_picks_the_fraction_of_largest_difference_and_says_it_in_counts():
    # All labels tie (98.6 / 98.6 / 98.6), 1% labels do not: the verdict is told at 1%.
    said = verdict(_report([0.77, 0.93, 0.986], [0.44, 0.85, 0.986], [0.49, 0.90, 0.986]))
    assert said.outcome == "wins" and said.fraction == 0.01 and said.labels == 14
    assert said.text == (
        "With 14 labelled images (1%), this run's features reach 77%; "
        "the same network with random weights reaches 44% and the raw pixels 49%."
    )
    assert said.baselines == {"random_init": 0.44, "raw_input": 0.49} and said.pretrained == 0.77
    # the middle fraction when that is where they differ most
    said = verdict(_report([0.50, 0.95, 0.986], [0.45, 0.60, 0.98], [0.48, 0.70, 0.985]))
    assert said.fraction == 0.1 and said.text.startswith("With 144 labelled images (10%),")


def test_the_difference_is_measured_against_the_best_baseline():
    # 1%: 30 points above random init, but level with the raw pixels; 10%: 8 points above both.
    said = verdict(_report([0.70, 0.90, 0.95], [0.40, 0.80, 0.95], [0.69, 0.82, 0.95]))
    assert said.fraction == 0.1 and said.outcome == "wins"


def test_all_labels_are_named_as_all():
    said = verdict(_report([0.60, 0.70, 0.90], [0.60, 0.70, 0.60], [0.60, 0.70, 0.50]))
    assert said.fraction == 1.0
    assert said.text.startswith("With all 1,437 labelled images, this run's features reach 90%;")


def test_a_tie_is_called_a_tie():
    said = verdict(_report([0.985, 0.986, 0.986], [0.984, 0.985, 0.986], [0.986, 0.986, 0.986]))
    assert said.outcome == "ties" and said.fraction == 0.01  # equal differences: the fewest labels
    assert said.text == (
        "With 14 labelled images (1%), this run's features reach 98.5%, level with the same network with "
        "random weights (98.4%) and the raw pixels (98.6%): the self-supervised training made no clear "
        "difference here."
    )


def test_a_difference_within_the_spread_over_seeds_is_a_tie():
    report = _report([0.70, 0.80, 0.90], [0.50, 0.60, 0.85], [0.66, 0.77, 0.88], stds=(0.05, 0.04, 0.0))
    said = verdict(report)
    assert said.outcome == "ties" and "level with the raw pixels (66%)" in said.text
    assert "(above the same network with random weights (50%))" in said.text


def test_a_loss_is_called_a_loss_with_a_hint_for_reconstruction_methods():
    report = _report([0.61, 0.83, 0.95], [0.50, 0.80, 0.90], [0.72, 0.90, 0.97], method="mae")
    said = verdict(report)
    assert said.outcome == "loses" and said.fraction == 0.01
    assert said.text.startswith(
        "With 14 labelled images (1%), this run's features reach only 61%, below the raw pixels (72%), "
        "though above the same network with random weights (50%)."
    )
    assert "fine-tuning rather than a linear probe" in said.hint and said.hint in said.text
    # a contrastive method that loses gets another hint; a family given explicitly wins over the registry
    assert "fine-tuning" not in verdict(dict(report, method="simclr")).text
    assert "fine-tuning" in verdict(dict(report, method="simclr"), family="generative").text


def test_series_and_table_nouns_and_the_baseline_as_the_modality_names_it():
    said = verdict(_report([0.70, 0.83, 0.95], [0.50, 0.8, 0.9], [0.70, 0.9, 0.96], samples="series",
                           raw_title="raw input"))  # fmt: skip
    assert said.text.startswith(
        "With 144 labelled series (10%), this run's features reach only 83%, below the raw input"
    )
    said = verdict(
        _report([0.90, 0.91, 0.95], None, [0.60, 0.9, 0.94], samples="rows", raw_title="raw columns")
    )
    assert (
        said.text == "With 14 labelled rows (1%), this run's features reach 90%; the raw columns reach 60%."
    )


def test_without_baselines_the_verdict_says_so():
    said = verdict(_report([0.70, 0.83, 0.95]))
    assert said.outcome == "alone" and "no baselines were measured" in said.text
    assert verdict({"features": {}, "fractions": [], "seeds": [0]}).outcome == "empty"


def test_label_counts_fractions_and_error_bars():
    report = _report([0.7, 0.8, 0.9], [0.5, 0.6, 0.7], [0.6, 0.7, 0.8])
    assert label_counts(report) == list(zip(FRACTIONS, USED, strict=True))
    # without the counts the probes used, fraction x training split
    for feat in report["features"].values():
        for row in feat["label_efficiency"]["rows"]:
            del row["labels_used"]
    assert label_counts(report) == [(0.01, 14), (0.1, 144), (1.0, 1437)]
    assert fraction_text(0.01, 14) == "1% (14 labels)" and fraction_text(1.0, 1) == "100% (1 label)"
    assert fraction_text(0.5) == "50%"
    text = error_bar_text(report)
    assert "standard deviation" in text and "3 random picks of the labelled images (seeds 0, 1, 2)" in text
    assert "single label subsample" in error_bar_text(dict(report, seeds=[0]))


def test_text_report_leads_with_the_verdict_and_heads_columns_with_counts():
    report = _report([0.77, 0.93, 0.986], [0.44, 0.85, 0.986], [0.49, 0.90, 0.986], stds=(0.03, 0.01, 0.0))
    text = format_report(report)
    verdict_line = "Verdict (linear probe): With 14 labelled images (1%), this run's features reach 77%;"
    assert verdict_line in text
    assert text.index(verdict_line) < text.index("Linear probe accuracy (held-out)")
    assert "1% (14 labels)  10% (144 labels)  100% (1,437 labels)" in text
    assert "± is the spread (standard deviation) over 3 random picks" in text
    json.dumps(verdict(report).to_dict())  # the CLI's --json carries it


@pytest.mark.parametrize("old_key", ["raw_pixels"])
def test_reports_saved_before_the_modality_seam(old_key):
    report = _report([0.77, 0.93, 0.986], [0.44, 0.85, 0.986], [0.49, 0.90, 0.986])
    report["features"][old_key] = report["features"].pop("raw_input")
    assert verdict(report).baselines["raw_input"] == 0.49
