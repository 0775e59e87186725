"""bench/bench_text.py runs end to end in --quick mode on a generated corpus: it prints the three tables with
finite ratios, writes only its own section, hands run_all its targets, and its per-sample reference
tokenises exactly as the engine's input adapter does."""

from __future__ import annotations

import math

import torch

from tests.bench.test_bench_smoke import EARLIER, load, results, run_quick  # noqa: F401 - fixture


def test_text_bench_quick(results, tmp_path, capsys):  # noqa: F811
    text, targets = run_quick("bench_text", results, tmp_path, "--device", "cpu")
    printed = capsys.readouterr().out
    assert "ids agree on 400 texts" in printed  # the reference's ids are the engine's, row for row
    for method, backbone in (("masked_token", "text_transformer"), ("next_token", "text_gpt")):
        cells = [line for line in text.splitlines() if line.startswith(f"| {method} | {backbone} | 16 |")]
        assert len(cells) == 1
        speedup = float(cells[0].rstrip(" |").rsplit("|", 1)[1].strip().strip("*").rstrip("x"))
        assert math.isfinite(speedup) and speedup > 0
    assert "### The data path alone" in text and "### Where the gain comes from" in text
    assert "engine: later epochs (ids remembered)" in text
    assert [t["target"] for t in targets] == [
        "masked_token text_transformer: engine >= 1.5x per-sample tokenising pipeline",
        "next_token text_gpt: engine >= 1.5x per-sample tokenising pipeline",
    ]
    assert all(isinstance(t["met"], bool) and "tokens/s" in t["measured"] for t in targets)


def test_per_sample_reference_pads_and_cuts_like_the_engine():
    from ssl_core.data.tokenizer import CLS_ID, PAD_ID, SEP_ID, TextTokenizer

    bench = load("bench_text")
    texts = ["the cat sat on the mat", "a dog", "the cat sat on the mat and the dog sat on the log too"]
    tokenizer = TextTokenizer.train(texts * 20, "bpe", 275)
    dataset = bench.PerSampleTokens(texts, tokenizer.to_json(), 8)
    rows = torch.stack([dataset[i] for i in range(len(texts))])
    assert torch.equal(rows, tokenizer.encode_batch(texts, 8))
    assert rows.dtype == torch.long and (rows[:, 0] == CLS_ID).all()
    assert rows[1].tolist()[-1] == PAD_ID and SEP_ID in rows[2].tolist()


def test_run_all_runs_it():
    assert "bench_text.py" in load("run_all").SCRIPTS
