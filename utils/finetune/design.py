"""The experiment's design: data, splits, variants, training settings and random draws.

Introduced in Chapter 8 (fine-tuning experiments). NumPy and scikit-learn
only: nothing here imports TensorFlow.

*Random draws.* Every random number of the experiment comes from a NumPy
generator keyed by what it is for and by the run it belongs to, never by
the variant: ``numpy.random.default_rng([stream, split, seed, ...])``, where
``stream`` (:class:`Stream`) keeps apart the draws of different purposes
(data splits, pretraining, initial weights, batch orders, dropout masks).

*Other draws for a robustness check.* The environment variable
``BOOK_SEED_OFFSET`` (an integer >= 0, 0 when unset or empty) moves every
stream's number by ``10 * offset``: with an offset, every split, pretrained
base, initial weight, batch order and dropout mask is drawn anew, the same
way for every variant, so the experiment's pairing stays exact.
``python -m booktools.check_robustness --seed-offset N`` sets it for the
chapters it runs. :func:`seed_offset` reads it, each time a generator is made.
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
import math
import os
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..checks import check_fraction, check_int, check_real

N_CLASSES = 5
N_PIXELS = 64  # 8 x 8 images
BASE_UNITS = (64, 64, 32)
FEATURES = BASE_UNITS[-1]  # what the base hands to the head
HIDDEN_UNITS = 32
BN_EPSILON = 1e-3  # BatchNormalization's epsilon
ADAM = {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}  # Keras's defaults

SEED_OFFSET_ENV = "BOOK_SEED_OFFSET"
"""The environment variable whose integer moves every random stream (see the module)."""


# ----------------------------------------------------------------------------- random streams


class Stream(enum.IntEnum):
    """The purposes of the random draws: the first number of a generator's key."""

    SPLIT = 1
    PRETRAIN = 2
    INIT = 3
    BATCHES = 4
    DROPOUT = 5


def seed_offset() -> int:
    """The integer in the environment variable ``BOOK_SEED_OFFSET``; 0 if it is unset or empty.

    Every random stream's number moves by ten times it (see the module's
    docstring): ``booktools/check_robustness.py --seed-offset N`` sets it.

    Raises:
        ValueError: the variable holds something else than an integer >= 0.
    """
    text = os.environ.get(SEED_OFFSET_ENV, "").strip()
    if not text:
        return 0
    if not (text.isascii() and text.isdigit()):
        raise ValueError(
            f"the environment variable {SEED_OFFSET_ENV} must be an integer >= 0 (it moves "
            f"chapter 8's random draws), got {text!r}"
        )
    return int(text)


def random_generator(stream: Stream, *numbers: int) -> np.random.Generator:
    """NumPy's generator for ``stream`` and ``numbers`` (a split, a seed, a layer)."""
    return np.random.default_rng([int(stream) + 10 * seed_offset(), *numbers])


def glorot_uniform(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """A ``(fan_in, fan_out)`` kernel drawn as Keras's ``glorot_uniform`` draws it."""
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32)


def batch_order(
    rng: np.random.Generator, n_samples: int, batch_size: int, n_epochs: int
) -> np.ndarray:
    """``(n_epochs * n_batches, batch_length)`` sample indices; a few sit out each epoch.

    Each epoch, a new permutation of the samples is cut into
    ``round(n_samples / batch_size)`` batches of equal length.
    """
    n_batches = max(1, round(n_samples / batch_size))
    length = n_samples // n_batches
    epochs = [
        rng.permutation(n_samples)[: n_batches * length].reshape(n_batches, length)
        for _ in range(n_epochs)
    ]
    return np.concatenate(epochs).astype(np.int32)


# ----------------------------------------------------------------------------- data


@dataclass(frozen=True)
class TransferData:
    """The digits, cut into the source task (0-4) and the target task (5-9, relabelled 0-4).

    The source images are split once, 80/20, into pretraining and held-out
    images (stratified, fixed seed); the held-out ones measure how much a
    fine-tuned base still knows of the source task.

    Introduced in Chapter 8.
    """

    X_source_train: np.ndarray
    y_source_train: np.ndarray
    X_source_test: np.ndarray
    y_source_test: np.ndarray
    X_target: np.ndarray
    y_target: np.ndarray


def load_transfer_data() -> TransferData:
    """scikit-learn's digits, pixels scaled to [0, 1], as a :class:`TransferData`.

    Introduced in Chapter 8.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    source = y < N_CLASSES
    X_train, X_test, y_train, y_test = train_test_split(
        X[source], y[source], test_size=0.2, stratify=y[source], random_state=42
    )
    return TransferData(
        X_source_train=X_train,
        y_source_train=y_train.astype(np.int32),
        X_source_test=X_test,
        y_source_test=y_test.astype(np.int32),
        X_target=X[~source],
        y_target=(y[~source] - N_CLASSES).astype(np.int32),
    )


@dataclass(frozen=True)
class Split:
    """One split of the target task: indices into ``TransferData.X_target``.

    Introduced in Chapter 8.
    """

    number: int
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray


def make_split(data: TransferData, number: int, labels_per_class: int = 10) -> Split:
    """Split ``number``: ``labels_per_class`` labelled images per class, the rest halved.

    The labelled images are the first of each class in an order shuffled by
    ``numpy.random.default_rng([1, number])``; the others, shuffled again,
    are halved into validation and test images. The same number always gives
    the same split (with ``BOOK_SEED_OFFSET`` set, another one: see the module).

    Raises:
        ValueError: a negative number, or too few images for the labels.

    Introduced in Chapter 8.
    """
    number = check_int("number", number, minimum=0)
    labels_per_class = check_int("labels_per_class", labels_per_class, minimum=1)
    y = data.y_target
    if np.bincount(y, minlength=N_CLASSES).min() <= labels_per_class:
        raise ValueError(f"too few images per class for {labels_per_class} labels each")
    rng = random_generator(Stream.SPLIT, number)
    order = rng.permutation(len(y))
    train = np.concatenate([order[y[order] == c][:labels_per_class] for c in range(N_CLASSES)])
    rest = rng.permutation(np.setdiff1d(order, train))
    half = len(rest) // 2
    return Split(number, train, rest[:half], rest[half : 2 * half])


class Labelled(NamedTuple):
    """Images and their labels; the leading axis of both is the split."""

    X: np.ndarray
    y: np.ndarray


def stacked_splits(
    data: TransferData, splits, labels_per_class: int, *, with_test: bool
) -> dict[str, Labelled]:
    """Each split's ``"train"``, ``"valid"`` (and ``"test"``) images and labels, stacked.

    Raises:
        ValueError: as :func:`make_split`.
    """
    chosen = [make_split(data, s, labels_per_class) for s in splits]
    parts = ("train", "valid", "test") if with_test else ("train", "valid")
    return {
        part: Labelled(
            np.stack([data.X_target[getattr(s, part)] for s in chosen]),
            np.stack([data.y_target[getattr(s, part)] for s in chosen]),
        )
        for part in parts
    }


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

    Introduced in Chapter 8.
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

    def replace(self, **changes) -> Variant:
        """A copy with some fields replaced: ``variant.replace(dropout=0.3)``."""
        return dataclasses.replace(self, **changes)

    def trains_base_layer(self, layer: int) -> bool:
        """Whether base layer ``layer`` (0 is the one next to the pixels) trains."""
        return layer >= len(BASE_UNITS) - self.n_unfrozen

    def head(self) -> str:
        """The layers on top of the base, e.g. ``"BN → Dense → Dropout → Dense"``."""
        layers = ["BN"] * self.bn_features + ["Dense"] + ["BN"] * self.bn_hidden
        return " → ".join(layers + ["Dropout"] * (self.dropout > 0) + ["Dense"])

    def trainable_parameters(self) -> int:
        """How many parameters the variant trains (the frozen base excluded)."""
        units = (N_PIXELS, *BASE_UNITS)
        base = sum(
            units[i] * units[i + 1] + units[i + 1]
            for i in range(len(BASE_UNITS))
            if self.trains_base_layer(i)
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

    Introduced in Chapter 8.
    """

    n_epochs: int = 40
    batch_size: int = 16
    learning_rate: float = 0.01

    def __post_init__(self):
        check_int("n_epochs", self.n_epochs, minimum=1)
        check_int("batch_size", self.batch_size, minimum=1)
        check_real("learning_rate", self.learning_rate, positive=True)


# ----------------------------------------------------------------------------- initial weights


def initial_source_network(split: int) -> list[np.ndarray]:
    """The kernels that split ``split``'s base and source head start pretraining from.

    One kernel per layer (the base's three, then the 5-way source head),
    each drawn from its own generator, keyed by ``(split, layer)``.
    """
    units = (N_PIXELS, *BASE_UNITS, N_CLASSES)
    return [
        glorot_uniform(random_generator(Stream.PRETRAIN, split, layer), fan_in, fan_out)
        for layer, (fan_in, fan_out) in enumerate(itertools.pairwise(units), start=1)
    ]


def pretraining_order(split: int, n_samples: int, batch_size: int, n_epochs: int) -> np.ndarray:
    """The order in which split ``split``'s base sees the source images: :func:`batch_order`."""
    return batch_order(
        random_generator(Stream.PRETRAIN, split, 0), n_samples, batch_size, n_epochs
    )


def initial_head(split: int, seed: int) -> dict[str, np.ndarray]:
    """The new layers' initial weights for run ``(split, seed)``, whatever the variant.

    Each kernel comes from its own generator, keyed by (split, seed, layer):
    adding or removing another layer cannot shift it. Biases start at 0, batch
    normalization at scale 1 and offset 0.

    Introduced in Chapter 8.
    """
    hidden = random_generator(Stream.INIT, split, seed, 1)
    output = random_generator(Stream.INIT, split, seed, 2)
    return {
        "hidden_kernel": glorot_uniform(hidden, FEATURES, HIDDEN_UNITS),
        "output_kernel": glorot_uniform(output, HIDDEN_UNITS, N_CLASSES),
    }


# ----------------------------------------------------------------------------- a run's draws


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
    rng = random_generator(Stream.BATCHES, split, seed)
    order = batch_order(rng, n_train, training.batch_size, training.n_epochs)
    n_steps, batch_length = order.shape
    uniforms = random_generator(Stream.DROPOUT, split, seed).random(
        (n_steps, batch_length, HIDDEN_UNITS), dtype=np.float32
    )
    return order, uniforms
