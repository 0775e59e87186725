"""`ssl-core`: the headless command line. User errors print one line on stderr and exit 2."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from pathlib import Path

from ssl_core import __version__
from ssl_core.config import RunConfig
from ssl_core.errors import UserError

EXIT_USER_ERROR = 2


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=False))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=False)) for r in rows]
    return "\n".join(lines)


# ---- commands ---------------------------------------------------------------------------------
def cmd_methods(args) -> int:
    from ssl_core.methods import METHODS

    specs = [spec for _, spec in METHODS.items()]
    if args.json:
        print(json.dumps([s.to_dict() for s in specs], indent=2, default=str))
    else:
        rows = [[s.name, s.family, "+".join(s.modalities), s.title, s.summary] for s in specs]
        print(_table(rows, ["name", "family", "data", "title", "summary"]))
    return 0


def cmd_backbones(args) -> int:
    from ssl_core.models.backbones import BACKBONES

    specs = [spec for _, spec in BACKBONES.items()]
    if args.json:
        print(json.dumps([s.to_dict() for s in specs], indent=2))
    else:
        rows = [[s.name, "+".join(s.modalities), s.title, s.description] for s in specs]
        print(_table(rows, ["name", "data", "title", "description"]))
        settings = [
            [
                s.name,
                p.name,
                _param_value(p.default),
                f"{_param_value(p.low)} to {_param_value(p.high)}",
                p.help,
            ]
            for s in specs
            for p in s.params
        ]
        if settings:
            print()
            print(
                "Backbone settings (set with --set method.backbone_params.NAME=VALUE; the others have none):"
            )
            print(_table(settings, ["backbone", "setting", "default", "range", "help"]))
    return 0


def _param_value(value) -> str:
    """A setting's default or bound for listings: 0.1, 256, "any" for no bound."""
    if value is None:
        return "any"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _data_list(as_json: bool) -> int:
    from ssl_core.data import DATA_SOURCES
    from ssl_core.data.series_bundled import data_folder, list_bundled_series

    kinds = [kind for _, kind in DATA_SOURCES.items()]
    bundled = list_bundled_series()
    if as_json:
        print(
            json.dumps(
                {"kinds": [k.to_dict() for k in kinds], "bundled_series": [b.to_dict() for b in bundled]},
                indent=2,
            )
        )
        return 0
    print("Data kinds (ssl-core data SPEC describes one):")
    print(_table([[k.usage, k.title, k.example] for k in kinds], ["spec", "kind", "example"]))
    print()
    if data_folder() is None:
        print("Bundled time-series sets: none (they come with sktime: pip install sktime)")
        return 0
    print("Bundled time-series sets (series:NAME; TRAIN and TEST joined):")
    rows = [
        [b.name, str(b.size), str(b.channels), b.length, str(b.classes) if b.classes else b.task]
        for b in bundled
    ]
    print(_table(rows, ["name", "series", "channels", "length", "classes"]))
    return 0


def _data_options(args) -> dict:
    """`ssl-core data` options: flags, overridden by `--set data.KEY=VALUE` (as in `train`)."""
    config = RunConfig()
    if args.set:
        sets = [s if s.split("=", 1)[0].startswith("data.") else f"data.{s}" for s in args.set]
        config = config.with_overrides(sets)
    d = config.data
    return {
        "image_size": args.image_size if args.image_size is not None else d.image_size,
        "channels": args.channels if args.channels is not None else d.channels,
        "modality": args.modality or d.modality,
        "length": args.length if args.length is not None else d.length,
        "missing": args.missing or d.missing,
        "label_column": d.label_column,
        "id_column": d.id_column,
        "ignore_columns": d.ignore_columns,
        "categorical": d.categorical,
        "memory_budget_mb": d.memory_budget_mb,
        "tokenizer": d.tokenizer,
        "vocab_size": d.vocab_size,
        "text_unit": d.text_unit,
        "text_column": d.text_column,
        "sample_rate": d.sample_rate,
        "clip_seconds": d.clip_seconds,
        "audio_channels": d.audio_channels,
        "n_mels": d.n_mels,
        "win_ms": d.win_ms,
        "hop_ms": d.hop_ms,
    }


def cmd_data(args) -> int:
    from ssl_core.data import describe, open_source

    if args.list:
        return _data_list(args.json)
    if not args.spec:
        raise UserError("ssl-core data needs a data SPEC (e.g. digits, series:BasicMotions), or --list.")
    source = open_source(args.spec, download=args.download, **_data_options(args))
    if args.json:
        print(json.dumps(source.info.to_dict(), indent=2, default=str))
    else:
        print(describe(source))
    return 0


def _config_from_args(args) -> RunConfig:
    config = RunConfig.load(args.config) if args.config else RunConfig()
    sets = []
    flag_to_key = {
        "data": "data.spec",
        "method": "method.name",
        "backbone": "method.backbone",
        "epochs": "train.epochs",
        "max_steps": "train.max_steps",
        "batch_size": "train.batch_size",
        "lr": "train.lr",
        "image_size": "data.image_size",
        "modality": "data.modality",
        "length": "data.length",
        "device": "train.device",
        "seed": "train.seed",
        "runs_dir": "runs_dir",
        "name": "name",
        "devices": "train.processes",
    }
    for flag, key in flag_to_key.items():
        value = getattr(args, flag, None)
        if value is not None:
            sets.append(f"{key}={json.dumps(value)}")
    sets += [_method_param_alias(s) for s in args.set or []]
    return config.with_overrides(sets) if sets else config


def _method_param_alias(assignment: str) -> str:
    # `--set temperature=0.2` is short for `--set method.params.temperature=0.2`.
    key = assignment.split("=", 1)[0]
    return assignment if "." in key else f"method.params.{assignment}"


def _run_trainer(trainer, quiet: bool) -> int:
    from ssl_core.cli.progress import ProgressPrinter
    from ssl_core.distributed import from_env
    from ssl_core.train.events import RunFailed

    if not from_env().is_main:  # under torchrun: rank 0 speaks for the run
        return _run_quietly(trainer)
    printer = ProgressPrinter(quiet=quiet)
    trainer.events.subscribe(printer)
    failure: list[RunFailed] = []
    trainer.events.subscribe(lambda e: failure.append(e) if isinstance(e, RunFailed) else None)

    def on_sigint(signum, frame):  # first Ctrl+C stops cleanly (checkpoint saved), a second one aborts
        print("\nStopping after this step (press Ctrl+C again to abort)...", file=sys.stderr)
        trainer.control.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        result = trainer.run()
    finally:
        signal.signal(signal.SIGINT, previous)
        printer.close()
    if result.status == "failed":
        event = failure[-1] if failure else None
        if event is not None and not event.user_error and event.traceback:
            print(event.traceback, file=sys.stderr)
        print(f"error: {result.message}", file=sys.stderr)
        if result.run_dir and str(result.run_dir) not in ("", "."):
            print(result.run_dir)
        return EXIT_USER_ERROR if (event is None or event.user_error) else 1
    print(result.run_dir)
    if result.status == "stopped":
        print(
            f"Stopped at step {result.step}; continue with: ssl-core resume {result.run_dir}", file=sys.stderr
        )
    return 0


def _run_quietly(trainer) -> int:
    """A process other than rank 0: it trains, and prints only a bug (rank 0 reports user errors)."""
    from ssl_core.train.events import RunFailed

    logging.getLogger("ssl_core").setLevel(logging.ERROR)  # rank 0 logs the run's warnings once
    failure: list[RunFailed] = []
    trainer.events.subscribe(lambda e: failure.append(e) if isinstance(e, RunFailed) else None)
    result = trainer.run()
    if result.status != "failed":
        return 0
    event = failure[-1] if failure else None
    if event is not None and not event.user_error:
        print(event.traceback or f"error: {result.message}", file=sys.stderr)
        return 1
    return EXIT_USER_ERROR


def _controlled(trainer, control_dir: str | None):
    """Obey a control folder (pause/stop from the GUI or the --devices launcher) and tell it the run's
    folder once there is one."""
    if not control_dir:
        return trainer
    from ssl_core.distributed import from_env
    from ssl_core.train.events import RunStarted
    from ssl_core.train.file_control import FileControl, announce_run_dir

    trainer.control = FileControl(control_dir)
    if from_env().is_main:
        trainer.events.subscribe(
            lambda e: announce_run_dir(control_dir, e.run_dir) if isinstance(e, RunStarted) else None
        )
    return trainer


def _launched(args, command: list[str], processes: int, device: str) -> int | None:
    """Re-run this command in `processes` processes under torchrun (--devices N, or train.processes);
    None when this process should train itself."""
    from ssl_core.distributed.launch import check_processes, launch, under_torchrun

    if processes <= 1 or under_torchrun():
        return None
    check_processes(processes, device)
    cpu = device == "cpu" or (device == "auto" and not _cuda_available())
    return launch(command, processes, args.control, cpu)


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def cmd_train(args) -> int:
    from ssl_core.train.trainer import Trainer

    config = _config_from_args(args)
    if args.save_config:
        config.save(args.save_config)
    launched = _launched(args, args.argv, config.train.processes, config.train.device)
    if launched is not None:
        return launched
    return _run_trainer(_controlled(Trainer(config, download=args.download), args.control), args.quiet)


def _runs_dir(args) -> Path:
    """--runs-dir when given, else the folder shared with the GUI (ssl_core.runs.location)."""
    from ssl_core.runs.location import default_runs_dir

    return Path(args.runs_dir).expanduser() if args.runs_dir else default_runs_dir()


def _run_path(run: str, args) -> Path:
    """A run folder as given, or a run id (as `ssl-core runs` lists it) inside the runs folder."""
    from ssl_core.runs.location import resolve_run

    return resolve_run(run, args.runs_dir)


def cmd_resume(args) -> int:
    from ssl_core.runs import store
    from ssl_core.train.trainer import Trainer

    run_dir = _run_path(args.run_dir, args)
    if not args.devices:  # the process count the run was set up with (its config), unless --devices
        config = RunConfig.load(store.require_run_dir(run_dir).config)
        args.devices, device = config.train.processes, config.train.device
    else:
        device = RunConfig.load(store.require_run_dir(run_dir).config).train.device
    launched = _launched(args, args.argv, args.devices, device)
    if launched is not None:
        return launched
    trainer = Trainer.resume(run_dir)
    trainer.config.train.processes = args.devices  # --devices 1: one process this time, as asked
    return _run_trainer(_controlled(trainer, args.control), args.quiet)


def cmd_runs(args) -> int:
    from ssl_core.runs.store import list_runs

    runs_dir = _runs_dir(args)
    records = list_runs(runs_dir)
    if args.json:
        print(json.dumps([r.to_dict() for r in records], indent=2, default=str))
        return 0
    if not records:
        print(f"No runs in {runs_dir}.")
        return 0
    print(f"Runs in {runs_dir}:")
    rows = [
        [
            r.run_id,
            f"{r.method}, fine-tune of {r.parent}" if r.is_finetune else r.method,
            r.data,
            r.status,
            str(r.epochs),
            str(r.steps),
            "" if r.final_loss is None else f"{r.final_loss:.4f}",
            "" if r.few_label_probe is None else f"{r.few_label_probe:.3f} ({r.few_label_fraction * 100:g}%)",
            "" if r.probe_accuracy is None else f"{r.probe_accuracy:.3f}",
        ]
        for r in records
    ]
    header = [
        "run",
        "method",
        "data",
        "status",
        "epochs",
        "steps",
        "loss",
        "probe few labels",
        "probe all labels",
    ]
    print(_table(rows, header))
    return 0


# ---- parser -----------------------------------------------------------------------------------
def _add_process_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--devices",
        type=int,
        metavar="N",
        help="train in N processes, one per GPU (torch.distributed under torchrun; sets train.processes)",
    )
    p.add_argument(
        "--control",
        metavar="DIR",
        help="a folder through which another program pauses or stops the run (see ssl_core/train/file_control.py)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ssl-core", description="SSL Workbench engine: self-supervised learning."
    )
    parser.add_argument("--version", action="version", version=f"ssl-core {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("methods", help="list the SSL methods")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_methods)

    p = sub.add_parser("backbones", help="list the backbones")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_backbones)

    p = sub.add_parser(
        "data",
        help="describe a data source (digits, folder:PATH, npz:PATH, torchvision:NAME[:ROOT], "
        "series:NAME|PATH), or --list them",
    )
    p.add_argument("spec", nargs="?", help="a data spec; see --list")
    p.add_argument("--list", action="store_true", help="list the data kinds and the bundled time-series sets")
    p.add_argument("--image-size", type=int)
    p.add_argument("--channels", type=int)
    p.add_argument(
        "--modality",
        choices=["image", "series", "table"],
        help="read an ambiguous array as images, series or table rows",
    )
    p.add_argument("--length", type=int, help="series: pad or crop to this many time steps")
    p.add_argument(
        "--missing",
        choices=["refuse", "impute"],
        help="series: refuse NaN/inf values (default) or impute them",
    )
    p.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="a data setting, e.g. data.missing=impute"
    )
    p.add_argument("--download", action="store_true", help="allow torchvision datasets to download")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("train", help="train a new run")
    p.add_argument("--config", help="a TOML config file (as saved by a run or the GUI)")
    p.add_argument("--data", help="data spec (default: digits)")
    p.add_argument("--method", help="method name (see `ssl-core methods`)")
    p.add_argument("--backbone", help="backbone name (see `ssl-core backbones`)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--max-steps", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--image-size", type=int)
    p.add_argument(
        "--modality",
        choices=("image", "series", "table"),
        help="how to read an ambiguous array file: images, series or table rows (default: inferred)",
    )
    p.add_argument("--length", type=int, help="series: pad or crop every series to this many time steps")
    p.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--seed", type=int)
    p.add_argument(
        "--runs-dir",
        help="where runs are stored (default: $SSL_WORKBENCH_RUNS, else the per-user folder the GUI uses)",
    )
    p.add_argument("--name", help="a label added to the run id")
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override any config value, e.g. train.epochs=5 or temperature=0.2 (a method setting)",
    )
    p.add_argument("--save-config", metavar="FILE.toml", help="also write the resolved config to this file")
    p.add_argument("--download", action="store_true", help="allow torchvision datasets to download")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_process_options(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("resume", help="continue a run from its last checkpoint")
    p.add_argument("run_dir", help="the run's folder, or its id as `ssl-core runs` lists it")
    p.add_argument("--runs-dir", help="where to look for a run id (default: as `ssl-core runs`)")
    p.add_argument("--quiet", action="store_true")
    _add_process_options(p)
    p.set_defaults(func=cmd_resume)

    p = sub.add_parser("runs", help="list runs")
    p.add_argument(
        "--runs-dir",
        help="the runs folder (default: $SSL_WORKBENCH_RUNS, else the per-user folder the GUI uses)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_runs)

    try:
        from ssl_core.eval.cli import add_eval_parsers
    except ImportError:  # evaluation is optional at import time so a broken eval never blocks training
        add_eval_parsers = None
    if add_eval_parsers is not None:
        add_eval_parsers(sub)
        from ssl_core.report.cli import add_report_parser

        add_report_parser(sub)
        from ssl_core.finetune.cli import add_finetune_parser

        add_finetune_parser(sub)
    return parser


def _is_rank_zero() -> bool:
    from ssl_core.distributed import from_env

    return from_env().is_main


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv  # what --devices runs again under torchrun
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    if args.func not in (cmd_train, cmd_resume) and not _is_rank_zero():
        print("ssl-core: evaluation runs on rank 0 only; this process has nothing to do.", file=sys.stderr)
        return 0
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
