"""docs/method_defaults.md cannot drift from the registry: every joint-embedding method is in its table, and
every value quoted as "ours" is the registry's default. The structural claims of its notes (output
BatchNorm in the heads, MoCo's 2B keys per step, Barlow Twins' eps) are checked against the code too."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from ssl_core.methods import METHODS

DOC = Path(__file__).resolve().parents[2] / "docs" / "method_defaults.md"
BEGIN, END = "<!-- defaults-table:begin -->", "<!-- defaults-table:end -->"
COLUMNS = ["Method", "Setting", "Ours", "Paper", "lightly 1.6.0", "Why ours differs"]
# The families whose every parameter, and whose optimiser, the table must show.
COVERED_FAMILIES = {"contrastive", "self-distillation", "redundancy reduction"}
# `optim` in the Setting column stands for these five values, in this order.
OPTIM_FIELDS = ["optimizer", "lr", "weight_decay", "batch_size", "warmup_epochs"]
TICKED = re.compile(r"`([^`]+)`")


def _rows() -> list[list[str]]:
    text = DOC.read_text(encoding="utf-8")
    assert text.count(BEGIN) == 1 and text.count(END) == 1, f"{DOC.name} needs one {BEGIN} ... {END} block"
    block = text.split(BEGIN, 1)[1].split(END, 1)[0]
    lines = [line.strip() for line in block.strip().splitlines() if line.strip()]
    table = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    assert table[0] == COLUMNS, f"table header {table[0]} != {COLUMNS}"
    assert set("".join(table[1])) <= set("-: "), "the second line must be the header's separator"
    for row in table[2:]:
        assert len(row) == len(COLUMNS), f"row with {len(row)} cells (a '|' inside a cell?): {row}"
    return table[2:]


ROWS = _rows()


def _method(row: list[str]) -> str:
    match = re.fullmatch(r"`([a-z0-9_]+)`", row[0])
    assert match, f"the Method cell must be a registry name in backticks: {row[0]!r}"
    return match.group(1)


def _checked(row: list[str]) -> list[tuple[str, str]]:
    """(registry key, value quoted as ours) pairs of a row; [] for a prose row."""
    keys: list[str] = []
    for key in TICKED.findall(row[1]):
        keys += [f"optim.{f}" for f in OPTIM_FIELDS] if key == "optim" else [key]
    if not keys:
        return []
    values = TICKED.findall(row[2])
    assert len(values) == len(keys), (
        f"{row[0]} {row[1]}: the Ours cell must quote {len(keys)} values in backticks, in order; "
        f"found {values}"
    )
    return list(zip(keys, values, strict=True))


def _defaults(name: str) -> dict:
    spec = METHODS.get(name)
    found = {p.name: p.default for p in spec.params}
    found.update({f"optim.{f}": getattr(spec.optim, f) for f in OPTIM_FIELDS})
    return found


def _same(quoted: str, default) -> bool:
    if isinstance(default, bool):
        return quoted.lower() == str(default).lower()
    if isinstance(default, (int, float)):
        try:
            return math.isclose(float(quoted), float(default), rel_tol=1e-9, abs_tol=0.0)
        except ValueError:
            return False
    return quoted == str(default)


def test_table_names_only_registered_methods():
    unknown = sorted({_method(row) for row in ROWS} - set(METHODS.names()))
    assert not unknown, f"{DOC.name} names methods the registry does not have: {unknown}"


def test_every_joint_embedding_method_and_setting_is_in_the_table():
    covered: dict[str, set[str]] = {}
    for row in ROWS:
        covered.setdefault(_method(row), set()).update(key for key, _ in _checked(row))
    missing = []
    for name, spec in METHODS.items():
        if spec.family not in COVERED_FAMILIES:
            continue
        wanted = set(_defaults(name))
        left = sorted(wanted - covered.get(name, set()))
        if left:
            missing.append(f"{name}: {', '.join(left)}")
    assert not missing, f"{DOC.name} lacks rows for: " + "; ".join(missing)


def test_values_quoted_as_ours_are_the_registry_defaults():
    wrong = []
    for row in ROWS:
        name = _method(row)
        defaults = _defaults(name)
        for key, quoted in _checked(row):
            if key not in defaults:
                wrong.append(f"{name}: {key} is not a setting of the method")
            elif not _same(quoted, defaults[key]):
                wrong.append(f"{name}: {key} quoted as {quoted!r}, registry default {defaults[key]!r}")
    assert not wrong, f"{DOC.name} is out of date:\n" + "\n".join(wrong)


# ---- the notes' structural claims ---------------------------------------------------------------------


def _last_module(head: nn.Sequential) -> nn.Module:
    return list(head.children())[-1]


def test_projector_output_batchnorm_is_as_the_doc_says():
    from ssl_core.methods.nnclr import nnclr_projector
    from ssl_core.models.heads import moco_projector, simclr_projector, simsiam_projector

    assert isinstance(_last_module(simclr_projector(8, 16, 4)), nn.Linear)  # SimCLR: no output BN
    assert not any(isinstance(m, nn.BatchNorm1d) for m in moco_projector(8, 16, 4).modules())
    simsiam_out = _last_module(simsiam_projector(8, 16, 16))
    assert isinstance(simsiam_out, nn.BatchNorm1d) and not simsiam_out.affine
    nnclr_out = _last_module(nnclr_projector(8, 16, 4))
    assert isinstance(nnclr_out, nn.BatchNorm1d) and nnclr_out.affine


def test_moco_enqueues_both_views_keys_each_step():
    from ssl_core.data.base import DataInfo
    from ssl_core.methods import StepContext, build_method
    from ssl_core.models import build_backbone

    torch.manual_seed(0)
    info = DataInfo(spec="toy", name="toy", size=64, channels=1, height=8, width=8, has_labels=False)
    backbone = build_backbone("small_cnn", 1, 8, mean=[0.5], std=[0.25])
    method = build_method("moco", backbone, {"queue_size": 256}, info)
    method.train()
    batch = 6
    ctx = StepContext(step=0, total_steps=10, epoch=0, generator=torch.Generator().manual_seed(0))
    method.training_step(torch.rand(batch, 1, 8, 8), ctx)
    assert int(method.queue_ptr) == 2 * batch


def test_barlow_twins_standardises_with_eps_1e4():
    from ssl_core.losses import barlow_twins_loss

    # One dimension, identical views, batch variance v: C_11 = v / (v + eps), so the on-diagonal term is
    # (eps / (v + eps))^2, which tells eps apart (1e-4 here, not BatchNorm's 1e-5).
    z = torch.tensor([[-0.01], [0.01]])  # biased variance 1e-4
    _, parts = barlow_twins_loss(z, z.clone(), lambd=0.0)
    assert parts["on_diagonal"].item() == pytest.approx((1e-4 / 2e-4) ** 2, rel=1e-4)
