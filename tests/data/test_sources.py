"""The registry of data kinds, spec parsing, option checks, digits, and the text summary."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ssl_core.data import DATA_SOURCES, describe, open_source, parse_spec
from ssl_core.errors import UserError


def test_registry_lists_every_kind_with_description_and_a_parseable_example():
    assert DATA_SOURCES.names() == [
        "digits",
        "folder",
        "npz",
        "npy",
        "torchvision",
        "series",
        "csv",
        "table",
        "text",
        "audio",
    ]
    for scheme, kind in DATA_SOURCES.items():
        assert kind.scheme == scheme and kind.title and len(kind.description) > 30
        parsed, _ = parse_spec(kind.example)
        assert parsed is kind
        assert kind.to_dict()["example"] == kind.example
    assert "CIFAR10" in DATA_SOURCES.get("torchvision").choices


def test_digits_is_the_bundled_labelled_set_scaled_to_uint8():
    source = open_source("digits")
    info = source.info
    assert (info.size, info.image_shape, info.class_names) == (1797, (1, 8, 8), [str(i) for i in range(10)])
    images, labels = source.read(torch.arange(len(source)))
    assert images.dtype == torch.uint8 and int(images.min()) == 0 and int(images.max()) == 255
    from sklearn.datasets import load_digits

    raw = load_digits()
    assert images[0, 0].tolist() == np.rint(raw.images[0] * 255 / 16).astype(int).tolist()
    assert torch.equal(labels, torch.from_numpy(raw.target).long())


def test_digits_resized_to_three_channels():
    source = open_source("DIGITS", image_size=16, channels=3)
    assert source.info.image_shape == (3, 16, 16) and source.info.native_size == (8, 8)
    images = source.read([0])[0][0]
    assert torch.equal(images[0], images[1]) and torch.equal(images[1], images[2])


def test_unknown_scheme_lists_the_known_ones():
    with pytest.raises(UserError) as err:
        open_source("imagenet:/data")
    message = str(err.value)
    assert "'imagenet'" in message
    for usage in ("digits", "folder:PATH", "npz:PATH", "npy:PATH", "torchvision:NAME[:ROOT]"):
        assert usage in message


def test_empty_spec_and_missing_bare_path():
    with pytest.raises(UserError, match="empty"):
        open_source("  ")
    with pytest.raises(UserError, match="not an existing folder"):
        open_source("/no/such/folder")


def test_bare_paths_are_understood(tmp_path):
    np.savez(tmp_path / "a.npz", images=np.zeros((3, 4, 4), np.uint8))
    np.save(tmp_path / "b.npy", np.zeros((2, 4, 4), np.uint8))
    assert parse_spec(str(tmp_path))[0].scheme == "folder"
    assert len(open_source(str(tmp_path / "a.npz"))) == 3
    assert len(open_source(str(tmp_path / "b.npy"))) == 2


def test_scheme_without_its_argument():
    with pytest.raises(UserError, match="npz: needs PATH"):
        open_source("npz")
    with pytest.raises(UserError, match="nothing after the colon"):
        open_source("digits:extra")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"channels": 2}, "data.channels"),
        ({"channels": 4}, "data.channels"),
        ({"image_size": 2}, "data.image_size"),
        ({"image_size": 5000}, "data.image_size"),
    ],
)
def test_bad_options_name_their_field(kwargs, field):
    with pytest.raises(UserError) as err:
        open_source("digits", **kwargs)
    assert err.value.field == field and field in str(err.value)


def test_describe_summarises_size_shape_classes_and_notes():
    text = describe(open_source("digits", image_size=16))
    assert "1,797" in text and "1 x 16 x 16" in text and "grayscale" in text
    assert "10 classes" in text and "0 (178)" in text
    assert "original: 8 x 8" in text


def test_describe_unlabelled(tmp_path):
    np.save(tmp_path / "u.npy", np.zeros((3, 4, 4, 3), np.uint8))
    text = describe(open_source(f"npy:{tmp_path / 'u.npy'}"))
    assert "labels:   none" in text and "3 x 4 x 4 (RGB" in text


def test_info_round_trips_to_a_dict():
    info = open_source("digits").info
    d = info.to_dict()
    assert d["image_shape"] == [1, 8, 8] and d["size"] == 1797 and d["has_labels"] is True
