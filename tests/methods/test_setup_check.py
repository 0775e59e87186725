"""The setup check (what Setup shows beside a field before Start) and the method's constructor (what a run
refuses) apply the same rules: for each method with a rule across settings, the same settings either give
a problem in words for the same field and fail to build with that field named, or pass both."""

from __future__ import annotations

import pytest
import torch

from ssl_core.config import RunConfig
from ssl_core.data.base import DataInfo, TensorSource
from ssl_core.errors import UserError
from ssl_core.methods import METHODS
from ssl_core.methods.setup_check import data_as_trained
from ssl_core.train.builder import build_components
from tests.methods.test_series_methods import synthetic_series
from tests.modalities.test_table_modality import synthetic_table

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def images(side: int, n: int = 24) -> TensorSource:
    g = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (n, 1, side, side), generator=g, dtype=torch.uint8)
    info = DataInfo("test:images", "squares", n, 1, side, side, True, class_names=["a", "b"])
    return TensorSource(pixels, torch.arange(n) % 2, info)


SOURCES = {
    "images8": lambda: images(8),
    "images13": lambda: images(13),
    "series": lambda: synthetic_series(24),
    "table": lambda: synthetic_table(48),
}

# (method, data, backbone, settings, the field a problem names or None)
CASES = [
    ("mae", "images8", "auto", {"patch_size": 3}, "patch_size"),
    ("mae", "images8", "auto", {"patch_size": 4}, None),
    ("mae", "images8", "auto", {"patch_size": 0}, None),
    ("mae", "images13", "auto", {"patch_size": 0}, "data.image_size"),
    ("mae", "images8", "auto", {"embed_dim": 64, "num_heads": 3}, "embed_dim"),
    ("mae", "images8", "auto", {"decoder_dim": 96, "decoder_heads": 5}, "decoder_dim"),
    ("jigsaw", "images8", "auto", {"cell_px": 4, "gap_fraction": 0.5}, "cell_px"),
    ("jigsaw", "images8", "auto", {"cell_px": 12, "gap_fraction": 0.5}, None),
    ("cpc", "series", "cnn1d", {"window": 40}, "window"),
    ("cpc", "series", "cnn1d", {"window": 32}, None),
    ("autoregressive", "series", "gru", {"horizon": 64}, "horizon"),
    ("autoregressive", "series", "gru", {"horizon": 3}, None),
    ("masked_reconstruction", "series", "auto", {"mask_patch": 40}, "mask_patch"),
    ("masked_reconstruction", "series", "auto", {"mask_patch": 8, "decoder": "per_step"}, None),
    ("masked_reconstruction", "images8", "auto", {"decoder": "per_step"}, "decoder"),
    ("masked_reconstruction", "images8", "auto", {"decoder": "features"}, None),
    ("scarf", "table", "auto", {"corruption_rate": 0.05}, "corruption_rate"),
    ("scarf", "table", "auto", {"corruption_rate": 0.5}, None),
    ("denoising_autoencoder", "table", "auto", {"corruption": "salt_and_pepper"}, "corruption"),
    ("denoising_autoencoder", "series", "auto", {"corruption": "swap"}, "corruption"),
    ("denoising_autoencoder", "table", "auto", {"corruption": "swap"}, None),
]


def build(name: str, source: TensorSource, backbone: str, settings: dict) -> None:
    config = RunConfig()
    config.method.name, config.method.backbone, config.method.params = name, backbone, dict(settings)
    config.data.val_fraction = 0.25
    build_components(config, source=source)


@pytest.mark.parametrize(("name", "data", "backbone", "settings", "field"), CASES)
def test_the_setup_check_and_the_constructor_agree(name, data, backbone, settings, field):
    spec = METHODS.get(name)
    source = SOURCES[data]()
    problems = spec.setup_problems(settings, source.info)
    if field is None:
        assert problems == []
        build(name, source, backbone, settings)  # builds: no rule refuses it
        return
    assert [p.field for p in problems][:1] == [field]
    with pytest.raises(UserError) as refused:
        build(name, source, backbone, settings)
    assert refused.value.field == problems[0].key(name)  # the same field, named for config files
    words = problems[0].words
    assert "method.params" not in words and "data.image_size" not in words  # words, not config keys


def test_the_check_sees_the_image_size_the_run_will_use():
    spec = METHODS.get("mae")
    native = images(8).info
    problems = spec.setup_problems({"patch_size": 3}, native)
    assert problems[0].words == (
        "The image size 8 is not a multiple of the patch size 3: pick a patch size that divides 8 "
        "(2, 4 or 8), or Automatic."
    )
    assert spec.setup_problems({"patch_size": 3}, native, image_size=12) == []  # resized to 12: fits
    resized = data_as_trained(native, 12)
    assert (resized.height, resized.width, resized.sample_shape) == (12, 12, (1, 12, 12))
    build("mae", images(12), "auto", {"patch_size": 3})  # and the run agrees


def test_without_data_only_single_values_are_checked():
    spec = METHODS.get("mae")
    assert spec.setup_problems({"patch_size": 3}) == []
    (problem,) = spec.setup_problems({"patch_size": 40})
    assert (
        problem.field == "patch_size" and problem.words == "Patch size must be a whole number from 0 to 32."
    )
    assert METHODS.get("simclr").setup_problems({"temperature": 0.5}, images(8).info) == []


def test_settings_read_in_plain_words_and_keep_their_tokens():
    mae = {p.name: p for p in METHODS.get("mae").params}
    assert mae["patch_size"].zero_label == "Automatic" and mae["patch_size"].value_words(0) == "Automatic"
    loss = {p.name: p for p in METHODS.get("autoencoder").params}["loss"]
    assert loss.choices == ("mse", "l1", "bce")  # configs and the CLI keep the tokens
    assert loss.choice_text("mse") == "Mean squared error (mse)"
    assert loss.coerce("l1") == "l1"
    for name, spec in METHODS.items():
        for p in spec.params:
            assert p.label, (name, p.name)  # a plain label, not the name capitalised
            assert not p.choices or len(p.choice_words) == len(p.choices), (name, p.name)
