"""NumPy arrays with wrong types, values and shapes, opened through npz:/npy: specs and the CLI.

Arrays are all-or-nothing (one file), so a bad array is refused with a message naming the file, the
problem and the fix; acceptable variants (int16 holding 0..255, floats in [0, 1]) load correctly.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest

from ssl_core.data import open_source
from ssl_core.errors import UserError

GROUP = "Bad arrays"
pytestmark = pytest.mark.timeout(60)


def images(n: int = 20, size: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size), dtype=np.uint8)


def write(path: Path, arrays: dict[str, np.ndarray] | np.ndarray, allow_pickle: bool = False) -> Path:
    if isinstance(arrays, dict):
        np.savez(path, allow_pickle=allow_pickle, **arrays)
    else:
        np.save(path, arrays, allow_pickle=allow_pickle)
    return path


def object_images() -> np.ndarray:
    arr = np.empty(3, dtype=object)
    arr[:] = [images(1)[0], "not an image", {"a": 1}]
    return arr


def with_nan() -> np.ndarray:
    x = images().astype(np.float32) / 255
    x[3, 2, 2] = np.nan
    x[5, 0, 0] = np.inf
    return x


REFUSED = [
    # id, file name, arrays, words the one-line message must contain
    ("object-dtype-npy", "objects.npy", lambda: object_images(), ["dtype=object", "numeric"]),
    ("object-dtype-npz-member", "objects.npz", lambda: {"images": object_images()}, ["dtype=object"]),
    ("nan-and-inf", "nan.npz", lambda: {"images": with_nan()}, ["2 NaN or infinite", "nan_to_num"]),
    ("rank-1", "flat.npy", lambda: images().reshape(-1), ["3-D (N, H, W) or 4-D", "1-D"]),
    ("rank-2", "rows.npy", lambda: images().reshape(20, 64), ["3-D (N, H, W) or 4-D", "2-D"]),
    ("rank-5", "video.npy", lambda: images().reshape(20, 1, 8, 8, 1)[:, :, :, :, [0, 0]], ["5-D"]),
    ("five-channels", "bands.npy", lambda: np.zeros((4, 8, 8, 5), np.uint8), ["5 channels", "1, 3 or 4"]),
    ("zero-samples", "empty.npz", lambda: {"images": np.zeros((0, 8, 8), np.uint8)}, ["zero samples"]),
    ("zero-height", "thin.npy", lambda: np.zeros((4, 0, 8), np.uint8), ["zero height or width"]),
    (
        "labels-wrong-length",
        "short.npz",
        lambda: {"images": images(), "labels": np.arange(17)},
        ["17 labels for 20 images", "one label per image"],
    ),
    (
        "labels-negative",
        "neg.npz",
        lambda: {"images": images(), "labels": np.r_[np.full(3, -1), np.arange(17) % 4]},
        ["3 label(s) are negative", "-1"],
    ),
    (
        "labels-fractional",
        "frac.npz",
        lambda: {"images": images(), "labels": np.linspace(0, 3, 20)},
        ["whole numbers"],
    ),
    (
        "labels-2d",
        "onehot.npz",
        lambda: {"images": images(), "labels": np.eye(4)[np.arange(20) % 4]},
        ["1-D array", "(20, 4)"],
    ),
    (
        "labels-strings",
        "names.npz",
        lambda: {"images": images(), "labels": np.array(["cat", "dog"] * 10)},
        ["integers", "0..K-1"],
    ),
    ("float-0-255", "f255.npy", lambda: images().astype(np.float32), ["[0, 1]", "divide by 255"]),
    ("float-negative", "fneg.npy", lambda: images().astype(np.float32) / 255 - 0.5, ["[0, 1]", "-0.5"]),
    ("int16-out-of-range", "i16.npy", lambda: images().astype(np.int16) * 4 - 300, ["0..255", "-300"]),
    ("uint16-wide", "u16.npy", lambda: images().astype(np.uint16) * 257, ["0..255", "65535"]),
    (
        "string-dtype",
        "text.npy",
        lambda: np.array([["a"] * 8] * 8 * 4).reshape(4, 8, 8),
        ["not an image type"],
    ),
    ("complex-dtype", "cplx.npy", lambda: images().astype(np.complex64), ["not an image type"]),
    ("no-images-key", "weights.npz", lambda: {"w": np.zeros(3), "b": np.zeros(2)}, ["no images", "'images'"]),
]


@pytest.mark.parametrize("name, make, needles", [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_bad_array_is_refused(case, tmp_path, name, make, needles):
    arrays = make()
    named = arrays.items() if isinstance(arrays, dict) else [("array", arrays)]
    shape = ", ".join(f"{key} {tuple(value.shape)} {value.dtype}" for key, value in named)
    case.describe(f"{name}: {shape}", f"refused; the message names {name} and says: {', '.join(needles)}")
    path = write(tmp_path / name, arrays, allow_pickle=True)  # the object arrays need pickle to be saved
    scheme = path.suffix.lstrip(".")
    with pytest.raises(UserError) as info:
        open_source(f"{scheme}:{path}")
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    for needle in needles:
        assert needle in message, message
    case.observe(message.replace(str(tmp_path), "TMP"))


def test_refusal_through_the_cli(case, tmp_path, cli, tiny_train):
    case.describe(
        "`ssl-core train --data npz:X` with NaN images, then with 17 labels for 20 images",
        "exit 2 each time, one stderr line 'error: ...' naming the file; no run folder is created",
    )
    nan = write(tmp_path / "nan.npz", {"images": with_nan()})
    short = write(tmp_path / "short.npz", {"images": images(), "labels": np.arange(17)})
    runs = tmp_path / "runs"
    lines = [
        cli.assert_refused(
            cli.run("train", *tiny_train, "--data", f"npz:{nan}", "--runs-dir", runs), "nan.npz", "NaN"
        ),
        cli.assert_refused(
            cli.run("train", *tiny_train, "--data", f"npz:{short}", "--runs-dir", runs),
            "short.npz",
            "17 labels",
        ),
    ]
    assert not runs.exists() or not any(runs.iterdir())
    case.observe(" | ".join(line.replace(str(tmp_path), "TMP") for line in lines))


def test_int16_images_within_0_255_load_exactly(case, tmp_path):
    case.describe("int16 images holding 0..255 (a common export dtype)", "loaded as the same uint8 values")
    x = images()
    path = write(tmp_path / "i16.npy", x.astype(np.int16))
    source = open_source(f"npy:{path}")
    assert np.array_equal(source.read(range(20))[0][:, 0].numpy(), x)
    case.observe("uint8 values identical to the int16 input")


def test_float_images_in_unit_range_load(case, tmp_path):
    case.describe(
        "float64 images in [0, 1], channels-last RGB (N, H, W, 3)", "loaded as round(x * 255), 3 channels"
    )
    x = np.random.default_rng(1).random((10, 8, 8, 3))
    path = write(tmp_path / "unit.npz", {"x": x, "y": np.arange(10) % 2})
    source = open_source(f"npz:{path}")
    pixels = source.read(range(10))[0].numpy()
    assert source.info.image_shape == (3, 8, 8) and source.info.num_classes == 2
    assert np.array_equal(pixels, np.rint(x * 255).astype(np.uint8).transpose(0, 3, 1, 2))
    case.observe("3 x 8 x 8, 2 classes, values exact")


def test_single_sample_loads_but_cannot_train(case, tmp_path, cli, tiny_train):
    case.describe("`ssl-core train` on an .npy holding one image", "exit 2: at least 2 images are needed")
    path = write(tmp_path / "one.npy", images(1))
    assert len(open_source(f"npy:{path}")) == 1
    line = cli.assert_refused(
        cli.run("train", *tiny_train, "--data", f"npy:{path}", "--runs-dir", tmp_path / "runs"), "at least 2"
    )
    case.observe(line.replace(str(tmp_path), "TMP"))


def test_header_declaring_a_huge_array(case, tmp_path):
    case.describe(
        "an .npy whose header declares shape (10^13, 8, 8) but holds 128 bytes (an 'array bomb')",
        "refused from the header, before any allocation: 'truncated or damaged'",
    )
    buf = io.BytesIO()
    np.save(buf, images(2))
    path = tmp_path / "bomb.npy"
    path.write_bytes(buf.getvalue().replace(b"(2, 8, 8)", b"(10000000000000, 8, 8)"))
    with pytest.raises(UserError, match="truncated or damaged") as info:
        open_source(f"npy:{path}")
    case.observe(str(info.value).replace(str(tmp_path), "TMP"))


@pytest.mark.parametrize("cut", [0.3, 0.7, 0.99])
def test_truncated_files(case, tmp_path, cut):
    case.describe(
        f".npy and .npz files cut to {cut:.0%} of their length", "refused with 're-save' / 'truncated' advice"
    )
    x = images(50, 16)
    messages = []
    for suffix in ("npy", "npz"):
        full = write(tmp_path / f"full.{suffix}", {"images": x} if suffix == "npz" else x)
        data = full.read_bytes()
        path = tmp_path / f"cut.{suffix}"
        path.write_bytes(data[: int(len(data) * cut)])
        with pytest.raises(UserError) as info:
            open_source(f"{suffix}:{path}")
        message = str(info.value)
        assert str(path) in message and ("re-save" in message.lower() or "truncated" in message.lower()), (
            message
        )
        messages.append(message.replace(str(tmp_path), "TMP"))
    case.observe(" | ".join(messages))


def test_fifo_given_as_an_array_file(case, tmp_path):
    case.describe(
        "npz: and npy: pointing at a named pipe (opening it would block forever)", "refused at once; no hang"
    )
    fifo = tmp_path / "stream.npz"
    os.mkfifo(fifo)
    messages = []
    for scheme in ("npz", "npy"):
        with pytest.raises(UserError, match="not a regular file") as info:
            open_source(f"{scheme}:{fifo}")
        messages.append(str(info.value).replace(str(tmp_path), "TMP"))
    case.observe(messages[0])


def test_wrong_file_kind(case, tmp_path):
    case.describe(
        "an .npz given as npy:, an image given as npz:, and a CSV renamed .npy",
        "each refused with what the file is and which spec to use",
    )
    npz = write(tmp_path / "pair.npz", {"images": images()})
    (tmp_path / "photo.npz").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    (tmp_path / "table.npy").write_text("a,b\n1,2\n")
    messages = []
    for spec, needle in [
        (f"npy:{npz}", "use npz:"),
        (f"npz:{tmp_path / 'photo.npz'}", "not a NumPy .npz file"),
        (f"npy:{tmp_path / 'table.npy'}", "not a NumPy .npy file"),
    ]:
        with pytest.raises(UserError, match=needle) as info:
            open_source(spec)
        messages.append(str(info.value).replace(str(tmp_path), "TMP"))
    case.observe(" | ".join(messages))
