"""Plain-text report of an anomaly evaluation: one row per detector, and what was evaluated."""

from __future__ import annotations

from typing import Any

from ssl_core.anomaly.result import AnomalyResult

COLUMNS = (("ROC-AUC", "roc_auc"), ("AP", "average_precision"), ("precision", "precision"),
           ("recall", "recall"), ("F1", "f1"), ("threshold", "threshold"))  # fmt: skip
_SPREAD = " (mean ± std over calibration/test splits; thresholds: the first split's, kept for flags)"


def _cell(mean: float | None, std: float | None, repeats: int, key: str) -> str:
    if mean is None:
        return "-"
    text = f"{mean:.4g}" if key == "threshold" else f"{mean:.3f}"
    if repeats > 1 and std is not None and key != "threshold":
        text += f" ± {std:.3f}"
    return text


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return lines


def format_anomaly_report(result: AnomalyResult | dict[str, Any]) -> str:
    d = result.to_dict(arrays=False) if isinstance(result, AnomalyResult) else result
    names = [d["method"], *d.get("baseline_names", [])]
    repeats = len(d.get("seeds") or [0])
    samples = d.get("samples", "samples")
    lines = [f"Run {d['run_dir']}", f"  {d['method_title']}: anomaly score = {d['score_kind']}"
             + (f" (k = {d['k']})" if d.get("k") else "")]  # fmt: skip
    if d.get("normal_classes"):
        lines.append(
            f"  normal classes: {', '.join(map(str, d['normal_classes']))}; anomalies: every other class"
        )
    rate = d.get("anomaly_rate")
    first = (d.get("repeats") or [{}])[0]
    test_line = f"  test: {d['n_test']} {samples}"
    if d.get("is_anomaly") is not None or "n_test_anomalies" in first:
        share = d["n_test_anomalies"] / max(1, d["n_test"])
        test_line += f", {d['n_test_anomalies']} anomalies ({share:.1%})"
    test_line += f"; calibration: {d['n_calib']} {samples} (thresholds are set there)"
    lines.append(test_line)
    lines.append(
        f"  seeds {', '.join(map(str, d.get('seeds', [])))}"
        + (_SPREAD if repeats > 1 else "")
        + (f"; anomalies subsampled to {rate:.1%} of each part" if rate else "")
    )
    lines.append("")
    metrics, stds = d.get("metrics", {}), d.get("metrics_std", {})
    header = ["detector", *[title for title, _ in COLUMNS]]
    rows = []
    for name in names:
        title = d["method_title"] if name == d["method"] else name
        m, s = metrics.get(name, {}), stds.get(name, {})
        rows.append([title, *[_cell(m.get(key), s.get(key), repeats, key) for _, key in COLUMNS]])
    lines += _table(header, rows)
    info = d.get("baseline_info") or {}
    if info:
        lines.append("")
        lines.append(
            f"Baselines on the raw input ({info['raw_dim']} features), fitted on {info['fit_samples']} "
            f"training {samples}; PCA keeps {info['pca_components']} components "
            f"({info['pca_variance']:.0%} of the variance), LOF k = {info['lof_neighbors']}"
        )
    lines += [f"Note: {note}" for note in d.get("notes", [])]
    return "\n".join(lines)
