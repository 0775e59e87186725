"""What a tab says about the run it shows (name, method, data), so results are never read as being
about something else, e.g. the data now chosen in Setup, or a run whose folder has gone."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ssl_core.runs.store import RunPaths


@dataclass(frozen=True)
class RunContext:
    run_dir: Path
    method: str
    data: str
    has_config: bool
    has_checkpoint: bool
    modality: str = "image"  # the kind of data the run trained on (its summary says; older runs: images)
    training: bool = False  # a trainer (this app or the CLI) is training it now
    # What evaluation can hold out one group at a time ("voice", "file"): from the data the run recorded
    hold_out: tuple[str, ...] = ()

    def no_model_text(self, action: str) -> str:
        """Why there is no model to `action` with ("evaluate", "score samples with") in words that say
        what to do: wait for a run being trained, else resume or retrain one without a checkpoint."""
        if self.training:
            return (
                f"This run is training now. Its results appear here once it finishes; then {action} "
                "its model. The Train tab shows how it is going."
            )
        return (
            f"This run has no checkpoint ({file_names()[1]}), so there is no model to {action}; resume it "
            "from the Runs tab, or train a new run."
        )

    def _modality(self):
        from ssl_core.modalities import MODALITIES

        return MODALITIES.get(self.modality) if self.modality in MODALITIES else None

    @property
    def noun(self) -> str:
        """One sample of the run's data: "image", "series"."""
        m = self._modality()
        return m.noun if m is not None else "sample"

    @property
    def plural(self) -> str:
        m = self._modality()
        return m.plural if m is not None else "samples"

    @property
    def raw_title(self) -> str:
        """How evaluation names the raw-input baseline of the run's data ("raw pixels", "raw input")."""
        m = self._modality()
        return m.raw_title if m is not None else "raw input"

    @property
    def name(self) -> str:
        return self.run_dir.name

    def title_html(self) -> str:
        """'Run <b>NAME</b> · METHOD on DATA' for a caption above a tab's results."""
        text = f"Run <b>{html.escape(self.name)}</b>"
        if self.has_config:
            text += f" · {html.escape(self.method)} on {html.escape(self.data)}"
        return text

    def data_differs(self, setup_spec: str | None) -> bool:
        return bool(setup_spec) and self.has_config and setup_spec != self.data


def run_paths(run_dir: Path) -> RunPaths:
    """The run store's names for a run's files (imported here: the store imports torch)."""
    from ssl_core.runs.store import RunPaths

    return RunPaths(Path(run_dir))


def has_checkpoint(run_dir: Path | None) -> bool:
    """True when the run has a checkpoint to resume, look at, embed or evaluate."""
    return run_dir is not None and run_paths(run_dir).checkpoint.is_file()


def file_names() -> tuple[str, str]:
    """How a run's config and checkpoint are named inside its folder, for messages."""
    from ssl_core.runs import store

    return store.CONFIG, store.CHECKPOINT.as_posix()


def run_context(run_dir: Path) -> RunContext:
    """Read the run's config (cheap: one small TOML file); a missing or broken one is reported, not raised."""
    from ssl_core.config import RunConfig
    from ssl_core.errors import UserError
    from ssl_core.methods import METHODS
    from ssl_core.runs.store import effective_status, read_summary

    paths = run_paths(run_dir)
    has_ckpt = paths.checkpoint.is_file()
    summary = read_summary(paths.root)
    modality = str(summary.get("modality") or "image")
    training = effective_status(summary) == "running"
    info = summary.get("data_info")
    extra = info.get("extra") if isinstance(info, dict) else None
    hold_out = tuple(str(h) for h in (extra.get("hold_out") or [])) if isinstance(extra, dict) else ()
    try:
        config = RunConfig.load(paths.config)
    except UserError:
        return RunContext(paths.root, "", "", False, has_ckpt, modality, training, hold_out)
    try:
        method = METHODS.get(config.method.name).title
    except Exception:  # noqa: BLE001 - an unknown method name still gets a caption
        method = config.method.name
    return RunContext(paths.root, method, config.data.spec, True, has_ckpt, modality, training, hold_out)


def run_is_gone(run_dir: Path | None) -> bool:
    """True when the run's folder or its config file no longer exists (deleted or moved underneath)."""
    return run_dir is not None and not run_paths(run_dir).config.is_file()
