"""Rotation prediction and jigsaw puzzles: puzzle making is exact, and the networks learn to solve them."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from ssl_core.data.base import DataInfo
from ssl_core.errors import UserError
from ssl_core.methods import StepContext, build_method
from ssl_core.methods.jigsaw import Jigsaw, cell_size, hamming_permutations
from ssl_core.methods.rotation import ANGLES, rotate
from ssl_core.models import build_backbone
from ssl_core.models.decoders import eval_mode

DIGITS_INFO = DataInfo("digits", "digits", 1797, 1, 8, 8, True)
N_TRAIN = 1500


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """These tiny models run fastest on one thread; more threads only contend on a shared CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def digits() -> torch.Tensor:
    return torch.tensor(load_digits().images, dtype=torch.float32).div(16.0).unsqueeze(1)


def make(
    name: str, overrides: dict | None = None, info: DataInfo = DIGITS_INFO, data: torch.Tensor | None = None
):
    torch.manual_seed(0)
    mean = std = None
    if data is not None:
        mean, std = data.mean(dim=(0, 2, 3)).tolist(), data.std(dim=(0, 2, 3)).clamp_min(1e-3).tolist()
    backbone = build_backbone("small_cnn", info.channels, info.height, mean=mean, std=std)
    return build_method(name, backbone, overrides, info)


def train(
    method, images: torch.Tensor, epochs: int = 2, batch_size: int = 64, lr: float = 2e-3
) -> list[dict]:
    """The trainer's loop in miniature; returns each epoch's mean loss and mean parts."""
    opt = torch.optim.AdamW(method.parameters(), lr=lr, weight_decay=5e-4)
    g = torch.Generator().manual_seed(0)
    steps = math.ceil(len(images) / batch_size)
    history, step = [], 0
    method.train()
    for epoch in range(epochs):
        order = torch.randperm(len(images), generator=g)
        rows = []
        for i in range(steps):
            ctx = StepContext(step=step, total_steps=steps * epochs, epoch=epoch, generator=g)
            out = method.training_step(images[order[i * batch_size : (i + 1) * batch_size]], ctx)
            assert torch.isfinite(out.loss)
            opt.zero_grad()
            out.loss.backward()
            opt.step()
            method.after_optimizer_step(ctx)
            rows.append({"loss": out.loss.item(), **{k: v.item() for k, v in out.parts.items()}})
            step += 1
        history.append({k: float(np.mean([r[k] for r in rows])) for k in rows[0]})
    return history


# ---- rotation -----------------------------------------------------------------------------------
def test_rotate_turns_each_image_by_its_own_quarter_turns():
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 1, 2, 2).repeat(4, 1, 1, 1)
    out = rotate(x, torch.tensor([0, 1, 2, 3]))
    assert out[0, 0].tolist() == [[1, 2], [3, 4]]
    assert out[1, 0].tolist() == [[2, 4], [1, 3]]  # 90 degrees counter-clockwise
    assert out[2, 0].tolist() == [[4, 3], [2, 1]]
    assert out[3, 0].tolist() == [[3, 1], [4, 2]]
    wide = torch.arange(12.0).view(1, 1, 3, 4)
    assert rotate(wide, torch.tensor([1])).shape == (1, 1, 3, 3)  # centre-cropped to a square first


@pytest.fixture(scope="module")
def trained_rotation(digits):
    method = make("rotation", data=digits[:N_TRAIN])
    return method, train(method, digits[:800])


def rotation_accuracy(method, images: torch.Tensor) -> float:
    turns = torch.arange(4).repeat_interleave(len(images))
    rotated = rotate(images.repeat(4, 1, 1, 1), turns)
    return (method.predict(rotated) == turns).float().mean().item()


def test_rotation_accuracy_rises_far_above_chance(trained_rotation, digits):
    method, history = trained_rotation
    assert history[1]["loss"] < history[0]["loss"]
    assert history[1]["accuracy"] > history[0]["accuracy"]
    assert rotation_accuracy(method, digits[N_TRAIN:]) > 0.6  # chance is 0.25


def test_rotation_with_one_random_turn_per_image_also_learns(digits):
    method = make("rotation", {"all_rotations": False, "head_hidden": 0}, data=digits[:N_TRAIN])
    assert isinstance(method.head, torch.nn.Linear)
    history = train(method, digits[:800])
    assert history[1]["loss"] < history[0]["loss"]
    assert rotation_accuracy(method, digits[N_TRAIN:]) > 0.4


def test_rotation_preview_captions_name_the_true_turn(trained_rotation, digits):
    method, _ = trained_rotation
    images = digits[N_TRAIN : N_TRAIN + 8]
    preview = method.preview(images, torch.Generator().manual_seed(4))
    assert preview.kind == "prediction" and list(preview.images) == ["rotated"]
    rotated = preview.images["rotated"]
    assert rotated.shape == (8, 1, 8, 8) and rotated.min() >= 0 and rotated.max() <= 1
    captions = preview.captions["rotated"]
    assert len(captions) == 8
    for image, caption, original in zip(rotated, captions, images, strict=True):
        found = re.fullmatch(r"pred (\d+)° / true (\d+)° ([✓✗])", caption)
        assert found, caption
        pred, true, mark = int(found[1]), int(found[2]), found[3]
        assert true in ANGLES and pred in ANGLES and (mark == "✓") == (pred == true)
        assert torch.equal(image, torch.rot90(original, ANGLES.index(true), dims=(-2, -1)))


# ---- jigsaw -----------------------------------------------------------------------------------
def test_permutation_set_is_fixed_valid_and_spread_out():
    perms = hamming_permutations(100)
    assert perms.shape == (100, 9)
    assert torch.equal(perms, hamming_permutations(100))  # the same on every run
    assert all(sorted(p) == list(range(9)) for p in perms.tolist())
    assert len({tuple(p) for p in perms.tolist()}) == 100
    assert (perms[0] != perms[1]).all()  # the second permutation moves every tile of the first
    dist = (perms[:, None, :] != perms[None, :, :]).sum(-1) + 9 * torch.eye(100, dtype=torch.long)
    rng = np.random.default_rng(0)
    rand = torch.tensor(np.array([rng.permutation(9) for _ in range(100)]))
    rand_dist = (rand[:, None, :] != rand[None, :, :]).sum(-1) + 9 * torch.eye(100, dtype=torch.long)
    assert dist.min() > rand_dist.min()  # closer pairs than any random set would allow are avoided
    assert dist.min() >= 5
    assert torch.equal(hamming_permutations(10), perms[:10])  # greedy: smaller sets are prefixes


@pytest.mark.parametrize(("size", "cell"), [(8, 10), (28, 10), (32, 11), (64, 22), (224, 75)])
def test_cell_size_enlarges_tiny_images(size, cell):
    assert cell_size(size) == cell
    assert cell_size(size, requested=16) == 16


def test_tiles_cover_the_resized_image_exactly_without_gaps(digits):
    method: Jigsaw = make("jigsaw", {"num_permutations": 10, "gap_fraction": 0.0})
    images = digits[:3]
    tiles = method.cut_tiles(images, torch.Generator().manual_seed(0))
    assert tiles.shape == (3, 9, 1, 10, 10)
    resized = torch.nn.functional.interpolate(images, size=(30, 30), mode="bilinear", align_corners=False)
    assert torch.allclose(Jigsaw.assemble(tiles, border=0), resized.clamp(0, 1))


def test_tiles_are_jittered_inside_their_cells(digits):
    method: Jigsaw = make("jigsaw", {"num_permutations": 10})
    assert (method.cell, method.gap, method.tile) == (10, 2, 8)
    a = method.cut_tiles(digits[:4], torch.Generator().manual_seed(0))
    b = method.cut_tiles(digits[:4], torch.Generator().manual_seed(1))
    assert a.shape == (4, 9, 1, 8, 8) and not torch.equal(a, b)


def test_shuffle_puts_the_permuted_tile_at_each_position():
    method: Jigsaw = make("jigsaw", {"num_permutations": 10})
    tiles = torch.arange(9.0).view(1, 9, 1, 1, 1).repeat(2, 1, 1, 2, 2)
    labels = torch.tensor([3, 7])
    shuffled = method.shuffle(tiles, labels)
    for b in range(2):
        assert shuffled[b, :, 0, 0, 0].tolist() == method.permutations[labels[b]].float().tolist()


def test_jigsaw_refuses_tiles_too_small_to_see():
    with pytest.raises(UserError, match=r"method.params\(jigsaw\).cell_px"):
        make("jigsaw", {"cell_px": 4, "gap_fraction": 0.5})


def test_jigsaw_learns_to_solve_puzzles(digits):
    method = make("jigsaw", data=digits[:N_TRAIN])  # the default 100 permutations
    history = train(method, digits[:600])
    assert history[1]["loss"] < 0.7 * history[0]["loss"]
    held_out = digits[N_TRAIN:]
    g = torch.Generator().manual_seed(7)
    labels = torch.randint(100, (len(held_out),), generator=g)
    shuffled = method.shuffle(method.cut_tiles(held_out, g), labels)
    with torch.no_grad(), eval_mode(method):
        accuracy = (method.logits(shuffled).argmax(1) == labels).float().mean().item()
    assert accuracy > 0.4  # chance is 0.01

    preview = method.preview(held_out[:5], torch.Generator().manual_seed(0))
    assert preview.kind == "prediction" and list(preview.images) == ["tiles"]
    grid = preview.images["tiles"]
    assert grid.shape == (5, 1, 26, 26) and grid.min() >= 0 and grid.max() <= 1  # 3 tiles of 8 px + 2 lines
    assert (grid[:, :, 8, :] == 1).all() and (grid[:, :, :, 17] == 1).all()  # white lines between tiles
    assert all(re.fullmatch(r"pred #\d+ / true #\d+ [✓✗]", c) for c in preview.captions["tiles"])
    assert method.encode(held_out[:4]).shape == (4, method.backbone.feature_dim)


def test_jigsaw_keeps_its_permutations_in_the_state_dict():
    method = make("jigsaw", {"num_permutations": 12})
    state = method.state_dict()
    assert torch.equal(state["permutations"], hamming_permutations(12))
