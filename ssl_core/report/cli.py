"""`ssl-core report RUN [RUN2] -o report.html`: registered by ssl_core.cli.main through add_report_parser."""

from __future__ import annotations

import argparse
import sys

from ssl_core.eval.cli import RUN_HELP, RUNS_DIR_HELP, ProgressBar


def cmd_report(args: argparse.Namespace) -> int:
    from ssl_core.report.build import check_output, needs_work, write_report
    from ssl_core.report.facts import check_runs
    from ssl_core.runs.location import resolve_run

    runs = check_runs([resolve_run(r, args.runs_dir) for r in args.runs])
    out = check_output(args.output)  # refuse a bad file name before a long evaluation
    slow = not args.no_eval and any(needs_work(r) for r in runs)
    if slow and not args.quiet:
        print(
            "Evaluating first (a run without an evaluation or map gets one; this takes a while)…",
            file=sys.stderr,
        )
    bar = ProgressBar(args.quiet or not slow)
    try:
        path = write_report(runs, out, evaluate=not args.no_eval, projection=args.projection, progress=bar)
    finally:
        bar.close()
    print(path)
    return 0


def add_report_parser(subparsers) -> None:
    """Register the `report` subcommand on an argparse subparsers object."""
    p = subparsers.add_parser(
        "report",
        help="write a self-contained HTML (or PDF) report of a run, or compare two runs; a run without an "
        "evaluation is evaluated first",
    )
    p.add_argument("runs", nargs="+", metavar="RUN", help=RUN_HELP + "; give two to compare them")
    p.add_argument(
        "-o", "--output", required=True, metavar="FILE", help="report.html, or report.pdf (WeasyPrint)"
    )
    p.add_argument("--runs-dir", metavar="DIR", help=RUNS_DIR_HELP)
    p.add_argument(
        "--no-eval", action="store_true",
        help="never evaluate: a run without an evaluation gets a line saying how to add one",
    )  # fmt: skip
    p.add_argument(
        "--projection", choices=("pca", "umap"), default="pca",
        help="how to draw the map when a run has none saved (default: pca, fast; umap compiles once)",
    )  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_report)
