"""Chapter 8's experiment: fine-tune many small transfer-learning models at once.

Introduced in Chapter 8 (fine-tuning experiments).

The task: a base network is pretrained on the handwritten digits 0-4 of
scikit-learn's digits set and fine-tuned, with 10 labelled images per class,
to recognize the digits 5-9. A *split* fixes everything that the data and
the pretraining decide: which 50 target images are labelled, which of the
others are validation and test images, and the pretrained base (pretrained
with the split's own seed). A *seed* fixes everything that training decides
within a split: the new layers' initial weights, the batch order and the
dropout masks. A *variant* (:class:`Variant`) says what the fine-tuned model
has on top of the base.

:func:`fine_tune` trains a whole grid of ``variants x splits x seeds`` runs
together, as one graph in which every run has its own weights: a run's
Dense layers are slices of batched weight tensors, and the loss is the sum
of the runs' losses, so that each run's gradient is its own. Every random
draw comes from NumPy generators keyed by ``(split, seed, layer)`` alone, so
that two variants that share a layer start it from the same weights and see
the same batches and dropout masks: the comparison of two variants on the
same ``(split, seed)`` is exactly paired.

The arithmetic matches Keras's layers and optimizer (``Dense``,
``BatchNormalization`` with ``epsilon=1e-3``, two ``Adam`` optimizers, an L2
kernel penalty): ``tests/test_finetune.py`` trains the same run both ways and
compares, and checks the dropout masks against their definition (inverted
dropout, ``h * (u >= rate) / (1 - rate)``). One deliberate difference: batch
normalization divides by ``sqrt(variance + epsilon)`` instead of multiplying
by TensorFlow's float32 ``rsqrt``, whose last bit differs between Intel and
AMD processors.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from .checks import check_fraction, check_int, check_real

__all__ = [
    "N_CLASSES",
    "FineTuned",
    "Pretrained",
    "Split",
    "TransferData",
    "Training",
    "Variant",
    "fine_tune",
    "initial_head",
    "load_transfer_data",
    "macro_f1",
    "make_split",
    "pretrain",
]

N_CLASSES = 5
N_PIXELS = 64  # 8 x 8 images
BN_EPSILON = 1e-3
ADAM = {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}  # Keras's defaults
BASE_UNITS = (64, 64, 32)
FEATURES = BASE_UNITS[-1]  # what the base hands to the head
HIDDEN_UNITS = 32
# Salts keep the random streams of different purposes apart.
_SPLIT, _PRETRAIN, _INIT, _BATCHES, _DROPOUT = 1, 2, 3, 4, 5


# ----------------------------------------------------------------------------- data


@dataclass(frozen=True)
class TransferData:
    """The digits, cut into the source task (0-4) and the target task (5-9, relabelled 0-4).

    The source images are split once, 80/20, into pretraining and held-out
    images (stratified, fixed seed); the held-out ones measure how much a
    fine-tuned base still knows of the source task.
    """

    X_source_train: np.ndarray
    y_source_train: np.ndarray
    X_source_test: np.ndarray
    y_source_test: np.ndarray
    X_target: np.ndarray
    y_target: np.ndarray


def load_transfer_data() -> TransferData:
    """scikit-learn's digits, pixels scaled to [0, 1], as a :class:`TransferData`."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    source = y < N_CLASSES
    X_tr, X_te, y_tr, y_te = train_test_split(
        X[source], y[source], test_size=0.2, stratify=y[source], random_state=42
    )
    return TransferData(
        X_tr, y_tr.astype(np.int32), X_te, y_te.astype(np.int32),
        X[~source], (y[~source] - N_CLASSES).astype(np.int32),
    )  # fmt: skip


@dataclass(frozen=True)
class Split:
    """One split of the target task: indices into ``TransferData.X_target``."""

    number: int
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray


def make_split(data: TransferData, number: int, labels_per_class: int = 10) -> Split:
    """Split ``number``: ``labels_per_class`` labelled images per class, the rest halved.

    The labelled images are the first of each class in an order shuffled by
    ``numpy.random.default_rng([1, number])``; the others, shuffled again,
    are halved into validation and test images. The same number always gives
    the same split.

    Raises:
        ValueError: a negative number, or too few images for the labels.
    """
    number = check_int("number", number, minimum=0)
    labels_per_class = check_int("labels_per_class", labels_per_class, minimum=1)
    y = data.y_target
    if np.bincount(y, minlength=N_CLASSES).min() <= labels_per_class:
        raise ValueError(f"too few images per class for {labels_per_class} labels each")
    rng = np.random.default_rng([_SPLIT, number])
    order = rng.permutation(len(y))
    train = np.concatenate([order[y[order] == c][:labels_per_class] for c in range(N_CLASSES)])
    rest = rng.permutation(np.setdiff1d(order, train))
    half = len(rest) // 2
    return Split(number, train, rest[:half], rest[half : 2 * half])


# ----------------------------------------------------------------------------- variants


@dataclass(frozen=True)
class Variant:
    """What a fine-tuned model puts on top of the pretrained base, and how it trains.

    The model is: the base (three Dense ReLU layers, 64-64-32 units), an
    optional ``BatchNormalization`` of its output (``bn_features``), a new
    ``Dense(32, relu)``, an optional ``BatchNormalization`` (``bn_hidden``),
    optional ``Dropout(dropout)``, and a new ``Dense(5)`` output (logits).
    The top ``n_unfrozen`` base layers train at ``slow_factor`` times the
    head's learning rate; the others are frozen. ``l2`` is the factor of an
    L2 penalty on every trainable kernel.
    """

    bn_features: bool = False
    bn_hidden: bool = False
    dropout: float = 0.0
    n_unfrozen: int = 0
    l2: float = 0.0
    slow_factor: float = 0.1
    bn_momentum: float = 0.9

    def __post_init__(self):
        check_fraction("dropout", self.dropout, open_interval=False)
        check_int("n_unfrozen", self.n_unfrozen, minimum=0)
        if self.n_unfrozen > len(BASE_UNITS):
            raise ValueError(f"n_unfrozen must be at most {len(BASE_UNITS)}")
        check_real("l2", self.l2, minimum=0.0)
        check_real("slow_factor", self.slow_factor, positive=True)
        check_fraction("bn_momentum", self.bn_momentum)

    def but(self, **changes) -> Variant:
        """A copy with some fields changed: ``variant.but(dropout=0.3)``."""
        return dataclasses.replace(self, **changes)

    def head(self) -> str:
        """The layers on top of the base, e.g. ``"BN → Dense → Dropout → Dense"``."""
        layers = ["BN"] * self.bn_features + ["Dense"] + ["BN"] * self.bn_hidden
        return " → ".join(layers + ["Dropout"] * (self.dropout > 0) + ["Dense"])

    def trainable_parameters(self) -> int:
        """How many parameters the variant trains (the frozen base excluded)."""
        units = (N_PIXELS, *BASE_UNITS)
        base = sum(
            units[i] * units[i + 1] + units[i + 1]
            for i in range(len(BASE_UNITS) - self.n_unfrozen, len(BASE_UNITS))
        )
        head = (FEATURES * HIDDEN_UNITS + HIDDEN_UNITS) + (HIDDEN_UNITS * N_CLASSES + N_CLASSES)
        bn = 2 * FEATURES * self.bn_features + 2 * HIDDEN_UNITS * self.bn_hidden
        return base + head + bn


@dataclass(frozen=True)
class Training:
    """How every run trains: Adam, ``n_epochs`` of equal batches of about ``batch_size``.

    The training images are cut into ``round(n / batch_size)`` batches of
    equal length each epoch; the few left over (fewer than the number of
    batches) sit that epoch out.
    """

    n_epochs: int = 40
    batch_size: int = 16
    learning_rate: float = 0.01

    def __post_init__(self):
        check_int("n_epochs", self.n_epochs, minimum=1)
        check_int("batch_size", self.batch_size, minimum=1)
        check_real("learning_rate", self.learning_rate, positive=True)


# ----------------------------------------------------------------------------- random draws


def _glorot(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    limit = math.sqrt(6.0 / (fan_in + fan_out))  # Keras's glorot_uniform
    return rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32)


def initial_head(split: int, seed: int) -> dict[str, np.ndarray]:
    """The new layers' initial weights for run ``(split, seed)``, whatever the variant.

    Each kernel comes from its own generator, keyed by (split, seed, layer):
    adding or removing another layer cannot shift it. Biases start at 0, batch
    normalization at scale 1 and offset 0.
    """
    hidden = np.random.default_rng([_INIT, split, seed, 1])
    output = np.random.default_rng([_INIT, split, seed, 2])
    return {
        "hidden_kernel": _glorot(hidden, FEATURES, HIDDEN_UNITS),
        "output_kernel": _glorot(output, HIDDEN_UNITS, N_CLASSES),
    }


def _batch_order(key: list[int], n_samples: int, batch_size: int, n_epochs: int) -> np.ndarray:
    """(n_epochs * n_batches, batch_length) sample indices; a few sit out each epoch."""
    n_batches = max(1, round(n_samples / batch_size))
    length = n_samples // n_batches
    rng = np.random.default_rng(key)
    return np.concatenate(
        [rng.permutation(n_samples)[: n_batches * length].reshape(n_batches, length)
         for _ in range(n_epochs)]
    ).astype(np.int32)  # fmt: skip


def run_draws(
    split: int, seed: int, n_train: int, training: Training = Training()
) -> tuple[np.ndarray, np.ndarray]:
    """The batch order and the dropout draws of run ``(split, seed)``.

    ``order[step]`` holds the indices (into the split's training images) of
    that step's batch; ``uniforms[step]`` holds one uniform number in [0, 1)
    per batch row and hidden unit, and dropout at rate ``r`` keeps a unit
    where its number is at least ``r``. Both depend on the split and the
    seed only, never on the variant, so every variant of a run sees the
    same batches and nested dropout masks: :func:`fine_tune` draws them so.

    Introduced in Chapter 8.
    """
    n_train = check_int("n_train", n_train, minimum=1)
    order = _batch_order([_BATCHES, split, seed], n_train, training.batch_size, training.n_epochs)
    return order, _dropout_uniforms(split, seed, *order.shape)


def _dropout_uniforms(split: int, seed: int, n_steps: int, batch: int) -> np.ndarray:
    rng = np.random.default_rng([_DROPOUT, split, seed])
    return rng.random((n_steps, batch, HIDDEN_UNITS), dtype=np.float32)


# ----------------------------------------------------------------------------- model math


def _dense(x, kernel, bias):
    import tensorflow as tf

    return tf.matmul(x, kernel) + bias[:, None, :]


def _batch_norm(x, gamma, beta, mean, variance):
    import tensorflow as tf

    return (x - mean) / tf.sqrt(variance + BN_EPSILON) * gamma[:, None, :] + beta[:, None, :]


def _adam(param, grad, m, v, lr, step):
    """Keras's Adam update, with a learning rate per run (``lr`` broadcasts)."""
    import tensorflow as tf

    b1, b2, eps = ADAM["beta_1"], ADAM["beta_2"], ADAM["epsilon"]
    t = tf.cast(step + 1, tf.float32)
    alpha = lr * tf.sqrt(1 - tf.pow(b2, t)) / (1 - tf.pow(b1, t))
    m = m + (grad - m) * (1 - b1)
    v = v + (tf.square(grad) - v) * (1 - b2)
    return param - (m * alpha) / (tf.sqrt(v) + eps), m, v


def _expand(lr, like):
    import tensorflow as tf

    return tf.reshape(lr, [-1] + [1] * (len(like.shape) - 1))


# ----------------------------------------------------------------------------- pretraining


@dataclass(frozen=True)
class Pretrained:
    """Pretrained bases, one per split, and their source-task heads.

    ``base`` holds ``[(kernel, bias)] * 3`` with a leading split axis;
    ``source_accuracy[i]`` is split ``splits[i]``'s base + head accuracy on
    the held-out source images.
    """

    splits: tuple[int, ...]
    base: tuple[tuple[np.ndarray, np.ndarray], ...]
    source_head: tuple[np.ndarray, np.ndarray]
    source_accuracy: np.ndarray

    def index(self, split: int) -> int:
        try:
            return self.splits.index(split)
        except ValueError:
            raise ValueError(f"split {split} was not pretrained ({self.splits})") from None


def pretrain(
    data: TransferData, splits, *, n_epochs: int = 10, batch_size: int = 32,
    learning_rate: float = 1e-3,
) -> Pretrained:  # fmt: skip
    """Pretrain one base per split on the source task (all trainable, Adam, softmax head).

    The base of split ``s`` starts from Glorot-uniform weights drawn with
    ``numpy.random.default_rng([2, s, layer])`` and sees the source images in
    an order drawn with ``default_rng([2, s, 0])``. All splits train at once,
    as one batch of matrix products. (TensorFlow multiplies a batch of one
    matrix with another kernel, whose last bits differ, so a single split is
    trained as two identical copies: a base is the same, bit for bit, whatever
    else is pretrained with it.)

    Raises:
        ValueError: no or repeated splits, or bad hyperparameters.
    """
    import tensorflow as tf

    splits = tuple(check_int("split", s, minimum=0) for s in splits)
    if not splits or len(set(splits)) != len(splits):
        raise ValueError(f"give distinct splits, got {splits}")
    Training(n_epochs, batch_size, learning_rate)  # validates
    units = (N_PIXELS, *BASE_UNITS, N_CLASSES)
    params = []
    for i in range(len(units) - 1):
        kernels = [_glorot(np.random.default_rng([_PRETRAIN, s, i + 1]), units[i], units[i + 1])
                   for s in splits]  # fmt: skip
        params += [np.stack(kernels), np.zeros((len(splits), units[i + 1]), np.float32)]
    order = np.stack([
        _batch_order([_PRETRAIN, s, 0], len(data.y_source_train), batch_size, n_epochs)
        for s in splits
    ])  # fmt: skip
    params, order = [_at_least_two(p) for p in params], _at_least_two(order)
    final = _pretrain_graph(
        [tf.constant(p) for p in params], tf.constant(order),
        tf.constant(data.X_source_train), tf.constant(data.y_source_train),
        tf.constant(learning_rate, tf.float32),
    )  # fmt: skip
    final = [p.numpy() for p in final]
    logits = _forward_plain(final, data.X_source_test)
    accuracy = (logits.argmax(-1) == data.y_source_test).mean(axis=1)[: len(splits)]
    final = [p[: len(splits)] for p in final]
    base = tuple((final[2 * i], final[2 * i + 1]) for i in range(len(BASE_UNITS)))
    return Pretrained(splits, base, (final[-2], final[-1]), accuracy)


def _at_least_two(array: np.ndarray) -> np.ndarray:
    """``array``, its first axis doubled if it has length 1.

    TensorFlow multiplies a batch of one matrix with another kernel than a
    larger batch, and the two round differently in the last bit: runs are
    never trained alone, so that a run's result does not depend on how many
    others share its graph.
    """
    return np.concatenate([array, array]) if len(array) == 1 else array


def _forward_plain(params, X) -> np.ndarray:
    """Logits of stacked plain MLPs (kernel, bias pairs, ReLU between) on shared inputs.

    Computed with TensorFlow, whose pinned numerics are the same on every CPU
    (NumPy's own loops pick their vector instructions at run time).
    """
    import tensorflow as tf

    h = tf.broadcast_to(tf.constant(X), [params[0].shape[0], *X.shape])
    for i in range(0, len(params), 2):
        h = _dense(h, tf.constant(params[i]), tf.constant(params[i + 1]))
        if i + 2 < len(params):
            h = tf.nn.relu(h)
    return h.numpy()


def _pretrain_loop(params, order, X, y, learning_rate):
    import tensorflow as tf

    n = len(params)
    m = [tf.zeros_like(p) for p in params]
    v = [tf.zeros_like(p) for p in params]
    for step in tf.range(tf.shape(order)[1]):
        idx = order[:, step]
        xb, yb = tf.gather(X, idx), tf.gather(y, idx)
        with tf.GradientTape() as tape:
            tape.watch(params)
            h = xb
            for i in range(0, n, 2):
                h = _dense(h, params[i], params[i + 1])
                if i + 2 < n:
                    h = tf.nn.relu(h)
            losses = tf.nn.sparse_softmax_cross_entropy_with_logits(yb, h)
            loss = tf.reduce_sum(tf.reduce_mean(losses, axis=1))
        grads = tape.gradient(loss, params)
        updated = [_adam(params[i], grads[i], m[i], v[i], learning_rate, step) for i in range(n)]
        params = [u[0] for u in updated]
        m = [u[1] for u in updated]
        v = [u[2] for u in updated]
    return params


_GRAPHS = {}


def _graph(function):
    """``function`` as a ``tf.function``, traced once per process (per argument kind)."""
    import tensorflow as tf

    if function not in _GRAPHS:
        _GRAPHS[function] = tf.function(function, reduce_retracing=True)
    return _GRAPHS[function]


def _pretrain_graph(params, order, X, y, learning_rate):
    return _graph(_pretrain_loop)(params, order, X, y, learning_rate)


# ----------------------------------------------------------------------------- fine-tuning


@dataclass
class FineTuned:
    """Scores of a ``variants x splits x seeds`` grid of fine-tuning runs.

    Every array has shape ``(n_variants, n_splits, n_seeds)`` (curves one more
    axis, the epochs). ``test_f1``/``test_accuracy`` are ``None`` unless the
    test sets were asked for. ``source_accuracy`` is the fine-tuned base's
    accuracy on the held-out source images, with the split's own pretrained
    source head on top.
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
        "valid_f1", "valid_accuracy", "source_accuracy", "test_f1", "test_accuracy",
        "train_loss", "valid_loss", "valid_accuracy_curve", "best_epoch", "best_valid_f1",
        "best_test_f1",
    )  # fmt: skip
    """The names :meth:`of` accepts: the score arrays of the grid."""

    def of(self, variant: Variant, metric: str = "test_f1") -> np.ndarray:
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


# The parameters of a run, in the order of its flat parameter vector.
_BASE_SHAPES = (
    ("base_1_kernel", (N_PIXELS, BASE_UNITS[0])), ("base_1_bias", (BASE_UNITS[0],)),
    ("base_2_kernel", BASE_UNITS[:2]), ("base_2_bias", (BASE_UNITS[1],)),
    ("base_3_kernel", BASE_UNITS[1:]), ("base_3_bias", (FEATURES,)),
)  # fmt: skip
_HEAD_SHAPES = (
    ("hidden_kernel", (FEATURES, HIDDEN_UNITS)), ("hidden_bias", (HIDDEN_UNITS,)),
    ("output_kernel", (HIDDEN_UNITS, N_CLASSES)), ("output_bias", (N_CLASSES,)),
    ("bn_features_gamma", (FEATURES,)), ("bn_features_beta", (FEATURES,)),
    ("bn_hidden_gamma", (HIDDEN_UNITS,)), ("bn_hidden_beta", (HIDDEN_UNITS,)),
)  # fmt: skip
_MOVING = ("bn_features_moving_mean", "bn_features_moving_variance",
           "bn_hidden_moving_mean", "bn_hidden_moving_variance")  # fmt: skip


def _layout(n_unfrozen: int) -> tuple[tuple[str, tuple[int, ...], int, int], ...]:
    """(name, shape, start, end) of each trained parameter in the flat vector."""
    out, start = [], 0
    base = _BASE_SHAPES[2 * (len(BASE_UNITS) - n_unfrozen) :] if n_unfrozen else ()
    for name, shape in base + _HEAD_SHAPES:
        size = int(np.prod(shape))
        out.append((name, shape, start, start + size))
        start += size
    return tuple(out)


def fine_tune(
    data: TransferData, pretrained: Pretrained, variants, splits, seeds,
    training: Training = Training(), *, evaluate_test: bool = False,
    curves: bool = False, best_epoch: bool = False, labels_per_class: int = 10,
    keep_weights: bool = False,
) -> FineTuned:  # fmt: skip
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
    ``keep_weights=True`` keeps every run's final weights (for tests).

    Runs are trained in groups of variants that unfreeze the same number of
    base layers: each group computes the output of its frozen base layers once
    per split, and trains the rest.

    Raises:
        ValueError: no variants, splits or seeds, repeated ones, or a split
            that was not pretrained.
    """
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
    shape = (len(variants), len(splits), len(seeds))
    sets = _split_sets(data, splits, evaluate_test, labels_per_class)
    result = FineTuned(variants, splits, seeds, *(np.zeros(shape) for _ in range(3)))
    if evaluate_test:
        result.test_f1, result.test_accuracy = np.zeros(shape), np.zeros(shape)
    if curves:
        result.train_loss = np.zeros((*shape, training.n_epochs))
        result.valid_loss = np.zeros((*shape, training.n_epochs))
        result.valid_accuracy_curve = np.zeros((*shape, training.n_epochs))
    if best_epoch:
        result.best_epoch = np.zeros(shape, np.int32)
        result.best_valid_f1 = np.zeros(shape)
        if evaluate_test:
            result.best_test_f1 = np.zeros(shape)
    if keep_weights:
        result.weights = {}
    for n_unfrozen in sorted({v.n_unfrozen for v in variants}):
        chosen = [i for i, v in enumerate(variants) if v.n_unfrozen == n_unfrozen]
        _fine_tune_group(result, chosen, n_unfrozen, data, pretrained, sets, training, curves,
                         best_epoch, keep_weights)  # fmt: skip
    return result


def _split_sets(
    data: TransferData, splits, evaluate_test: bool, labels_per_class: int
) -> dict[str, np.ndarray]:
    """Each split's training, validation (and test) images and labels, stacked."""
    chosen = [make_split(data, s, labels_per_class) for s in splits]
    parts = ("train", "valid", "test") if evaluate_test else ("train", "valid")
    sets = {}
    for part in parts:
        sets[f"X_{part}"] = np.stack([data.X_target[getattr(s, part)] for s in chosen])
        sets[f"y_{part}"] = np.stack([data.y_target[getattr(s, part)] for s in chosen])
    return sets


def _fine_tune_group(result, chosen, n_unfrozen, data, pretrained, sets, training, curves,
                     best_epoch, keep_weights):  # fmt: skip
    """Train the runs of the variants ``chosen`` and write their scores into ``result``."""
    import tensorflow as tf

    splits, seeds = result.splits, result.seeds
    variants = [result.variants[i] for i in chosen]
    grid = [(v, i, j) for v in range(len(variants)) for i in range(len(splits))
            for j in range(len(seeds))]  # fmt: skip
    real = slice(0, len(grid))  # a lone run trains as two copies (see _at_least_two)
    grid = grid * 2 if len(grid) == 1 else grid
    n_train = sets["X_train"].shape[1]
    pairs = [(i, j) for i in range(len(splits)) for j in range(len(seeds))]
    draws = [run_draws(splits[i], seeds[j], n_train, training) for i, j in pairs]
    orders = np.stack([order for order, _ in draws])
    uniforms = np.stack([uniform for _, uniform in draws])
    n_steps = orders.shape[1]
    heads = [initial_head(splits[i], seeds[j]) for i, j in pairs]
    pair_of_run = np.array([i * len(seeds) + j for _, i, j in grid], np.int32)
    split_of_run = np.array([i for _, i, _ in grid], np.int32)
    base_index = np.array([pretrained.index(s) for s in splits], np.int32)
    base_of_run = base_index[split_of_run]

    layout = _layout(n_unfrozen)
    n_frozen = len(BASE_UNITS) - n_unfrozen
    initial = {
        "hidden_kernel": np.stack([heads[p]["hidden_kernel"] for p in pair_of_run]),
        "output_kernel": np.stack([heads[p]["output_kernel"] for p in pair_of_run]),
        "bn_features_gamma": np.ones((len(grid), FEATURES), np.float32),
        "bn_hidden_gamma": np.ones((len(grid), HIDDEN_UNITS), np.float32),
    }
    for k, (kernel, bias) in enumerate(pretrained.base):
        initial[f"base_{k + 1}_kernel"] = kernel[base_of_run]
        initial[f"base_{k + 1}_bias"] = bias[base_of_run]
    theta, rates, penalized = [], [], []
    n_base = len(BASE_UNITS)
    for name, shape, start, end in layout:
        value = initial.get(name, np.zeros((len(grid), *shape), np.float32))
        theta.append(value.reshape(len(grid), -1))
        if name.startswith("base_"):
            layer = int(name[5]) - 1
            rate = np.array([v.slow_factor if layer >= n_base - v.n_unfrozen else 0.0
                             for v in (variants[g[0]] for g in grid)], np.float32)  # fmt: skip
        else:
            rate = np.ones(len(grid), np.float32)
        rates.append(np.repeat(rate[:, None], end - start, axis=1))
        kernel = name.endswith("_kernel") and not name.startswith("bn")
        penalized.append(np.repeat((rate > 0)[:, None] & kernel, end - start, axis=1))
    theta = np.concatenate(theta, axis=1)
    rates = np.concatenate(rates, axis=1)
    penalized = np.concatenate(penalized, axis=1).astype(np.float32)

    def per_run(field):
        return np.array([getattr(variants[v], field) for v, _, _ in grid], np.float32)

    switches = np.stack([per_run(f) for f in ("bn_features", "bn_hidden", "dropout", "l2",
                                              "bn_momentum")])  # fmt: skip
    # The frozen base layers: each split's images through them once.
    frozen_params = [w for pair in pretrained.base[:n_frozen] for w in pair]
    inputs = {}
    for part in ("train", "valid", "test"):
        if f"X_{part}" not in sets:
            continue
        inputs[part] = sets[f"X_{part}"]
        if frozen_params:
            per_split = [_forward_plain([w[base_index[i] : base_index[i] + 1]
                                         for w in frozen_params], inputs[part][i])[0]
                         for i in range(len(splits))]  # fmt: skip
            inputs[part] = np.maximum(np.stack(per_split), 0.0)
    c = tf.constant
    final, moving, curve_values, best = _graph(_fine_tune_loop)(
        c(theta), c(rates), c(penalized), c(orders), c(uniforms), c(pair_of_run),
        c(split_of_run), c(inputs["train"]), c(sets["y_train"]), c(inputs["valid"]),
        c(sets["y_valid"]), c(switches), c(training.learning_rate, tf.float32),
        c(n_steps // training.n_epochs), layout, n_unfrozen, bool(curves), bool(best_epoch),
    )  # fmt: skip
    final, moving = final.numpy(), [m.numpy() for m in moving]

    def score(part, weights=final, statistics=moving):
        X = inputs[part][split_of_run]
        logits = _predict(weights, statistics, switches, X, layout, n_unfrozen)
        truth = sets[f"y_{part}"][split_of_run]
        prediction = logits.argmax(-1)[real]
        truth = truth[real]
        return macro_f1(truth, prediction), (prediction == truth).mean(axis=1)

    local = (len(variants), len(splits), len(seeds))
    rows = list(chosen)
    result.valid_f1[rows], result.valid_accuracy[rows] = (a.reshape(local) for a in score("valid"))
    if result.test_f1 is not None:
        result.test_f1[rows], result.test_accuracy[rows] = (a.reshape(local)
                                                            for a in score("test"))  # fmt: skip
    if best_epoch:
        best_theta, best_moving, epoch = best[0].numpy(), [m.numpy() for m in best[1]], best[2]
        result.best_epoch[rows] = epoch.numpy()[real].reshape(local) + 1
        result.best_valid_f1[rows] = score("valid", best_theta, best_moving)[0].reshape(local)
        if result.best_test_f1 is not None:
            result.best_test_f1[rows] = score("test", best_theta, best_moving)[0].reshape(local)
    final, moving = final[real], [m[real] for m in moving]
    base_of_run = base_of_run[real]
    unpacked = {name: final[:, a:b].reshape(-1, *shape) for name, shape, a, b in layout}
    base_now = [unpacked.get(f"base_{k + 1}_{part}", w[base_of_run])
                for k, (kernel, bias) in enumerate(pretrained.base)
                for part, w in (("kernel", kernel), ("bias", bias))]  # fmt: skip
    source_params = base_now + [pretrained.source_head[0][base_of_run],
                                pretrained.source_head[1][base_of_run]]  # fmt: skip
    source_logits = _forward_plain([_at_least_two(w) for w in source_params], data.X_source_test)
    source_pred = source_logits.argmax(-1)[: len(base_of_run)]
    result.source_accuracy[rows] = (source_pred == data.y_source_test).mean(axis=1).reshape(local)
    if curves:
        for name, values in zip(("train_loss", "valid_loss", "valid_accuracy_curve"),
                                curve_values, strict=True):  # fmt: skip
            getattr(result, name)[rows] = values.numpy().T[real].reshape(*local, -1)
    if keep_weights:
        full = (len(result.variants), len(splits), len(seeds))
        unpacked.update({f"base_{k // 2 + 1}_{'kernel' if k % 2 == 0 else 'bias'}": w
                         for k, w in enumerate(base_now)})  # fmt: skip
        unpacked.update(dict(zip(_MOVING, moving, strict=True)))
        for name, value in unpacked.items():
            target = result.weights.setdefault(name, np.zeros((*full, *value.shape[1:]),
                                                              np.float32))  # fmt: skip
            target[rows] = value.reshape(*local, *value.shape[1:])


def _unpack(theta, layout) -> dict:
    import tensorflow as tf

    return {name: tf.reshape(theta[:, a:b], [-1, *shape]) for name, shape, a, b in layout}


def _forward(theta, moving, switches, x, layout, n_unfrozen, *, training, uniforms=None):
    """Logits of every run on its own inputs ``x`` (runs, batch, features); TensorFlow.

    ``theta`` is the flat parameters of every run, or the dict ``_unpack`` makes of them.
    ``x`` is the output of the frozen base layers (the images if none is frozen).
    Returns the logits and the updated moving statistics (training only).
    """
    import tensorflow as tf

    w = theta if isinstance(theta, dict) else _unpack(theta, layout)
    use_bn1, use_bn2, rate = (_expand(switches[i], x) for i in range(3))
    new_moving = list(moving)
    h = x
    for k in range(len(BASE_UNITS) - n_unfrozen + 1, len(BASE_UNITS) + 1):
        h = tf.nn.relu(_dense(h, w[f"base_{k}_kernel"], w[f"base_{k}_bias"]))

    def normalize(h, name, index):
        if training:
            mean, variance = tf.nn.moments(h, axes=[1], keepdims=True)
            momentum = switches[4][:, None]
            new_moving[index] = moving[index] * momentum + mean[:, 0] * (1 - momentum)
            new_moving[index + 1] = moving[index + 1] * momentum + variance[:, 0] * (1 - momentum)
        else:
            mean, variance = moving[index][:, None, :], moving[index + 1][:, None, :]
        return _batch_norm(h, w[f"{name}_gamma"], w[f"{name}_beta"], mean, variance)

    h = tf.where(use_bn1 > 0, normalize(h, "bn_features", 0), h)
    h = tf.nn.relu(_dense(h, w["hidden_kernel"], w["hidden_bias"]))
    h = tf.where(use_bn2 > 0, normalize(h, "bn_hidden", 2), h)
    if training:
        keep = tf.cast(uniforms >= rate, h.dtype)
        h = tf.where(rate > 0, h * keep / (1 - rate), h)
    return _dense(h, w["output_kernel"], w["output_bias"]), new_moving


def _predict(theta, moving, switches, X, layout, n_unfrozen) -> np.ndarray:
    """Inference logits (moving statistics, no dropout), in chunks of runs."""
    import tensorflow as tf

    out = []
    for start in range(0, len(X), 256):
        chunk = slice(start, start + 256)
        logits, _ = _forward(
            tf.constant(theta[chunk]), [tf.constant(m[chunk]) for m in moving],
            tf.constant(switches[:, chunk]), tf.constant(X[chunk]), layout, n_unfrozen,
            training=False,
        )  # fmt: skip
        out.append(logits.numpy())
    return np.concatenate(out)


def _fine_tune_loop(
    theta, rates, penalized, orders, uniforms, pair_of_run, split_of_run, X_train, y_train,
    X_valid, y_valid, switches, learning_rate, steps_per_epoch, layout, n_unfrozen, curves,
    track_best,
):  # fmt: skip
    import tensorflow as tf

    n_runs = tf.shape(theta)[0]
    n_steps = tf.shape(orders)[1]
    n_epochs = n_steps // steps_per_epoch
    run_orders = tf.gather(orders, pair_of_run)  # (runs, steps, batch)
    X_runs, y_runs = tf.gather(X_train, split_of_run), tf.gather(y_train, split_of_run)
    lr = rates * learning_rate
    moving = [tf.zeros([n_runs, FEATURES]), tf.ones([n_runs, FEATURES]),
              tf.zeros([n_runs, HIDDEN_UNITS]), tf.ones([n_runs, HIDDEN_UNITS])]  # fmt: skip
    m, v = tf.zeros_like(theta), tf.zeros_like(theta)
    train_losses = tf.TensorArray(tf.float32, size=n_epochs)
    valid_losses = tf.TensorArray(tf.float32, size=n_epochs)
    valid_hits = tf.TensorArray(tf.float32, size=n_epochs)
    epoch_loss = tf.zeros_like(theta[:, 0])
    penalized_parts = [penalized[:, a:b] for _, _, a, b in layout]
    # The weights at the end of the epoch with the lowest validation loss so far.
    best_theta, best_moving = theta, list(moving)
    best_loss = tf.fill([n_runs], float("inf"))
    best_epoch = tf.zeros([n_runs], tf.int32)
    for step in tf.range(n_steps):
        idx = run_orders[:, step]
        xb = tf.gather(X_runs, idx, batch_dims=1)
        yb = tf.gather(y_runs, idx, batch_dims=1)
        drop = tf.gather(uniforms[:, step], pair_of_run)
        # The gradient is taken with respect to each parameter's slice of theta, then
        # concatenated: the same numbers as the gradient with respect to theta itself,
        # without padding every slice's gradient to theta's full size and adding them.
        parts = [theta[:, a:b] for _, _, a, b in layout]
        with tf.GradientTape() as tape:
            tape.watch(parts)
            weights = {name: tf.reshape(part, [-1, *shape])
                       for (name, shape, *_), part in zip(layout, parts, strict=True)}  # fmt: skip
            logits, new_moving = _forward(weights, moving, switches, xb, layout, n_unfrozen,
                                          training=True, uniforms=drop)  # fmt: skip
            data_loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(yb, logits), axis=1
            )
            squares = [tf.reduce_sum(tf.square(part) * mask, axis=1)
                       for part, mask in zip(parts, penalized_parts, strict=True)]  # fmt: skip
            penalty = switches[3] * tf.add_n(squares)
            loss = tf.reduce_sum(data_loss + penalty)
        grads = tape.gradient(loss, parts, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        grad = tf.concat(grads, axis=1)
        moving = new_moving
        theta, m, v = _adam(theta, grad, m, v, lr, step)
        epoch_loss += data_loss
        end_of_epoch = tf.equal((step + 1) % steps_per_epoch, 0)
        if (curves or track_best) and end_of_epoch:
            epoch = (step + 1) // steps_per_epoch - 1
            logits_v, _ = _forward(theta, moving, switches, tf.gather(X_valid, split_of_run),
                                   layout, n_unfrozen, training=False)  # fmt: skip
            labels_v = tf.gather(y_valid, split_of_run)
            valid_ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels_v, logits_v)
            valid_loss = tf.reduce_mean(valid_ce, axis=1)
            if curves:
                mean_loss = epoch_loss / tf.cast(steps_per_epoch, tf.float32)
                train_losses = train_losses.write(epoch, mean_loss)
                valid_losses = valid_losses.write(epoch, valid_loss)
                hits = tf.equal(tf.argmax(logits_v, axis=-1, output_type=tf.int32), labels_v)
                valid_hits = valid_hits.write(epoch, tf.reduce_mean(tf.cast(hits, tf.float32), 1))
            if track_best:
                better = valid_loss < best_loss
                best_loss = tf.where(better, valid_loss, best_loss)
                best_epoch = tf.where(better, epoch, best_epoch)
                best_theta = tf.where(better[:, None], theta, best_theta)
                best_moving = [tf.where(better[:, None], now, kept)
                               for now, kept in zip(moving, best_moving, strict=True)]  # fmt: skip
        epoch_loss = tf.where(end_of_epoch, tf.zeros_like(epoch_loss), epoch_loss)
    if not curves:  # empty stacks must still have a shape
        train_losses = train_losses.write(0, tf.zeros([n_runs]))
        valid_losses = valid_losses.write(0, tf.zeros([n_runs]))
        valid_hits = valid_hits.write(0, tf.zeros([n_runs]))
    curve_values = (train_losses.stack(), valid_losses.stack(), valid_hits.stack())
    return theta, moving, curve_values, (best_theta, best_moving, best_epoch)
