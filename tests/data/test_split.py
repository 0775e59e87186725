"""split_indices — a deterministic partition, stratified when labels allow."""

from __future__ import annotations

import pytest
import torch

from ssl_core.data import split_indices
from ssl_core.errors import UserError


def _is_partition(train: torch.Tensor, val: torch.Tensor, n: int) -> bool:
    both = torch.cat([train, val])
    return len(both) == n and torch.equal(torch.sort(both).values, torch.arange(n))


def test_same_seed_same_split_and_other_seed_other_split():
    a = split_indices(100, 0.25, seed=7)
    b = split_indices(100, 0.25, seed=7)
    c = split_indices(100, 0.25, seed=8)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[1], c[1])
    assert _is_partition(*a, 100) and len(a[1]) == 25
    assert a[0].dtype == torch.int64 and torch.equal(a[1], torch.sort(a[1]).values)


def test_zero_fraction_gives_an_empty_validation_set():
    train, val = split_indices(10, 0.0, seed=0)
    assert torch.equal(train, torch.arange(10)) and len(val) == 0


def test_small_fraction_still_gives_one_validation_and_keeps_one_training_image():
    assert [len(p) for p in split_indices(10, 0.01, seed=0)] == [9, 1]
    assert [len(p) for p in split_indices(2, 0.9, seed=0)] == [1, 1]
    assert [len(p) for p in split_indices(1, 0.5, seed=0)] == [1, 0]


def test_stratified_split_keeps_class_proportions():
    labels = torch.tensor([0] * 50 + [1] * 30 + [2] * 20)[
        torch.randperm(100, generator=torch.Generator().manual_seed(1))
    ]
    train, val = split_indices(100, 0.2, seed=3, labels=labels)
    assert _is_partition(train, val, 100)
    assert torch.bincount(labels[val]).tolist() == [10, 6, 4]
    # random (unstratified) splits of this size usually miss these exact counts; stratification must not
    again = split_indices(100, 0.2, seed=4, labels=labels)
    assert torch.bincount(labels[again[1]]).tolist() == [10, 6, 4]
    assert not torch.equal(val, again[1])


def test_stratified_split_with_rounding_hits_the_total_and_keeps_training_images():
    labels = torch.tensor([0, 0, 1, 1, 1, 2, 2])  # quotas 0.86, 1.29, 0.86 of 3 images
    train, val = split_indices(7, 0.4, seed=0, labels=labels)
    assert len(val) == 3 and _is_partition(train, val, 7)
    assert set(labels[train].tolist()) == {0, 1, 2}  # every class still has a training image


def test_classes_with_one_image_fall_back_to_a_plain_random_split():
    labels = torch.tensor([0] * 9 + [1])
    train, val = split_indices(10, 0.3, seed=0, labels=labels)
    assert len(val) == 3 and _is_partition(train, val, 10)


def test_fraction_out_of_range_is_a_user_error():
    with pytest.raises(UserError, match="val_fraction"):
        split_indices(10, 1.0, seed=0)
    with pytest.raises(UserError, match="val_fraction"):
        split_indices(10, -0.1, seed=0)
