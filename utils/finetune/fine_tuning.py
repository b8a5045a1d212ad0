"""Fine-tuning a grid of ``variants x splits x seeds`` runs at once, and scoring it.

Introduced in Chapter 8 (fine-tuning experiments).

:func:`fine_tune` trains the runs in groups: the variants that unfreeze the
same number of base layers. For each group, :func:`_fine_tune_group`

1. lists the group's runs (:class:`_Group`) and passes each split's images
   through its base's frozen layers, once (:func:`_frozen_features`);
2. gathers every run's initial weights, and the learning rate and L2 mask of
   each (:func:`_initial_parameters`), and the batches and dropout draws of
   every ``(split, seed)`` pair, and trains all the runs in one graph
   (:func:`_train`, ``engine.fine_tune_loop``);
3. scores them (:func:`_write_scores`), and writes the source accuracy of
   the fine-tuned bases, the curves and the weights asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from ..checks import check_int
from . import engine
from .design import (
    BASE_UNITS,
    FEATURES,
    HIDDEN_UNITS,
    Labelled,
    Training,
    TransferData,
    Variant,
    initial_head,
    run_draws,
    stacked_splits,
)
from .metrics import macro_f1
from .pretraining import Pretrained

DEFAULT_TRAINING = Training()
"""The settings that :func:`fine_tune` trains with unless told otherwise."""


@dataclass
class FineTuned:
    """Scores of a ``variants x splits x seeds`` grid of fine-tuning runs.

    Every array has shape ``(n_variants, n_splits, n_seeds)`` (curves one more
    axis, the epochs). ``test_f1``/``test_accuracy`` are ``None`` unless the
    test sets were asked for. ``source_accuracy`` is the fine-tuned base's
    accuracy on the held-out source images, with the split's own pretrained
    source head on top.

    Introduced in Chapter 8.
    """

    variants: tuple[Variant, ...]
    splits: tuple[int, ...]
    seeds: tuple[int, ...]
    valid_f1: np.ndarray
    valid_accuracy: np.ndarray
    source_accuracy: np.ndarray
    test_f1: np.ndarray | None = None
    test_accuracy: np.ndarray | None = None
    train_loss: np.ndarray | None = None
    valid_loss: np.ndarray | None = None
    valid_accuracy_curve: np.ndarray | None = None
    best_epoch: np.ndarray | None = None
    best_valid_f1: np.ndarray | None = None
    best_test_f1: np.ndarray | None = None
    weights: dict[str, np.ndarray] | None = field(default=None, repr=False)

    METRICS: ClassVar[tuple[str, ...]] = (
        "valid_f1",
        "valid_accuracy",
        "source_accuracy",
        "test_f1",
        "test_accuracy",
        "train_loss",
        "valid_loss",
        "valid_accuracy_curve",
        "best_epoch",
        "best_valid_f1",
        "best_test_f1",
    )
    """The names :meth:`scores` accepts: the score arrays of the grid."""

    def scores(self, variant: Variant, metric: str = "test_f1") -> np.ndarray:
        """One variant's ``(n_splits, n_seeds)`` grid of a metric.

        ``metric`` is one of :data:`METRICS`; the curves (``train_loss``,
        ``valid_loss``, ``valid_accuracy_curve``) have one more axis, the epochs.

        Raises:
            ValueError: ``variant`` is not one of this grid's variants,
                ``metric`` is not one of :data:`METRICS`, or the metric was
                not computed in this run.
        """
        if metric not in self.METRICS:
            raise ValueError(f"metric must be one of {self.METRICS}, got {metric!r}")
        if variant not in self.variants:
            known = "\n".join(f"  {v!r}" for v in self.variants)
            raise ValueError(
                f"variant must be one of the {len(self.variants)} variants of this grid, "
                f"got {variant!r}; the grid has:\n{known}"
            )
        values = getattr(self, metric)
        if values is None:
            raise ValueError(f"{metric} was not computed in this run")
        return values[self.variants.index(variant)]


def fine_tune(
    data: TransferData,
    pretrained: Pretrained,
    variants,
    splits,
    seeds,
    training: Training = DEFAULT_TRAINING,
    *,
    evaluate_test: bool = False,
    curves: bool = False,
    best_epoch: bool = False,
    labels_per_class: int = 10,
    keep_weights: bool = False,
) -> FineTuned:
    """Fine-tune every ``(variant, split, seed)`` at once; return their scores.

    Validation scores are always computed; test scores only with
    ``evaluate_test=True``, so that choices made on a pilot cannot peek at the
    test set. ``curves=True`` also records, after every epoch, the mean
    training cross-entropy of the epoch, the validation cross-entropy
    (without the L2 penalty, so that variants compare) and the validation
    accuracy. ``best_epoch=True`` also keeps, for every run, its weights at
    the end of the epoch with the lowest validation cross-entropy (what
    Keras's ``EarlyStopping(restore_best_weights=True)`` would restore, had
    it waited all epochs), and scores them: ``best_epoch`` (counted from 1),
    ``best_valid_f1`` and, with ``evaluate_test=True``, ``best_test_f1``.
    ``labels_per_class`` is passed to :func:`make_split`.
    ``keep_weights=True`` keeps every run's final weights in ``weights``, by
    name (``"hidden_kernel"``, ``"base_3_bias"``, ``"bn_features_moving_mean"``,
    ...), each of shape ``(n_variants, n_splits, n_seeds, *weight_shape)``:
    to look into the trained models, or rebuild one in Keras.

    Runs are trained in groups of variants that unfreeze the same number of
    base layers: each group computes the output of its frozen base layers once
    per split, and trains the rest.

    Raises:
        ValueError: no variants, splits or seeds, repeated ones, or a split
            that was not pretrained.

    Introduced in Chapter 8.
    """
    variants, splits, seeds = _checked_grid(variants, splits, seeds, pretrained)
    sets = stacked_splits(data, splits, labels_per_class, with_test=evaluate_test)
    result = _empty_result(
        variants,
        splits,
        seeds,
        training.n_epochs,
        evaluate_test=evaluate_test,
        curves=curves,
        best_epoch=best_epoch,
        keep_weights=keep_weights,
    )
    for n_unfrozen in sorted({v.n_unfrozen for v in variants}):
        rows = [i for i, v in enumerate(variants) if v.n_unfrozen == n_unfrozen]
        _fine_tune_group(result, rows, data, pretrained, sets, training)
    return result


def _checked_grid(variants, splits, seeds, pretrained: Pretrained):
    """``(variants, splits, seeds)`` as tuples, checked to make a grid of pretrained splits."""
    variants = tuple(variants)
    if not variants or not all(isinstance(v, Variant) for v in variants):
        raise ValueError("variants must be a non-empty sequence of Variant")
    if len(set(variants)) != len(variants):
        raise ValueError("variants must be distinct")
    splits = tuple(check_int("split", s, minimum=0) for s in splits)
    seeds = tuple(check_int("seed", s, minimum=0) for s in seeds)
    for name, values in (("splits", splits), ("seeds", seeds)):
        if not values or len(set(values)) != len(values):
            raise ValueError(f"{name} must be non-empty and distinct, got {values}")
    for split in splits:
        pretrained.index(split)
    return variants, splits, seeds


def _empty_result(
    variants, splits, seeds, n_epochs: int, *, evaluate_test, curves, best_epoch, keep_weights
) -> FineTuned:
    """A :class:`FineTuned` of zeros, with an array for every score asked for."""
    shape = (len(variants), len(splits), len(seeds))
    result = FineTuned(variants, splits, seeds, *(np.zeros(shape) for _ in range(3)))
    if evaluate_test:
        result.test_f1, result.test_accuracy = np.zeros(shape), np.zeros(shape)
    if curves:
        result.train_loss = np.zeros((*shape, n_epochs))
        result.valid_loss = np.zeros((*shape, n_epochs))
        result.valid_accuracy_curve = np.zeros((*shape, n_epochs))
    if best_epoch:
        result.best_epoch = np.zeros(shape, np.int32)
        result.best_valid_f1 = np.zeros(shape)
        if evaluate_test:
            result.best_test_f1 = np.zeros(shape)
    if keep_weights:
        result.weights = {}
    return result


def _fine_tune_group(result, rows, data, pretrained, sets, training) -> None:
    """Train the runs of ``result``'s variants ``rows`` and write their scores into ``result``.

    The variants ``rows`` unfreeze the same number of base layers.
    """
    group = _make_group(result, rows, pretrained, sets)
    trained = _train(group, result, pretrained, training)
    _write_scores(result, group, trained)
    weights = _final_weights(group, trained.final, pretrained)
    accuracy = _source_accuracy(data, pretrained, group, weights)
    result.source_accuracy[group.rows] = accuracy.reshape(group.shape)
    if result.train_loss is not None:
        _write_curves(result, group, trained)
    if result.weights is not None:
        _write_weights(result, group, weights)


# ----------------------------------------------------------------------------- a group of runs


@dataclass(frozen=True)
class _Group:
    """The runs of the variants that unfreeze the same base layers, as the engine orders them.

    The runs are the ``(variant, split, seed)`` of the group's variants,
    variants slowest and seeds fastest. A lone run is trained as two
    identical copies (``engine.at_least_two``): only the first ``n_real``
    runs are the grid's, and only they are scored.
    """

    rows: np.ndarray  # the group's variants: their indices in the grid's variants
    shape: tuple[int, int, int]  # the group's (variants, splits, seeds)
    n_real: int
    variants: tuple[Variant, ...]  # each run's variant
    pair: np.ndarray  # each run's (split, seed) pair: split index * n_seeds + seed index
    split: np.ndarray  # each run's split: an index into the grid's splits
    base: np.ndarray  # each run's pretrained base: an index into Pretrained.splits
    slots: tuple[engine.Slot, ...]  # the trained weights (engine.layout)
    settings: engine.RunSettings  # each run's variant, as numbers
    inputs: dict[str, Labelled]  # per part ("train", ...): frozen layers' outputs, labels


def _make_group(result: FineTuned, rows, pretrained: Pretrained, sets) -> _Group:
    """The runs of ``result``'s variants ``rows``, which unfreeze the same base layers."""
    n_splits, n_seeds = len(result.splits), len(result.seeds)
    runs = [  # (variant, split index, seed index)
        (result.variants[row], i, j)
        for row in rows
        for i in range(n_splits)
        for j in range(n_seeds)
    ]
    n_real = len(runs)
    runs = runs * 2 if n_real == 1 else runs
    variants = tuple(variant for variant, _, _ in runs)
    split = np.array([i for _, i, _ in runs], np.int32)
    base_of_split = np.array([pretrained.index(s) for s in result.splits], np.int32)
    n_unfrozen = variants[0].n_unfrozen
    return _Group(
        rows=np.array(rows),
        shape=(len(rows), n_splits, n_seeds),
        n_real=n_real,
        variants=variants,
        pair=np.array([i * n_seeds + j for _, i, j in runs], np.int32),
        split=split,
        base=base_of_split[split],
        slots=engine.layout(n_unfrozen),
        settings=engine.RunSettings.from_variants(variants),
        inputs=_frozen_features(sets, pretrained, base_of_split, n_unfrozen),
    )


def _frozen_features(sets, pretrained: Pretrained, base_of_split, n_unfrozen: int):
    """Each split's images through its base's frozen layers (the images, if none is frozen)."""
    n_frozen = len(BASE_UNITS) - n_unfrozen
    frozen = [w for kernel_and_bias in pretrained.base[:n_frozen] for w in kernel_and_bias]
    if not frozen:
        return dict(sets)
    inputs = {}
    for part, (X, y) in sets.items():
        per_split = [
            engine.forward_plain([w[base : base + 1] for w in frozen], X[i])[0]
            for i, base in enumerate(base_of_split)
        ]
        inputs[part] = Labelled(np.maximum(np.stack(per_split), 0.0), y)
    return inputs


def _learning_rate_factor(slot: engine.Slot, variant: Variant) -> float:
    """The learning rate of a weight, in units of the head's: 0 for a frozen base layer."""
    if slot.base_layer is None:
        return 1.0
    return variant.slow_factor if variant.trains_base_layer(slot.base_layer) else 0.0


def _initial_parameters(group: _Group, heads, pretrained: Pretrained) -> engine.Parameters:
    """Every run's flat parameters before fine-tuning, and how each of them trains.

    ``heads[pair]`` is the pair's :func:`initial_head`; the base starts as
    pretrained, biases and batch-normalization offsets at 0, scales at 1.
    """
    n_runs = len(group.variants)
    start = {
        "hidden_kernel": np.stack([heads[p]["hidden_kernel"] for p in group.pair]),
        "output_kernel": np.stack([heads[p]["output_kernel"] for p in group.pair]),
        "bn_features_gamma": np.ones((n_runs, FEATURES), np.float32),
        "bn_hidden_gamma": np.ones((n_runs, HIDDEN_UNITS), np.float32),
    }
    for layer, (kernel, bias) in enumerate(pretrained.base):
        name = engine.base_name(layer)
        start[f"{name}_kernel"], start[f"{name}_bias"] = kernel[group.base], bias[group.base]
    values, rate_factors, penalized = [], [], []
    for slot in group.slots:
        width = slot.end - slot.start
        value = start.get(slot.name, np.zeros((n_runs, *slot.shape), np.float32))
        factor = np.array([_learning_rate_factor(slot, v) for v in group.variants], np.float32)
        values.append(value.reshape(n_runs, -1))
        rate_factors.append(np.repeat(factor[:, None], width, axis=1))
        penalized.append(np.repeat((factor > 0)[:, None] & slot.is_kernel, width, axis=1))
    return engine.Parameters(
        theta=np.concatenate(values, axis=1),
        rate_factors=np.concatenate(rate_factors, axis=1),
        penalized=np.concatenate(penalized, axis=1).astype(np.float32),
    )


def _train(group: _Group, result: FineTuned, pretrained: Pretrained, training: Training):
    """Train the group's runs; return the engine's :class:`~.engine.LoopResult`, in NumPy."""
    pairs = [(split, seed) for split in result.splits for seed in result.seeds]
    n_train = group.inputs["train"].X.shape[1]
    draws = [run_draws(split, seed, n_train, training) for split, seed in pairs]
    orders = np.stack([order for order, _ in draws])
    heads = [initial_head(split, seed) for split, seed in pairs]
    train, valid = group.inputs["train"], group.inputs["valid"]
    return engine.train_runs(
        _initial_parameters(group, heads, pretrained),
        engine.Draws(orders, np.stack([uniforms for _, uniforms in draws]), group.pair),
        engine.Images(train.X, train.y, valid.X, valid.y, group.split),
        group.settings,
        engine.Schedule(
            learning_rate=np.float32(training.learning_rate),
            steps_per_epoch=np.int32(orders.shape[1] // training.n_epochs),
        ),
        engine.LoopOptions(
            group.slots,
            curves=result.train_loss is not None,
            track_best=result.best_epoch is not None,
        ),
    )


# ----------------------------------------------------------------------------- scores


def _score(group: _Group, state: engine.TrainedState, part: str):
    """Macro-F1 and accuracy of the grid's runs, with weights ``state``, on their ``part``."""
    X, y = group.inputs[part]
    logits = engine.predict(state.theta, state.moving, group.settings, X[group.split], group.slots)
    prediction = logits.argmax(-1)[: group.n_real]
    truth = y[group.split][: group.n_real]
    return macro_f1(truth, prediction), (prediction == truth).mean(axis=1)


def _write_scores(result: FineTuned, group: _Group, trained: engine.LoopResult) -> None:
    """Write the validation (and test) scores, and those at the best epoch if asked for."""
    rows, shape = group.rows, group.shape
    f1, accuracy = _score(group, trained.final, "valid")
    result.valid_f1[rows] = f1.reshape(shape)
    result.valid_accuracy[rows] = accuracy.reshape(shape)
    if result.test_f1 is not None:
        f1, accuracy = _score(group, trained.final, "test")
        result.test_f1[rows] = f1.reshape(shape)
        result.test_accuracy[rows] = accuracy.reshape(shape)
    if result.best_epoch is not None:
        result.best_epoch[rows] = trained.best_epoch[: group.n_real].reshape(shape) + 1
        result.best_valid_f1[rows] = _score(group, trained.best, "valid")[0].reshape(shape)
        if result.best_test_f1 is not None:
            result.best_test_f1[rows] = _score(group, trained.best, "test")[0].reshape(shape)


def _write_curves(result: FineTuned, group: _Group, trained: engine.LoopResult) -> None:
    """Write the per-epoch curves: the engine's ``(epochs, runs)`` become ``(..., epochs)``."""
    curves = {
        "train_loss": trained.train_loss,
        "valid_loss": trained.valid_loss,
        "valid_accuracy_curve": trained.valid_accuracy,
    }
    for name, values in curves.items():  # values: (epochs, runs)
        getattr(result, name)[group.rows] = values.T[: group.n_real].reshape(*group.shape, -1)


def _final_weights(group: _Group, state: engine.TrainedState, pretrained: Pretrained) -> dict:
    """The grid's runs' weights after fine-tuning, by name: frozen ones, moving statistics too."""
    theta, base_of_run = state.theta[: group.n_real], group.base[: group.n_real]
    weights = {s.name: theta[:, s.start : s.end].reshape(-1, *s.shape) for s in group.slots}
    for layer, (kernel, bias) in enumerate(pretrained.base):
        name = engine.base_name(layer)
        weights.setdefault(f"{name}_kernel", kernel[base_of_run])
        weights.setdefault(f"{name}_bias", bias[base_of_run])
    for name, values in state.moving._asdict().items():
        weights[name] = values[: group.n_real]
    return weights


def _source_accuracy(data: TransferData, pretrained: Pretrained, group: _Group, weights: dict):
    """Each run's accuracy on the held-out source images: its base, its split's source head."""
    base_of_run = group.base[: group.n_real]
    params = []
    for layer in range(len(BASE_UNITS)):
        name = engine.base_name(layer)
        params += [weights[f"{name}_kernel"], weights[f"{name}_bias"]]
    params += [pretrained.source_head[0][base_of_run], pretrained.source_head[1][base_of_run]]
    logits = engine.forward_plain([engine.at_least_two(w) for w in params], data.X_source_test)
    prediction = logits.argmax(-1)[: len(base_of_run)]
    return (prediction == data.y_source_test).mean(axis=1)


def _write_weights(result: FineTuned, group: _Group, weights: dict) -> None:
    """Write the runs' final weights into ``result.weights``, one grid array per name."""
    grid = (len(result.variants), *group.shape[1:])
    for name, value in weights.items():
        target = result.weights.setdefault(name, np.zeros((*grid, *value.shape[1:]), np.float32))
        target[group.rows] = value.reshape(*group.shape, *value.shape[1:])
