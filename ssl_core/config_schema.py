"""The config schema: each setting of a RunConfig with its type, range or choices, and help text.

`RunConfig.validate` checks values against it, and forms (the GUI's training settings) build their
editors from it, so a range, a help text or a label is written once, here. Defaults are not restated:
`ConfigField.default` reads the dataclasses of ssl_core.config, which stay the one place for them.

    from ssl_core.config_schema import SCHEMA
    epochs = SCHEMA["train.epochs"]
    epochs.low, epochs.high, epochs.default, epochs.describe()
    epochs.check(0, "exp.toml")  # UserError: exp.toml: train.epochs = 0 is out of range; use 1 to 100000.

Nothing here imports torch or Qt (the GUI reads it before the engine is loaded).
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ssl_core.errors import UserError
from ssl_core.wording import spoken_list

SECTIONS = ("data", "method", "train")


@dataclass(frozen=True)
class ConfigField:
    """One setting: `key` is "section.name" ("train.epochs") or a top-level name ("runs_dir")."""

    key: str
    type: type  # int, float, bool or str
    help: str  # one or two plain sentences, shown as a tooltip and in listings
    low: float | None = None  # inclusive bounds of int and float settings; None: unbounded
    high: float | None = None
    choices: tuple[Any, ...] = ()  # the accepted values, when only some are
    choice_words: tuple[str, ...] = ()  # a plain word for each choice, e.g. ("grayscale", "colour")
    optional: bool = False  # None (empty) is accepted; `none_label` says what it means
    none_label: str = ""  # a few words for None: "Method default", "No limit", "Native"
    label: str = ""  # the form's label; default: the name, capitalised
    log_scale: bool = False  # editors step it by factors (learning rates, weight decay)
    step: float | None = None  # a sensible increment for editors of float settings

    # ---- naming ------------------------------------------------------------------------------
    @property
    def section(self) -> str:
        """The section: data, method or train; "" for a top-level setting."""
        section, sep, _ = self.key.partition(".")
        return section if sep else ""

    @property
    def name(self) -> str:
        return self.key.rpartition(".")[2]

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    # ---- values ------------------------------------------------------------------------------
    @property
    def default(self) -> Any:
        """The dataclasses' default (ssl_core.config), so defaults live in one place."""
        from ssl_core.config import RunConfig

        return self.value_of(RunConfig())

    def value_of(self, config: Any) -> Any:
        """This setting's value in a RunConfig."""
        owner = getattr(config, self.section) if self.section else config
        return getattr(owner, self.name)

    def set_on(self, config: Any, value: Any) -> None:
        """Set this setting in a RunConfig (unchecked: call `config.validate` when done)."""
        owner = getattr(config, self.section) if self.section else config
        setattr(owner, self.name, value)

    def check(self, value: Any, source: str = "config") -> None:
        """Raise a UserError naming `source`, the key and what to use when `value` is not accepted."""
        key = self.key
        if value is None:
            if self.optional:
                return
            raise UserError(f"{source}: {key} needs a value.", field=key)
        if self.type is list:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise UserError(f"{source}: {key} must be a list of names; got {value!r}.", field=key)
            return
        if self.type in (int, float):
            if not self._is_number(value):
                kind = "a whole number" if self.type is int else "a number"
                raise UserError(f"{source}: {key} must be {kind}; got {value!r}.", field=key)
            if not self._in_range(value):
                raise UserError(
                    f"{source}: {key} = {value} is out of range; use {self.range_text()}.", field=key
                )
        if self.choices and value not in self.choices:
            raise UserError(f"{source}: {key} must be {self.choices_text()}; got {value!r}.", field=key)

    def _is_number(self, value: Any) -> bool:
        """Ints for int settings, any real number for float ones (numpy scalars too); never a bool."""
        if isinstance(value, bool):
            return False
        return isinstance(value, numbers.Integral if self.type is int else numbers.Real)

    def _in_range(self, value: float) -> bool:
        if value != value:  # NaN
            return False
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    def problem(self, value: Any) -> str | None:
        """What is wrong with `value`, in words for the form beside the field (None when it is fine)."""
        try:
            self.check(value)
        except UserError:
            if value is None:
                return f"{self.title} needs a value."
            if self.choices:
                return f"{self.title} must be {self.choices_text()}."
            kind = "a whole number" if self.type is int else "a number"
            span = self.range_text()
            return f"{self.title} must be {kind}" + (f" from {span}." if " to " in span else f", {span}.")
        return None

    # ---- words -------------------------------------------------------------------------------
    def range_text(self) -> str:
        """The accepted range in words (1 to 100000, 2 or more, at most 10); "" when unbounded."""
        if self.low is not None and self.high is not None:
            return f"{self.low} to {self.high}"
        if self.low is not None:
            return f"{self.low} or more"
        if self.high is not None:
            return f"at most {self.high}"
        return ""

    def choices_text(self) -> str:
        """The choices in words: 1 (grayscale) or 3 (colour); refuse or impute."""
        words = [
            f"{c} ({w})" if w else str(c)
            for c, w in zip(self.choices, self.choice_words or ("",) * len(self.choices), strict=True)
        ]
        return spoken_list(words)

    def describe(self) -> str:
        """Help, range or choices, and default, as one plain paragraph (a tooltip, a listing)."""
        parts = [self.help]
        if self.choices:
            parts.append(f"Choices: {self.choices_text()}.")
        elif self.range_text():
            parts.append(f"Range: {self.range_text()}.")
        default = self.default
        if default is None or default == "":
            parts.append(f"Default: {self.none_label or 'none'}.")
        else:
            parts.append(f"Default: {str(default).lower() if isinstance(default, bool) else default}.")
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "type": self.type.__name__,
            "title": self.title,
            "help": self.help,
            "low": self.low,
            "high": self.high,
            "choices": list(self.choices),
            "optional": self.optional,
            "none_label": self.none_label,
            "default": self.default,
            "log_scale": self.log_scale,
        }


METHOD_DEFAULT = "Method default"

_FIELDS = (
    # ---- [data] ------------------------------------------------------------------------------
    ConfigField(
        "data.spec",
        str,
        "The data to train on, as a spec such as digits, folder:PATH or series:NAME "
        "(`ssl-core data --list` lists the kinds).",
        label="Data",
    ),
    ConfigField(
        "data.modality",
        str,
        "The kind of data, where the source alone cannot tell (an array file): image, series, table, text "
        "or audio.",
        choices=("image", "series", "table", "text", "audio"),
        optional=True,
        none_label="Inferred from the data",
        label="Kind of data",
    ),
    ConfigField(
        "data.length",
        int,
        "Series: pad or crop every series to this many time steps. Text: the most tokens per text, [CLS] "
        "and [SEP] included (4 to 4096; empty: 64).",
        low=2,
        optional=True,
        none_label="The longest series (text: 64 tokens)",
        label="Series length",
    ),
    ConfigField(
        "data.missing",
        str,
        "Series: missing values (NaN or infinite) are refused with a message naming the file, or imputed.",
        choices=("refuse", "impute"),
        label="Missing values",
    ),
    ConfigField(
        "data.label_column",
        str,
        "Tables and text CSVs: the column that holds each row's class (or normal / anomaly); empty: a column "
        "named label, class, target, y or anomaly (text: also category), if there is one.",
        optional=True,
        none_label="Inferred",
        label="Label column",
    ),
    ConfigField(
        "data.id_column",
        str,
        "Tables: the column that identifies rows; it is not a feature, and scoring output repeats it.",
        optional=True,
        none_label="Inferred",
        label="Id column",
    ),
    ConfigField(
        "data.ignore_columns",
        list,
        "Tables: columns left out of the features.",
        label="Ignored columns",
    ),
    ConfigField(
        "data.categorical",
        list,
        "Tables: columns treated as categories even where their values are numbers.",
        label="Categorical columns",
    ),
    ConfigField(
        "data.tokenizer",
        str,
        "Text: how texts are cut into tokens, learned from the training texts when a run starts: byte-level "
        "BPE (GPT-2 style subwords), WordPiece (BERT style, lower-cased) or single characters (tiny corpora).",
        choices=("bpe", "wordpiece", "char"),
        choice_words=("byte-level BPE", "WordPiece", "characters"),
        label="Tokenizer",
    ),
    ConfigField(
        "data.vocab_size",
        int,
        "Text: how many different tokens the tokenizer learns (the rows of the model's embedding table); "
        "a corpus too small to reach it is refused with the largest size it allows.",
        low=16,
        high=200_000,
        label="Vocabulary size",
    ),
    ConfigField(
        "data.text_unit",
        str,
        "Text: what one sample of a .txt file is: inferred (paragraphs when blank lines separate multi-line "
        "blocks, else lines; in a folder, each file), each line, each paragraph, or each whole file.",
        choices=("auto", "line", "paragraph", "file"),
        choice_words=("inferred", "one per line", "one per paragraph", "one per file"),
        label="Sample",
    ),
    ConfigField(
        "data.text_column",
        str,
        "Text in a CSV/TSV file: the column that holds the text; empty: the column with the longest texts.",
        optional=True,
        none_label="Inferred",
        label="Text column",
    ),
    ConfigField(
        "data.sample_rate",
        int,
        "Audio: every file is resampled to this rate (Hz) with an anti-aliasing resampler; 16000 suits "
        "speech, 22050 or 44100 keeps more of music's highs (and costs more).",
        low=2000,
        high=96000,
        label="Sample rate (Hz)",
    ),
    ConfigField(
        "data.clip_seconds",
        float,
        "Audio: the length of one clip; long files give several clips (at most 200, spread over the file), "
        "a short file one clip padded with silence.",
        low=0.05,
        high=30.0,
        step=0.25,
        label="Clip length (s)",
    ),
    ConfigField(
        "data.audio_channels",
        str,
        "Audio: mix every file to one channel, or keep the files' channels (mono files are then repeated "
        "onto each channel).",
        choices=("mono", "keep"),
        choice_words=("mixed to mono", "as recorded"),
        label="Channels",
    ),
    ConfigField(
        "data.n_mels",
        int,
        "Audio: mel bands of the log-mel spectrogram (the mel backbone's and spectrogram methods' input).",
        low=8,
        high=256,
        label="Mel bands",
    ),
    ConfigField(
        "data.win_ms",
        float,
        "Audio: the spectrogram's analysis window, in milliseconds.",
        low=5.0,
        high=200.0,
        step=5.0,
        label="Window (ms)",
    ),
    ConfigField(
        "data.hop_ms",
        float,
        "Audio: the step between spectrogram frames, in milliseconds (at most the window).",
        low=1.0,
        high=100.0,
        step=1.0,
        label="Hop (ms)",
    ),
    ConfigField(
        "data.train_on",
        str,
        "Train on all training samples, or only on those of the normal classes (anomaly detection).",
        choices=("all", "normal"),
        choice_words=("every sample", "normal samples only"),
        label="Train on",
    ),
    ConfigField(
        "data.normal_classes",
        list,
        "Anomaly detection: the classes that count as normal; empty: the most common class.",
        label="Normal classes",
    ),
    ConfigField(
        "data.image_size",
        int,
        "Images are resized to this square size for training (Native: keep their size).",
        low=4,
        high=1024,
        optional=True,
        none_label="Native",
        label="Image size",
    ),
    ConfigField(
        "data.channels",
        int,
        "Convert every image to grayscale or colour, or keep what the files have.",
        low=1,
        high=3,
        choices=(1, 3),
        choice_words=("grayscale", "colour"),
        optional=True,
        none_label="Keep the source's colours",
        label="Colours",
    ),
    ConfigField(
        "data.val_fraction",
        float,
        "Share of the samples held out from training, used to measure accuracy.",
        low=0.0,
        high=0.9,
        step=0.05,
        label="Held-out share",
    ),
    ConfigField(
        "data.memory_budget_mb",
        int,
        "Data larger than this (MB, decoded) streams from disk through a DataLoader instead of being "
        "held in memory.",
        low=1,
        high=1 << 20,
        label="Memory budget (MB)",
    ),
    ConfigField(
        "data.num_workers",
        int,
        "Worker processes that read data streamed from disk (0: read it on the training thread).",
        low=0,
        high=64,
        label="Data workers",
    ),
    # ---- [method] ----------------------------------------------------------------------------
    # method.params and method.backbone_params are not listed here: their keys, ranges and help come from
    # the chosen method's and backbone's own ParamSets (ssl_core.params), which check them at build time.
    ConfigField(
        "method.name",
        str,
        "The self-supervised method (`ssl-core methods` lists them).",
        label="Method",
    ),
    ConfigField(
        "method.backbone",
        str,
        "The network that turns a sample into features (`ssl-core backbones` lists them); auto: the "
        "data's default (small_cnn for images, cnn1d for series).",
        label="Backbone",
    ),
    # ---- [train] -----------------------------------------------------------------------------
    ConfigField(
        "train.epochs",
        int,
        "How many times training goes through all the data.",
        low=1,
        high=100_000,
        label="Epochs",
    ),
    ConfigField(
        "train.max_steps",
        int,
        "Stop after this many optimizer steps (No limit: train every epoch; a small limit is handy for "
        "a quick try).",
        low=1,
        high=10**9,
        optional=True,
        none_label="No limit",
        label="Step limit",
    ),
    ConfigField(
        "train.batch_size",
        int,
        "Samples per step. Method default: the method's own, capped by the data size.",
        low=2,
        high=65_536,
        optional=True,
        none_label=METHOD_DEFAULT,
        label="Batch size",
    ),
    ConfigField(
        "train.lr",
        float,
        "Learning rate. Method default: the method's rate scaled by batch size / 256.",
        low=1e-8,
        high=10.0,
        optional=True,
        none_label=METHOD_DEFAULT,
        label="Learning rate",
        log_scale=True,
    ),
    ConfigField(
        "train.weight_decay",
        float,
        "Weight decay of the optimizer (Method default: the method's own).",
        low=0.0,
        high=1.0,
        optional=True,
        none_label=METHOD_DEFAULT,
        label="Weight decay",
        log_scale=True,
    ),
    ConfigField(
        "train.warmup_epochs",
        float,
        "Epochs over which the learning rate ramps up from zero (Method default: the method's own).",
        low=0.0,
        high=1000.0,
        optional=True,
        none_label=METHOD_DEFAULT,
        label="Warm-up epochs",
    ),
    ConfigField(
        "train.grad_clip",
        float,
        "Gradients are rescaled so their norm is at most this (0: no clipping).",
        low=0.0,
        high=1e6,
        label="Gradient clip",
    ),
    ConfigField(
        "train.device",
        str,
        "Where training runs: auto (a GPU when there is one, else the CPU), cpu, cuda, cuda:N or mps.",
        label="Device",
    ),
    ConfigField(
        "train.amp",
        bool,
        "Mixed precision where supported (CUDA, and CPUs with native bfloat16): faster, same results "
        "within noise.",
        label="Mixed precision",
    ),
    ConfigField(
        "train.seed",
        int,
        "Random seed: the same seed and settings give the same run.",
        low=0,
        high=2**31 - 1,
        label="Random seed",
    ),
    ConfigField(
        "train.checkpoint_every_epochs",
        int,
        "Save a checkpoint every this many epochs (and always at the end, or when stopped).",
        low=1,
        high=10_000,
        label="Checkpoint every (epochs)",
    ),
    ConfigField(
        "train.time_limit_s",
        float,
        "End the run (as finished, with a checkpoint) after this many seconds of training, even before its "
        "epochs are done; 0 means no limit. A faster machine does more steps in the same time.",
        low=0.0,
        high=7 * 24 * 3600.0,
        label="Time limit (s)",
    ),
    ConfigField(
        "train.compile",
        bool,
        "torch.compile the networks: a slow first step that pays off on GPUs.",
        label="Compile",
    ),
    ConfigField(
        "train.processes",
        int,
        "Training processes on this machine, one per GPU (data-parallel with torch.distributed): more than "
        "1 launches the run under torchrun. train.batch_size stays the global batch, split between them.",
        low=1,
        high=1024,
        label="Processes (GPUs)",
    ),
    ConfigField(
        "train.sync_batchnorm",
        bool,
        "With several processes, BatchNorm layers use the statistics of the whole global batch "
        "(SyncBatchNorm; CUDA only) instead of each process's share.",
        label="Synchronised BatchNorm",
    ),
    # ---- top level ---------------------------------------------------------------------------
    ConfigField("runs_dir", str, "Where runs (checkpoints, curves, results) are saved.", label="Runs folder"),
    ConfigField(
        "name", str, "An optional label; it becomes part of the run's folder name.", label="Run name"
    ),
)

SCHEMA: dict[str, ConfigField] = {f.key: f for f in _FIELDS}


def fields_of(section: str) -> list[ConfigField]:
    """The settings of one section ("data", "method", "train"; "" for the top level), in order."""
    return [f for f in _FIELDS if f.section == section]


def iter_fields() -> Iterator[ConfigField]:
    return iter(_FIELDS)


def check_config(config: Any, source: str = "config") -> None:
    """Check every setting of a RunConfig against the schema; the first problem raises a UserError."""
    for f in _FIELDS:
        f.check(f.value_of(config), source)


__all__ = ["SCHEMA", "SECTIONS", "ConfigField", "check_config", "fields_of", "iter_fields"]
