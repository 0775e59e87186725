"""Views of token ids: each op keeps the row layout ([CLS] text [SEP] PAD) and never touches specials, does
what it says to the text tokens, is deterministic for a seed and random per sample; the presets build."""

from __future__ import annotations

import pytest
import torch

from ssl_core.augment.text import (
    TEXT_VIEW_PRESETS,
    TextAugment,
    TextViewRecipe,
    delete_tokens,
    is_text,
    mask_tokens,
    shuffle_tokens,
    span_crop,
    text_view_pair,
)
from ssl_core.data.tokenizer import CLS_ID, MASK_ID, PAD_ID, SEP_ID

L = 24
PRESETS = ("simclr", "moco_v2", "byol", "simsiam", "barlow", "vicreg")


def batch(b: int = 64, seed: int = 0) -> torch.Tensor:
    """[CLS] 0-22 distinct words (ids 10..) [SEP] PAD, as the adapter gives them; row 0 is empty text."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.zeros(b, L, dtype=torch.long)
    for row in range(b):
        n = 0 if row == 0 else int(torch.randint(1, L - 1, (1,), generator=g))
        ids[row, 0] = CLS_ID
        ids[row, 1 : 1 + n] = 10 + torch.randperm(200, generator=g)[:n]
        ids[row, 1 + n] = SEP_ID
    return ids


def words(row: torch.Tensor) -> list[int]:
    return [int(v) for v in row if int(v) not in (PAD_ID, CLS_ID, SEP_ID)]


def assert_layout(out: torch.Tensor, shape: tuple[int, int]) -> None:
    """[CLS] first, one [SEP] right after the text, PAD only after it."""
    assert out.shape == shape and out.dtype == torch.int64
    assert (out[:, 0] == CLS_ID).all() and ((out == CLS_ID).sum(dim=1) == 1).all()
    assert ((out == SEP_ID).sum(dim=1) == 1).all()
    sep = (out == SEP_ID).long().argmax(dim=1)
    position = torch.arange(out.shape[1]).expand_as(out)
    assert torch.equal(out == PAD_ID, position > sep.unsqueeze(1))
    assert torch.equal(is_text(out), (position > 0) & (position < sep.unsqueeze(1)))


OPS = {
    "crop": lambda x, g: span_crop(x, 0.5, 0.8, g),
    "delete": lambda x, g: delete_tokens(x, 0.3, g),
    "shuffle": lambda x, g: shuffle_tokens(x, 3.0, g),
    "mask": lambda x, g: mask_tokens(x, 0.3, g),
}


@pytest.mark.parametrize("op", OPS)
def test_each_op_keeps_the_layout_is_seeded_and_differs_per_sample(op):
    ids = batch()
    out = OPS[op](ids, torch.Generator().manual_seed(1))
    assert_layout(out, tuple(ids.shape))
    assert torch.equal(out, OPS[op](ids, torch.Generator().manual_seed(1)))
    assert not torch.equal(out, OPS[op](ids, torch.Generator().manual_seed(2)))
    twins = ids[5:6].expand(32, L).clone()  # the same text 32 times: per-sample draws differ
    assert len({tuple(row.tolist()) for row in OPS[op](twins, torch.Generator().manual_seed(3))}) > 4
    assert torch.equal(OPS[op](ids[:1], torch.Generator().manual_seed(1)), ids[:1])  # empty text stays so
    assert torch.equal(ids, batch())  # the input is left alone


def test_each_op_does_what_it_says():
    ids = batch()
    g = torch.Generator().manual_seed(4)
    cropped = span_crop(ids, 0.5, 0.5, g)
    deleted = delete_tokens(ids, 0.5, g)
    shuffled = shuffle_tokens(ids, 3.0, g)
    masked = mask_tokens(ids, 0.5, g)
    for row in range(1, len(ids)):
        original = words(ids[row])
        span = words(cropped[row])
        assert len(span) == max(1, round(0.5 * len(original)))
        start = original.index(span[0])
        assert original[start : start + len(span)] == span  # one contiguous span
        kept = words(deleted[row])
        assert 1 <= len(kept) <= len(original) and kept == [w for w in original if w in kept]  # in order
        moved = words(shuffled[row])
        assert sorted(moved) == sorted(original)
        assert all(abs(moved.index(w) - i) < 3 for i, w in enumerate(original))
        hidden = words(masked[row])
        assert len(hidden) == len(original)
        assert all(h in (w, MASK_ID) for h, w in zip(hidden, original, strict=True))
    share = (masked == MASK_ID).sum() / is_text(ids).sum()
    assert 0.4 < float(share) < 0.6
    assert span_crop(ids, 0.5, 0.5, g, p=0.0).equal(ids)
    assert shuffle_tokens(ids, 1.0, g).equal(ids) and delete_tokens(ids, 0.0, g).equal(ids)


def test_deletion_keeps_one_token_and_specials_inside_text_are_not_tokens():
    ids = batch()
    everything = delete_tokens(ids, 1.0, torch.Generator().manual_seed(0))
    assert ((is_text(everything).sum(dim=1) == 1) | (is_text(ids).sum(dim=1) == 0)).all()
    assert torch.equal(everything[1:, 1], ids[1:, 1])  # the first word is the one kept
    with pytest.raises(ValueError, match="token ids"):
        mask_tokens(ids.float(), 0.1, torch.Generator())
    with pytest.raises(ValueError, match="low <= high"):
        span_crop(ids, 0.9, 0.5, torch.Generator())


@pytest.mark.parametrize("preset", PRESETS)
def test_presets_give_two_different_views(preset):
    first, second = text_view_pair(preset)
    assert isinstance(first, TextAugment) and not list(first.parameters())
    ids = batch()
    g = torch.Generator().manual_seed(0)
    v1, v2 = first(ids, g), second(ids, g)
    assert_layout(v1, tuple(ids.shape)) and assert_layout(v2, tuple(ids.shape))
    assert not torch.equal(v1, v2) and not torch.equal(v1, ids)
    assert set(TEXT_VIEW_PRESETS.names()) == set(PRESETS)


def test_recipes_check_their_values():
    with pytest.raises(ValueError):
        TextViewRecipe(mask_p=1.5)
    with pytest.raises(ValueError):
        TextViewRecipe(crop_low=0.9, crop_high=0.5)
    assert TextViewRecipe().replace(mask_p=0.0).mask_p == 0.0
