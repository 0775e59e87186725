"""Semi-supervised fine-tuning of a finished run: the whole network with few labels, optionally with
FixMatch consistency, pseudo-labels and distillation into a student, compared with fine-tuning from random
init and the linear probe.

Headless (no Qt, no threads): `finetune_run(run_dir, settings, progress, cancel)` reports through
`ssl_core.progress` and raises `Cancelled` when asked to stop, leaving no half-written run.
"""

from ssl_core.finetune.report import VARIANTS, FinetuneReport, VariantRow, format_report
from ssl_core.finetune.settings import FinetuneSettings, labels_text, parse_labels
from ssl_core.finetune.storage import (
    export_classifier,
    finetune_runs_of,
    is_finetune_run,
    load_classifier,
    saved_finetune_results,
    torchscript_path,
)
from ssl_core.finetune.workflow import finetune_run, heldout_split, labelled_subset
from ssl_core.progress import Cancelled, CancelToken, ProgressFn

__all__ = [
    "VARIANTS",
    "CancelToken",
    "Cancelled",
    "FinetuneReport",
    "FinetuneSettings",
    "ProgressFn",
    "VariantRow",
    "export_classifier",
    "finetune_run",
    "finetune_runs_of",
    "format_report",
    "heldout_split",
    "is_finetune_run",
    "labelled_subset",
    "labels_text",
    "load_classifier",
    "parse_labels",
    "saved_finetune_results",
    "torchscript_path",
]
