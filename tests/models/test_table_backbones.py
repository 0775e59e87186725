"""Table backbones: the featurizer's layout and NaN safety, the MLP's shapes, gradients, single-row batches
and checkpoints, and the reconstruction head that ignores missing targets."""

from __future__ import annotations

import pytest
import torch

from ssl_core.modalities.table import table_columns
from ssl_core.models.backbones import BACKBONES, build_backbone
from ssl_core.models.table import ONE_HOT_MAX, TableFeaturizer, TableMLP, embedding_dim
from ssl_core.models.table_decoders import TableReconstruction
from tests.modalities.test_table_modality import F, synthetic_table, table_info

pytestmark = pytest.mark.usefixtures("one_torch_thread")

NAN = float("nan")


def rows() -> torch.Tensor:
    """Standardised rows of the synthetic customers table (age, income, member, city, product, visits)."""
    return torch.tensor(
        [
            [0.5, -1.0, 1.0, 2.0, 17.0, 0.3],
            [-0.2, NAN, 0.0, NAN, 3.0, -1.0],  # income and city missing
            [1.5, 0.7, 1.0, 9.0, 45.0, 0.0],  # a city and a product unseen when the schema was made
            [0.0, 0.0, NAN, 0.0, NAN, NAN],  # member, product and visits missing (the file had none)
        ]
    )


def test_mlp_backbones_are_registered_for_tables_and_take_the_schema():
    for name in ("mlp", "mlp_small"):
        spec = BACKBONES.get(name)
        assert spec.modalities == ("table",) and spec.uses_info and len(spec.description) > 60
    info = table_info(10)
    with pytest.raises(ValueError, match="needs the data's DataInfo"):
        build_backbone("mlp", F, F, modality="table")
    assert build_backbone("mlp", F, F, modality="table", info=info).feature_dim == 256
    assert build_backbone("mlp_small", F, F, modality="table", info=info).feature_dim == 128


def test_featurizer_layout_numeric_flags_one_hot_and_embeddings():
    featurizer = TableFeaturizer.from_columns(table_columns(table_info(10)))
    # 4 standardised columns + 1 flag (income can be missing) + 4 cities + an embedding of 30 products
    assert embedding_dim(30) == 11 and ONE_HOT_MAX < 30
    assert featurizer.out_dim == 4 + 1 + 4 + 11
    out = featurizer(rows())
    assert out.shape == (4, featurizer.out_dim) and torch.isfinite(out).all()
    assert torch.equal(out[1, :4], torch.tensor([-0.2, 0.0, 0.0, -1.0]))  # missing income -> 0 (the mean)
    assert out[:, 4].tolist() == [0.0, 1.0, 0.0, 0.0]  # income's missing flag
    assert out[:, 5:9].tolist() == [
        [0, 0, 1, 0],
        [0, 0, 0, 0],
        [0, 0, 0, 0],
        [1, 0, 0, 0],
    ]  # unknown/missing: 0s
    unknown = featurizer.embeddings[0].weight[30]  # the "missing or unknown" product row
    assert torch.equal(out[2, 9:], unknown) and torch.equal(out[3, 9:], unknown)
    assert torch.equal(out[0, 9:], featurizer.embeddings[0].weight[17])


def test_extreme_values_are_clipped_and_infinities_read_as_missing():
    featurizer = TableFeaturizer(["numeric", "numeric"], [0, 0], [True, True])
    out = featurizer(torch.tensor([[1e30, float("-inf")]]))
    assert out.tolist() == [[20.0, 0.0, 0.0, 1.0]]


def test_mlp_features_are_finite_with_missing_values_and_every_weight_learns():
    torch.manual_seed(0)
    encoder = build_backbone("mlp", F, F, modality="table", info=table_info(10))
    x = rows().repeat(4, 1)
    features = encoder(x)
    assert features.shape == (16, 256) and torch.isfinite(features).all()
    features.pow(2).mean().backward()
    for name, p in encoder.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        if "embeddings" not in name:
            assert p.grad.abs().sum() > 0, name
    # The embedding rows of the products seen in the batch learn; the others do not move.
    grad = encoder.net.featurizer.embeddings[0].weight.grad
    assert grad[17].abs().sum() > 0 and grad[3].abs().sum() > 0 and grad[5].abs().sum() == 0


def test_a_single_row_trains_without_error_and_leaves_running_statistics_alone():
    encoder = build_backbone("mlp", F, F, modality="table", info=table_info(10)).train()
    before = {k: v.clone() for k, v in encoder.state_dict().items() if "running" in k}
    out = encoder(rows()[:1])
    assert out.shape == (1, 256) and torch.isfinite(out).all()
    out.sum().backward()
    after = {k: v for k, v in encoder.state_dict().items() if "running" in k}
    assert all(torch.equal(before[k], after[k]) for k in before)
    encoder(rows())  # a real batch does update them
    assert not torch.equal(
        before["net.layers.1.running_mean"], encoder.state_dict()["net.layers.1.running_mean"]
    )


def test_eval_mode_is_deterministic_and_a_checkpoint_restores_the_network():
    info = table_info(10)
    torch.manual_seed(0)
    first = build_backbone("mlp", F, F, modality="table", info=info)
    first(rows())  # move the running statistics
    first.eval()
    torch.manual_seed(1)
    second = build_backbone("mlp", F, F, modality="table", info=info).eval()
    assert not torch.allclose(first(rows()), second(rows()))
    second.load_state_dict(first.state_dict())
    assert torch.equal(first(rows()), second(rows())) and torch.equal(first(rows()), first(rows()))


def test_mlp_refuses_impossible_sizes():
    featurizer = TableFeaturizer(["numeric"], [0], [False])
    with pytest.raises(ValueError, match="width and depth"):
        TableMLP(featurizer, width=0)
    with pytest.raises(ValueError, match=r"expected rows \(B, 1\)"):
        featurizer(torch.zeros(2, 3))


# ---- the reconstruction head ----------------------------------------------------------------------------
def test_reconstruction_loss_ignores_missing_targets():
    torch.manual_seed(0)
    head = TableReconstruction(16, table_columns(table_info(10)), width=8)
    outputs = head(torch.randn(4, 16))
    assert outputs.shape == (4, 4 + 4 + 30)
    target = rows()
    target[2, 3:5] = torch.tensor([1.0, 5.0])  # known codes: row 2 is fully observed
    loss = head.loss(outputs, target)
    assert torch.isfinite(loss)
    # Whatever the head predicts for a missing cell does not change the loss, and gets no gradient.
    changed = outputs.detach().clone().requires_grad_(True)
    with torch.no_grad():
        changed[1, 1] += 100.0  # row 1's income is missing
        changed[3, 4 + 4 :] += torch.randn(30) * 10  # row 3's product is missing
    assert torch.allclose(head.loss(changed, target), loss)
    head.loss(changed, target).backward()
    assert changed.grad[1, 1] == 0 and changed.grad[3, 8:].abs().sum() == 0
    assert torch.isfinite(changed.grad).all()
    # The loss is the mean over the observed cells: 19 of the 24 here (6 + 4 + 6 + 3).
    losses, observed = head.cell_losses(outputs, target, "mse")
    assert int(observed.sum()) == 19 and torch.allclose(loss, losses[observed].mean())


def test_reconstruction_error_per_row_and_rows_in_column_space():
    torch.manual_seed(0)
    head = TableReconstruction(16, table_columns(table_info(10)), width=8)
    outputs = head(torch.randn(4, 16))
    error = head.error(outputs, rows())
    assert error.shape == (4,) and torch.isfinite(error).all() and (error > 0).all()
    assert head.error(outputs, torch.full((4, F), NAN)).tolist() == [0.0] * 4  # nothing observed
    sample = head.to_sample(outputs)
    assert sample.shape == (4, F) and torch.isfinite(sample).all()
    assert torch.equal(sample[:, 3], outputs[:, 4:8].argmax(1).float())
    assert torch.equal(sample[:, 4], outputs[:, 8:].argmax(1).float())
    assert torch.equal(sample[:, [0, 1, 2, 5]], outputs[:, :4])


def test_a_perfect_reconstruction_has_no_numeric_error():
    columns = table_columns(
        table_info(10, [{"name": "a", "kind": "numeric"}, {"name": "b", "kind": "boolean"}])
    )
    head = TableReconstruction(4, columns, width=8)
    target = torch.tensor([[0.5, -1.0], [NAN, 1.0]])
    assert head.loss(target.nan_to_num(), target).item() == 0.0
    assert head.error(target.nan_to_num(), target).tolist() == [0.0, 0.0]


def test_bce_loss_is_refused_for_tables():
    from ssl_core.errors import UserError

    with pytest.raises(UserError, match="use loss = mse") as err:
        TableReconstruction(4, table_columns(table_info(10)), width=8, loss="bce")
    assert err.value.field == "method.params.loss"


def test_synthetic_rows_through_the_backbone_after_the_adapter():
    from ssl_core.modalities.table import TableStandardise

    source = synthetic_table(64)
    stored, _ = source.read(torch.arange(64))
    adapter = TableStandardise.fit(stored, table_columns(source.info))
    encoder = build_backbone("mlp", F, F, modality="table", info=source.info)
    assert torch.isfinite(encoder(adapter(stored))).all()
