"""The decoded-image cache: hits on a second open, invalidation by file changes, damaged caches rebuilt."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ssl_core.data import cache as cache_module
from ssl_core.data import folder as folder_module
from ssl_core.data import open_source
from ssl_core.data.cache import CACHE_ENV, cache_dir, open_cache
from ssl_core.data.folder import PathList

HOUR_NS = 3600 * 10**9


@pytest.fixture
def cache_root(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv(CACHE_ENV, str(root))
    return root


@pytest.fixture
def calls(monkeypatch):
    """Counts of files probed and decoded by Pillow (not served from the cache)."""
    counts = {"probe": [], "decode": []}
    probe, decode = folder_module.probe, folder_module.decode

    def counting_probe(path):
        counts["probe"].append(path.name)
        return probe(path)

    def counting_decode(path, size, channels):
        counts["decode"].append(path.name)
        return decode(path, size, channels)

    monkeypatch.setattr(folder_module, "probe", counting_probe)
    monkeypatch.setattr(folder_module, "decode", counting_decode)

    def take() -> dict[str, list[str]]:
        out = {k: sorted(v) for k, v in counts.items()}
        for v in counts.values():
            v.clear()
        return out

    return take


def write_png(path, value: int, age_ns: int = HOUR_NS, size: int = 6) -> None:
    """A gray-gradient PNG whose mtime lies `age_ns` in the past (0: now, a 'racy' file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = (np.arange(size * size).reshape(size, size) * 3 + value).astype(np.uint8)
    Image.fromarray(arr).save(path)
    if age_ns:
        stamp = time.time_ns() - age_ns
        os.utime(path, ns=(stamp, stamp))


def make_folder(root, n: int = 4, age_ns: int = HOUR_NS):
    for i in range(n):
        write_png(root / f"{i}.png", 20 * i, age_ns)
    return root


def pixels_of(source) -> dict[str, np.ndarray]:
    images, _ = source.read(list(range(len(source))))
    return {p.name: images[i].numpy() for i, p in enumerate(source.files)}


def test_second_open_is_served_from_the_cache(tmp_path, cache_root, calls):
    folder = make_folder(tmp_path / "d")
    first = open_source(f"folder:{folder}")
    assert calls() == {
        "probe": ["0.png", "1.png", "2.png", "3.png"],
        "decode": ["0.png", "1.png", "2.png", "3.png"],
    }
    second = open_source(f"folder:{folder}")
    assert calls() == {"probe": [], "decode": []}
    assert second.info.to_dict() == first.info.to_dict()
    for name, arr in pixels_of(first).items():
        assert np.array_equal(pixels_of(second)[name], arr)
    assert list(cache_root.glob("decoded/*/pixels-1x6-*.npy"))  # the folder's decoded images on disk


def test_other_decode_settings_are_cached_separately(tmp_path, cache_root, calls):
    folder = make_folder(tmp_path / "d")
    open_source(f"folder:{folder}")
    calls()
    bigger = open_source(f"folder:{folder}", image_size=8, channels=3)
    assert calls()["decode"] == ["0.png", "1.png", "2.png", "3.png"]
    assert bigger.info.image_shape == (3, 8, 8)
    open_source(f"folder:{folder}")
    open_source(f"folder:{folder}", image_size=8, channels=3)
    assert calls()["decode"] == []


def test_changed_added_and_removed_files_are_noticed(tmp_path, cache_root, calls):
    folder = make_folder(tmp_path / "d")
    open_source(f"folder:{folder}")
    calls()
    write_png(folder / "1.png", 200, age_ns=HOUR_NS // 2)  # new content, other mtime
    write_png(folder / "9.png", 90)
    (folder / "2.png").unlink()
    source = open_source(f"folder:{folder}")
    assert calls() == {"probe": ["1.png", "9.png"], "decode": ["1.png", "9.png"]}
    assert [p.name for p in source.files] == ["0.png", "1.png", "3.png", "9.png"]
    got = pixels_of(source)
    assert got["1.png"][0, 0, 0] == 200 and got["9.png"][0, 0, 0] == 90 and got["3.png"][0, 0, 0] == 60
    open_source(f"folder:{folder}")
    assert calls() == {"probe": [], "decode": []}  # the rebuilt cache is complete again


def test_a_just_written_file_is_checked_by_content(tmp_path, cache_root, calls):
    """A file rewritten within the file system's clock tick keeps size and mtime; its digest differs."""
    folder = make_folder(tmp_path / "d", age_ns=0)  # all 'racy': modified a moment ago
    open_source(f"folder:{folder}")
    calls()
    before = os.stat(folder / "1.png")
    write_png(folder / "1.png", 21, age_ns=0)  # same size (same shape, similar values)
    os.utime(folder / "1.png", ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(folder / "1.png").st_size == before.st_size
    source = open_source(f"folder:{folder}")
    assert calls()["decode"] == ["1.png"]
    assert pixels_of(source)["1.png"][0, 0, 0] == 21


@pytest.mark.parametrize(
    "damage",
    ["garbage npy", "truncated npy", "flipped byte", "garbage index", "an array as index", "missing npy"],
)
def test_a_damaged_cache_is_ignored_and_rebuilt(tmp_path, cache_root, calls, damage):
    folder = make_folder(tmp_path / "d")
    first = pixels_of(open_source(f"folder:{folder}"))
    calls()
    (npy,) = cache_root.glob("decoded/*/pixels-*.npy")
    (index,) = cache_root.glob("decoded/*/pixels-*.npz")
    if damage == "garbage npy":
        npy.write_bytes(b"not numpy at all")
    elif damage == "truncated npy":
        npy.write_bytes(npy.read_bytes()[:-20])
    elif damage == "flipped byte":
        data = bytearray(npy.read_bytes())
        data[-5] ^= 0xFF
        npy.write_bytes(data)
    elif damage == "garbage index":
        index.write_bytes(b"PK\x03\x04 this is not a zip archive")
    elif damage == "an array as index":
        with open(index, "wb") as fh:
            np.save(fh, np.arange(4))
    else:
        npy.unlink()
    source = open_source(f"folder:{folder}")
    assert calls()["decode"] == ["0.png", "1.png", "2.png", "3.png"]
    for name, arr in pixels_of(source).items():
        assert np.array_equal(arr, first[name])
    open_source(f"folder:{folder}")
    assert calls()["decode"] == []  # rebuilt
    assert len(list(cache_root.glob("decoded/*/pixels-*.npy"))) == 1  # no stale data files left


def test_unreadable_files_are_not_cached_and_are_reported_each_time(tmp_path, cache_root, calls):
    folder = make_folder(tmp_path / "d", n=3)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 30)
    for _ in range(2):
        source = open_source(f"folder:{folder}")
        assert [s.path for s in source.info.skipped] == [str(folder / "broken.png")]
        assert len(source) == 3
    assert calls()["probe"] == ["0.png", "1.png", "2.png", "broken.png", "broken.png"]


def test_turned_off_or_unwritable_cache_still_opens_the_folder(tmp_path, monkeypatch, calls, caplog):
    folder = make_folder(tmp_path / "d", n=2)
    monkeypatch.setenv(CACHE_ENV, "off")
    assert cache_dir() is None
    for _ in range(2):
        assert len(open_source(f"folder:{folder}")) == 2
    assert calls()["decode"] == ["0.png", "0.png", "1.png", "1.png"]

    blocker = tmp_path / "a-file"
    blocker.write_text("the cache folder cannot be created below a file")
    monkeypatch.setenv(CACHE_ENV, str(blocker))
    assert len(open_source(f"folder:{folder}")) == 2
    assert "could not write the image cache" in caplog.text


def test_cache_location_defaults_and_override(tmp_path, monkeypatch):
    monkeypatch.delenv(CACHE_ENV, raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_dir() == tmp_path / ".cache" / "ssl-workbench" / "decoded"
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "elsewhere"))
    assert cache_dir() == tmp_path / "elsewhere" / "decoded"
    # One cache folder per data folder, by its absolute path.
    a, b = open_cache(tmp_path / "x"), open_cache(tmp_path / "y")
    assert a.directory != b.directory and a.directory.parent == tmp_path / "elsewhere" / "decoded"


def test_a_renamed_file_is_decoded_under_its_new_name_only(tmp_path, cache_root, calls):
    folder = make_folder(tmp_path / "d")
    open_source(f"folder:{folder}")
    calls()
    (folder / "1.png").rename(folder / "7.png")  # same size and mtime, other name
    source = open_source(f"folder:{folder}")
    assert calls() == {"probe": ["7.png"], "decode": ["7.png"]}
    assert [p.name for p in source.files] == ["0.png", "2.png", "3.png", "7.png"]
    assert pixels_of(source)["7.png"][0, 0, 0] == 20


def test_a_touched_file_or_one_of_another_size_is_decoded_again(tmp_path, cache_root, calls):
    folder = make_folder(tmp_path / "d")
    open_source(f"folder:{folder}")
    calls()
    stamp = time.time_ns() - HOUR_NS // 2
    os.utime(folder / "0.png", ns=(stamp, stamp))  # same bytes, newer mtime
    before = os.stat(folder / "2.png")
    write_png(folder / "2.png", 100, size=7)  # another size, the old mtime put back
    os.utime(folder / "2.png", ns=(before.st_atime_ns, before.st_mtime_ns))
    source = open_source(f"folder:{folder}")
    assert calls() == {"probe": ["0.png", "2.png"], "decode": ["0.png", "2.png"]}
    assert source.info.image_shape == (1, 6, 6)  # 2.png is now 7x7: resized to the common 6x6
    assert pixels_of(source)["0.png"][0, 0, 0] == 0


def test_an_unchanged_folder_is_served_without_rewriting_the_cache(tmp_path, cache_root, calls):
    folder = make_folder(tmp_path / "d")
    open_source(f"folder:{folder}")
    calls()
    written = {p: p.stat().st_mtime_ns for p in cache_root.glob("decoded/*/*")}
    assert sorted(p.suffix for p in written) == [".npy", ".npz", ".npz"]
    open_source(f"folder:{folder}")
    assert calls() == {"probe": [], "decode": []}
    assert {p: p.stat().st_mtime_ns for p in cache_root.glob("decoded/*/*")} == written


def test_labels_and_skipped_files_are_the_same_from_the_cache(tmp_path, cache_root, calls):
    root = tmp_path / "classes"
    for k, name in enumerate(["zebra", "ant", "cat-a", "cat"]):
        for i in range(2):
            write_png(root / name / f"{i}.png", 40 * k + i)
    write_png(root / "stray.png", 7)  # next to class folders: skipped
    (root / "ant" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 30)
    first = open_source(f"folder:{root}")
    calls()
    second = open_source(f"folder:{root}")
    assert calls() == {"probe": ["broken.png"], "decode": []}  # unreadable files are tried each time
    assert second.info.class_names == ["ant", "cat", "cat-a", "zebra"]
    assert second.info.to_dict() == first.info.to_dict()
    assert [s.path for s in second.info.skipped] == [
        str(root / "stray.png"),
        str(root / "ant" / "broken.png"),
    ]
    assert torch.equal(second.labels(), first.labels())
    images, labels = second.read(range(len(second)))
    # each file's value is 40 * (its folder's position in the list above) + i
    written_as = {"zebra": 0, "ant": 1, "cat-a": 2, "cat": 3}
    names = [second.info.class_names[c] for c in labels.tolist()]
    assert [written_as[n] for n in names] == (images[:, 0, 0, 0] // 40).tolist()


def test_a_cache_of_another_format_or_a_damaged_header_index_is_rebuilt(tmp_path, cache_root, calls):
    folder = make_folder(tmp_path / "d")
    open_source(f"folder:{folder}")
    calls()
    (headers,) = cache_root.glob("decoded/*/headers.npz")
    with np.load(headers) as npz:
        columns = dict(npz)
    meta = json.loads(columns["meta"].tobytes())
    columns["meta"] = np.frombuffer(json.dumps({**meta, "format": 2}).encode(), np.uint8)
    np.savez(headers, **columns)
    legacy = headers.with_name("headers.json")  # the index of format 2, now unused
    legacy.write_text("{}")
    open_source(f"folder:{folder}")
    assert calls() == {"probe": ["0.png", "1.png", "2.png", "3.png"], "decode": []}
    assert not legacy.exists()  # removed when the new index replaced it
    headers.write_bytes(headers.read_bytes()[:50])  # truncated
    open_source(f"folder:{folder}")
    assert calls()["probe"] == ["0.png", "1.png", "2.png", "3.png"]
    open_source(f"folder:{folder}")
    assert calls() == {"probe": [], "decode": []}


def test_digests_of_files_no_longer_racy_are_dropped(tmp_path, cache_root, calls, monkeypatch):
    folder = make_folder(tmp_path / "d", age_ns=0)  # modified a moment ago: kept with digests

    def stored_digests() -> dict:
        (index,) = cache_root.glob("decoded/*/pixels-*.npz")
        with np.load(index) as npz:
            return json.loads(npz["meta"].tobytes())["digest"]

    open_source(f"folder:{folder}")
    assert sorted(stored_digests()) == ["0.png", "1.png", "2.png", "3.png"]
    calls()
    monkeypatch.setattr(cache_module, "_RACY_NS", 0)  # as if RACY_SECONDS had passed
    open_source(f"folder:{folder}")
    assert calls() == {"probe": [], "decode": []} and stored_digests() == {}


@pytest.mark.skipif(os.name == "nt" or os.uname().sysname == "Darwin", reason="needs byte file names")
def test_file_names_that_are_not_utf8_are_cached(tmp_path, cache_root, calls):
    folder = make_folder(tmp_path / "d", n=2)
    odd = os.fsdecode(b"caf\xe9.png")  # Latin-1 bytes: not valid UTF-8
    (folder / "1.png").rename(folder / odd)
    first = open_source(f"folder:{folder}")
    calls()
    second = open_source(f"folder:{folder}")
    assert calls() == {"probe": [], "decode": []}
    assert [p.name for p in second.files] == [p.name for p in first.files]
    assert pixels_of(second)[odd][0, 0, 0] == 20


def test_source_files_are_paths_made_on_demand(tmp_path, cache_root):
    folder = make_folder(tmp_path / "d", n=3)
    files = open_source(f"folder:{folder}").files
    assert isinstance(files, PathList) and isinstance(files[0], Path)
    assert files == [folder / "0.png", folder / "1.png", folder / "2.png"]
    assert list(files[1:]) == [folder / "1.png", folder / "2.png"] and files[-1].name == "2.png"
