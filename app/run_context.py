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
    from ssl_core.runs.store import read_summary

    paths = run_paths(run_dir)
    has_ckpt = paths.checkpoint.is_file()
    modality = str(read_summary(paths.root).get("modality") or "image")
    try:
        config = RunConfig.load(paths.config)
    except UserError:
        return RunContext(paths.root, "", "", False, has_ckpt, modality)
    try:
        method = METHODS.get(config.method.name).title
    except Exception:  # noqa: BLE001 - an unknown method name still gets a caption
        method = config.method.name
    return RunContext(paths.root, method, config.data.spec, True, has_ckpt, modality)


def run_is_gone(run_dir: Path | None) -> bool:
    """True when the run's folder or its config file no longer exists (deleted or moved underneath)."""
    return run_dir is not None and not run_paths(run_dir).config.is_file()
