"""What a path given on the command line (`ssl-workbench PATH`, or a file a launcher passes with %f) is: a
run folder, an experiment config, data to train on, or nothing the app can open (with a one-line reason).

Qt-free. It asks the run store and the data sources, which import PyTorch, so call it once the engine is
loaded (MainWindow.when_ready), not during the launch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

RUN, CONFIG, DATA, MISSING, UNKNOWN = "run", "config", "data", "missing", "unknown"


@dataclass(frozen=True)
class LaunchTarget:
    kind: str  # RUN, CONFIG, DATA, MISSING or UNKNOWN
    path: Path  # absolute
    spec: str = ""  # the data spec that opens it (DATA only)
    message: str = ""  # why it cannot be opened, naming the path and what can be (MISSING, UNKNOWN)

    @property
    def openable(self) -> bool:
        return self.kind in (RUN, CONFIG, DATA)


def what_opens() -> str:
    """The kinds of path the app opens, in words."""
    from ssl_core.data.sources import DATA_FILE_SUFFIXES
    from ssl_core.runs.store import CONFIG as RUN_CONFIG
    from ssl_core.wording import spoken_list

    files = spoken_list(s for s in DATA_FILE_SUFFIXES if not s.endswith(".gz"))
    return (
        f"a run folder (one with a {RUN_CONFIG}), an experiment config (.toml), or data: a folder of "
        f"images or a {files} file"
    )


def as_path(text: str | Path) -> Path:
    """A command-line argument as an absolute path; file:// URLs (some launchers pass them) are accepted."""
    raw = str(text)
    if raw.startswith("file://"):
        raw = unquote(urlparse(raw).path)
    return Path(raw).expanduser().absolute()


def classify(text: str | Path) -> LaunchTarget:
    """Decide what `text` names. A folder holding a run's config is a run (even if it also holds images);
    any other folder is image data; a .toml file is a config; .npz/.npy/.ts/.csv/.tsv files are data."""
    from ssl_core.data.imagefile import is_image_name
    from ssl_core.data.sources import spec_for_path
    from ssl_core.runs.store import RunPaths

    path = as_path(text)
    if not path.exists():
        return LaunchTarget(MISSING, path, message=f"Cannot open {path}: it does not exist. {_opens()}")
    if path.is_dir() and RunPaths(path).config.is_file():
        return LaunchTarget(RUN, path)
    if path.is_file() and path.suffix.lower() == ".toml":
        return LaunchTarget(CONFIG, path)
    spec = spec_for_path(path)
    if spec is not None:
        return LaunchTarget(DATA, path, spec=spec)
    hint = ""
    if path.is_file() and is_image_name(path.name):
        hint = f" To train on images, open the folder that holds them ({path.parent})."
    return LaunchTarget(
        UNKNOWN,
        path,
        message=f"Cannot open {path}: SSL Workbench does not know this kind of file.{hint} {_opens()}",
    )


def _opens() -> str:
    return f"It opens {what_opens()}."
