"""A few previews kept on disk during training, so a run report can show the views or reconstructions at
several points of the run (the live previews themselves are shown and forgotten).

RUN/previews/ holds one compressed .npz per kept preview and index.json listing them. A preview is kept at
the first step, at each quarter of the planned steps, and at the run's last step (a time limit or a stop
can end a run early); ARCHIVE_POINTS sets how many planned points there are. Image grids are stored as
8-bit pixels (they are in [0, 1]), other payloads as float32. Arrays load with allow_pickle=False.
"""

from __future__ import annotations

import io
import json
import logging
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ssl_core.runs.atomic import atomic_write_bytes, atomic_write_json

log = logging.getLogger(__name__)

ARCHIVE_DIR = "previews"
INDEX_FILE = "index.json"
ARCHIVE_POINTS = 5  # the first step, then 25%, 50%, 75% and 100% of the planned steps
IMAGE_GRID = "image_grid"


def archive_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / ARCHIVE_DIR


def planned_steps(total_steps: int, points: int = ARCHIVE_POINTS) -> set[int]:
    """The steps at which a preview is kept: step 1 and `points - 1` evenly spaced steps up to the last."""
    total = max(int(total_steps), 1)
    return {1} | {max(1, round(total * i / (points - 1))) for i in range(1, points)}


@dataclass
class ArchivedPreview:
    """One kept preview, as read back: the arrays by name and what was said about them."""

    step: int
    total_steps: int
    kind: str  # the Preview's kind: "views", "reconstruction", ...
    payload: str  # how to draw it: "image_grid", "signal", "table_rows"
    arrays: dict[str, np.ndarray]  # name -> (n, ...) float32 in the payload's range
    captions: dict[str, list[str]] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def progress(self) -> float:
        """How far through the planned run this preview was taken, 0 to 1."""
        return min(1.0, self.step / max(self.total_steps, 1))


def _json_safe(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return str(value)
    return value


class PreviewArchive:
    """Keeps previews of one run at `planned_steps` and at its final step (see the module docstring)."""

    def __init__(self, run_dir: str | Path, total_steps: int, points: int = ARCHIVE_POINTS):
        self.folder = archive_dir(run_dir)
        self.total_steps = int(total_steps)
        self.steps = planned_steps(total_steps, points)
        self.enabled = True
        self.entries = [e for e in _read_index(self.folder) if isinstance(e, dict) and "step" in e]

    def due(self, step: int, final: bool = False) -> bool:
        """Whether a preview should be kept at `step` (a planned step, or the last one, not kept yet)."""
        if not self.enabled or any(e["step"] == step for e in self.entries):
            return False
        return final or step in self.steps

    def save(self, step: int, preview) -> None:
        """Keep `preview` (a methods.base.Preview with CPU tensors) as the one of `step`.

        A folder that refuses the write turns the archive off with a warning: the report then shows fewer
        previews, and training goes on."""
        arrays, dtypes = {}, {}
        for i, (name, tensor) in enumerate(preview.images.items()):
            values = tensor.detach().float().cpu().numpy()
            if preview.payload == IMAGE_GRID:  # 8-bit pixels: a quarter of the size, the same picture
                values = np.rint(np.clip(values, 0.0, 1.0) * 255).astype(np.uint8)
            arrays[f"a{i}"], dtypes[name] = values, str(values.dtype)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        file = f"step-{step:08d}.npz"
        entry = {
            "step": int(step),
            "total_steps": self.total_steps,
            "file": file,
            "kind": preview.kind,
            "payload": preview.payload,
            "names": list(preview.images),
            "dtypes": dtypes,
            "captions": {k: [str(c) for c in v] for k, v in (preview.captions or {}).items()},
            "meta": {k: _json_safe(v) for k, v in (preview.meta or {}).items()},
        }
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(self.folder / file, buffer.getvalue())
            self.entries = sorted([*self.entries, entry], key=lambda e: e["step"])
            atomic_write_json(self.folder / INDEX_FILE, {"previews": self.entries})
        except OSError as exc:
            self.enabled = False
            log.warning("previews for the run report are not kept: %s", exc)


def _read_index(folder: Path) -> list[Any]:
    try:
        data = json.loads((folder / INDEX_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return []
    previews = data.get("previews") if isinstance(data, dict) else None
    return previews if isinstance(previews, list) else []


def read_archive(run_dir: str | Path) -> list[ArchivedPreview]:
    """The previews kept for a run, by step; damaged or missing files are skipped."""
    folder = archive_dir(run_dir)
    found = []
    for entry in _read_index(folder):
        try:
            with np.load(folder / entry["file"], allow_pickle=False) as data:
                arrays = {}
                for i, name in enumerate(entry["names"]):
                    values = data[f"a{i}"]
                    arrays[name] = (
                        values.astype(np.float32) / 255.0
                        if values.dtype == np.uint8
                        else values.astype(np.float32)
                    )
            found.append(
                ArchivedPreview(
                    step=int(entry["step"]),
                    total_steps=int(entry.get("total_steps") or entry["step"]),
                    kind=str(entry.get("kind", "")),
                    payload=str(entry.get("payload", IMAGE_GRID)),
                    arrays=arrays,
                    captions=dict(entry.get("captions") or {}),
                    meta=dict(entry.get("meta") or {}),
                )
            )
        except (OSError, KeyError, TypeError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            # a truncated file (a full disk, a copy cut short) is a BadZipFile
            log.info("skipping a kept preview in %s: %s", folder, exc)
    return sorted(found, key=lambda p: p.step)
