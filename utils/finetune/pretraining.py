"""Pretraining: one base per split, on the source task (the digits 0-4).

Introduced in Chapter 8 (fine-tuning experiments).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..checks import check_int
from . import engine
from .design import (
    BASE_UNITS,
    Training,
    TransferData,
    initial_source_network,
    pretraining_order,
)


@dataclass(frozen=True)
class Pretrained:
    """Pretrained bases, one per split, and their source-task heads.

    ``base`` holds ``[(kernel, bias)] * 3`` with a leading split axis;
    ``source_accuracy[i]`` is split ``splits[i]``'s base + head accuracy on
    the held-out source images.

    Introduced in Chapter 8.
    """

    splits: tuple[int, ...]
    base: tuple[tuple[np.ndarray, np.ndarray], ...]
    source_head: tuple[np.ndarray, np.ndarray]
    source_accuracy: np.ndarray

    def index(self, split: int) -> int:
        """Where split ``split`` is on the leading axis of the weights.

        Raises:
            ValueError: ``split`` was not pretrained.
        """
        try:
            return self.splits.index(split)
        except ValueError:
            raise ValueError(f"split {split} was not pretrained ({self.splits})") from None


def pretrain(
    data: TransferData,
    splits,
    *,
    n_epochs: int = 10,
    batch_size: int = 32,
    learning_rate: float = 1e-3,
) -> Pretrained:
    """Pretrain one base per split on the source task (all trainable, Adam, softmax head).

    The base of split ``s`` starts from Glorot-uniform weights drawn with
    ``numpy.random.default_rng([2, s, layer])`` and sees the source images in
    an order drawn with ``default_rng([2, s, 0])`` (see ``design.py`` for
    ``BOOK_SEED_OFFSET``). All splits train at once, as one batch of matrix
    products. (TensorFlow multiplies a batch of one matrix with another
    kernel, whose last bits differ, so a single split is trained as two
    identical copies: a base is the same, bit for bit, whatever else is
    pretrained with it.)

    Raises:
        ValueError: no or repeated splits, or bad hyperparameters.

    Introduced in Chapter 8.
    """
    import tensorflow as tf

    splits = tuple(check_int("split", s, minimum=0) for s in splits)
    if not splits or len(set(splits)) != len(splits):
        raise ValueError(f"give distinct splits, got {splits}")
    Training(n_epochs, batch_size, learning_rate)  # validates
    networks = [initial_source_network(s) for s in splits]  # a list of kernels per split
    params = []  # kernel, bias, kernel, ...: each stacked over the splits
    for layer in range(len(networks[0])):
        kernels = np.stack([kernels_of_split[layer] for kernels_of_split in networks])
        params += [kernels, np.zeros((len(splits), kernels.shape[2]), np.float32)]
    n_samples = len(data.y_source_train)
    order = np.stack([pretraining_order(s, n_samples, batch_size, n_epochs) for s in splits])
    params, order = [engine.at_least_two(p) for p in params], engine.at_least_two(order)
    final = engine.graph(engine.pretrain_loop)(
        [tf.constant(p) for p in params],
        tf.constant(order),
        tf.constant(data.X_source_train),
        tf.constant(data.y_source_train),
        tf.constant(learning_rate, tf.float32),
    )
    final = [p.numpy() for p in final]
    logits = engine.forward_plain(final, data.X_source_test)
    accuracy = (logits.argmax(-1) == data.y_source_test).mean(axis=1)[: len(splits)]
    final = [p[: len(splits)] for p in final]
    base = tuple((final[2 * i], final[2 * i + 1]) for i in range(len(BASE_UNITS)))
    return Pretrained(splits, base, (final[-2], final[-1]), accuracy)
