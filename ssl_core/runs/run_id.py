"""Run ids: readable, unique, and safe as a single folder name (no path traversal)."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from ssl_core.errors import UserError

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def slug(text: str, limit: int = 40) -> str:
    cleaned = _UNSAFE.sub("-", text).strip("-.")
    return cleaned[:limit] or "run"


def new_run_id(runs_dir: Path, method: str, data_spec: str, name: str = "") -> str:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    data_label = Path(data_spec.split(":", 1)[-1]).name if ":" in data_spec else data_spec
    base = "-".join(p for p in (stamp, slug(name) if name else "", slug(method), slug(data_label)) if p)
    candidate, n = base, 1
    while (runs_dir / candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def safe_child(parent: Path, name: str) -> Path:
    """parent/name, refusing names that would escape `parent`."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or _UNSAFE.sub("", name) != name:
        raise UserError(
            f"{name!r} is not a valid run id; use letters, digits, '.', '_' and '-'.", field="run id"
        )
    child = (parent / name).resolve()
    if child.parent != parent.resolve():
        raise UserError(f"{name!r} is not a valid run id.", field="run id")
    return child
