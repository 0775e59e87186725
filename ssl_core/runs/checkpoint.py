"""Checkpoints: written atomically, loaded with weights_only=True (no code runs on load)."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from ssl_core.errors import UserError
from ssl_core.runs.atomic import atomic_write_bytes

# What a damaged file can make torch.load raise (weights_only refusals are UnpicklingError).
_LOAD_ERRORS = (
    pickle.UnpicklingError,
    RuntimeError,
    EOFError,
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    AttributeError,
    UnicodeDecodeError,
    zipfile.BadZipFile,
)


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise UserError(
            f"No checkpoint at {path}; the run has not finished an epoch yet. Train it longer or pick another run.",
            path=str(path),
        )
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except OSError as exc:
        raise UserError(
            f"Checkpoint {path} cannot be read ({exc.strerror or exc}); check the file and the disk.",
            path=str(path),
        ) from None
    except _LOAD_ERRORS as exc:
        # torch's messages run to several sentences of advice; the first names the problem.
        first = str(exc).strip().splitlines()[0].split(". ")[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"Checkpoint {path} cannot be loaded safely ({first}); it is damaged or not from SSL Workbench.",
            path=str(path),
        ) from None
    if not isinstance(state, dict):
        raise UserError(
            f"Checkpoint {path} holds a {type(state).__name__}, not a checkpoint; it is not from SSL Workbench.",
            path=str(path),
        )
    return state
