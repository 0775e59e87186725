"""The run configuration: one schema for the CLI, config files, the GUI and saved runs (TOML)."""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import tomli_w

from ssl_core.config_schema import check_config
from ssl_core.errors import UserError
from ssl_core.runs.location import default_runs_dir

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass
class DataConfig:
    spec: str = "digits"
    # None: the source decides (an array's rank, a key's name); "image" or "series" where it is ambiguous.
    modality: str | None = None
    length: int | None = None  # series: pad or crop every series to this many steps (None: the longest)
    missing: str = "refuse"  # series: NaN/inf values are "refuse"d with a message, or "impute"d (see data)
    # Tables (csv:, table:): which column holds the classes, which identifies rows, which to leave out and
    # which to treat as categorical whatever their values look like. None / []: inferred.
    label_column: str | None = None
    id_column: str | None = None
    ignore_columns: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    # Text (text:): the tokenizer trained on the training split and its vocabulary size (the embedding
    # tables' rows), what one sample of a .txt file is, and a CSV's text column (None: the longest texts).
    # `length` is the most tokens per text ([CLS] and [SEP] included; None: 64).
    tokenizer: str = "bpe"
    vocab_size: int = 2000
    text_unit: str = "auto"
    text_column: str | None = None
    # Audio (audio:): clips of clip_seconds at sample_rate Hz, "mono" (channels averaged) or "keep" (the
    # files' channels); the log-mel front end's mel bands, window and hop (mel backbones, spectrogram methods).
    sample_rate: int = 16000
    clip_seconds: float = 1.0
    audio_channels: str = "mono"
    n_mels: int = 64
    win_ms: float = 25.0
    hop_ms: float = 10.0
    # Anomaly detection: train on "all" training samples, or only on those whose label is a normal class.
    train_on: str = "all"
    normal_classes: list[str] = field(
        default_factory=list
    )  # class names counted as normal; []: the most common
    image_size: int | None = None  # None: the source's natural size (digits: 8; folders: see data/folder.py)
    channels: int | None = None  # None keeps the source's own channel count
    val_fraction: float = 0.2
    memory_budget_mb: int = 2048  # larger datasets stream from disk through a DataLoader
    num_workers: int = 2


@dataclass
class MethodConfig:
    name: str = "simclr"
    # "auto": the data's default backbone (small_cnn for images, cnn1d for series; see ssl_core/modalities)
    backbone: str = "auto"
    params: dict[str, Any] = field(default_factory=dict)  # overrides of the method's defaults
    # Overrides of the backbone's settings (the MLP's width, depth, dropout; `ssl-core backbones` lists
    # them), checked against the backbone's own ParamSet when the network is built.
    backbone_params: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainConfig:
    epochs: int = 10
    max_steps: int | None = None
    batch_size: int | None = None  # None: the method's default, capped by the dataset size
    lr: float | None = None  # None: the method's default, scaled by batch size / 256
    weight_decay: float | None = None
    warmup_epochs: float | None = None
    grad_clip: float = 3.0
    device: str = "auto"  # auto, cpu, cuda, cuda:N, mps
    amp: bool = True  # mixed precision where supported: CUDA, and CPUs with native bf16 (AMX)
    seed: int = 0
    checkpoint_every_epochs: int = 1
    compile: bool = False  # torch.compile the networks: slow first step; pays off on GPUs (train/perf.py)
    # Seconds of training after which the run ends as completed (0: none), so a demo or a race takes the same
    # minute on any machine: a GPU does more steps in it. Counted from the first step of this start or resume.
    time_limit_s: float = 0.0
    # Processes on this machine, one per GPU (data-parallel, torch.distributed): > 1 launches torchrun.
    processes: int = 1
    sync_batchnorm: bool = False  # BatchNorm statistics over every process's batch (CUDA only)


@dataclass
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    method: MethodConfig = field(default_factory=MethodConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    runs_dir: str = field(default_factory=lambda: str(default_runs_dir()))  # shared with the GUI
    name: str = ""  # optional label, part of the run id

    # ---- (de)serialisation -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return _drop_none(asdict(self))

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, raw: dict[str, Any], source: str = "config") -> RunConfig:
        if not isinstance(raw, dict):
            raise UserError(f"{source}: expected a table of settings.")
        raw = dict(raw)
        sections = {"data": DataConfig, "method": MethodConfig, "train": TrainConfig}
        kwargs: dict[str, Any] = {}
        for key, value in raw.items():
            if key in sections:
                kwargs[key] = _build_section(sections[key], value, f"{source}: [{key}]", key)
            elif key in ("runs_dir", "name"):
                if isinstance(value, dict | list):
                    raise UserError(f"{source}: {key} must be a string; got {value!r}.", field=key)
                kwargs[key] = str(value)
            else:
                known = ", ".join([*sections, "runs_dir", "name"])
                raise UserError(f"{source}: unknown key {key!r}; known keys are {known}.", field=key)
        cfg = cls(**kwargs)
        cfg.validate(source)
        return cfg

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        path = Path(path)
        if path.is_dir():
            raise UserError(f"Config file {path} is a folder; give the path of a .toml file.", path=str(path))
        if path.exists() and not path.is_file():  # a pipe or a device: reading it could block
            raise UserError(
                f"Config file {path} is not a regular file; save the settings to a .toml file.",
                path=str(path),
            )
        if not path.is_file():
            raise UserError(f"Config file {path} does not exist; check the path.", path=str(path))
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise UserError(f"Config file {path} is not valid TOML: {exc}.", path=str(path)) from None
        except OSError as exc:
            raise UserError(
                f"Config file {path} cannot be read ({exc.strerror or exc}); check its permissions.",
                path=str(path),
            ) from None
        return cls.from_dict(raw, source=str(path))

    def save(self, path: str | Path) -> None:
        from ssl_core.runs.atomic import atomic_write_text

        atomic_write_text(Path(path), self.to_toml())

    # ---- overrides -----------------------------------------------------------------------
    def with_overrides(self, assignments: list[str]) -> RunConfig:
        """Apply `--set section.key=value` assignments (values parsed as TOML, else as strings)."""
        raw = self.to_dict()
        for item in assignments:
            if "=" not in item:
                raise UserError(f"--set {item!r}: write it as key=value, e.g. train.epochs=5.")
            key, _, text = item.partition("=")
            path = [p for p in key.strip().split(".") if p]
            if not path:
                raise UserError(f"--set {item!r}: the key is empty.")
            value = _parse_value(text.strip())
            node = raw
            for part in path[:-1]:
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    raise UserError(f"--set {item!r}: {part} is not a section.")
            node[path[-1]] = value
        return RunConfig.from_dict(raw, source="--set")

    # ---- checks --------------------------------------------------------------------------
    def validate(self, source: str = "config") -> None:
        """Check every setting against the schema (ssl_core.config_schema: types, ranges, choices)."""
        check_config(self, source)
        if not self.data.spec:
            raise UserError(
                f"{source}: data.spec is empty; use e.g. digits or folder:PATH.", field="data.spec"
            )


def _parse_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _build_section(cls, value: Any, where: str, prefix: str):
    if not isinstance(value, dict):
        raise UserError(f"{where} must be a table of settings.", field=prefix)
    known = {f.name: f for f in fields(cls)}
    kwargs = {}
    for key, item in value.items():
        if key not in known:
            raise UserError(
                f"{where}: unknown key {key!r}; known keys are {', '.join(known)}.", field=f"{prefix}.{key}"
            )
        kwargs[key] = _coerce_field(known[key], item, f"{prefix}.{key}", where)
    return cls(**kwargs)


def _coerce_field(f, value: Any, name: str, where: str) -> Any:
    annotation = str(f.type)
    if annotation.startswith("list"):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
            raise UserError(f'{where}: {name} must be a list of names, e.g. ["a", "b"].', field=name)
        return [str(v) for v in value]
    if "dict" in annotation:
        if not isinstance(value, dict):
            raise UserError(f"{where}: {name} must be a table.", field=name)
        return dict(value)
    optional = "None" in annotation
    if value is None or (optional and isinstance(value, str) and value.lower() in ("none", "auto", "")):
        if optional:
            return None
        raise UserError(f"{where}: {name} needs a value.", field=name)
    try:
        if annotation.startswith("bool"):
            if not isinstance(value, bool):
                raise TypeError
            return value
        if annotation.startswith("int"):
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise TypeError
            return int(value)
        if annotation.startswith("float"):
            if isinstance(value, bool):
                raise TypeError
            return float(value)
        if annotation.startswith("str"):
            if isinstance(value, dict | list):
                raise TypeError
            return str(value)
    except (TypeError, ValueError):
        kind = annotation.split(" ")[0].split("|")[0]
        raise UserError(f"{where}: {name} must be {kind}; got {value!r}.", field=name) from None
    return value


def _drop_none(value):
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    return value
