"""Methods on tables: the autoencoder, the denoising autoencoder, VIME, SCARF and the joint-embedding
methods learn on a synthetic table with missing values, preview rows in the file's units, and score
anomalies; unsuitable settings and methods are refused with the field named."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from ssl_core.config import RunConfig
from ssl_core.data.base import DataInfo, TensorSource
from ssl_core.errors import UserError
from ssl_core.methods import METHODS, SSLMethod, StepContext
from ssl_core.methods.vime import changed_cells
from ssl_core.runs.store import load_run, read_metrics
from ssl_core.train import builder
from ssl_core.train.events import PreviewReady
from ssl_core.train.live_previews import finished_preview
from ssl_core.train.trainer import Trainer
from tests.modalities.test_table_modality import COLUMNS, F, build, same_with_nan, synthetic_table, table_info

pytestmark = pytest.mark.usefixtures("one_torch_thread")

BATCH = 64
JOINT = ("simclr", "moco", "byol", "simsiam", "barlow_twins", "vicreg")


@pytest.fixture(scope="module")
def source():
    return synthetic_table()


def latent_table(n: int = 256, numeric: int = 16, seed: int = 0) -> TensorSource:
    """Rows of correlated columns, as tables often are: 16 numeric columns are noisy linear views of a
    4-D latent point (on scales from 1 to 1,000, one column 10% missing), a boolean and a categorical
    column (5% missing) follow its signs. Replacing some columns leaves others that still tell the row."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 4, generator=g)
    values = z @ torch.randn(4, numeric, generator=g) + 0.1 * torch.randn(n, numeric, generator=g)
    values = values * torch.linspace(1, 1000, numeric) + 50
    band = (z[:, 0] > 0).float() * 2 + (z[:, 1] > 0).float()
    rows = torch.cat([values, (z[:, 2] > 0).float().unsqueeze(1), band.unsqueeze(1)], dim=1)
    rows[torch.rand(n, generator=g) < 0.1, 3] = float("nan")
    rows[torch.rand(n, generator=g) < 0.05, -1] = float("nan")
    columns = [{"name": f"x{j}", "kind": "numeric", "missing": 25 if j == 3 else 0} for j in range(numeric)]
    columns += [
        {"name": "flag", "kind": "boolean", "missing": 0},
        {"name": "band", "kind": "categorical", "categories": list("abcd"), "missing": 12},
    ]
    return TensorSource(rows, (z[:, 0] > 0).long(), table_info(n, columns, "latent"))


def train(
    method: SSLMethod, stored: torch.Tensor, steps: int, lr: float = 2e-3
) -> tuple[list[float], list[dict]]:
    """The trainer's loop in miniature on stored rows (through `method.prepare`): losses and loss parts."""
    opt = torch.optim.AdamW([p for p in method.parameters() if p.requires_grad], lr=lr, weight_decay=1e-5)
    g = torch.Generator().manual_seed(0)
    losses, parts = [], []
    method.train()
    for step in range(steps):
        batch = stored[torch.randint(len(stored), (BATCH,), generator=g)]
        ctx = StepContext(step=step, total_steps=steps, epoch=0, generator=g)
        out = method.training_step(method.prepare(batch), ctx)
        assert torch.isfinite(out.loss), f"non-finite loss at step {step}"
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        opt.step()
        method.after_optimizer_step(ctx)
        losses.append(out.loss.item())
        parts.append({k: float(v) for k, v in out.parts.items()})
    return losses, parts


def mean(values) -> float:
    return float(np.mean(values))


_TRAINED: dict = {}
# name -> (build overrides, training steps, how far the loss must fall: last 10 steps / first 10 steps).
# Telling 64 rows apart after 60% of their values were replaced is a hard game on few columns (SCARF's
# loss falls slowly and its accuracy, not the loss, shows the learning); the contrastive methods play it on
# the table of correlated columns, the reconstruction methods on the mixed customers table.
RECIPES = {
    "autoencoder": ({}, 60, 0.5),
    "denoising_autoencoder": ({"corruption": "mask", "mask_ratio": 0.3}, 60, 0.7),
    "vime": ({}, 80, 0.8),
    "scarf": ({"temperature": 0.5}, 60, 0.95),
    "simclr": ({"proj_hidden_dim": 64}, 60, 0.95),
}
CONTRASTIVE = ("scarf", "simclr")


def trained(name: str, source):
    """(components, losses, loss parts) after a short training run (once per module)."""
    if name not in _TRAINED:
        overrides, steps, _ = RECIPES[name]
        data = latent_table() if name in CONTRASTIVE else source
        parts = build(name, data, **overrides)
        stored, _ = data.read(parts.train_idx)
        _TRAINED[name] = (parts, *train(parts.method, stored, steps))
    return _TRAINED[name]


def anomalous_rows(source, idx: torch.Tensor) -> torch.Tensor:
    """Held-out rows made strange: each row's age and income come from opposite ends (young and rich, or
    old and poor) and its product from the other segment."""
    rows, labels = source.read(idx)
    rows = rows.clone()
    rows[:, 0] = torch.where(labels == 0, 62.0, 38.0)
    rows[:, 1] = torch.where(labels == 0, 42_000.0, 78_000.0)
    rows[:, 4] = (rows[:, 4] + 15) % 30
    return rows


def auroc(normal: torch.Tensor, strange: torch.Tensor) -> float:
    labels = np.r_[np.zeros(len(normal)), np.ones(len(strange))]
    return float(roc_auc_score(labels, np.r_[normal.numpy(), strange.numpy()]))


# ---- registry ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "family"), [("vime", "generative"), ("scarf", "contrastive")])
def test_vime_and_scarf_specs_are_complete(name, family, source):
    spec = METHODS.get(name)
    assert spec.family == family and spec.modalities == ("table",)
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", spec.description) if s]
    assert 3 <= len(sentences) <= 5, spec.description
    assert spec.paper and spec.summary and spec.optim.batch_size == 64 and spec.optim.optimizer == "adamw"
    for p in spec.params:
        assert len(p.help) > 20 and p.coerce(p.default) == p.default, p.name
    assert spec.unavailable_reason(source.info) is None
    assert spec.backbone_for(source.info) == "mlp"
    assert "table" in spec.to_dict()["modalities"]


def test_which_methods_run_on_tables(source):
    for name in ("autoencoder", "denoising_autoencoder", "vime", "scarf", *JOINT):
        assert METHODS.get(name).unavailable_reason(source.info) is None, name
    for name in ("rotation", "jigsaw", "mae", "masked_reconstruction", "cpc", "autoregressive"):
        reason = METHODS.get(name).unavailable_reason(source.info)
        assert reason and "customers is table data" in reason, name
    waves = DataInfo(
        "s", "waves", 4, 2, 0, 0, False, modality="series", sample_shape=(2, 8), sample_dtype="float32"
    )
    for name in ("vime", "scarf"):
        assert "works on table data, but waves is series data" in METHODS.get(name).unavailable_reason(waves)


# ---- learning ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(RECIPES))
def test_the_loss_falls_on_a_table_with_missing_values(name, source):
    parts, losses, _ = trained(name, source)
    assert parts.backbone_name == "mlp"
    assert mean(losses[-10:]) < RECIPES[name][2] * mean(losses[:10]), (losses[:10], losses[-10:])


@pytest.mark.parametrize("name", ["moco", "byol", "simsiam", "barlow_twins", "vicreg"])
def test_every_joint_embedding_method_takes_a_training_step_on_a_table(name, source):
    parts = build(name, source)
    stored, _ = source.read(parts.train_idx)
    losses, _ = train(parts.method, stored, 3)
    assert all(np.isfinite(losses))


def test_vime_learns_to_find_the_replaced_cells(source):
    parts, losses, loss_parts = trained("vime", source)
    first, last = loss_parts[:10], loss_parts[-10:]
    assert mean([p["mask"] for p in last]) < 0.9 * mean([p["mask"] for p in first])
    assert mean([p["reconstruction"] for p in last]) < 0.7 * mean([p["reconstruction"] for p in first])
    method = parts.method
    x = method.prepare(source.read(parts.val_idx)[0])
    corrupted, changed = method.corrupt(x, torch.Generator().manual_seed(0))
    with torch.no_grad():
        method.eval()
        guessed = method.mask_head(method.backbone(corrupted)) > 0
    assert (guessed == changed).float().mean() > 0.75  # chance (always "kept") is about 0.75 at p_m 0.3


def test_vimes_mask_target_counts_only_cells_that_really_changed():
    nan = float("nan")
    original = torch.tensor([[1.0, 2.0, nan, nan, 3.0]])
    corrupted = torch.tensor([[1.0, 5.0, nan, 4.0, nan]])
    assert changed_cells(original, corrupted).tolist() == [[False, True, False, True, True]]


def test_scarf_corrupts_a_fixed_share_of_every_row_and_tells_rows_apart(source):
    parts, _, loss_parts = trained("scarf", source)
    accuracy = [p["accuracy"] for p in loss_parts]
    assert mean(accuracy[-10:]) > 6 / BATCH  # six times chance
    data = latent_table()
    x = parts.method.prepare(data.read(parts.train_idx[:32])[0])
    positive = parts.method.positive(x, torch.Generator().manual_seed(0))
    changed = (positive != x) & ~(torch.isnan(positive) & torch.isnan(x))
    assert changed.sum(1).max() <= round(0.6 * 18) and changed.sum(1).min() >= 8  # 11 replaced, a few equal


@pytest.mark.parametrize("name", ["autoencoder", "vime", "denoising_autoencoder"])
def test_reconstruction_methods_score_strange_rows_higher(name, source):
    parts = trained(name, source)[0]
    method = parts.method
    normal = method.anomaly_scores(method.prepare(source.read(parts.val_idx)[0]))
    strange = method.anomaly_scores(method.prepare(anomalous_rows(source, parts.val_idx)))
    assert normal.shape == (len(parts.val_idx),) and torch.isfinite(normal).all()
    assert auroc(normal, strange) > 0.8
    # A row's score does not depend on the batch it is scored in.
    x = method.prepare(source.read(parts.val_idx)[0])
    assert torch.allclose(method.anomaly_scores(x[:5]), method.anomaly_scores(x)[:5], atol=1e-5)


def test_a_single_row_takes_a_training_step(source):
    for name in ("autoencoder", "vime"):
        parts = build(name, source)
        out = parts.method.training_step(
            parts.method.prepare(source.read([1])[0]), StepContext(0, 1, 0, torch.Generator().manual_seed(0))
        )
        out.loss.backward()
        assert torch.isfinite(out.loss), name


# ---- corruptions and settings --------------------------------------------------------------------------------
@pytest.mark.parametrize("corruption", ["gaussian", "mask", "swap", "missing"])
def test_denoising_trains_with_every_table_corruption(corruption, source):
    parts = build("denoising_autoencoder", source, corruption=corruption, mask_ratio=0.3)
    stored, _ = source.read(parts.train_idx)
    losses, _ = train(parts.method, stored, 4)
    assert all(np.isfinite(losses))
    x = parts.method.prepare(stored[:8])
    damaged = parts.method.make_input(x, torch.Generator().manual_seed(0))
    assert damaged.shape == x.shape and not same_with_nan(damaged, x, atol=0.0)


def test_unsuitable_settings_are_refused_naming_the_field(source):
    with pytest.raises(UserError, match="salt_and_pepper corruption does not apply to rows") as err:
        build("denoising_autoencoder", source, corruption="salt_and_pepper")
    assert err.value.field.endswith(".corruption")
    only_categories = [{"name": "c", "kind": "categorical", "categories": ["a", "b"]}] * 2
    stored = torch.tensor([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]] * 4)
    categorical = TensorSource(stored, None, table_info(16, only_categories, name="flags"))
    with pytest.raises(UserError, match="flags has no numeric column for gaussian noise") as err:
        build("denoising_autoencoder", categorical, corruption="gaussian")
    assert err.value.field.endswith(".corruption")
    with pytest.raises(UserError, match="use loss = mse") as err:
        build("autoencoder", source, loss="bce")
    assert err.value.field == "method.params.loss"
    for rate, count in ((0.05, 0), (0.95, 6)):
        with pytest.raises(UserError, match=f"replaces {count} of the 6 columns.*from 0.17 to 0.83") as err:
            build("scarf", source, corruption_rate=rate)
        assert err.value.field == "method.params(scarf).corruption_rate"
    one_column = TensorSource(
        torch.randn(16, 1), None, table_info(16, [{"name": "x", "kind": "numeric"}], "one")
    )
    with pytest.raises(UserError, match="one has a single feature column") as err:
        build("scarf", one_column)
    assert err.value.field == "data.spec"
    with pytest.raises(UserError, match="mask_ratio = 0.99 is out of range"):
        build("vime", source, mask_ratio=0.99)


# ---- previews --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "arrays"),
    [
        ("vime", ["input", "corrupted", "reconstruction"]),
        ("scarf", ["original", "corrupted"]),
        ("denoising_autoencoder", ["input", "corrupted", "reconstruction"]),
    ],
)
def test_previews_are_table_rows_in_the_files_units(name, arrays, source):
    parts = build(name, source, **({"corruption": "mask"} if name == "denoising_autoencoder" else {}))
    stored, _ = source.read(parts.val_idx[:8])
    preview = finished_preview(parts.method, parts.method.prepare(stored), torch.Generator().manual_seed(0))
    assert preview.payload == "table_rows" and list(preview.images) == arrays
    assert preview.meta["columns"] == [c["name"] for c in COLUMNS]
    assert same_with_nan(preview.images[arrays[0]], stored, atol=0.05)
    corrupted = preview.images["corrupted"]
    assert corrupted.shape == (8, F) and not same_with_nan(corrupted, stored, atol=0.05)
    # Replaced values are values the column takes in the shown rows (or missing).
    for j in range(F):
        seen = set(stored[:, j].round(decimals=1).tolist())
        for value in corrupted[:, j].round(decimals=1).tolist():
            assert (
                value != value or value in seen or abs(value - min(seen, key=lambda s: abs(s - value))) < 0.2
            )
    if name == "vime":
        assert all("cells replaced" in c for c in preview.captions["corrupted"])


# ---- the real trainer ---------------------------------------------------------------------------------------------
def test_vime_trains_in_the_trainer_and_its_run_reloads_with_the_adapter(tmp_path, monkeypatch, source):
    monkeypatch.setattr(builder, "open_config_source", lambda config, **kw: source)
    cfg = RunConfig().with_overrides(
        [
            "data.spec='test:table'",
            "method.name=vime",
            "train.device=cpu",
            "data.num_workers=0",
            "train.epochs=30",
            "train.batch_size=32",
            f"runs_dir={str(tmp_path)!r}",
        ]
    )
    trainer = Trainer(cfg, preview_interval_s=0.0)
    previews = []
    trainer.events.subscribe(lambda e: previews.append(e.preview) if isinstance(e, PreviewReady) else None)
    result = trainer.run()
    assert result.status == "completed", result.message
    losses = [m["loss"] for m in read_metrics(result.run_dir) if "loss" in m]
    assert len(losses) >= 100 and np.all(np.isfinite(losses))
    assert mean(losses[-10:]) < 0.8 * mean(losses[:10])
    assert previews and previews[-1].payload == "table_rows" and previews[-1].meta["kinds"][2] == "boolean"
    run = load_run(result.run_dir, source=source)
    rows, _ = source.read(run.train_idx)
    assert torch.allclose(run.method.input_adapter.mean[0, 0], torch.tensor(float(np.nanmean(rows[:, 0]))))
