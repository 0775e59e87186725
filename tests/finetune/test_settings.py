"""FinetuneSettings checks, the labels a person types, and the splits every variant shares."""

import os
from dataclasses import replace

import numpy as np
import pytest

from ssl_core.errors import UserError
from ssl_core.finetune import FinetuneSettings, heldout_split, labelled_subset, labels_text, parse_labels

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # the form test; set before Qt starts


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"labels": 0.0}, "labels"),
        ({"labels": 1.5}, "labels"),
        ({"labels": 0}, "labels"),
        ({"labels": "ten"}, "labels"),
        ({"labels": True}, "labels"),
        ({"epochs": 0}, "epochs"),
        ({"epochs": 2.5}, "epochs"),
        ({"lr": 0.0}, "lr"),
        ({"backbone_lr_ratio": -0.1}, "backbone_lr_ratio"),
        ({"patience": 0}, "patience"),
        ({"threshold": 1.5}, "threshold"),
        ({"threshold": float("nan")}, "threshold"),
        ({"seeds": ()}, "seeds"),
        ({"seeds": ("a",)}, "seeds"),
        ({"val_share": 1.0}, "val_share"),
    ],
)
def test_checked_names_the_bad_field(changes, field):
    with pytest.raises(UserError) as err:
        FinetuneSettings(**changes).checked()
    assert err.value.field == field
    assert field in str(err.value)


def test_checked_keeps_good_values_and_types():
    s = FinetuneSettings(labels=5, seeds=[3, 3, 1], epochs=4.0, pseudo_labels=1).checked()
    assert s.labels == 5 and isinstance(s.labels, int)
    assert s.seeds == (3, 1) and s.epochs == 4 and s.pseudo_labels is True
    assert FinetuneSettings(labels=0.01).checked().labels == pytest.approx(0.01)
    again = FinetuneSettings.from_dict(s.to_dict())
    assert again == s


@pytest.mark.parametrize(
    "text, value",
    [
        ("0.1", 0.1),
        ("10%", 0.1),
        ("1%", 0.01),
        ("all", 1.0),
        ("1", 1.0),
        ("5/class", 5),
        ("5", 5),
        ("1/class", 1),
    ],
)
def test_parse_labels(text, value):
    parsed = parse_labels(text)
    assert parsed == pytest.approx(value) and type(parsed) is type(value)


@pytest.mark.parametrize("text", ["", "abc", "0", "150%", "-3", "0/class"])
def test_parse_labels_refuses_nonsense(text):
    with pytest.raises(UserError) as err:
        parse_labels(text)
    assert err.value.field == "labels"


def test_labels_text():
    assert labels_text(0.01) == "1%" and labels_text(1.0) == "100%" and labels_text(5) == "5 per class"


def test_labelled_subset_fraction_and_count_per_class():
    labels = np.repeat(np.arange(4), [50, 30, 10, 2])
    frac = labelled_subset(labels, 0.1, seed=0)
    assert np.bincount(labels[frac], minlength=4).tolist() == [5, 3, 1, 1]  # at least one per class
    count = labelled_subset(labels, 3, seed=0)
    assert np.bincount(labels[count], minlength=4).tolist() == [3, 3, 3, 2]  # all of a smaller class
    assert np.array_equal(labelled_subset(labels, 3, seed=0), count)  # a seed fixes the pick
    assert not np.array_equal(labelled_subset(labels, 3, seed=1), count)


def test_pseudo_labels_go_to_each_classs_most_confident_predictions_in_proportion():
    import torch

    from ssl_core.finetune.workflow import pseudo_label_choice

    rng = np.random.default_rng(0)
    # 250 unlabelled samples: 150 predicted as the easy class 0 (0.9-1.0 sure), 100 as the hard class 1
    # (0.55-0.75 sure): a 0.7 threshold keeps all of class 0 and a quarter of class 1
    p0 = np.concatenate([rng.uniform(0.9, 1.0, 150), 1 - rng.uniform(0.55, 0.75, 100)])
    probs = torch.tensor(np.stack([p0, 1 - p0], axis=1))
    guess = probs.argmax(dim=1).numpy()
    above = int((probs.max(dim=1).values >= 0.7).sum())
    assert 150 < above < 200
    chosen, classes = pseudo_label_choice(probs, np.array([0.5, 0.5]), threshold=0.7)
    assert np.array_equal(classes, guess[chosen])  # each gets the class it is predicted as
    # as many as the threshold keeps, half of them for each class: its most confident ones
    assert abs(len(chosen) - above) <= 1 and np.all(np.diff(chosen) > 0)
    assert (guess[chosen] == 1).sum() == (guess[chosen] == 0).sum() == round(above / 2)
    most_sure_of_1 = np.argsort(-probs[150:, 1].numpy(), kind="stable")[: round(above / 2)] + 150
    assert set(chosen[guess[chosen] == 1]) == set(most_sure_of_1)
    # in proportion to the labelled classes
    chosen, _ = pseudo_label_choice(probs, np.array([0.8, 0.2]), threshold=0.7)
    assert (guess[chosen] == 0).sum() == round(0.8 * above) and (guess[chosen] == 1).sum() == round(
        0.2 * above
    )
    # a class predicted less often than its share gets all of its predictions; one never predicted, none
    only_zero = torch.tensor(np.tile([[0.8, 0.2]], (10, 1)))
    assert len(pseudo_label_choice(only_zero, np.array([0.5, 0.5]), threshold=0.7)[0]) == 5
    assert len(pseudo_label_choice(only_zero, np.array([0.1, 0.9]), threshold=0.7)[0]) == 1
    assert len(pseudo_label_choice(probs, np.array([0.5, 0.5]), threshold=0.9999)[0]) == 0


def test_heldout_split_is_disjoint_stratified_and_complete():
    labels = np.repeat(np.arange(3), 30)
    val, test = heldout_split(labels, 1 / 3, seed=0)
    assert len(np.intersect1d(val, test)) == 0 and len(val) + len(test) == 90
    assert np.bincount(labels[val]).tolist() == [10, 10, 10]
    with pytest.raises(UserError) as err:
        heldout_split(np.array([0]), 0.5, seed=0)
    assert err.value.field == "data.val_fraction"


def test_the_gui_form_shows_the_engines_defaults(qtbot):
    """One source of truth: the form shows FinetuneSettings' defaults (it has none of its own)."""
    pytest.importorskip("PySide6")
    from app.widgets.finetune_form import FinetuneForm
    from ssl_core.finetune.settings import DEFAULT_EPOCHS, DEFAULT_THRESHOLD

    form = FinetuneForm()
    qtbot.addWidget(form)
    defaults = FinetuneSettings()
    form.show_defaults(defaults)
    assert form.threshold.value() == pytest.approx(DEFAULT_THRESHOLD) == defaults.threshold
    assert form.epochs.value() == DEFAULT_EPOCHS
    assert form.settings(defaults) == replace(defaults, labels=0.01).checked()  # the box starts at 1%
