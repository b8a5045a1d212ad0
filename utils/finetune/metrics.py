"""The experiment's score: macro-averaged F1 over the five classes.

Introduced in Chapter 8 (fine-tuning experiments). NumPy only.
"""

from __future__ import annotations

import numpy as np

from ..checks import check_int
from .design import N_CLASSES


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = N_CLASSES) -> np.ndarray:
    """Macro-averaged F1 over the last axis (one score per leading index).

    Per class, ``F1 = 2 TP / (2 TP + FP + FN)`` (0 for a class that is
    neither present nor predicted); macro-F1 is their unweighted mean over
    all ``n_classes`` classes, so a neglected class pulls it down. That is
    scikit-learn's ``f1_score(..., average="macro", zero_division=0,
    labels=range(n_classes))``; without ``labels=``, scikit-learn averages
    only the classes present or predicted, and the two differ.
    The labels are the classes ``0 .. n_classes - 1`` (integers, or floats
    with integer values).

    Raises:
        ValueError: the shapes differ, there are no labels (a 0-d or empty
            array), a label is not an integer in ``range(n_classes)`` (NaN
            included), or ``n_classes`` is not an int >= 1.

    Introduced in Chapter 8.
    """
    n_classes = check_int("n_classes", n_classes, minimum=1)
    y_true = _class_labels("y_true", y_true, n_classes)
    y_pred = _class_labels("y_pred", y_pred, n_classes)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true and y_pred must have the same shape, got {y_true.shape} and {y_pred.shape}"
        )
    scores = []
    for c in range(n_classes):
        tp = ((y_pred == c) & (y_true == c)).sum(axis=-1)
        wrong = ((y_pred == c) != (y_true == c)).sum(axis=-1)  # FP + FN
        denominator = 2 * tp + wrong
        scores.append(np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0))
    return np.mean(scores, axis=0)


def _class_labels(name: str, labels, n_classes: int) -> np.ndarray:
    """``labels`` as an array, checked to hold class numbers in ``range(n_classes)``."""
    array = np.asarray(labels)
    if array.ndim == 0 or array.size == 0:
        raise ValueError(f"{name} must hold at least one label, got shape {array.shape}")
    kind = array.dtype.kind
    if kind not in "iuf" or (kind == "f" and not np.all(np.isfinite(array) & (array % 1 == 0))):
        raise ValueError(
            f"{name} must hold integer class labels in range({n_classes}), got dtype "
            f"{array.dtype}, starting {array.ravel()[:5].tolist()}"
        )
    outside = (array < 0) | (array >= n_classes)
    if outside.any():
        raise ValueError(
            f"{name} must hold class labels in range({n_classes}), got "
            f"{np.unique(array[outside])[:10].tolist()} ({int(outside.sum())} outside)"
        )
    return array
