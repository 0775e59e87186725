"""`ssl-core finetune RUN --labels 0.1 [--pseudo-labels] [--fixmatch] [--distill] [--json]`.

Registered by ssl_core.cli.main."""

from __future__ import annotations

import argparse
import json

from ssl_core.finetune.settings import (
    DEFAULT_BACKBONE_LR_RATIO,
    DEFAULT_EPOCHS,
    DEFAULT_LR,
    DEFAULT_PATIENCE,
    DEFAULT_PROJECTOR_LAYERS,
    DEFAULT_SEEDS,
    DEFAULT_THRESHOLD,
    FinetuneSettings,
    parse_labels,
)


def cmd_finetune(args: argparse.Namespace) -> int:
    from ssl_core.eval.cli import ProgressBar, resolve_run_arg
    from ssl_core.finetune.report import format_report
    from ssl_core.finetune.storage import export_classifier
    from ssl_core.finetune.workflow import finetune_run

    resolve_run_arg(args)
    settings = FinetuneSettings(
        labels=parse_labels(args.labels), epochs=args.epochs, lr=args.lr,
        backbone_lr_ratio=args.backbone_lr_ratio, patience=args.patience, pseudo_labels=args.pseudo_labels,
        threshold=args.threshold, fixmatch=args.fixmatch, seeds=tuple(args.seeds), compare=not args.no_compare,
        batch_size=args.batch_size, projector_layers=args.projector_layers, distill=args.distill,
    ).checked()  # fmt: skip  # refuse bad values before a progress bar appears
    bar = ProgressBar(args.quiet or args.json)
    try:
        result = finetune_run(args.run_dir, settings, progress=bar)
    finally:
        bar.close()
    exported = export_classifier(result.run_dir, args.export) if args.export else None
    if args.json:
        d = result.to_dict()
        if exported is not None:
            d["exported"] = str(exported)
        print(json.dumps(d, indent=2))
    else:
        print(format_report(result))
        if exported is not None:
            print(f"Classifier exported to {exported}")
    return 0


def add_finetune_parser(subparsers) -> None:
    from ssl_core.eval.cli import add_run_arguments

    p = subparsers.add_parser(
        "finetune",
        help="fine-tune a run's network with few labels (optionally pseudo-labels or FixMatch), compared "
        "with fine-tuning from random init and the linear probe; saved as its own run",
    )
    add_run_arguments(p)
    p.add_argument(
        "--labels", default="0.1", metavar="L",
        help="labels to use: a fraction (0.01), a percentage (1%%), a count per class (5/class) or 'all' "
        "(default: 0.1)",
    )  # fmt: skip
    p.add_argument(
        "--pseudo-labels",
        action="store_true",
        help="also retrain on the labels plus confident predictions on the unlabelled samples (FixMatch's "
        "model's with --fixmatch: with few labels, --fixmatch --pseudo-labels beats the linear probe)",
    )
    p.add_argument(
        "--fixmatch",
        action="store_true",
        help="also train with FixMatch-style weak/strong consistency on the unlabelled samples",
    )
    p.add_argument(
        "--distill",
        action="store_true",
        help="also distil the last model (pseudo-labels, else FixMatch, else the fine-tune) into a fresh "
        "student on all training samples, SimCLRv2-style",
    )
    p.add_argument(
        "--threshold",
        type=float,
        default=DEFAULT_THRESHOLD,
        help="confidence a FixMatch guess needs to be a target; with --pseudo-labels, as many unlabelled "
        "samples get a label as there are predictions this confident, each class's most confident in "
        f"proportion to the labels (default: {DEFAULT_THRESHOLD})",
    )
    p.add_argument(
        "--epochs", type=int, default=DEFAULT_EPOCHS, help=f"most epochs (default: {DEFAULT_EPOCHS})"
    )
    p.add_argument(
        "--patience",
        type=int,
        default=DEFAULT_PATIENCE,
        help=f"stop after this many epochs without a better validation accuracy (default: {DEFAULT_PATIENCE})",
    )
    p.add_argument(
        "--lr", type=float, default=DEFAULT_LR, help=f"the head's learning rate (default: {DEFAULT_LR:g})"
    )
    p.add_argument(
        "--backbone-lr-ratio",
        type=float,
        default=DEFAULT_BACKBONE_LR_RATIO,
        help="the backbone's learning rate as a share of the head's; 0 freezes it "
        f"(default: {DEFAULT_BACKBONE_LR_RATIO:g})",
    )
    p.add_argument("--batch-size", type=int, default=64, help="labelled samples per step (default: 64)")
    p.add_argument(
        "--projector-layers",
        type=int,
        default=DEFAULT_PROJECTOR_LAYERS,
        metavar="N",
        help="also fine-tune the first N blocks of the method's projection head, SimCLRv2-style; 0: the "
        f"backbone alone (default: {DEFAULT_PROJECTOR_LAYERS})",
    )
    p.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=list(DEFAULT_SEEDS),
        metavar="S",
        help="one repetition per seed: its labelled subset and initialisation (default: 0 1 2)",
    )
    p.add_argument(
        "--no-compare", action="store_true", help="skip fine-tuning from random init and the linear probe"
    )
    p.add_argument(
        "--export",
        metavar="PATH",
        help="also export the classifier (state_dict with class names; TorchScript next to it)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_finetune)
