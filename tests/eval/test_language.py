"""Language-model evaluation of text runs: the unigram baseline, word-pair files (similarity and analogies,
missing words counted), the Try-it box's answers and refusals, and `ssl-core eval` on a masked-token run
printing its language section next to the probe (a real training run on a generated CSV)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from ssl_core.errors import UserError
from ssl_core.eval.language import (
    format_language,
    known_words,
    lm_scores,
    read_word_pairs,
    source_ids,
    unigram_counts,
    unigram_perplexity,
    word_pair_score,
)
from ssl_core.eval.try_text import try_text
from tests.methods.test_text_methods import OBJECTS, SUBJECTS, VERBS, sentences, trained

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PAIRS = """# word1 word2 score
apple bread 0.9
apple cake 0.8
eats likes 0.7
apple eats 0.1
cat garden 0.05
zebra apple 0.5
cat dog 0.8   # same slot
"""
ANALOGIES = "cat dog apple bread\nsees eats wants likes\nzebra cat dog bird\n"


def test_the_unigram_baseline_is_add_one_smoothed_word_frequency():
    ids = torch.tensor([[2, 5, 5, 6, 3, 0], [2, 5, 3, 0, 0, 0]])  # [CLS] ... [SEP] PAD
    counts = unigram_counts(ids, 8)
    assert counts.tolist() == [0, 0, 0, 2, 0, 3, 1, 0]  # words and [SEP]; no PAD, [CLS]
    # p = (count + 1) / (6 + 8): 5 -> 4/14, 6 -> 2/14.
    expected = math.exp(-(math.log(4 / 14) + math.log(2 / 14)) / 2)
    assert unigram_perplexity(counts, torch.tensor([5, 6])) == pytest.approx(expected)
    assert math.isnan(unigram_perplexity(counts, torch.tensor([], dtype=torch.long)))


def test_word_pair_files_are_read_and_bad_lines_named(tmp_path):
    good = tmp_path / "pairs.txt"
    good.write_text(PAIRS + ANALOGIES, encoding="utf-8")
    pairs, analogies = read_word_pairs(good)
    assert pairs[0] == ("apple", "bread", 0.9) and len(pairs) == 7 and len(analogies) == 3
    bad = tmp_path / "bad.txt"
    bad.write_text("apple bread 0.9\napple bread lots\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"bad.txt, line 2: expected 'word1 word2 score'"):
        read_word_pairs(bad)
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n\n", encoding="utf-8")
    with pytest.raises(UserError, match="no word pairs"):
        read_word_pairs(empty)


def test_word2vec_is_scored_on_a_word_pair_file_with_missing_words_counted(tmp_path):
    parts, _ = trained("word2vec")
    method = parts.method
    path = tmp_path / "pairs.txt"
    path.write_text(PAIRS + ANALOGIES, encoding="utf-8")
    score = word_pair_score(method, path, method.counts.counts > 0)
    assert score["pairs"] == 7 and score["pairs_scored"] == 6
    assert score["spearman"] is not None and -1 <= score["spearman"] <= 1
    assert score["analogies"] == 3 and score["analogies_scored"] == 2
    assert 0 <= score["analogy_accuracy"] <= 1
    assert score["missing_words"] == ["zebra"]
    # Given the training text's words, a word it never holds is missing even when its pieces exist.
    known = known_words(sentences(200)[0]) - {"cake"}
    assert word_pair_score(method, path, None, known)["missing_words"] == ["cake", "zebra"]
    text = format_language({"word_pairs": score, "neighbours": []})
    assert "Spearman" in text and "zebra" in text


def test_held_out_scores_are_the_same_every_time():
    parts, _ = trained("masked_token")
    method = parts.method
    counts = unigram_counts(source_ids(method, parts.source, parts.train_idx), 112)
    held_out = source_ids(method, parts.source, parts.val_idx)
    first, second = lm_scores(method, held_out, counts), lm_scores(method, held_out, counts)
    assert first == second and first["kind"] == "masked_token"


# ---- the Try-it box --------------------------------------------------------------------------------------
def test_try_text_fills_blanks_continues_prompts_and_lists_neighbours():
    masked = trained("masked_token")[0].method
    rows = try_text(masked, "the cat [mask] an apple in the [MASK]", k=3)
    assert [r["kind"] for r in rows] == ["masked"]
    assert len(rows[0]["slots"]) == 2 and all(len(s["top"]) == 3 for s in rows[0]["slots"])
    assert "truth" not in rows[0]["slots"][0]
    assert try_text(masked, "apple")[0]["kind"] == "neighbours"

    causal = trained("next_token")[0].method
    rows = try_text(causal, "the cat eats")
    assert rows[-1]["kind"] == "continuation" and rows[-1]["prompt"] == "the cat eats" and rows[-1]["text"]
    assert [r["kind"] for r in try_text(causal, "apple")] == ["neighbours", "continuation"]

    words = trained("word2vec")[0].method
    near = try_text(words, "apple", k=4)[0]
    assert near["word"] == "apple" and len(near["top"]) == 4 and "apple" not in {w for w, _ in near["top"]}
    sentence = trained("simcse")[0].method
    assert try_text(sentence, "bread")[0]["kind"] == "neighbours"


@pytest.mark.parametrize(
    ("recipe", "text", "words"),
    [
        ("masked_token", "the cat eats an apple", r"type \[MASK\]"),
        ("next_token", "the [MASK] eats", "without \\[MASK\\]"),
        ("word2vec", "the cat eats", "single word"),
        ("simcse", "the cat [MASK]", "single word"),
        ("word2vec", "   ", "Type a sentence"),
    ],
)
def test_try_text_says_what_to_type_when_it_cannot_answer(recipe, text, words):
    with pytest.raises(UserError, match=words):
        try_text(trained(recipe)[0].method, text)


# ---- a real run through `ssl-core eval` ------------------------------------------------------------------
def test_eval_prints_the_language_section_of_a_masked_token_run(tmp_path, capsys, monkeypatch):
    import ssl_core.train.trainer as trainer_module
    from ssl_core.cli.main import main
    from ssl_core.eval.evaluate import evaluate_run
    from tests.tiny_runs import train_tiny

    built = {}  # the model the trainer trained, in memory, to compare with the run reopened from disk
    build = trainer_module.build_components

    def keep(*args, **kwargs):
        built["parts"] = build(*args, **kwargs)
        return built["parts"]

    monkeypatch.setattr(trainer_module, "build_components", keep)

    texts, labels = sentences(240, seed=3)
    data = tmp_path / "sentences.csv"
    data.write_text("text,label\n" + "".join(f"{t},{lab}\n" for t, lab in zip(texts, labels, strict=True)))
    run = train_tiny(
        tmp_path / "runs", f"data.spec='text:{data}'", "data.tokenizer=wordpiece", "data.vocab_size=112",
        "data.length=16", "data.label_column=label", "method.name=masked_token", "method.backbone=auto",
        "method.backbone_params={width = 32, layers = 1}", "train.max_steps=60", "train.epochs=20", "train.batch_size=32",
        "train.lr=0.003", "data.val_fraction=0.2",
    )  # fmt: skip
    pairs = tmp_path / "pairs.txt"
    pairs.write_text(PAIRS, encoding="utf-8")
    report = evaluate_run(run, fractions=(1.0,), seeds=(0,), k=5, word_pairs=pairs)
    lm = report.language["lm"]
    assert lm["kind"] == "masked_token" and lm["perplexity"] < lm["unigram_perplexity"], lm
    assert report.to_dict()["language"]["word_pairs"]["missing_words"] == ["zebra"]
    assert {r["word"] for r in report.language["neighbours"]} & {
        w.split()[-1] for w in SUBJECTS + OBJECTS + VERBS
    }

    assert (
        main(["eval", str(run), "--fractions", "1", "--seeds", "0", "--quiet", "--word-pairs", str(pairs)])
        == 0
    )
    out = capsys.readouterr().out
    assert "Linear probe accuracy" in out and "Language model (held-out text)" in out
    assert "masked-token perplexity" in out and "unigram" in out and "Spearman" in out
    assert main(["eval", str(run), "--fractions", "1", "--seeds", "0", "--quiet", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["language"]["lm"]["beats_unigram"] is True
    assert main(["eval", str(run), "--quiet", "--word-pairs", str(tmp_path / "nope.txt")]) == 2
    assert "no such file" in capsys.readouterr().err
    # A reopened run tokenises and guesses exactly as before.
    from ssl_core.runs.store import load_run

    sentence = "the cat [MASK] an apple in the park"
    live = try_text(built["parts"].method.cpu().eval(), sentence)
    assert live and live[0]["slots"] and live[0]["slots"][0]["top"], live
    assert try_text(load_run(run).method, sentence) == live
    assert try_text(load_run(run).method, sentence) == live  # and again, from a second reopening
    # The HTML report shows the perplexity among its key numbers and the kept masked-guess previews.
    html = tmp_path / "report.html"
    assert main(["report", str(run), "-o", str(html), "--no-eval", "--quiet"]) == 0
    page = html.read_text(encoding="utf-8")
    assert 'data-key="perplexity"' in page and "[MASK]" in page and "hidden word: top guesses" in page


def test_eval_of_unlabelled_text_prints_the_language_section_alone(tmp_path, capsys):
    from ssl_core.cli.main import main
    from tests.tiny_runs import train_tiny

    data = tmp_path / "sentences.txt"
    data.write_text("\n".join(sentences(200, seed=4)[0]) + "\n", encoding="utf-8")
    run = train_tiny(
        tmp_path / "runs", f"data.spec='text:{data}'", "data.tokenizer=wordpiece", "data.vocab_size=112",
        "data.length=16", "method.name=next_token", "method.backbone=text_gru",
        "method.backbone_params={width = 32}", "train.max_steps=40", "train.epochs=20", "train.batch_size=32",
        "train.lr=0.003", "data.val_fraction=0.2",
    )  # fmt: skip
    assert main(["eval", str(run), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "no labels, so no linear probe" in out and "next-token perplexity" in out
    assert (run / "eval" / "language.json").is_file()
