"""`ssl-core eval RUN` and `ssl-core embed RUN` (RUN: a run folder or a run id): registered by ssl_core.cli.main."""

from __future__ import annotations

import argparse
import json
import sys

from ssl_core.errors import UserError
from ssl_core.eval.knn import DEFAULT_K
from ssl_core.eval.label_efficiency import DEFAULT_FRACTIONS, DEFAULT_SEEDS
from ssl_core.eval.projection import MAX_UMAP_POINTS


class _ProgressBar:
    """Progress callback -> a tqdm bar on stderr (fraction + current stage)."""

    def __init__(self, quiet: bool):
        self.bar = None
        if not quiet:
            from tqdm import tqdm

            self.bar = tqdm(
                total=1000, file=sys.stderr, dynamic_ncols=True, mininterval=0.25,
                bar_format="{desc} |{bar}| {percentage:3.0f}% of the whole job [{elapsed}<{remaining}]",
            )  # fmt: skip  # the stage's own count is in desc: the percentage must not pass for it

    def __call__(self, fraction: float, message: str) -> None:
        if self.bar is None:
            return
        self.bar.set_description_str(message, refresh=False)
        self.bar.update(max(0, int(fraction * 1000) - self.bar.n))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


ProgressBar = _ProgressBar  # the name other command modules (ssl_core/anomaly/cli.py) import

RUN_HELP = "the run's folder, or its id as `ssl-core runs` lists it"
RUNS_DIR_HELP = "where to look for a run id (default: as `ssl-core runs`)"
UMAP_NOTICE = "Preparing UMAP (compiling its kernels once per session; this can take a minute)…"


def resolve_run_arg(args: argparse.Namespace) -> None:
    """Turn `args.run_dir` from a folder or a run id into the run's folder (see resolve_run)."""
    from ssl_core.runs.location import resolve_run

    args.run_dir = str(resolve_run(args.run_dir, getattr(args, "runs_dir", None)))


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """The RUN positional (a folder or a run id) and --runs-dir, shared by eval, embed and score."""
    p.add_argument("run_dir", metavar="RUN", help=RUN_HELP)
    p.add_argument("--runs-dir", metavar="DIR", help=RUNS_DIR_HELP)


class _UmapNotice:
    """Wraps a progress callback: the first UMAP report first says, on stderr, that numba is compiling
    UMAP's kernels (15-60 s on a cold start, once per process), so the wait does not look like a hang."""

    def __init__(self, bar: _ProgressBar):
        self.bar, self.shown = bar, False

    def __call__(self, fraction: float, message: str) -> None:
        if not self.shown and "UMAP" in message:
            self.shown = True
            if self.bar.bar is not None:
                self.bar.bar.write(UMAP_NOTICE, file=sys.stderr)
            else:
                print(UMAP_NOTICE, file=sys.stderr, flush=True)
        self.bar(fraction, message)


def cmd_eval(args: argparse.Namespace) -> int:
    from ssl_core.eval.evaluate import evaluate_run
    from ssl_core.eval.label_efficiency import check_fractions, check_seeds
    from ssl_core.eval.language import format_language
    from ssl_core.eval.report import format_report
    from ssl_core.eval.verdict import verdict

    resolve_run_arg(args)
    check_seeds(args.seeds)
    if args.anomaly:
        if getattr(args, "hold_out", None) is not None:
            raise UserError(
                "--hold-out applies to the linear probe and kNN, not to --anomaly; leave one of them out.",
                field="hold_out",
            )
        from ssl_core.anomaly.cli import cmd_eval_anomaly

        return cmd_eval_anomaly(args)
    check_fractions(args.fractions)  # refuse bad values before a progress bar appears
    hold_out = getattr(args, "hold_out", None)
    word_pairs = _word_pairs_arg(args)
    bar = _ProgressBar(args.quiet or args.json)
    try:
        result = evaluate_run(
            args.run_dir, fractions=args.fractions, seeds=args.seeds, k=args.k,
            include_baselines=not args.no_baselines, progress=bar, batch_size=args.batch_size,
            word_pairs=word_pairs, hold_out=hold_out,
        )  # fmt: skip
    except UserError as exc:
        if exc.field != "data.spec" or hold_out is not None:
            raise
        return _language_only(args, word_pairs, exc, bar)  # text without labels: no probe, still an LM
    finally:
        bar.close()
    if args.json:
        d = result.to_dict()
        d["verdict"] = verdict(d).to_dict()  # a plain sentence and the numbers behind it
        print(json.dumps(d, indent=2))
    else:
        print(format_report(result))
        if result.language:
            print("\n" + format_language(result.language))
    return 0


def _word_pairs_arg(args: argparse.Namespace) -> str | None:
    """--word-pairs FILE, checked before any work starts."""
    path = getattr(args, "word_pairs", None)
    if path is None:
        return None
    from pathlib import Path

    if not Path(path).is_file():
        raise UserError(f"--word-pairs {path}: no such file.", path=str(path))
    return str(path)


def _language_only(
    args: argparse.Namespace, word_pairs: str | None, why: UserError, bar: _ProgressBar
) -> int:
    """A text run without labels: its language section alone (the probe's UserError for other data)."""
    from ssl_core.eval.evaluate import evaluate_language
    from ssl_core.eval.language import format_language

    language = evaluate_language(args.run_dir, word_pairs, progress=bar)
    bar.close()
    if language is None:
        raise why
    if args.json:
        print(json.dumps({"run_dir": args.run_dir, "language": language}, indent=2))
    else:
        print(f"Run {args.run_dir}: no labels, so no linear probe or kNN ({why}).\n")
        print(format_language(language))
    return 0


def cmd_embed(args: argparse.Namespace) -> int:
    from ssl_core.eval.embed import embed_run
    from ssl_core.eval.map_export import export_map

    resolve_run_arg(args)
    bar = _ProgressBar(args.quiet or args.json)
    # The notice goes to stderr, so it is shown with --json too (stdout stays pure JSON); not with --quiet.
    progress = bar if args.quiet or args.projection != "umap" else _UmapNotice(bar)
    try:
        result = embed_run(
            args.run_dir, projection=args.projection, max_points=args.max_points,
            n_neighbors=args.n_neighbors, min_dist=args.min_dist, seed=args.seed, fast=args.fast,
            batch_size=args.batch_size, progress=progress,
        )  # fmt: skip
    finally:
        bar.close()
    info = result.to_dict()
    info_source = getattr(result.source, "info", None)
    # The PNG and CSV are for people; they stay out of embed.json (whose paths are the arrays).
    info["paths"].update(export_map(result, list(getattr(info_source, "class_names", None) or [])))
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        print(
            f"Embedded {info['n_images']} {_plural_of(info_source)} ({info['dim']} dims) in {info['seconds']:.1f} s; "
            f"projection: {info['projection']} ({info['projected_points']} points)"
        )
        for name, path in info["paths"].items():
            print(f"  {name}: {path}")
    return 0


def _plural_of(info) -> str:
    """What the data's samples are called ("images", "series", "clips"), from its modality."""
    try:
        from ssl_core.modalities import modality_of

        return modality_of(info).plural
    except Exception:  # noqa: BLE001 - a summary line never fails over a word
        return "samples"


def add_eval_parsers(subparsers) -> None:
    """Register the `eval`, `embed` and `score` subcommands on an argparse subparsers object."""
    from ssl_core.anomaly.cli import add_anomaly_arguments, add_score_parser

    p = subparsers.add_parser(
        "eval",
        help="linear probe, kNN and label efficiency of a run, against random-init and raw-input baselines "
        "(pixels, values, log-mel statistics, ...); with --hold-out, one voice or group of files at a time; "
        "with --anomaly, anomaly detection against IsolationForest, LOF and PCA",
    )
    add_run_arguments(p)
    p.add_argument(
        "--fractions", type=float, nargs="+", default=list(DEFAULT_FRACTIONS), metavar="F",
        help="label fractions in (0, 1] (default: 0.01 0.1 1)",
    )  # fmt: skip
    p.add_argument(
        "--seeds", type=int, nargs="+", default=list(DEFAULT_SEEDS), metavar="S",
        help="seeds of the label subsamples; with --anomaly, of the calibration/test splits (default: 0 1 2)",
    )  # fmt: skip
    p.add_argument("--k", type=int, default=DEFAULT_K, help=f"kNN neighbours (default: {DEFAULT_K})")
    p.add_argument(
        "--no-baselines", action="store_true",
        help="skip the baselines (random init and raw input; with --anomaly, IsolationForest, LOF and PCA)",
    )  # fmt: skip
    p.add_argument("--batch-size", type=int, default=512, help="samples per encoder batch")
    p.add_argument(
        "--hold-out", metavar="NAME", default=None,
        help="evaluate one group at a time: a facet of the data (e.g. voice for audio:speech) holds out each "
        "of its values in turn (fit on the others, test on it); 'file' keeps each source file's samples on "
        "one side (up to 5 folds of whole files). Tables show the mean ± spread over folds, then each fold; "
        "saved as eval/report-hold-out-NAME.json",
    )  # fmt: skip
    p.add_argument(
        "--word-pairs", metavar="FILE",
        help="text runs: score the word vectors on a file of 'word1 word2 score' lines (Spearman correlation "
        "of cosine similarities) and/or 'a b c d' analogies (a is to b as c is to d; top-1 accuracy)",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_anomaly_arguments(p)
    p.set_defaults(func=cmd_eval)

    p = subparsers.add_parser(
        "embed",
        help="save a run's embeddings, a 2-D projection (UMAP or PCA), and a PNG and CSV of the map",
    )
    add_run_arguments(p)
    p.add_argument(
        "--projection", choices=("umap", "pca", "none"), default="umap",
        help="how to map the embeddings to 2-D: umap (slower, keeps neighbourhoods; compiles its kernels "
        "on first use), pca (fast, linear) or none (default: umap)",
    )  # fmt: skip
    p.add_argument(
        "--max-points", type=int, default=MAX_UMAP_POINTS,
        help=f"UMAP a random subset above this many images (at most {MAX_UMAP_POINTS:,})",
    )  # fmt: skip
    p.add_argument(
        "--n-neighbors", type=int, default=15, metavar="K",
        help="UMAP: neighbours per point; larger keeps more global structure (default: 15)",
    )  # fmt: skip
    p.add_argument(
        "--min-dist", type=float, default=0.1, metavar="D",
        help="UMAP: how tightly points may pack, 0 to 1; smaller gives tighter clusters (default: 0.1)",
    )  # fmt: skip
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the UMAP layout and of the subset above --max-points"
    )
    p.add_argument(
        "--fast", action=argparse.BooleanOptionalAction, default=None,
        help="PCA + exact torch kNN before UMAP (default: automatic by size)",
    )  # fmt: skip
    p.add_argument("--batch-size", type=int, default=512, help="samples per encoder batch")
    p.add_argument("--json", action="store_true", help="print what was saved (paths and sizes) as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_embed)

    add_score_parser(subparsers)
