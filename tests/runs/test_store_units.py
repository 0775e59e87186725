import json

import pytest
import torch

from ssl_core.errors import UserError
from ssl_core.runs.atomic import atomic_write_text
from ssl_core.runs.checkpoint import load_checkpoint, save_checkpoint
from ssl_core.runs.metrics import MetricsWriter, read_metrics, truncate_metrics
from ssl_core.runs.run_id import new_run_id, safe_child


def test_metrics_tolerate_a_truncated_last_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    writer = MetricsWriter(path)
    for step in range(1, 4):
        writer.append({"step": step, "loss": 1.0 / step})
    writer.close()
    with path.open("a") as fh:
        fh.write('{"step": 4, "lo')  # what a SIGKILL mid-write leaves
    assert [r["step"] for r in read_metrics(path)] == [1, 2, 3]
    assert truncate_metrics(path, 2) == 2
    assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == [1, 2]


def test_checkpoint_round_trip_and_refuses_code(tmp_path):
    path = tmp_path / "ck.pt"
    save_checkpoint(path, {"model": {"w": torch.ones(2)}, "step": 5})
    state = load_checkpoint(path)
    assert state["step"] == 5 and torch.equal(state["model"]["w"], torch.ones(2))

    class Evil:
        def __reduce__(self):
            return (open, (str(tmp_path / "pwned"), "w"))

    torch.save({"x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(UserError, match="cannot be loaded safely"):
        load_checkpoint(tmp_path / "evil.pt")
    assert not (tmp_path / "pwned").exists()


def test_missing_checkpoint_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="No checkpoint"):
        load_checkpoint(tmp_path / "none.pt")


def test_atomic_write_replaces_whole_file(tmp_path):
    path = tmp_path / "a.txt"
    atomic_write_text(path, "one")
    atomic_write_text(path, "two")
    assert path.read_text() == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_run_ids_are_unique_and_safe(tmp_path):
    a = new_run_id(tmp_path, "simclr", "folder:/data/my photos/../x")
    assert "/" not in a and " " not in a
    (tmp_path / a).mkdir()
    b = new_run_id(tmp_path, "simclr", "folder:/data/my photos/../x")
    assert a != b
    with pytest.raises(UserError):
        safe_child(tmp_path, "../escape")
    with pytest.raises(UserError):
        safe_child(tmp_path, "..")
    assert safe_child(tmp_path, a) == (tmp_path / a).resolve()
