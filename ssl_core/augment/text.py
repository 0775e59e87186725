"""Views of token ids for the joint-embedding methods, batched, with per-sample randomness.

Ids are (B, L) int64 as the text adapter gives them: [CLS] tokens [SEP] then PAD (= 0). Every op works on
the text tokens only (anything but PAD, [CLS] and [SEP]) and gives rows in the same layout, so specials and
padding are never changed, only moved to where the shorter text now ends:
- `span_crop`: keep one contiguous span of a share in [low, high] of each text's tokens (with probability p);
- `delete_tokens`: drop each token with probability p, close the gaps, pad again (one token always stays);
- `shuffle_tokens`: move tokens by at most about `window` places (a local reordering);
- `mask_tokens`: replace each token with [MASK] with probability p.
A view applies them in that order (`TextViewRecipe`). All randomness comes from the step's generator (drawn
on its device, then moved to the ids' device), independently for every sample.

`TEXT_VIEW_PRESETS` / `text_view_pair(name)` give the two augmenters of the shared preset names (simclr,
moco_v2, byol, simsiam, barlow, vicreg), as augment/table.py and augment/series.py do for their data.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ssl_core.augment.checks import check_fraction
from ssl_core.registry import Registry

# The tokenizer's fixed special ids (ssl_core.data.tokenizer), repeated so this module imports torch only.
PAD_ID, CLS_ID, SEP_ID, MASK_ID = 0, 2, 3, 4


def _check_ids(ids: Tensor) -> None:
    if ids.dim() != 2 or ids.is_floating_point() or ids.shape[1] < 2:
        raise ValueError(f"expected token ids (B, L) as integers, L >= 2; got {ids.dtype} {tuple(ids.shape)}")


def _uniform(shape: tuple[int, ...], generator: torch.Generator, device: torch.device) -> Tensor:
    return torch.rand(shape, generator=generator, device=generator.device).to(device)


def is_text(ids: Tensor) -> Tensor:
    """(B, L) bool: True at text tokens (not PAD, [CLS] or [SEP])."""
    return (ids != PAD_ID) & (ids != CLS_ID) & (ids != SEP_ID)


def text_tokens(ids: Tensor, keep: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """(tokens (B, L) with each row's kept text tokens first, in order, PAD after; counts (B,)).
    `keep` (B, L) bool narrows the text tokens further (deletion)."""
    keep = is_text(ids) if keep is None else keep & is_text(ids)
    length = ids.shape[1]
    order = torch.arange(length, device=ids.device).expand_as(ids)
    first = torch.argsort(torch.where(keep, order, order + length), dim=1, stable=True)
    counts = keep.sum(dim=1)
    tokens = torch.gather(ids, 1, first)
    return torch.where(order < counts.unsqueeze(1), tokens, torch.zeros_like(tokens)), counts


def assemble(tokens: Tensor, counts: Tensor, length: int) -> Tensor:
    """Rows [CLS] tokens[:count] [SEP] PAD... of `length` (counts above length - 2 are cut)."""
    counts = counts.clamp(max=length - 2)
    b = tokens.shape[0]
    position = torch.arange(length, device=tokens.device).expand(b, length)
    body = torch.zeros(b, length, dtype=tokens.dtype, device=tokens.device)
    width = min(length - 1, tokens.shape[1])
    body[:, 1 : 1 + width] = tokens[:, :width]
    out = torch.where((position >= 1) & (position <= counts.unsqueeze(1)), body, torch.zeros_like(body))
    out[:, 0] = CLS_ID
    return out.scatter(1, (counts + 1).unsqueeze(1), SEP_ID)


def span_crop(ids: Tensor, low: float, high: float, generator: torch.Generator, p: float = 1.0) -> Tensor:
    """Keep one contiguous span of round(share * n) >= 1 of each text's n tokens, share ~ U(low, high), at
    a uniform start; each row is cropped with probability p."""
    _check_ids(ids)
    check_fraction("low", low)
    check_fraction("high", high)
    if not 0 < low <= high:
        raise ValueError(f"need 0 < low <= high; got low={low}, high={high}")
    b, length = ids.shape
    u = _uniform((b, 3), generator, ids.device)
    tokens, counts = text_tokens(ids)
    share = low + (high - low) * u[:, 0]
    kept = torch.where(counts > 0, (share * counts).round().long().clamp(min=1), counts)
    kept = torch.minimum(kept, counts)
    start = (u[:, 1] * (counts - kept + 1)).floor().long().clamp(min=0)
    start = torch.minimum(start, counts - kept)
    kept = torch.where(u[:, 2] < p, kept, counts)
    start = torch.where(u[:, 2] < p, start, torch.zeros_like(start))
    position = torch.arange(length, device=ids.device).expand(b, length)
    shifted = torch.gather(tokens, 1, (position + start.unsqueeze(1)).clamp(max=length - 1))
    return assemble(
        torch.where(position < kept.unsqueeze(1), shifted, torch.zeros_like(shifted)), kept, length
    )


def delete_tokens(ids: Tensor, p: float, generator: torch.Generator) -> Tensor:
    """Drop each text token with probability p and close the gap; a row keeps at least its first token."""
    _check_ids(ids)
    check_fraction("p", p)
    text = is_text(ids)
    drop = (_uniform(tuple(ids.shape), generator, ids.device) < p) & text
    emptied = (text & ~drop).sum(dim=1) == 0
    first = text & (text.long().cumsum(dim=1) == 1)
    drop &= ~(first & emptied.unsqueeze(1))
    tokens, counts = text_tokens(ids, keep=~drop)
    return assemble(tokens, counts, ids.shape[1])


def shuffle_tokens(ids: Tensor, window: float, generator: torch.Generator) -> Tensor:
    """Reorder each text locally: token i goes to rank of i + U(0, window) (so it moves by less than
    `window` places); window <= 1 changes nothing."""
    _check_ids(ids)
    if window <= 1:
        return ids.clone()
    tokens, counts = text_tokens(ids)
    b, length = ids.shape
    position = torch.arange(length, device=ids.device).expand(b, length).float()
    keys = position + window * _uniform((b, length), generator, ids.device)
    keys = torch.where(position < counts.unsqueeze(1), keys, position + 2.0 * length + window)
    return assemble(torch.gather(tokens, 1, torch.argsort(keys, dim=1)), counts, length)


def mask_tokens(ids: Tensor, p: float, generator: torch.Generator) -> Tensor:
    """Each text token becomes [MASK] with probability p."""
    _check_ids(ids)
    check_fraction("p", p)
    hide = (_uniform(tuple(ids.shape), generator, ids.device) < p) & is_text(ids)
    return torch.where(hide, torch.full_like(ids, MASK_ID), ids)


@dataclass(frozen=True)
class TextViewRecipe:
    """One view: span crop (probability, share range), deletion, local shuffle and masking shares."""

    crop_p: float = 0.8
    crop_low: float = 0.6
    crop_high: float = 1.0
    delete_p: float = 0.1
    shuffle_window: float = 0.0
    mask_p: float = 0.15

    def __post_init__(self) -> None:
        for name in ("crop_p", "crop_low", "crop_high", "delete_p", "mask_p"):
            check_fraction(name, getattr(self, name))
        if not 0 < self.crop_low <= self.crop_high:
            raise ValueError(f"need 0 < crop_low <= crop_high; got {self.crop_low}, {self.crop_high}")
        if self.shuffle_window < 0:
            raise ValueError(f"shuffle_window must be >= 0; got {self.shuffle_window}")

    def replace(self, **changes) -> TextViewRecipe:
        return dataclasses.replace(self, **changes)


class TextAugment(nn.Module):
    """One view of a batch of token ids (B, L) -> (B, L), per the recipe. No parameters."""

    def __init__(self, recipe: TextViewRecipe):
        super().__init__()
        self.recipe = recipe

    def extra_repr(self) -> str:
        return f"recipe={self.recipe}"

    def forward(self, ids: Tensor, generator: torch.Generator) -> Tensor:
        _check_ids(ids)
        r = self.recipe
        x = span_crop(ids, r.crop_low, r.crop_high, generator, r.crop_p) if r.crop_p > 0 else ids.clone()
        if r.delete_p > 0:
            x = delete_tokens(x, r.delete_p, generator)
        if r.shuffle_window > 1:
            x = shuffle_tokens(x, r.shuffle_window, generator)
        if r.mask_p > 0:
            x = mask_tokens(x, r.mask_p, generator)
        return x


TextViewPair = tuple[TextViewRecipe, TextViewRecipe]
TEXT_VIEW_PRESETS: Registry[Callable[[], TextViewPair]] = Registry("text augmentation preset")
_STRONG = TextViewRecipe()  # crop 60-100% of the text (80% of the time), delete 10%, mask 15%
_WEAK = TextViewRecipe(crop_p=0.5, crop_low=0.8, delete_p=0.05, mask_p=0.1)


@TEXT_VIEW_PRESETS.decorator("simclr")
def simclr_text_views() -> TextViewPair:
    """Two strong views: the contrastive loss needs views that differ."""
    return _STRONG, _STRONG


@TEXT_VIEW_PRESETS.decorator("moco_v2")
def moco_v2_text_views() -> TextViewPair:
    return _STRONG, _STRONG


@TEXT_VIEW_PRESETS.decorator("simsiam")
def simsiam_text_views() -> TextViewPair:
    return _STRONG, _STRONG


@TEXT_VIEW_PRESETS.decorator("byol")
def byol_text_views() -> TextViewPair:
    """Asymmetric, as BYOL's image views: one strong view, one light one (plus a little shuffling)."""
    return _STRONG.replace(shuffle_window=2.0), _WEAK


@TEXT_VIEW_PRESETS.decorator("barlow")
def barlow_text_views() -> TextViewPair:
    return _STRONG.replace(mask_p=0.2), _WEAK.replace(mask_p=0.15)


@TEXT_VIEW_PRESETS.decorator("vicreg")
def vicreg_text_views() -> TextViewPair:
    return _STRONG.replace(mask_p=0.2), _STRONG.replace(delete_p=0.15)


def text_view_pair(name: str) -> tuple[TextAugment, TextAugment]:
    """Two TextAugments for the preset `name`."""
    first, second = (TextAugment(recipe) for recipe in TEXT_VIEW_PRESETS.get(name)())
    return first, second
