"""Previews kept during training for the run report: at the first step, each quarter of the planned steps
and the last step, whether live previews are on or not; read back as they were drawn."""

import json

import numpy as np
import pytest
import torch

from ssl_core.methods.base import Preview
from ssl_core.report.embed import preview_rows
from ssl_core.report.svg import Line, confusion_svg, line_chart, nice_ticks
from ssl_core.train.events import EventBus, PreviewReady
from ssl_core.train.live_previews import LivePreviews
from ssl_core.train.preview_archive import (
    ArchivedPreview,
    PreviewArchive,
    archive_dir,
    planned_steps,
    read_archive,
)


def test_planned_steps_are_the_first_and_each_quarter():
    assert planned_steps(8) == {1, 2, 4, 6, 8}
    assert planned_steps(1000) == {1, 250, 500, 750, 1000}
    assert planned_steps(1) == {1}


def _preview(payload="image_grid", kind="reconstruction"):
    torch.manual_seed(0)
    if payload == "image_grid":
        images = {"input": torch.rand(3, 1, 8, 8), "rebuilt": torch.rand(3, 1, 8, 8)}
    else:
        images = {"input": torch.randn(3, 2, 20)}
    return Preview(kind, images, captions={"input": ["a", "b", "c"]}, payload=payload, meta={"x": 1})


def test_archive_keeps_planned_and_final_steps_and_reads_them_back(tmp_path):
    archive = PreviewArchive(tmp_path, total_steps=8)
    kept = [s for s in range(1, 6) if archive.due(s, final=s == 5)]
    assert kept == [1, 2, 4, 5]  # a run that ended early (time limit, stop) keeps its last step too
    for step in kept:
        archive.save(step, _preview())
    assert not archive.due(4) and not archive.due(5, final=True)  # never twice
    back = read_archive(tmp_path)
    assert [p.step for p in back] == kept
    original = _preview().images["input"].numpy()
    assert np.abs(back[0].arrays["input"] - original).max() <= 0.5 / 255 + 1e-6  # 8-bit pixels
    assert back[0].captions == {"input": ["a", "b", "c"]} and back[0].meta == {"x": 1}
    # a resumed run's archive knows what it kept
    assert not PreviewArchive(tmp_path, total_steps=8).due(4)


def test_damaged_entries_are_skipped_and_a_refused_write_only_turns_the_archive_off(tmp_path):
    archive = PreviewArchive(tmp_path, total_steps=4)
    archive.save(1, _preview("signal"))
    archive.save(2, _preview("signal"))
    archive.save(3, _preview("signal"))
    (archive_dir(tmp_path) / "step-00000001.npz").write_bytes(b"not a zip")
    cut = archive_dir(tmp_path) / "step-00000003.npz"
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])  # a copy cut short: a broken zip
    back = read_archive(tmp_path)
    assert [p.step for p in back] == [2] and back[0].arrays["input"].dtype == np.float32
    (archive_dir(tmp_path) / "index.json").write_text("{broken", encoding="utf-8")
    assert read_archive(tmp_path) == []

    blocked = tmp_path / "file"
    blocked.write_text("x")
    refused = PreviewArchive(blocked, total_steps=4)  # its folder would be inside a file
    refused.save(1, _preview())
    assert not refused.enabled and not refused.due(4)


class _Method(torch.nn.Module):
    """Just enough of a method for LivePreviews: prepare, preview, a modality."""

    class modality:  # noqa: N801 - stands in for a Modality instance
        @staticmethod
        def preview_values(v, adapter):
            return v

        @staticmethod
        def finish_preview(v):
            return v.float().cpu()

        @staticmethod
        def describe_preview(preview, adapter):
            return preview

    def prepare(self, x):
        return x.float() / 255

    def preview(self, x, generator):
        return Preview("reconstruction", {"input": x, "rebuilt": 1 - x})


def test_previews_are_kept_with_live_previews_off(tmp_path):
    events, seen = EventBus(), []
    events.subscribe(lambda e: seen.append(e) if isinstance(e, PreviewReady) else None)
    samples = torch.randint(0, 255, (4, 1, 8, 8), dtype=torch.uint8)
    previews = LivePreviews(
        events, None, samples, kind="reconstruction", archive=PreviewArchive(tmp_path, total_steps=8)
    )
    for step in range(1, 7):
        previews.maybe_emit(_Method(), torch.device("cpu"), step)
    previews.emit_final(_Method(), torch.device("cpu"), 6)
    assert not seen  # nothing live: interval None
    assert [p.step for p in read_archive(tmp_path)] == [1, 2, 4, 6]
    index = json.loads((archive_dir(tmp_path) / "index.json").read_text())
    assert index["previews"][0]["names"] == ["input", "rebuilt"]


def test_each_payload_has_a_drawer():
    grid = ArchivedPreview(
        3, 8, "views", "image_grid", {"original": np.random.rand(4, 3, 8, 8).astype(np.float32)}
    )
    (row,) = preview_rows(grid)
    assert row.name == "original" and row.image.startswith("data:image/png;base64,")
    signal = ArchivedPreview(3, 8, "forecast", "signal", {"input": np.full((2, 1, 10), np.nan, np.float32)})
    assert preview_rows(signal)[0].image.startswith("data:image/svg+xml;base64,")
    values = np.array([[1.5, 0.0], [np.nan, 1.0]], dtype=np.float32)
    table = ArchivedPreview(
        3, 8, "reconstruction", "table_rows", {"rebuilt": values},
        meta={"columns": ["speed", "kind"], "categories": {"kind": ["car", "bus"]}},
    )  # fmt: skip
    (row,) = preview_rows(table)
    assert row.columns == ["", "speed", "kind"]
    assert row.cells == [["row 1: rebuilt", "1.5", "car"], ["row 2: rebuilt", "–", "bus"]]
    assert preview_rows(ArchivedPreview(3, 8, "x", "unknown", {})) == []


@pytest.mark.parametrize("lo, hi", [(0.0, 1.0), (3.2, 3.9), (-5.0, 120.0), (2.0, 2.0)])
def test_ticks_cover_the_range_in_round_steps(lo, hi):
    ticks = nice_ticks(lo, hi)
    assert ticks[0] <= lo and ticks[-1] >= hi and 2 <= len(ticks) <= 12


def test_charts_are_well_formed_svg():
    from xml.etree import ElementTree

    chart = line_chart([Line("a & b", [(1, 2.0), (2, 1.0)], [0.1, 0.2])], "step", "loss", "t<1>")
    confusion = confusion_svg([[5, 1], [0, 4]], ["zero", "one"], "confusion")
    empty = line_chart([Line("none", [])], "x", "y", "empty")
    for svg in (chart, confusion, empty):
        assert ElementTree.fromstring(svg).tag.endswith("svg")
    assert "a &amp; b" in chart and ">5<" in confusion
