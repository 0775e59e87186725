"""Which samples count as normal, for anomaly detection: the classes a user names, or the most common one."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ssl_core.data.base import DataInfo
from ssl_core.errors import UserError


def normal_class_ids(
    info: DataInfo, labels: torch.Tensor | np.ndarray | None, names: Sequence[str]
) -> list[int]:
    """Class indices of the normal classes: those named in `names` (by class name), or the most common class.

    Unlabelled data has no notion of normal; naming a class the data lacks is a user error listing the classes.
    """
    if labels is None or not info.has_labels:
        raise UserError(
            f"{info.name} has no labels, so no samples are marked normal; train on all samples "
            "(data.train_on = all) or choose data with a label column.",
            field="data.train_on",
        )
    values = np.asarray(labels).astype(np.int64)
    if not names:
        counts = np.bincount(values, minlength=max(1, info.num_classes))
        return [int(np.argmax(counts))]
    known = {str(name): i for i, name in enumerate(info.class_names)}
    ids = []
    for name in names:
        if str(name) not in known:
            raise UserError(
                f"data.normal_classes names {name!r}, which is not a class of {info.name}; its classes are: "
                f"{', '.join(info.class_names)}.",
                field="data.normal_classes",
            )
        ids.append(known[str(name)])
    if len(set(ids)) == len(info.class_names):
        raise UserError(
            "data.normal_classes names every class, so nothing would count as an anomaly; leave at least "
            "one class out.",
            field="data.normal_classes",
        )
    return sorted(set(ids))


def is_normal(info: DataInfo, labels, names: Sequence[str]) -> np.ndarray:
    """(N,) bool: True where a sample's label is a normal class."""
    ids = normal_class_ids(info, labels, names)
    return np.isin(np.asarray(labels).astype(np.int64), ids)


def normal_only(
    train_idx: torch.Tensor, labels: torch.Tensor | None, info: DataInfo, names: Sequence[str]
) -> torch.Tensor:
    """The training indices whose samples are normal; none left is a user error."""
    mask = is_normal(info, labels, names)
    keep = train_idx[torch.as_tensor(mask[train_idx.numpy()], dtype=torch.bool)]
    if len(keep) == 0:
        raise UserError(
            "No training sample belongs to a normal class; check data.normal_classes.",
            field="data.normal_classes",
        )
    return keep
