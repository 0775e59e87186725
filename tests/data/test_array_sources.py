"""npz:PATH and npy:PATH — layouts, dtypes, labels, conversions, and every bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ssl_core.data import open_source
from ssl_core.errors import UserError


def _indexed_images(n: int, h: int = 6, w: int = 5, c: int | None = None) -> np.ndarray:
    """Image i is filled with the value 10 * i, so order and content can be checked."""
    shape = (n, h, w) if c is None else (n, h, w, c)
    return (np.arange(n, dtype=np.uint8) * 10).reshape((n,) + (1,) * (len(shape) - 1)) * np.ones(
        shape, np.uint8
    )


def _error(spec: str, **kwargs) -> str:
    with pytest.raises(UserError) as err:
        open_source(spec, **kwargs)
    return str(err.value)


def test_npz_uint8_gray_with_labels_keeps_original_label_values_as_names(tmp_path):
    path = tmp_path / "cells.npz"
    np.savez(path, images=_indexed_images(5), labels=np.array([10, 3, 10, 7, 3]))
    source = open_source(f"npz:{path}")
    info = source.info
    assert (info.size, info.image_shape, info.name) == (5, (1, 6, 5), "cells")
    assert info.class_names == ["3", "7", "10"]  # sorted numerically, original values
    assert source.labels().tolist() == [2, 0, 2, 1, 0]
    images, labels = source.read([3, 1])
    assert images[:, 0, 0, 0].tolist() == [30, 10] and labels.tolist() == [1, 0]


@pytest.mark.parametrize("channels", [1, 3])
def test_npz_channels_last_layouts(tmp_path, channels):
    path = tmp_path / "a.npz"
    np.savez(path, x=_indexed_images(4, c=channels), y=np.array([0, 1, 0, 1]))  # x / y names work too
    source = open_source(f"npz:{path}")
    assert source.info.image_shape == (channels, 6, 5)
    assert source.info.has_labels
    assert source.read([2])[0].flatten().unique().tolist() == [20]


def test_rgba_drops_alpha_and_keeps_colour(tmp_path):
    arr = np.zeros((3, 4, 4, 4), np.uint8)
    arr[..., 0], arr[..., 1], arr[..., 2], arr[..., 3] = 200, 100, 50, 7
    path = tmp_path / "rgba.npy"
    np.save(path, arr)
    source = open_source(f"npy:{path}")
    assert source.info.image_shape == (3, 4, 4)
    assert source.read([0])[0][0, :, 0, 0].tolist() == [200, 100, 50]
    assert not source.info.has_labels and source.labels() is None


def test_float_images_in_unit_range_are_scaled_to_uint8(tmp_path):
    arr = np.array([0.0, 0.5, 1.0, 0.2], dtype=np.float32).reshape(4, 1, 1) * np.ones((4, 2, 2), np.float32)
    path = tmp_path / "f.npy"
    np.save(path, arr)
    images = open_source(f"npy:{path}").read(range(4))[0]
    assert images[:, 0, 0, 0].tolist() == [0, 128, 255, 51]  # rint(x * 255)


def test_channels_first_arrays_are_recognised(tmp_path):
    arr = np.zeros((2, 3, 8, 8), np.uint8)
    arr[:, 0] = 255  # red
    path = tmp_path / "chw.npy"
    np.save(path, arr)
    source = open_source(f"npy:{path}")
    assert source.info.image_shape == (3, 8, 8)
    assert source.read([0])[0][0, :, 0, 0].tolist() == [255, 0, 0]


def test_resize_and_channel_conversion(tmp_path):
    arr = np.zeros((2, 8, 12, 3), np.uint8)
    arr[0, ..., 0] = 255  # red
    arr[1, ..., 1] = 255  # green
    arr[:, :, :2] = 0  # 2 black columns at the left, removed by the centre crop
    arr[:, :, -2:] = 0
    path = tmp_path / "c.npz"
    np.savez(path, images=arr)
    gray = open_source(f"npz:{path}", channels=1)
    assert gray.info.image_shape == (1, 8, 12)
    assert gray.read([0, 1])[0][:, 0, 4, 6].tolist() == [76, 150]  # luma of red, green
    square = open_source(f"npz:{path}", image_size=8)
    assert square.info.image_shape == (3, 8, 8) and square.info.native_size == (8, 12)
    red = square.read([0])[0][0]
    assert red[0].min() == 255 and red[1:].max() == 0  # the black margins were cropped away
    small = open_source(f"npz:{path}", image_size=4)
    assert small.info.image_shape == (3, 4, 4)
    assert small.read([0])[0][0, 0, :, 1:3].min() == 255  # the middle stays red after shrinking
    grown = open_source(f"npz:{path}", image_size=16, channels=3)
    assert grown.info.image_shape == (3, 16, 16)


def test_integer_arrays_within_0_255_and_float_labels_with_whole_values(tmp_path):
    path = tmp_path / "i.npz"
    np.savez(path, images=np.full((3, 4, 4), 200, dtype=np.int64), labels=np.array([1.0, 0.0, 1.0]))
    source = open_source(f"npz:{path}")
    assert source.read([0])[0].max() == 200 and source.labels().tolist() == [1, 0, 1]


def test_single_unnamed_array_in_npz_is_the_images(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, _indexed_images(3))  # stored as arr_0
    assert len(open_source(f"npz:{path}")) == 3


def test_digits_like_labels_shape_n_by_1_is_accepted(tmp_path):
    path = tmp_path / "col.npz"
    np.savez(path, images=_indexed_images(3), labels=np.array([[0], [1], [1]]))
    assert open_source(f"npz:{path}").labels().tolist() == [0, 1, 1]


# ---- bad input --------------------------------------------------------------------------------------
def test_missing_file(tmp_path):
    message = _error(f"npz:{tmp_path / 'none.npz'}")
    assert "does not exist" in message and "none.npz" in message


def test_npz_without_images_lists_what_it_found(tmp_path):
    path = tmp_path / "only_labels.npz"
    np.savez(path, labels=np.arange(3), extra=np.arange(3), more=np.arange(2))
    message = _error(f"npz:{path}")
    assert "has no images" in message and "'extra'" in message and "images=" in message


def test_label_count_must_match_image_count(tmp_path):
    path = tmp_path / "m.npz"
    np.savez(path, images=_indexed_images(5), labels=np.arange(4))
    assert "4 labels for 5 images" in _error(f"npz:{path}")


@pytest.mark.parametrize("shape", [(5, 6), (2, 3, 4, 5, 6), (5,)])
def test_wrong_rank(tmp_path, shape):
    path = tmp_path / "r.npy"
    np.save(path, np.zeros(shape, np.uint8))
    message = _error(f"npy:{path}")
    assert "(N, H, W)" in message and str(tmp_path) in message


def test_wrong_channel_count(tmp_path):
    path = tmp_path / "c5.npy"
    np.save(path, np.zeros((2, 6, 6, 5), np.uint8))
    assert "1, 3 or 4 channels" in _error(f"npy:{path}")


def test_object_arrays_are_refused_without_unpickling(tmp_path):
    path = tmp_path / "obj.npy"
    np.save(path, np.array([np.zeros((2, 2)), "x"], dtype=object), allow_pickle=True)
    assert "dtype=object" in _error(f"npy:{path}")
    archive = tmp_path / "obj.npz"
    np.savez(archive, images=np.array([None, 1], dtype=object))
    assert "dtype=object" in _error(f"npz:{archive}")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_are_refused(tmp_path, bad):
    arr = np.full((3, 4, 4), 0.5, np.float32)
    arr[1, 2, 2] = bad
    path = tmp_path / "nan.npy"
    np.save(path, arr)
    assert "NaN or infinite" in _error(f"npy:{path}")


def test_float_outside_unit_range_is_refused_with_its_range(tmp_path):
    path = tmp_path / "f.npy"
    np.save(path, np.linspace(0, 255, 48, dtype=np.float32).reshape(3, 4, 4))
    message = _error(f"npy:{path}")
    assert "[0, 1]" in message and "255" in message and "divide by 255" in message


def test_integer_values_above_255_are_refused(tmp_path):
    path = tmp_path / "u16.npy"
    np.save(path, np.full((2, 4, 4), 1000, np.uint16))
    assert "0..255" in _error(f"npy:{path}")


def test_zero_samples(tmp_path):
    path = tmp_path / "z.npz"
    np.savez(path, images=np.zeros((0, 8, 8), np.uint8), labels=np.zeros(0, np.int64))
    assert "zero samples" in _error(f"npz:{path}")


def test_negative_labels(tmp_path):
    path = tmp_path / "neg.npz"
    np.savez(path, images=_indexed_images(3), labels=np.array([0, -1, 2]))
    message = _error(f"npz:{path}")
    assert "negative" in message and "-1" in message


def test_non_integer_labels(tmp_path):
    path = tmp_path / "frac.npz"
    np.savez(path, images=_indexed_images(2), labels=np.array([0.5, 1.0]))
    assert "whole numbers" in _error(f"npz:{path}")
    path = tmp_path / "str.npz"
    np.savez(path, images=_indexed_images(2), labels=np.array(["cat", "dog"]))
    assert "labels must be integers" in _error(f"npz:{path}")


def test_npy_given_an_npz_and_a_damaged_file(tmp_path):
    archive = tmp_path / "a.npz"
    np.savez(archive, images=_indexed_images(2))
    assert f"npz:{archive}" in _error(f"npy:{archive}")
    junk = tmp_path / "junk.npz"
    junk.write_text("hello")
    message = _error(f"npz:{junk}")
    assert "is not a NumPy .npz file" in message and "np.savez" in message


def test_folder_given_to_npz(tmp_path):
    assert "is a folder" in _error(f"npz:{tmp_path}")


def test_labels_are_int64_tensors(tmp_path):
    path = tmp_path / "l.npz"
    np.savez(path, images=_indexed_images(3), labels=np.array([1, 0, 1], dtype=np.uint8))
    labels = open_source(f"npz:{path}").labels()
    assert labels.dtype == torch.int64
