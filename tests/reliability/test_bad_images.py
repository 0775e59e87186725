"""Image folders with damaged, unusual and hostile files, opened the way a user opens them.

Each case builds its folder in tmp_path (nothing binary is committed) and goes through
`ssl_core.data.open_source` or the `ssl-core` CLI. A folder with some bad files loads with the bad
files skipped and listed with a reason; a folder with nothing usable is refused in one line.
"""

from __future__ import annotations

import io
import os
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ssl_core.data import open_source, split_indices
from ssl_core.errors import UserError

GROUP = "Bad image folders"
pytestmark = pytest.mark.timeout(60)

RNG_SEED = 1234


def noise(size: int = 12, seed: int = 0, channels: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (size, size, channels) if channels > 1 else (size, size)
    return rng.integers(0, 256, shape, dtype=np.uint8)


def save(path: Path, array: np.ndarray, fmt: str | None = None, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format=fmt, **kw)
    return path


def good_folder(root: Path, per_class: int = 4, classes: tuple[str, ...] = ("a", "b")) -> Path:
    for c, name in enumerate(classes):
        for i in range(per_class):
            save(root / name / f"good{i}.png", noise(12, seed=100 * c + i))
    return root


def encoded(array: np.ndarray, fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt)
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width x height pixels but holds no pixel data (a decompression bomb's header)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    end = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    return b"\x89PNG\r\n\x1a\n" + chunk + end


def skipped_reasons(source) -> dict[str, str]:
    return {Path(s.path).name: s.reason for s in source.info.skipped}


def open_with_one_bad_file(tmp_path: Path, name: str, data: bytes):
    root = good_folder(tmp_path / "data")
    (root / "a" / name).write_bytes(data)
    return open_source(f"folder:{root}")


# ---- damaged files: skipped and reported, the rest loads ------------------------------------------
@pytest.mark.parametrize(
    "name, make, reason",
    [
        ("empty.png", lambda: b"", "empty file (0 bytes)"),
        ("cut.jpg", lambda: encoded(noise(64), "JPEG")[:400], "truncated"),
        ("cut.png", lambda: encoded(noise(64), "PNG")[:300], "truncated"),
        ("notes.jpg", lambda: b"Dear diary, this is not a JPEG.\n" * 3, "not an image"),
        ("html.png", lambda: b"<html><body>404 Not Found</body></html>", "not an image"),
        ("bomb.png", lambda: png_header_only(100_000, 100_000), "decompression bomb"),
    ],
    ids=["zero-byte", "truncated-jpeg", "truncated-png", "text-as-jpeg", "html-as-png", "decompression-bomb"],
)
def test_damaged_file_is_skipped_with_its_reason(case, tmp_path, name, make, reason):
    case.describe(
        f"class folders of 8 good PNGs plus {name}",
        f"8 images load; {name} skipped with a reason mentioning '{reason}'",
    )
    started = time.perf_counter()
    source = open_with_one_bad_file(tmp_path, name, make())
    seconds = time.perf_counter() - started
    reasons = skipped_reasons(source)
    assert source.info.size == 8 and source.info.num_classes == 2
    assert list(reasons) == [name]
    assert reason in reasons[name].lower()
    assert seconds < 10  # the bomb is refused from its header, never decoded
    case.observe(f"loaded 8 images; skipped {name}: {reasons[name]}")


# ---- unusual but valid files: loaded correctly ----------------------------------------------------
def test_exif_rotated_jpeg_is_loaded_upright(case, tmp_path):
    case.describe(
        "a 20x10 (landscape) JPEG whose EXIF orientation 6 says 'rotate 90 degrees clockwise'",
        "loaded as the viewer shows it: portrait, the bright half on top",
    )
    pixels = np.zeros((10, 20, 3), np.uint8)
    pixels[:, :10] = 255  # left half bright; after a 90-degree clockwise turn it is the top half
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = 6
    root = tmp_path / "photos"
    root.mkdir()
    image.save(root / "turned.jpg", exif=exif, quality=95)
    source = open_source(f"folder:{root}")
    img = source.read([0])[0][0].float()  # (C, 10, 10): the centre of the upright 10x20 image
    top, bottom = img[:, :5].mean().item(), img[:, 5:].mean().item()
    assert source.info.size == 1 and source.info.image_shape == (3, 10, 10)
    assert top > 200 and bottom < 50, (top, bottom)
    case.observe(f"loaded upright: top half mean {top:.0f}, bottom half mean {bottom:.0f}")


def test_cmyk_jpeg_is_converted_to_rgb(case, tmp_path):
    case.describe("a CMYK JPEG of pure red next to RGB PNGs", "loaded as RGB red (R high, G and B low)")
    root = good_folder(tmp_path / "data")
    red = np.zeros((12, 12, 3), np.uint8)
    red[..., 0] = 255
    Image.fromarray(red).convert("CMYK").save(root / "a" / "cmyk.jpg", quality=95)
    assert Image.open(root / "a" / "cmyk.jpg").mode == "CMYK"
    source = open_source(f"folder:{root}")
    index = [f.name for f in source.files].index("cmyk.jpg")
    r, g, b = source.read([index])[0][0].float().mean(dim=(1, 2)).tolist()
    assert not source.info.skipped and source.info.channels == 3
    assert r > 200 and g < 60 and b < 60, (r, g, b)
    case.observe(f"loaded as RGB, mean colour ({r:.0f}, {g:.0f}, {b:.0f})")


def test_16_bit_png_is_scaled_not_clipped(case, tmp_path):
    case.describe(
        "a folder of 16-bit grayscale PNGs (values 0, 32896, 65535 in three bands)",
        "loaded as 1-channel uint8 with 0 -> 0, 32896 -> 128, 65535 -> 255",
    )
    root = tmp_path / "scans"
    root.mkdir()
    band = np.zeros((12, 12), np.uint16)
    band[4:8] = 32896
    band[8:] = 65535
    for i in range(3):
        Image.fromarray(band).save(root / f"scan{i}.png")
    assert Image.open(root / "scan0.png").mode.startswith("I;16")
    source = open_source(f"folder:{root}")
    img = source.read([0])[0][0, 0]
    assert source.info.channels == 1 and img.dtype == torch.uint8
    assert img[0, 0] == 0 and img[5, 0] == 128 and img[10, 0] == 255
    case.observe(f"1 x 12 x 12 uint8, bands read as {img[0, 0]}, {img[5, 0]}, {img[10, 0]}")


def test_palette_and_gray_alpha_images(case, tmp_path):
    case.describe(
        "a palette (P) PNG of blue, a gray+alpha (LA) PNG, next to RGB PNGs",
        "palette expanded to its colours, alpha dropped; nothing skipped",
    )
    root = good_folder(tmp_path / "data")
    blue = np.zeros((12, 12, 3), np.uint8)
    blue[..., 2] = 255
    Image.fromarray(blue).convert("P").save(root / "b" / "palette.png")
    la = np.stack([np.full((12, 12), 90, np.uint8), np.full((12, 12), 10, np.uint8)], axis=-1)
    Image.fromarray(la, mode="LA").save(root / "b" / "gray_alpha.png")
    source = open_source(f"folder:{root}")
    names = [f.name for f in source.files]
    pal = source.read([names.index("palette.png")])[0][0].float().mean(dim=(1, 2)).tolist()
    gray = source.read([names.index("gray_alpha.png")])[0][0].float().mean(dim=(1, 2)).tolist()
    assert not source.info.skipped and source.info.size == 10
    assert pal[2] > 200 and pal[0] < 30 and pal[1] < 30, pal
    assert all(abs(v - 90) <= 1 for v in gray), gray  # gray value kept in all 3 channels; alpha ignored
    gray_only = tmp_path / "gray_only"
    gray_only.mkdir()
    for i in range(3):
        Image.fromarray(la, mode="LA").save(gray_only / f"{i}.png")
    assert open_source(f"folder:{gray_only}").info.channels == 1  # a gray+alpha folder stays gray
    case.observe(
        f"palette -> RGB {[round(v) for v in pal]}; LA -> gray {round(gray[0])}; LA-only folder: 1 channel"
    )


def test_animated_gif_uses_its_first_frame(case, tmp_path):
    case.describe(
        "an animated GIF (3 frames: black, white, black) among PNGs", "loaded once, from the first frame"
    )
    root = good_folder(tmp_path / "data")
    frames = [Image.fromarray(np.full((12, 12, 3), v, np.uint8)).convert("P") for v in (0, 255, 0)]
    frames[0].save(root / "a" / "anim.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(root / "a" / "anim.gif").n_frames == 3
    source = open_source(f"folder:{root}")
    names = [f.name for f in source.files]
    first = source.read([names.index("anim.gif")])[0][0].float().mean().item()
    assert names.count("anim.gif") == 1 and source.info.size == 9 and not source.info.skipped
    assert first < 5
    case.observe(f"one image from frame 1 (mean {first:.0f}); 9 images in all")


def test_one_pixel_images(case, tmp_path):
    case.describe(
        "a folder of 1x1 images only, and a 1x1 image among 12x12 ones", "loaded, resized to 4x4 / 12x12"
    )
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    for i in range(4):
        save(tiny / f"{i}.png", np.full((1, 1, 3), 60 * i, np.uint8))
    source = open_source(f"folder:{tiny}")
    assert source.info.image_shape == (3, 4, 4) and source.info.size == 4
    assert source.read([2])[0][0].float().mean().item() == pytest.approx(120, abs=1)
    mixed = good_folder(tmp_path / "mixed")
    save(mixed / "a" / "dot.png", np.full((1, 1, 3), 200, np.uint8))
    source2 = open_source(f"folder:{mixed}")
    assert source2.info.image_shape == (3, 12, 12) and source2.info.size == 9
    case.observe("1x1-only folder -> 4 images of 3x4x4 (colour kept); mixed folder -> 9 images of 3x12x12")


def test_unicode_and_space_laden_file_names(case, tmp_path):
    names = [
        "über café.png",
        "猫 の 写真.jpg",
        " leading and trailing .png",
        "tab\there.png",
        "emoji 🐱.png",
        "a'b\"c.png",
    ]
    case.describe(f"files named {names!r} in a folder whose own name has spaces", "all 6 load; none skipped")
    root = tmp_path / "my photos (2024) – ünïcode"
    for i, name in enumerate(names):
        save(root / name, noise(12, seed=i), fmt="JPEG" if name.endswith(".jpg") else None)
    source = open_source(f"folder:{root}")
    assert source.info.size == 6 and not source.info.skipped
    assert sorted(f.name for f in source.files) == sorted(names)
    case.observe("6 images loaded, names preserved")


def test_symlink_loop_and_broken_link(case, tmp_path):
    case.describe(
        "class folders where a/loop -> the data folder, b/up -> b, and a broken link b/gone.png",
        "search ends; each image counted once; the broken link reported",
    )
    root = good_folder(tmp_path / "data")
    os.symlink(root, root / "a" / "loop")
    os.symlink(root / "b", root / "b" / "up")
    os.symlink(root / "missing.png", root / "b" / "gone.png")
    started = time.perf_counter()
    source = open_source(f"folder:{root}")
    reasons = skipped_reasons(source)
    assert source.info.size == 8 and source.info.class_names == ["a", "b"]
    assert list(reasons) == ["gone.png"] and "broken symbolic link" in reasons["gone.png"]
    assert time.perf_counter() - started < 10
    case.observe(f"8 images, each once; gone.png: {reasons['gone.png']}")


def test_unreadable_file_is_skipped(case, tmp_path, monkeypatch, as_root):
    how = (
        "simulated: the suite runs as root, who can read any file, so PIL.Image.open raises "
        "PermissionError for that one path"
        if as_root
        else "real: chmod 000"
    )
    case.describe(
        f"one file the user may not read ({how})", "skipped with 'Permission denied'; the rest loads"
    )
    root = good_folder(tmp_path / "data")
    secret = save(root / "a" / "secret.png", noise(12))
    if as_root:
        import ssl_core.data.imagefile as imagefile

        real_open = imagefile.Image.open

        def guarded_open(fp, *args, **kw):
            if Path(fp) == secret:
                raise PermissionError(13, "Permission denied", str(fp))
            return real_open(fp, *args, **kw)

        monkeypatch.setattr(imagefile.Image, "open", guarded_open)
    else:  # pragma: no cover - CI runs as root
        secret.chmod(0)
    source = open_source(f"folder:{root}")
    reasons = skipped_reasons(source)
    assert source.info.size == 8 and "Permission denied" in reasons["secret.png"]
    case.observe(f"8 loaded; secret.png skipped: {reasons['secret.png']}")


def test_unreadable_subfolder_is_skipped(case, tmp_path, monkeypatch):
    case.describe(
        "a third class folder that cannot be listed (simulated: os.scandir raises PermissionError for it, "
        "since root can list anything)",
        "the folder is reported as skipped; the other classes load",
    )
    root = good_folder(tmp_path / "data")
    locked = root / "c"
    save(locked / "x.png", noise(12))
    import ssl_core.data.folder as folder

    real_scandir = os.scandir

    def guarded_scandir(path):
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(folder.os, "scandir", guarded_scandir)
    source = open_source(f"folder:{root}")
    reasons = skipped_reasons(source)
    assert source.info.size == 8 and "folder cannot be read" in reasons["c"]
    case.observe(f"8 loaded; c/: {reasons['c']}")


def test_fifo_with_an_image_name_is_not_opened(case, tmp_path):
    case.describe(
        "a named pipe (FIFO) called photo.png among the images - opening it would block forever",
        "skipped as 'not a regular file' without opening it; no hang",
    )
    root = good_folder(tmp_path / "data")
    os.mkfifo(root / "a" / "photo.png")
    source = open_source(f"folder:{root}")
    reasons = skipped_reasons(source)
    assert source.info.size == 8 and "not a regular file" in reasons["photo.png"]
    case.observe(f"8 loaded; photo.png: {reasons['photo.png']}")


def test_hidden_files_and_folders_are_ignored(case, tmp_path):
    case.describe(
        "class folders plus .thumbnails/, .DS_Store, ._a0.png (macOS resource fork), __MACOSX/",
        "hidden entries ignored silently: not loaded, not a class, not reported",
    )
    root = good_folder(tmp_path / "data")
    save(root / ".thumbnails" / "t.png", noise(12))
    (root / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (root / "a" / "._good0.png").write_bytes(b"\0\5\26\7 resource fork")
    save(root / "__MACOSX" / "a" / "x.png", noise(12))
    source = open_source(f"folder:{root}")
    assert source.info.size == 8 and source.info.class_names == ["a", "b"] and not source.info.skipped
    case.observe("8 images, classes a and b, nothing reported")


def test_class_folder_with_a_single_image(case, tmp_path, cli, tiny_train):
    case.describe(
        "class a with 6 images, class b with 1 image; then `ssl-core train` on it",
        "2 classes; the lone image stays in the training split; training runs",
    )
    root = good_folder(tmp_path / "data", per_class=6, classes=("a",))
    save(root / "b" / "lonely.png", noise(12, seed=99))
    source = open_source(f"folder:{root}")
    labels = source.labels()
    train, val = split_indices(len(source), 0.2, 0, labels)
    lonely = int((labels == 1).nonzero()[0])
    assert source.info.class_names == ["a", "b"] and source.info.size == 7
    assert lonely in train.tolist() and lonely not in val.tolist()
    result = cli.run("train", *tiny_train, "--data", f"folder:{root}", "--epochs", "1", "--batch-size", "4",
                     "--runs-dir", tmp_path / "runs")  # fmt: skip
    assert result.code == 0, result.err
    case.observe("2 classes (6 + 1); lone image in the training split; `ssl-core train` exit 0")


def test_ten_thousand_tiny_files(case, tmp_path):
    case.describe(
        "10,000 8x8 PNGs in 10 class folders, plus 3 bad files among them",
        "all 10,000 load in well under 30 s; exactly the 3 bad files are skipped",
    )
    root = tmp_path / "many"
    blobs = [encoded(noise(8, seed=i, channels=1), "PNG") for i in range(50)]
    for c in range(10):
        (root / f"class{c}").mkdir(parents=True)
    for i in range(10_000):
        (root / f"class{i % 10}" / f"{i:05d}.png").write_bytes(blobs[i % 50])
    (root / "class3" / "zero.png").write_bytes(b"")
    (root / "class5" / "text.png").write_bytes(b"not an image")
    (root / "class7" / "cut.png").write_bytes(blobs[0][:40])
    started = time.perf_counter()
    source = open_source(f"folder:{root}")
    seconds = time.perf_counter() - started
    assert source.info.size == 10_000 and source.info.image_shape == (1, 8, 8)
    assert sorted(skipped_reasons(source)) == ["cut.png", "text.png", "zero.png"]
    assert seconds < 30
    case.observe(f"10,000 loaded in {seconds:.1f} s; 3 skipped")


# ---- nothing usable: refused in one line ----------------------------------------------------------
def test_folder_of_only_bad_files_is_refused(case, tmp_path, cli, tiny_train):
    case.describe(
        "`ssl-core train --data folder:X` where X holds only an empty PNG, a text JPEG and a truncated PNG",
        "exit 2; one line naming the folder, the count and an example reason",
    )
    root = tmp_path / "broken"
    root.mkdir()
    (root / "empty.png").write_bytes(b"")
    (root / "text.jpg").write_text("hello")
    (root / "cut.png").write_bytes(encoded(noise(32), "PNG")[:100])
    result = cli.run("train", *tiny_train, "--data", f"folder:{root}", "--runs-dir", tmp_path / "runs")
    line = cli.assert_refused(result, str(root), "None of the 3 image file(s)")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    case.observe(line)


def test_folder_without_images_is_refused(case, tmp_path, cli):
    case.describe(
        "`ssl-core data folder:X` where X holds notes.txt and data.csv",
        "exit 2; one line saying no image files were found and which extensions are supported",
    )
    root = tmp_path / "docs"
    root.mkdir()
    (root / "notes.txt").write_text("hello")
    (root / "data.csv").write_text("a,b\n1,2\n")
    line = cli.assert_refused(cli.run("data", f"folder:{root}"), "No image files", ".png", ".jpg")
    case.observe(line)


def test_cli_data_lists_every_skipped_file(case, tmp_path, cli):
    case.describe(
        "`ssl-core data folder:X` on class folders with 4 kinds of bad file mixed in",
        "exit 0; the summary counts the images and lists each skipped file with its reason",
    )
    root = good_folder(tmp_path / "data")
    (root / "a" / "zero.png").write_bytes(b"")
    (root / "a" / "text.jpg").write_text("hi")
    (root / "b" / "cut.jpg").write_bytes(encoded(noise(64), "JPEG")[:300])
    (root / "b" / "bomb.png").write_bytes(png_header_only(50_000, 50_000))
    result = cli.run("data", f"folder:{root}")
    assert result.code == 0, result.err
    assert "images:   8" in result.out and "skipped:  4 file(s)" in result.out
    for name in ("zero.png", "text.jpg", "cut.jpg", "bomb.png"):
        assert name in result.out
    case.observe("exit 0; '8 images' and 'skipped: 4 file(s)' with each name and reason")


def test_spec_pointing_at_a_missing_or_wrong_path(case, tmp_path):
    case.describe(
        "folder: of a missing path, folder: of a file, and a bare path that does not exist",
        "each refused with a message naming the path and the fix",
    )
    (tmp_path / "file.png").write_bytes(encoded(noise(8), "PNG"))
    messages = []
    for spec, needle in [
        (f"folder:{tmp_path / 'nope'}", "does not exist"),
        (f"folder:{tmp_path / 'file.png'}", "expects a folder"),
        (f"{tmp_path / 'nope' / 'x.npz'}", "not an existing folder"),
    ]:
        with pytest.raises(UserError, match=needle) as info:
            open_source(spec)
        messages.append(str(info.value))
    case.observe(" | ".join(messages))
