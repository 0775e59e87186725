"""`ssl-core eval RUN --anomaly` and `ssl-core score RUN --data SPEC`: registered by ssl_core.eval.cli."""

from __future__ import annotations

import argparse
import json
import sys

from ssl_core.anomaly.scores import DEFAULT_K
from ssl_core.anomaly.split import DEFAULT_CALIB_FRACTION
from ssl_core.anomaly.thresholds import DEFAULT_CONTAMINATION, DEFAULT_PERCENTILE, RULES


def add_anomaly_arguments(p: argparse.ArgumentParser) -> None:
    """The `eval` flags of an anomaly evaluation (`--seeds`, `--batch-size`, `--json`, `--quiet` and
    `--no-baselines` are shared with the probe evaluation)."""
    g = p.add_argument_group("anomaly detection (with --anomaly)")
    g.add_argument(
        "--anomaly", action="store_true",
        help="anomaly detection instead of probes: the run's scores against IsolationForest, LOF and PCA",
    )  # fmt: skip
    g.add_argument(
        "--threshold-rule", choices=RULES, default="contamination",
        help="how the threshold is set on the calibration scores (default: contamination)",
    )  # fmt: skip
    g.add_argument(
        "--threshold-value", type=float, metavar="X",
        help=f"contamination share (default: the anomaly rate, else {DEFAULT_CONTAMINATION}), percentile "
        f"(default {DEFAULT_PERCENTILE:g}), or the threshold itself (rule 'value')",
    )  # fmt: skip
    g.add_argument(
        "--anomaly-rate", type=float, metavar="R",
        help="subsample anomalies to this share of the calibration and test parts (e.g. 0.05)",
    )  # fmt: skip
    g.add_argument(
        "--calibration-fraction", type=float, default=DEFAULT_CALIB_FRACTION, metavar="F",
        help=f"share of the held-out samples that calibrate the threshold (default {DEFAULT_CALIB_FRACTION})",
    )  # fmt: skip
    g.add_argument(
        "--neighbors", type=int, default=DEFAULT_K, metavar="K",
        help=f"kNN-distance neighbours for methods that do not rebuild their input (default {DEFAULT_K})",
    )  # fmt: skip


class _LazyBar:
    """The eval progress bar, drawn from the first report past 0 on: a command that stops early with a
    user error (bad data, bad settings) leaves only its one error line on stderr."""

    def __init__(self, quiet: bool):
        self.quiet, self.bar = quiet, None

    def __call__(self, fraction: float, message: str) -> None:
        if self.bar is None:
            if fraction <= 0.0:
                return
            from ssl_core.eval.cli import ProgressBar

            self.bar = ProgressBar(self.quiet)
        self.bar(fraction, message)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def cmd_eval_anomaly(args: argparse.Namespace) -> int:
    from ssl_core.anomaly.text import format_anomaly_report
    from ssl_core.anomaly.workflow import AnomalySettings, evaluate_anomalies

    # Refuse bad values before a progress bar appears.
    AnomalySettings.checked(
        args.threshold_rule, args.threshold_value, args.anomaly_rate, args.seeds,
        args.calibration_fraction, args.neighbors,
    )  # fmt: skip
    bar = _LazyBar(args.quiet or args.json)
    try:
        result = evaluate_anomalies(
            args.run_dir, rule=args.threshold_rule, value=args.threshold_value,
            anomaly_rate=args.anomaly_rate, seeds=args.seeds, calib_fraction=args.calibration_fraction,
            k=args.neighbors, baselines=not args.no_baselines, batch_size=args.batch_size, progress=bar,
        )  # fmt: skip
    finally:
        bar.close()
    print(json.dumps(result.to_dict(arrays=False), indent=2) if args.json else format_anomaly_report(result))
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from ssl_core.anomaly.scoring import score_file
    from ssl_core.eval.cli import resolve_run_arg

    resolve_run_arg(args)
    bar = _LazyBar(args.quiet)
    try:
        result = score_file(
            args.run_dir, args.data, args.out, k=args.neighbors, batch_size=args.batch_size, progress=bar
        )
    finally:
        bar.close()
    if result.path is None:
        sys.stdout.write(result.csv_text)
    flagged = int(result.flags.sum())
    where = f"; wrote {result.path}" if result.path is not None else ""
    print(
        f"Scored {len(result.scores)} samples of {result.spec} by {result.score_kind}: {flagged} flagged "
        f"(score > {result.threshold:.4g}, from {result.threshold_from}){where}",
        file=sys.stderr,
    )
    return 0


def add_score_parser(subparsers) -> None:
    from ssl_core.eval.cli import add_run_arguments

    p = subparsers.add_parser(
        "score", help="anomaly scores and flags of a new data file by a trained run, as a CSV"
    )
    add_run_arguments(p)
    p.add_argument("--data", required=True, metavar="SPEC", help="the data to score (same kind as the run's)")
    p.add_argument("--out", metavar="FILE.csv", help="write the CSV here (default: print it)")
    p.add_argument(
        "--neighbors", type=int, default=DEFAULT_K, metavar="K",
        help="kNN-distance neighbours when no saved anomaly evaluation says otherwise",
    )  # fmt: skip
    p.add_argument("--batch-size", type=int, default=512, help="samples per model batch")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_score)
