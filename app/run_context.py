"""What a tab says about the run it shows (name, method, data), so results are never read as being
about something else, e.g. the data now chosen in Setup, or a run whose folder has gone."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunContext:
    run_dir: Path
    method: str
    data: str
    has_config: bool
    has_checkpoint: bool

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


def run_context(run_dir: Path) -> RunContext:
    """Read the run's config (cheap: one small TOML file); a missing or broken one is reported, not raised."""
    from ssl_core.config import RunConfig
    from ssl_core.errors import UserError
    from ssl_core.methods import METHODS

    run_dir = Path(run_dir)
    has_checkpoint = (run_dir / "checkpoints" / "last.pt").is_file()
    try:
        config = RunConfig.load(run_dir / "config.toml")
    except UserError:
        return RunContext(run_dir, "", "", False, has_checkpoint)
    try:
        method = METHODS.get(config.method.name).title
    except Exception:  # noqa: BLE001 - an unknown method name still gets a caption
        method = config.method.name
    return RunContext(run_dir, method, config.data.spec, True, has_checkpoint)


def run_is_gone(run_dir: Path | None) -> bool:
    """True when the run's folder or its config.toml no longer exists (deleted or moved underneath)."""
    return run_dir is not None and not (Path(run_dir) / "config.toml").is_file()
