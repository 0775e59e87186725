"""folder:PATH — formats, modes, EXIF, labels from subfolders, sizes, damaged files, links, bad input."""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest
import torch
from PIL import Image

from ssl_core.data import describe, open_source
from ssl_core.data import folder as folder_module
from ssl_core.errors import UserError


def save_image(path, array: np.ndarray, mode: str | None = None, **save_kwargs):
    """Write `array` (H, W) or (H, W, C) as an image file; the format follows the suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    (Image.fromarray(array, mode=mode) if mode else Image.fromarray(array)).save(path, **save_kwargs)
    return path


def gray(h: int, w: int, value: int) -> np.ndarray:
    return np.full((h, w), value, dtype=np.uint8)


def rgb(h: int, w: int, color: tuple[int, int, int]) -> np.ndarray:
    return np.broadcast_to(np.array(color, dtype=np.uint8), (h, w, 3)).copy()


@pytest.fixture
def class_folder(tmp_path):
    """A labelled folder: 3 classes (ants 4, bees 3, cats 5 images), 10x10 grayscale PNGs."""
    root = tmp_path / "labelled"
    counts = {"ants": 4, "bees": 3, "cats": 5}
    for k, (name, count) in enumerate(counts.items()):
        for i in range(count):
            save_image(root / name / f"{i}.png", gray(10, 10, 40 * k + i))
    return root, counts


FORMATS = [
    ("png", {}, 0),
    ("jpg", {"quality": 95}, 4),
    ("jpeg", {"quality": 95}, 4),
    ("bmp", {}, 0),
    ("gif", {}, 0),
    ("tif", {}, 0),
    ("tiff", {"compression": "tiff_lzw"}, 0),
    ("webp", {"lossless": True}, 0),
]


@pytest.mark.parametrize(("ext", "kwargs", "tolerance"), FORMATS)
def test_each_format_loads_with_its_pixels(tmp_path, ext, kwargs, tolerance):
    save_image(tmp_path / "d" / f"a.{ext}", rgb(12, 12, (200, 60, 20)), **kwargs)
    save_image(tmp_path / "d" / f"b.{ext}", rgb(12, 12, (10, 120, 250)), **kwargs)
    source = open_source(f"folder:{tmp_path / 'd'}")
    assert source.info.skipped == []
    assert (len(source), source.info.image_shape, source.info.has_labels) == (2, (3, 12, 12), False)
    images, labels = source.read([0, 1])
    assert labels is None and images.dtype == torch.uint8
    expected = torch.tensor([[200, 60, 20], [10, 120, 250]], dtype=torch.int32)
    mean_color = images.to(torch.int32).float().mean(dim=(2, 3))
    assert (mean_color - expected).abs().max() <= tolerance


def test_gif_uses_the_first_frame(tmp_path):
    frames = [Image.fromarray(rgb(8, 8, c)) for c in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    path = tmp_path / "anim" / "a.gif"
    path.parent.mkdir()
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50)
    save_image(tmp_path / "anim" / "b.png", rgb(8, 8, (0, 0, 255)))
    source = open_source(f"folder:{tmp_path / 'anim'}")
    first = source.read([0])[0][0, :, 0, 0].tolist()
    assert first == [255, 0, 0]


def _gray_palette_image(value: int) -> Image.Image:
    img = Image.new("P", (8, 8), value)
    img.putpalette([g for level in range(256) for g in (level, level, level)])
    return img


def test_grayscale_like_modes_give_one_channel_with_scaled_values(tmp_path):
    d = tmp_path / "modes"
    save_image(d / "a_L.png", gray(8, 8, 10))
    la = np.stack([gray(8, 8, 20), gray(8, 8, 0)], axis=-1)
    save_image(d / "b_LA.png", la, mode="LA")
    save_image(d / "c1_16bit.png", np.full((8, 8), 128 * 257, dtype=np.uint16))  # -> 128
    save_image(d / "c2_16bit.tif", np.full((8, 8), 65535, dtype=np.uint16))  # -> 255
    Image.new("1", (8, 8), 1).save(d / "d_1bit.png")
    _gray_palette_image(77).save(d / "e_palette.png")
    save_image(d / "f_float.tif", np.full((8, 8), 0.25, dtype=np.float32))  # -> 64 (0.25 * 255 = 63.75)
    source = open_source(f"folder:{d}")
    assert source.info.channels == 1 and source.info.skipped == []
    images, _ = source.read(range(len(source)))
    assert images[:, 0, 0, 0].tolist() == [10, 20, 128, 255, 255, 77, 64]


def test_mixed_modes_give_three_channels_and_drop_alpha(tmp_path):
    d = tmp_path / "mixed"
    save_image(d / "a_L.png", gray(8, 8, 10))
    rgba = np.concatenate([rgb(8, 8, (10, 20, 30)), gray(8, 8, 0)[..., None]], axis=-1)
    save_image(d / "b_RGBA.png", rgba, mode="RGBA")
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(d / "c_cmyk.jpg", quality=95)  # red
    color_palette = Image.new("P", (8, 8), 1)
    color_palette.putpalette([0, 0, 0, 0, 200, 0] + [0] * 762)
    color_palette.save(d / "d_palette.png")
    source = open_source(f"folder:{d}")
    assert source.info.channels == 3
    images, _ = source.read(range(4))
    px = images[:, :, 4, 4].tolist()
    assert px[0] == [10, 10, 10]
    assert px[1] == [10, 20, 30]
    assert px[2][0] > 240 and px[2][1] < 15 and px[2][2] < 15
    assert px[3] == [0, 200, 0]


def test_channels_and_size_can_be_chosen(tmp_path):
    d = tmp_path / "c"
    save_image(d / "a.png", rgb(20, 20, (255, 0, 0)))
    save_image(d / "b.png", rgb(20, 20, (0, 0, 255)))
    source = open_source(f"folder:{d}", image_size=6, channels=1)
    assert source.info.image_shape == (1, 6, 6)
    values = source.read([0, 1])[0][:, 0, 3, 3].tolist()
    assert values == [76, 29]  # ITU-R 601-2 luma of pure red and pure blue
    gray_source = open_source(f"folder:{d}", channels=3)
    assert gray_source.info.image_shape == (3, 20, 20)


@pytest.mark.parametrize("suffix", ["png", "jpg"])
def test_exif_orientation_is_applied(tmp_path, suffix):
    # Stored 16 wide x 8 high: left half white. Orientation 6 means "rotate 90 degrees clockwise to
    # display", so the displayed image is 8 wide x 16 high with the white half on top.
    stored = np.zeros((8, 16), dtype=np.uint8)
    stored[:, :8] = 255
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rot" / f"photo.{suffix}"
    path.parent.mkdir()
    Image.fromarray(stored).save(path, exif=exif, **({"quality": 95} if suffix == "jpg" else {}))
    source = open_source(f"folder:{path.parent}")
    assert source.info.native_size == (16, 8)  # (H, W) as displayed
    image = source.read([0])[0][0, 0].float()  # 8x8 centre crop of the displayed 16x8
    assert image[:4].mean() > 230 and image[4:].mean() < 25


def test_default_size_is_most_common_shorter_side_capped_at_64(tmp_path):
    big = tmp_path / "big"
    for i in range(3):
        save_image(big / f"{i}.png", gray(100, 80, 50))
    save_image(big / "odd.png", gray(30, 30, 50))
    info = open_source(f"folder:{big}").info
    assert (info.height, info.width, info.native_size) == (64, 64, None)

    small = tmp_path / "small"
    for i in range(2):
        save_image(small / f"{i}.png", gray(20, 20, 9))
    save_image(small / "odd.png", gray(50, 50, 9))
    info = open_source(f"folder:{small}").info
    assert (info.height, info.width) == (20, 20)


def test_non_square_images_keep_aspect_and_are_centre_cropped(tmp_path):
    wide = np.zeros((10, 20), dtype=np.uint8)
    wide[:, 5:15] = 255  # only the middle half is white
    save_image(tmp_path / "w" / "a.png", wide)
    source = open_source(f"folder:{tmp_path / 'w'}")
    assert source.info.image_shape == (1, 10, 10)
    assert source.read([0])[0].min() == 255


def test_class_subfolders_give_labels(class_folder):
    root, counts = class_folder
    save_image(root / "cats" / "2019" / "deep.png", gray(10, 10, 80 + 9))  # nested: still "cats"
    source = open_source(f"folder:{root}")
    info = source.info
    assert info.has_labels and info.class_names == ["ants", "bees", "cats"]
    labels = source.labels()
    assert torch.bincount(labels).tolist() == [4, 3, 6]
    images, read_labels = source.read(range(len(source)))
    assert torch.equal(read_labels, labels)
    # each file's pixel value was written as 40 * class + i
    assert torch.equal(images[:, 0, 0, 0].long() // 40, labels)


def test_images_in_the_top_folder_next_to_class_folders_are_skipped(class_folder):
    root, _ = class_folder
    stray = save_image(root / "stray.png", gray(10, 10, 1))
    source = open_source(f"folder:{root}")
    assert len(source) == 12
    assert [s.path for s in source.info.skipped] == [str(stray)]
    assert "class subfolder" in source.info.skipped[0].reason


def test_a_single_subfolder_is_unlabelled(tmp_path):
    save_image(tmp_path / "one" / "only" / "a.png", gray(8, 8, 1))
    save_image(tmp_path / "one" / "only" / "b.png", gray(8, 8, 2))
    save_image(tmp_path / "one" / "c.png", gray(8, 8, 3))
    source = open_source(f"folder:{tmp_path / 'one'}")
    assert len(source) == 3 and not source.info.has_labels and source.labels() is None


def _damaged_folder(tmp_path):
    d = tmp_path / "damaged"
    for i in range(3):
        save_image(d / f"good{i}.png", gray(8, 8, 10 * (i + 1)))
    noise = np.random.default_rng(0).integers(0, 256, (32, 32), dtype=np.uint8)
    save_image(tmp_path / "whole.png", noise)
    data = (tmp_path / "whole.png").read_bytes()
    (d / "truncated.png").write_bytes(data[: len(data) // 2])
    (d / "empty.jpg").write_bytes(b"")
    (d / "notes.png").write_text("these are my notes, not an image\n")
    save_image(d / "bomb.png", gray(100, 100, 0))
    return d


def test_damaged_files_are_skipped_with_reasons_and_the_rest_load(tmp_path, monkeypatch):
    d = _damaged_folder(tmp_path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)  # makes bomb.png (10,000 pixels) a bomb
    source = open_source(f"folder:{d}")
    assert len(source) == 3
    assert source.read(range(3))[0][:, 0, 0, 0].tolist() == [10, 20, 30]
    reasons = {os.path.basename(s.path): s.reason for s in source.info.skipped}
    assert set(reasons) == {"truncated.png", "empty.jpg", "notes.png", "bomb.png"}
    assert "truncated" in reasons["truncated.png"]
    assert "empty" in reasons["empty.jpg"]
    assert "not an image" in reasons["notes.png"]
    assert "decompression bomb" in reasons["bomb.png"]
    text = describe(source)
    assert "skipped:  4 file(s)" in text and "notes.png" in text


def test_large_folders_stream_and_replace_undecodable_files_by_black(tmp_path, monkeypatch, caplog):
    d = _damaged_folder(tmp_path)
    monkeypatch.setattr(folder_module, "EAGER_DECODE_BYTES", 0)  # as if the folder were huge
    source = open_source(f"folder:{d}")
    assert not source.in_memory
    # only header checks at open: the truncated file is found when it is decoded
    names = [os.path.basename(str(p)) for p in source.files]
    assert names == ["bomb.png", "good0.png", "good1.png", "good2.png", "truncated.png"]
    with caplog.at_level(logging.WARNING):
        images, _ = source.read(range(1, 5))
    assert images[:3, 0, 0, 0].tolist() == [10, 20, 30]
    assert images[3].max() == 0
    assert any("truncated.png" in r.getMessage() for r in caplog.records)


def test_hidden_files_and_folders_are_ignored(tmp_path):
    d = tmp_path / "h"
    save_image(d / "a.png", gray(8, 8, 1))
    save_image(d / "b.png", gray(8, 8, 2))
    save_image(d / ".hidden.png", gray(8, 8, 3))
    save_image(d / ".thumbs" / "c.png", gray(8, 8, 4))
    save_image(d / "__MACOSX" / "d.png", gray(8, 8, 5))
    source = open_source(f"folder:{d}")
    assert len(source) == 2 and not source.info.has_labels and source.info.skipped == []


@pytest.mark.timeout(30)
@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_symlink_loops_end_and_broken_links_are_reported(tmp_path):
    root = tmp_path / "links"
    save_image(root / "a" / "x.png", gray(8, 8, 1))
    save_image(root / "b" / "y.png", gray(8, 8, 2))
    os.symlink(root, root / "a" / "loop")  # points back up: a loop
    os.symlink(root / "a", root / "b" / "again")  # a second way into a/
    os.symlink(root / "missing.png", root / "b" / "broken.png")
    source = open_source(f"folder:{root}")
    assert len(source) == 2
    assert source.info.class_names == ["a", "b"]
    assert [("broken.png" in s.path, "broken" in s.reason) for s in source.info.skipped] == [(True, True)]


def test_a_folder_of_symlinked_images_is_followed(tmp_path):
    real = tmp_path / "real"
    save_image(real / "a.png", gray(8, 8, 1))
    save_image(real / "b.png", gray(8, 8, 2))
    (tmp_path / "view").mkdir()
    os.symlink(real, tmp_path / "view" / "linked")
    assert len(open_source(f"folder:{tmp_path / 'view'}")) == 2


def test_progress_is_reported(tmp_path):
    for i in range(5):
        save_image(tmp_path / "p" / f"{i}.png", gray(8, 8, i))
    calls = []
    open_source(
        f"folder:{tmp_path / 'p'}", progress=lambda phase, done, total: calls.append((phase, done, total))
    )
    assert ("scanning", 5, 5) in calls and ("decoding", 5, 5) in calls


# ---- bad input --------------------------------------------------------------------------------------
def _error(spec: str, **kwargs) -> str:
    with pytest.raises(UserError) as err:
        open_source(spec, **kwargs)
    return str(err.value)


def test_missing_folder(tmp_path):
    message = _error(f"folder:{tmp_path / 'nope'}")
    assert str(tmp_path / "nope") in message and "does not exist" in message


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    message = _error(f"folder:{tmp_path / 'empty'}")
    assert "empty" in message and str(tmp_path / "empty") in message


def test_folder_with_only_text_files(tmp_path):
    d = tmp_path / "texts"
    d.mkdir()
    (d / "readme.txt").write_text("hello")
    (d / "labels.csv").write_text("a,b")
    message = _error(f"folder:{d}")
    assert "No image files" in message and str(d) in message and ".png" in message


def test_folder_where_no_image_can_be_read(tmp_path):
    d = tmp_path / "bad"
    d.mkdir()
    (d / "a.png").write_text("not a png")
    (d / "b.jpg").write_bytes(b"")
    message = _error(f"folder:{d}")
    assert "None of the 2 image file(s)" in message and str(d) in message


def test_folder_spec_pointing_at_a_file(tmp_path):
    path = save_image(tmp_path / "one.png", gray(8, 8, 1))
    assert "is a file" in _error(f"folder:{path}")


def test_folder_spec_without_a_path():
    message = _error("folder:")
    assert "needs PATH" in message and "e.g. folder:" in message
