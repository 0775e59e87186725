"""The text methods: masked-token (BERT), next-token (GPT, and a GRU), word2vec and SimCSE train on a small
generated corpus with a falling loss; the language models beat the unigram model on held-out text; word2vec
puts words of the same grammatical slot together; previews carry the "token_text" rows of the contract;
BERT's masking rule has the right statistics; unsuitable backbones are refused with a reason."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F

from ssl_core.config import RunConfig
from ssl_core.data.base import DataInfo, TensorSource
from ssl_core.data.text_bytes import texts_to_bytes
from ssl_core.data.tokenizer import CLS_ID, MASK_ID, PAD_ID, SEP_ID
from ssl_core.errors import UserError
from ssl_core.eval.language import lm_scores, neighbour_rows, source_ids, unigram_counts, word_ids_of
from ssl_core.methods import METHODS, StepContext
from ssl_core.methods._text_lm import (
    FIRST_WORD_ID,
    LMHead,
    UnigramCounts,
    bert_corrupt,
    choose_positions,
    token_cross_entropy,
)
from ssl_core.methods.word2vec import negative_sampling_loss
from ssl_core.train.builder import build_components
from ssl_core.train.live_previews import finished_preview, preview_batch

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# A small grammar: subject verb object place. Words of one slot share their contexts.
SUBJECTS = ["the cat", "the dog", "a bird", "the man", "a woman", "the child"]
VERBS = ["eats", "sees", "likes", "finds", "wants"]
OBJECTS = ["an apple", "the bread", "some fish", "a cake", "the milk"]
PLACES = ["in the garden", "at home", "in the park", "on the hill"]
VOCAB, TOKENS, MAX_BYTES = 112, 16, 64  # 112 wordpiece tokens hold every word of the grammar whole
TEXT_METHODS = ("masked_token", "next_token", "word2vec", "simcse")


def sentences(n: int = 200, seed: int = 0) -> tuple[list[str], list[int]]:
    """n sentences of the grammar, labelled by their place (4 classes)."""
    r = random.Random(seed)
    texts, labels = [], []
    for _ in range(n):
        place = r.randrange(len(PLACES))
        texts.append(f"{r.choice(SUBJECTS)} {r.choice(VERBS)} {r.choice(OBJECTS)} {PLACES[place]}")
        labels.append(place)
    return texts, labels


def text_info(n: int, vocab: int = VOCAB, tokens: int = TOKENS) -> DataInfo:
    settings = {
        "unit": "line", "tokenizer": "wordpiece", "vocab_size": vocab, "max_tokens": tokens,
        "max_bytes": MAX_BYTES, "empty_skipped": 0, "truncated": 0, "format": "txt", "text_column": None,
    }  # fmt: skip
    return DataInfo(
        "text:generated", "generated", n, 1, 0, 0, True, class_names=[p.replace(" ", "_") for p in PLACES],
        modality="text", sample_shape=(MAX_BYTES,), sample_dtype="uint8", extra={"text": settings},
    )  # fmt: skip


def corpus_source(n: int = 200) -> TensorSource:
    texts, labels = sentences(n)
    return TensorSource(texts_to_bytes(texts, MAX_BYTES), torch.tensor(labels), text_info(n))


SMALL = {"layers": 1, "width": 32}
# name -> (backbone, backbone settings, method settings, lr, how far the loss must fall: last 10 / first 10)
RECIPES = {
    "masked_token": ("auto", SMALL, {}, 3e-3, 0.75),
    "next_token": ("auto", SMALL, {}, 3e-3, 0.5),
    "next_token_gru": ("text_gru", {"width": 32}, {}, 3e-3, 0.5),
    "word2vec": ("auto", {"dim": 32}, {"window": 2}, 2.5e-2, 0.9),
    "word2vec_cbow": ("auto", {"dim": 32}, {"window": 2, "variant": "cbow"}, 2.5e-2, 0.9),
    "simcse": ("auto", SMALL, {}, 3e-3, 0.5),
}
STEPS, BATCH = 60, 32


def build(method: str, backbone: str = "auto", backbone_params=None, source=None, **params):
    config = RunConfig()
    config.method.name = method
    config.method.backbone = backbone
    config.method.backbone_params = dict(backbone_params or {})
    config.method.params = dict(params)
    config.data.val_fraction = 0.2
    return build_components(config, source=source or corpus_source())


def train(parts, steps: int = STEPS, lr: float = 3e-3) -> list[float]:
    """The trainer's loop in miniature on the stored training texts (through `method.prepare`)."""
    method = parts.method
    stored, _ = parts.source.read(parts.train_idx)
    opt = torch.optim.AdamW([p for p in method.parameters() if p.requires_grad], lr=lr, weight_decay=0.01)
    g = torch.Generator().manual_seed(0)
    losses = []
    method.train()
    for step in range(steps):
        batch = stored[torch.randint(len(stored), (BATCH,), generator=g)]
        out = method.training_step(method.prepare(batch), StepContext(step, steps, 0, g))
        assert torch.isfinite(out.loss), f"non-finite loss at step {step}"
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        opt.step()
        losses.append(out.loss.item())
    return losses


_TRAINED: dict = {}


def trained(recipe: str):
    """(components, losses) after a short training run (once per module)."""
    if recipe not in _TRAINED:
        backbone, bparams, params, lr, _ = RECIPES[recipe]
        torch.manual_seed(0)
        parts = build(recipe.split("_gru")[0].split("_cbow")[0], backbone, bparams, **params)
        _TRAINED[recipe] = (parts, train(parts, lr=lr))
    return _TRAINED[recipe]


def mean(values) -> float:
    return sum(values) / len(values)


# ---- the registry ----------------------------------------------------------------------------------------
def test_the_text_methods_are_registered_for_text_only():
    families = {name: METHODS.get(name).family for name in TEXT_METHODS}
    assert families == {
        "masked_token": "predictive",
        "next_token": "predictive",
        "word2vec": "predictive",
        "simcse": "contrastive",
    }
    info = text_info(10)
    preferred = {name: METHODS.get(name).backbone_for(info) for name in TEXT_METHODS}
    assert preferred == {
        "masked_token": "text_transformer",
        "next_token": "text_gpt",
        "word2vec": "word2vec",
        "simcse": "text_transformer",
    }
    digits = DataInfo("digits", "digits", 10, 1, 8, 8, True)
    for name in TEXT_METHODS:
        spec = METHODS.get(name)
        assert spec.modalities == ("text",) and spec.paper and len(spec.description) > 200
        assert "text data" in spec.unavailable_reason(digits)


@pytest.mark.parametrize(
    ("method", "backbone", "words"),
    [
        ("masked_token", "text_gpt", "both sides"),
        ("masked_token", "text_lstm", "left to right"),
        ("masked_token", "word2vec", "whatever its neighbours"),
        ("next_token", "text_transformer", "whole sentence"),
        ("next_token", "word2vec", "word order"),
        ("word2vec", "text_transformer", "word2vec backbone"),
        ("simcse", "word2vec", "no dropout"),
        ("masked_token", "small_cnn", "text backbone"),
    ],
)
def test_unsuitable_backbones_are_refused_with_a_reason(method, backbone, words):
    assert words in METHODS.get(method).backbone_reason(backbone)
    if backbone != "small_cnn":
        with pytest.raises(UserError, match=words) as caught:
            build(method, backbone, source=corpus_source(40))
        assert caught.value.field == "method.backbone"


def test_simcse_needs_dropout_in_its_backbone():
    with pytest.raises(UserError, match="dropout") as caught:
        build("simcse", "auto", {**SMALL, "dropout": 0.0}, source=corpus_source(40))
    assert caught.value.field == "method.backbone_params"
    assert METHODS.get("simcse").backbone_reason("text_gru") is None


# ---- pieces on random tensors ----------------------------------------------------------------------------
def random_ids(rows: int = 400, length: int = 32, vocab: int = 60, seed: int = 0) -> torch.Tensor:
    """[CLS] words [SEP] PAD... rows of random lengths."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.zeros(rows, length, dtype=torch.long)
    for i in range(rows):
        n = int(torch.randint(1, length - 1, (1,), generator=g))
        ids[i, 0], ids[i, n + 1] = CLS_ID, SEP_ID
        ids[i, 1 : n + 1] = torch.randint(FIRST_WORD_ID, vocab, (n,), generator=g)
    return ids


def test_bert_masking_hides_15_percent_of_the_words_80_10_10_and_never_a_special_token():
    ids = random_ids()
    words = ids >= FIRST_WORD_ID
    g = torch.Generator().manual_seed(1)
    chosen = choose_positions(ids, 0.15, g)
    assert not bool(chosen[~words].any())
    assert bool(chosen.any(dim=1).all())  # every row with words teaches something
    assert abs(chosen.sum().item() / words.sum().item() - 0.15) < 0.02
    out = bert_corrupt(ids, chosen, g, vocab=60)
    assert torch.equal(out[~chosen], ids[~chosen])
    n = chosen.sum().item()
    masked = (out[chosen] == MASK_ID).sum().item() / n
    kept = (out[chosen] == ids[chosen]).sum().item() / n
    swapped = out[chosen][(out[chosen] != MASK_ID) & (out[chosen] != ids[chosen])]
    assert abs(masked - 0.8) < 0.04 and abs(kept - 0.1 - 0.1 / 55) < 0.03  # a swap may draw the same word
    assert bool((swapped >= FIRST_WORD_ID).all() and (swapped < 60).all())
    assert torch.equal(out[ids == PAD_ID], ids[ids == PAD_ID])


def test_span_masking_hides_runs_of_words_at_about_the_same_share():
    ids = random_ids(length=32)
    chosen = choose_positions(ids, 0.15, torch.Generator().manual_seed(2), span=3.0)
    words = ids >= FIRST_WORD_ID
    assert not bool(chosen[~words].any())
    share = chosen.sum().item() / words.sum().item()
    assert 0.08 < share < 0.22
    starts = chosen & ~torch.nn.functional.pad(chosen, (1, 0))[:, :-1]
    assert chosen.sum().item() / starts.sum().item() > 1.8  # runs, not single tokens (single: 1.0)


def test_losses_on_hand_checked_values():
    # Negative sampling with a zero centre vector: every score is 0, so each term is log 2.
    zero = torch.zeros(3, 4)
    loss, _ = negative_sampling_loss(zero, torch.randn(3, 4), torch.randn(3, 5, 4))
    assert loss.item() == pytest.approx(6 * torch.log(torch.tensor(2.0)).item(), rel=1e-5)
    # A confident true context and hopeless noise words: the loss is small and the pair is ranked first.
    v = torch.ones(2, 4)
    loss, acc = negative_sampling_loss(v * 3, v * 3, -v.unsqueeze(1).expand(2, 5, 4) * 3)
    assert loss.item() < 1e-6 and acc.item() == 1.0
    logits, targets = torch.randn(2, 3, 7), torch.randint(0, 7, (2, 3))
    where = torch.tensor([[True, False, True], [False, False, True]])
    expected = F.cross_entropy(logits[where], targets[where])
    assert token_cross_entropy(logits, targets, where).item() == pytest.approx(expected.item())
    # The tied head writes with the input table: its gradient reaches the table.
    table = torch.nn.Embedding(7, 4)
    head = LMHead(6, 4, 7, tied=True)
    head(torch.randn(2, 6), table).sum().backward()
    assert table.weight.grad is not None and head.out is None
    counts = UnigramCounts(8)
    counts.update(torch.tensor([[CLS_ID, 5, 5, 5, 5, 6, SEP_ID, PAD_ID]]))
    noise = counts.noise()
    assert noise[:FIRST_WORD_ID].sum() == 0 and noise[5] / noise[6] == pytest.approx(4**0.75)


# ---- training --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("recipe", list(RECIPES))
def test_each_text_method_trains_with_a_falling_loss(recipe):
    _, losses = trained(recipe)
    ratio = RECIPES[recipe][-1]
    assert mean(losses[-10:]) < ratio * mean(losses[:10]), (recipe, losses[:3], losses[-3:])


@pytest.mark.parametrize("recipe", ["masked_token", "next_token", "next_token_gru"])
def test_language_models_beat_the_unigram_model_on_held_out_text(recipe):
    parts, _ = trained(recipe)
    method = parts.method
    counts = unigram_counts(source_ids(method, parts.source, parts.train_idx), VOCAB)
    scores = lm_scores(method, source_ids(method, parts.source, parts.val_idx), counts)
    assert scores["tokens"] > 20 and scores["beats_unigram"], scores
    assert scores["perplexity"] < 0.8 * scores["unigram_perplexity"], scores


@pytest.mark.parametrize("recipe", ["word2vec", "word2vec_cbow"])
def test_word2vec_puts_words_of_one_slot_together(recipe):
    parts, _ = trained(recipe)
    method = parts.method
    slots = {
        "cat": {"dog", "man", "woman", "child"},
        "eats": {"sees", "likes", "finds", "wants"},
        "garden": {"park", "hill", "home"},
    }
    rows = neighbour_rows(
        method, [word_ids_of(method, w)[0] for w in slots], k=3, among=method.counts.counts > 0
    )
    for row in rows:
        near = {w for w, _ in row["top"]}
        assert near & slots[row["word"]], row


# ---- previews --------------------------------------------------------------------------------------------
ROW_KEYS = {
    "masked_token": ("masked", {"kind", "text", "slots"}),
    "next_token": ("continuation", {"kind", "prompt", "text", "truth"}),
    "word2vec": ("neighbours", {"kind", "word", "top"}),
    "simcse": ("neighbours", {"kind", "word", "top"}),
}


@pytest.mark.parametrize("name", TEXT_METHODS)
def test_previews_carry_token_text_rows_with_the_contracts_keys(name):
    parts, _ = trained(name)
    method = parts.method
    ids = method.prepare(preview_batch(parts))
    preview = finished_preview(method, ids, torch.Generator().manual_seed(1))
    assert preview.payload == "token_text"
    rows = preview.meta["text_rows"]
    kind, keys = ROW_KEYS[name]
    assert rows and all(row["kind"] == kind and set(row) == keys for row in rows)
    if name == "masked_token":
        again = finished_preview(method, ids, torch.Generator().manual_seed(2)).meta["text_rows"]
        assert [r["text"] for r in again] == [r["text"] for r in rows]  # the same blanks every time
        for row in rows:
            assert row["text"].count("[MASK]") == len(row["slots"]) >= 1
            for slot in row["slots"]:
                assert set(slot) == {"truth", "top"} and len(slot["top"]) == 5
                assert all(isinstance(w, str) and 0 <= p <= 1 for w, p in slot["top"])
    elif name == "next_token":
        assert all(row["prompt"] and row["truth"] for row in rows)
    else:
        assert all(len(row["top"]) >= 1 and -1 <= row["top"][0][1] <= 1 for row in rows)
