"""The table modality: its schema accessor, NaN-aware standardisation saved with the run, the raw-input
baseline, and previews in the file's own units with the column names, kinds and categories."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ssl_core.config import RunConfig
from ssl_core.data.base import DataInfo, TensorSource
from ssl_core.errors import UserError
from ssl_core.eval.previews import preview_images
from ssl_core.modalities import MODALITIES, PreviewPayload, modality_of
from ssl_core.modalities.table import TableStandardise, table_adapter, table_columns
from ssl_core.train.builder import build_components

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CITIES = ["Lille", "Lyon", "Nice", "Paris"]
PRODUCTS = [f"p{i:02d}" for i in range(30)]  # more than the featurizer one-hot encodes: an embedding
COLUMNS = [
    {"name": "age", "kind": "numeric", "missing": 0},
    {"name": "income", "kind": "numeric", "missing": 24},
    {"name": "member", "kind": "boolean", "missing": 0},
    {"name": "city", "kind": "categorical", "categories": CITIES, "missing": 12},
    {"name": "product", "kind": "categorical", "categories": PRODUCTS, "missing": 0},
    {"name": "visits", "kind": "numeric", "missing": 0},
]
F = len(COLUMNS)
STANDARDISED = [0, 1, 2, 5]  # numeric and boolean columns
CATEGORICAL = [3, 4]


def table_info(n: int, columns: list[dict] | None = None, name: str = "customers") -> DataInfo:
    columns = COLUMNS if columns is None else columns
    return DataInfo(
        spec="test:table", name=name, size=n, channels=len(columns), height=0, width=0, has_labels=True,
        class_names=["a", "b"], modality="table", sample_shape=(len(columns),), sample_dtype="float32",
        extra={"table": {"columns": columns, "dropped": [], "label_column": "segment", "id_column": None,
                         "file_columns": [c["name"] for c in columns] + ["segment"]}},
    )  # fmt: skip


def synthetic_table(n: int = 240, seed: int = 0) -> TensorSource:
    """Customers in two segments: mixed numeric, boolean and categorical columns, with missing values.

    Segment b is older, richer, more often a member, lives in Paris or Nice, buys high product codes and
    visits more; income follows age. Raw values are far from standardised (age ~50, income ~50,000).
    Income is missing in 10% of the rows, the city in 5%.
    """
    g = torch.Generator().manual_seed(seed)
    segment = torch.arange(n) % 2
    u = lambda: torch.rand(n, generator=g)  # noqa: E731
    age = 40 + 20 * segment + 5 * torch.randn(n, generator=g)
    income = 1000 * age + 4000 * torch.randn(n, generator=g)
    member = (u() < 0.2 + 0.6 * segment).float()
    city = (torch.randint(0, 2, (n,), generator=g) + 2 * segment).float()
    product = (torch.randint(0, 15, (n,), generator=g) + 15 * segment).float()
    visits = torch.poisson(3.0 + 6.0 * segment.float(), generator=g)
    rows = torch.stack([age, income, member, city, product, visits], dim=1)
    rows[u() < 0.1, 1] = float("nan")
    rows[u() < 0.05, 3] = float("nan")
    return TensorSource(rows.float(), segment, table_info(n))


def build(method: str = "autoencoder", source: TensorSource | None = None, **params):
    config = RunConfig()
    config.method.name = method
    config.method.params = dict(params)
    config.data.val_fraction = 0.25
    return build_components(config, source=source or synthetic_table())


def same_with_nan(a: torch.Tensor, b: torch.Tensor, atol: float = 1e-3, rtol: float = 1e-5) -> bool:
    return bool(torch.equal(torch.isnan(a), torch.isnan(b))) and torch.allclose(
        torch.nan_to_num(a), torch.nan_to_num(b), atol=atol, rtol=rtol
    )


# ---- registry and schema --------------------------------------------------------------------------------
def test_the_table_modality_is_registered_with_its_backbones_and_payload():
    assert MODALITIES.names() == ["image", "series", "table", "text", "audio"]
    table = modality_of("table")
    assert table.default_backbone == "mlp" and set(table.backbones()) == {"mlp", "mlp_small"}
    assert table.preview_payload == PreviewPayload.TABLE_ROWS == "table_rows"
    assert (table.noun, table.plural, table.sample_dims()) == ("row", "rows", 1)
    assert table.describe(table_info(10)) == "6 columns (3 numeric, 1 boolean, 2 categorical)"
    assert modality_of(table_info(10)) is table


def test_columns_come_from_the_schema_and_damaged_schemas_name_the_problem():
    columns = table_columns(table_info(10))
    assert [c.kind for c in columns] == [
        "numeric",
        "numeric",
        "boolean",
        "categorical",
        "categorical",
        "numeric",
    ]
    assert columns[3].categories == tuple(CITIES) and columns[4].cardinality == 30
    assert [c.can_miss for c in columns] == [False, True, False, True, False, False]
    # Arrays opened as a table carry no schema: every column is numeric and may be missing.
    bare = DataInfo(
        "npz:x", "x", 4, 3, 0, 0, False, modality="table", sample_shape=(3,), sample_dtype="float32"
    )
    assert [(c.name, c.kind, c.can_miss) for c in table_columns(bare)] == [
        ("column 1", "numeric", True), ("column 2", "numeric", True), ("column 3", "numeric", True),
    ]  # fmt: skip
    with pytest.raises(UserError, match="lists 5 feature column.*6 value") as err:
        table_columns(DataInfo(**{**table_info(4).__dict__, "extra": {"table": {"columns": COLUMNS[:5]}}}))
    assert err.value.field == "data.table_schema"
    broken = [*COLUMNS[:5], {"name": "visits", "kind": "text"}]
    with pytest.raises(UserError, match="damaged .column 'visits' has the kind 'text'"):
        table_columns(table_info(4, broken))


# ---- the input adapter ----------------------------------------------------------------------------------
def test_numeric_and_boolean_columns_are_standardised_with_nan_aware_training_statistics():
    source = synthetic_table()
    parts = build(source=source)
    adapter = parts.method.input_adapter
    assert isinstance(adapter, TableStandardise)
    rows, _ = source.read(parts.train_idx)
    values = rows.double().numpy()
    mean, std = adapter.mean.flatten(), adapter.std.flatten()
    for j in STANDARDISED:
        assert mean[j].item() == pytest.approx(np.nanmean(values[:, j]), rel=1e-4)
        assert std[j].item() == pytest.approx(np.nanstd(values[:, j], ddof=1), rel=1e-4)
    for j in CATEGORICAL:
        assert (mean[j].item(), std[j].item()) == (0.0, 1.0)
    x = parts.method.prepare(rows)
    assert same_with_nan(x[:, CATEGORICAL], rows[:, CATEGORICAL])  # codes pass through, NaN stays NaN
    assert torch.equal(torch.isnan(x), torch.isnan(rows))
    for j in STANDARDISED:
        column = x[:, j][~torch.isnan(x[:, j])]
        assert abs(column.mean().item()) < 1e-4 and abs(column.std().item() - 1) < 1e-3
    assert same_with_nan(adapter.inverse(x), rows, atol=0.05)
    # Held-out rows did not shape the statistics.
    everything = np.nanmean(source.read(torch.arange(len(source)))[0].numpy()[:, 0])
    assert len(parts.val_idx) and mean[0].item() != pytest.approx(everything, rel=1e-6)


def test_adapter_statistics_are_saved_in_the_checkpoint():
    parts = build()
    state = parts.method.state_dict()
    assert {"input_adapter.mean", "input_adapter.std"} <= set(state)
    other = build(source=synthetic_table(seed=3))
    assert not torch.equal(other.method.input_adapter.mean, parts.method.input_adapter.mean)
    other.method.load_state_dict(state)
    assert torch.equal(other.method.input_adapter.mean, parts.method.input_adapter.mean)
    assert torch.equal(other.method.input_adapter.std, parts.method.input_adapter.std)


def test_constant_and_empty_columns_get_unit_scale_and_the_adapter_never_divides_by_zero():
    rows = torch.tensor([[1.0, float("nan")], [1.0, float("nan")], [1.0, float("nan")]])
    columns = table_columns(
        table_info(3, [{"name": "c", "kind": "numeric"}, {"name": "e", "kind": "numeric"}])
    )
    adapter = TableStandardise.fit(rows, columns)
    assert adapter.std.flatten().tolist() == [1.0, 1.0] and adapter.mean.flatten().tolist() == [1.0, 0.0]
    out = adapter(rows)
    assert torch.equal(out[:, 0], torch.zeros(3)) and torch.isnan(out[:, 1]).all()
    assert adapter(torch.tensor([[float("inf"), 2.0]]))[0, 1].item() == 2.0


# ---- raw input and previews -------------------------------------------------------------------------------
def test_raw_features_are_standardised_values_missing_flags_and_one_hot_categories():
    source = synthetic_table()
    parts = build(source=source)
    rows, _ = source.read(torch.arange(40))
    table = modality_of("table")
    feats = table.raw_features(rows, parts.method.prepare)
    # 4 standardised columns + 1 missing flag (income) + 4 cities + 30 products
    assert feats.shape == (40, 4 + 1 + 4 + 30) and feats.dtype == np.float32
    assert np.isfinite(feats).all()
    assert np.array_equal(feats[:, 4], np.isnan(rows[:, 1].numpy()).astype(np.float32))
    cities, products = feats[:, 5:9], feats[:, 9:]
    assert np.array_equal(cities.sum(1), (~np.isnan(rows[:, 3].numpy())).astype(np.float32))
    assert np.array_equal(products.argmax(1), rows[:, 4].numpy().astype(int))
    # The adapter itself works as well as the method's prepare.
    assert np.array_equal(table.raw_features(rows, parts.method.input_adapter), feats)
    assert table_adapter(parts.method.prepare) is parts.method.input_adapter


@pytest.mark.parametrize(("method", "names"), [
    ("autoencoder", ["input", "reconstruction"]),
    ("simclr", ["original", "view 1", "view 2"]),
])  # fmt: skip
def test_previews_show_rows_in_the_files_units_with_the_schema(method, names):
    source = synthetic_table()
    parts = build(method, source)
    preview = preview_images(
        RunConfig().with_overrides([f"method.name={method}", "data.val_fraction=0.25"]), n=6, source=source
    )
    assert preview.payload == "table_rows" and list(preview.images) == names
    assert preview.meta == {
        "columns": [c["name"] for c in COLUMNS],
        "kinds": [c["kind"] for c in COLUMNS],
        "categories": {"city": CITIES, "product": PRODUCTS},
    }
    stored, _ = source.read(parts.val_idx[:6])
    reference = preview.images[names[0]]
    assert reference.shape == (6, F) and reference.dtype == torch.float32 and reference.device.type == "cpu"
    assert same_with_nan(reference, stored, atol=0.05)  # the file's units, NaN where missing
    for name in names[1:]:
        codes = preview.images[name][:, CATEGORICAL]
        shown = codes[~torch.isnan(codes)]
        assert torch.equal(shown, shown.round()) and shown.min() >= 0  # categories as codes
    if method == "autoencoder":
        assert not torch.isnan(preview.images["reconstruction"]).any()
        assert preview.images["reconstruction"][:, 0].mean() > 20  # ages in years, not standardised


def test_the_backbone_names_the_column_count_it_was_built_for():
    parts = build()
    with pytest.raises(
        UserError, match=r"expects rows of shape \(B, 6\); got \(2, 5\).*6 feature column"
    ) as err:
        parts.method.backbone(torch.zeros(2, 5))
    assert err.value.field == "data.spec"
