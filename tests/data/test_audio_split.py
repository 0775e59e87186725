"""split_indices with groups: whole groups (the clips of one file) on one side, stratified by class where the
groups allow, deterministic; without groups (or with one item per group) exactly the split it was before."""

from __future__ import annotations

import pytest
import torch

from ssl_core.data import split_indices


def _clips(per_file: list[int], file_labels: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    groups = torch.repeat_interleave(torch.arange(len(per_file)), torch.tensor(per_file))
    labels = torch.tensor(file_labels)[groups]
    return groups, labels


def test_no_group_lies_on_both_sides_and_the_share_is_close():
    per_file = [1 + (7 * k) % 9 for k in range(60)]
    groups, labels = _clips(per_file, [k % 3 for k in range(60)])
    n = len(groups)
    for seed in range(5):
        train, val = split_indices(n, 0.2, seed, labels, groups=groups)
        assert torch.equal(torch.sort(torch.cat([train, val])).values, torch.arange(n))
        assert not set(groups[train].tolist()) & set(groups[val].tolist())
        assert abs(len(val) - 0.2 * n) <= 6, (len(val), n)
        # stratified: each class holds about a fifth of its clips in validation, and keeps training clips
        for c in range(3):
            share = (labels[val] == c).sum() / (labels == c).sum()
            assert 0.1 <= float(share) <= 0.3
            assert (labels[train] == c).any()


def test_group_split_is_deterministic_and_depends_on_the_seed():
    groups, labels = _clips([3] * 40, [k % 2 for k in range(40)])
    a = split_indices(len(groups), 0.25, 1, labels, groups=groups)
    b = split_indices(len(groups), 0.25, 1, labels, groups=groups)
    c = split_indices(len(groups), 0.25, 2, labels, groups=groups)
    assert torch.equal(a[1], b[1]) and not torch.equal(a[1], c[1])


@pytest.mark.parametrize("labelled", [True, False])
def test_one_item_per_group_or_no_groups_gives_the_old_split(labelled):
    labels = torch.tensor([0] * 50 + [1] * 30 + [2] * 20) if labelled else None
    old = split_indices(100, 0.2, 3, labels)
    same = split_indices(100, 0.2, 3, labels, groups=torch.arange(100) * 7)
    assert torch.equal(old[0], same[0]) and torch.equal(old[1], same[1])


def test_unlabelled_groups_and_groups_bigger_than_the_share():
    groups, _ = _clips([10, 10, 10], [0, 0, 0])
    train, val = split_indices(30, 0.1, 0, groups=groups)  # 3 clips asked, every file has 10
    assert len(val) == 10 and len(set(groups[val].tolist())) == 1
    one = torch.zeros(12, dtype=torch.long)  # a single file: there is nothing else to hold out
    train, val = split_indices(12, 0.25, 0, groups=one)
    assert len(val) == 3


def test_a_class_of_one_file_stays_in_training():
    groups, labels = _clips([4, 4, 4, 4, 4], [0, 0, 0, 0, 1])
    train, val = split_indices(20, 0.25, 0, labels, groups=groups)
    assert (labels[train] == 1).sum() == 4 and not set(groups[train].tolist()) & set(groups[val].tolist())
    assert len(val) > 0


def test_many_classes_of_equal_groups_still_hit_the_total():
    # the synthetic speech layout: 20 words x 8 voices, 6 clips per (word, voice) group
    groups, labels = _clips([6] * 160, [k // 8 for k in range(160)])
    train, val = split_indices(960, 0.2, 0, labels, groups=groups)
    assert abs(len(val) - 192) <= 6
    per_class = torch.bincount(labels[val], minlength=20)
    assert int(per_class.min()) >= 6 and int(per_class.max()) <= 12  # every word is validated, none dominates
