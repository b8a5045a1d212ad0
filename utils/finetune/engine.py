"""The arithmetic of many runs at once: Dense, BatchNormalization, dropout and Adam, batched.

Introduced in Chapter 8 (fine-tuning experiments). Importing this module
does not import TensorFlow; its functions do.

Every tensor here has a leading *run* axis: a run's Dense layers are slices
of batched weight tensors (``tf.matmul`` of ``(runs, batch, in)`` inputs and
``(runs, in, out)`` kernels), and a training step minimizes the sum of the
runs' losses, so that each run's gradient is its own. A run's trained
parameters are one row of a flat matrix ``theta``, whose columns
:func:`layout` names; the layers the runs do not share (batch
normalization, dropout) are switched on and off per run by
:class:`RunSettings`. The frozen base layers are not here: they are applied
once, before training (``fine_tuning.py``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from .design import ADAM, BASE_UNITS, BN_EPSILON, FEATURES, HIDDEN_UNITS, N_CLASSES, N_PIXELS

if TYPE_CHECKING:
    import tensorflow as tf

    Batched = np.ndarray | tf.Tensor  # one row per run (or per split, or per pair)


# ----------------------------------------------------------------------------- layers, optimizer


def dense(x, kernel, bias):
    """Every run's Dense layer: ``x`` (runs, batch, in), ``kernel`` (runs, in, out), ``bias``."""
    import tensorflow as tf

    return tf.matmul(x, kernel) + bias[:, None, :]


def batch_norm(x, gamma, beta, mean, variance):
    """Every run's batch normalization, dividing by ``sqrt(variance + epsilon)``.

    Keras multiplies by TensorFlow's float32 ``rsqrt`` instead, whose last bit
    differs between Intel and AMD processors.
    """
    import tensorflow as tf

    return (x - mean) / tf.sqrt(variance + BN_EPSILON) * gamma[:, None, :] + beta[:, None, :]


def adam(param, grad, m, v, lr, step):
    """Keras's Adam update, with a learning rate per run (``lr`` broadcasts)."""
    import tensorflow as tf

    b1, b2, eps = ADAM["beta_1"], ADAM["beta_2"], ADAM["epsilon"]
    t = tf.cast(step + 1, tf.float32)
    alpha = lr * tf.sqrt(1 - tf.pow(b2, t)) / (1 - tf.pow(b1, t))
    m = m + (grad - m) * (1 - b1)
    v = v + (tf.square(grad) - v) * (1 - b2)
    return param - (m * alpha) / (tf.sqrt(v) + eps), m, v


def per_run(values, like):
    """``values`` (one per run) shaped to broadcast against ``like`` (runs first)."""
    import tensorflow as tf

    return tf.reshape(values, [-1] + [1] * (len(like.shape) - 1))


# ----------------------------------------------------------------------------- parameter layout


class Slot(NamedTuple):
    """Where one weight of a run lies in the flat parameter vector: ``theta[:, start:end]``."""

    name: str
    shape: tuple[int, ...]
    start: int
    end: int
    base_layer: int | None
    """The base layer the weight belongs to (0 next to the pixels); ``None`` for the head."""

    @property
    def is_kernel(self) -> bool:
        """Whether the weight is a Dense kernel (which the L2 penalty penalizes)."""
        return self.name.endswith("_kernel")


def base_name(layer: int) -> str:
    """The name of base layer ``layer`` (0 next to the pixels): ``"base_1"`` ... ``"base_3"``."""
    return f"base_{layer + 1}"


HEAD_WEIGHTS = (
    ("hidden_kernel", (FEATURES, HIDDEN_UNITS)),
    ("hidden_bias", (HIDDEN_UNITS,)),
    ("output_kernel", (HIDDEN_UNITS, N_CLASSES)),
    ("output_bias", (N_CLASSES,)),
    ("bn_features_gamma", (FEATURES,)),
    ("bn_features_beta", (FEATURES,)),
    ("bn_hidden_gamma", (HIDDEN_UNITS,)),
    ("bn_hidden_beta", (HIDDEN_UNITS,)),
)
"""The new layers' weights, in the order of the flat parameter vector (after the base's)."""


def layout(n_unfrozen: int) -> tuple[Slot, ...]:
    """The slots of the trained weights: the top ``n_unfrozen`` base layers', then the head's."""
    units = (N_PIXELS, *BASE_UNITS)
    weights = []
    for layer in range(len(BASE_UNITS) - n_unfrozen, len(BASE_UNITS)):
        fan_in, fan_out = units[layer], units[layer + 1]
        name = base_name(layer)
        weights += [
            (f"{name}_kernel", (fan_in, fan_out), layer),
            (f"{name}_bias", (fan_out,), layer),
        ]
    weights += [(name, shape, None) for name, shape in HEAD_WEIGHTS]
    slots, start = [], 0
    for name, shape, base_layer in weights:
        end = start + math.prod(shape)
        slots.append(Slot(name, shape, start, end, base_layer))
        start = end
    return tuple(slots)


def unpack(theta, slots: tuple[Slot, ...]) -> dict:
    """The weights of every run, by name, from the flat parameters ``theta`` (runs first)."""
    import tensorflow as tf

    return {s.name: tf.reshape(theta[:, s.start : s.end], [-1, *s.shape]) for s in slots}


# ----------------------------------------------------------------------------- the model


class RunSettings(NamedTuple):
    """Each run's variant as numbers, one float32 per run: what the shared graph switches."""

    bn_features: Batched  # 1.0 where the base's output is normalized, else 0.0
    bn_hidden: Batched  # 1.0 where the hidden layer's output is normalized
    dropout: Batched  # the dropout rate (0.0: no dropout)
    l2: Batched  # the L2 factor
    bn_momentum: Batched  # the moving statistics' momentum

    @classmethod
    def from_variants(cls, variants) -> RunSettings:
        """NumPy arrays of the :class:`~.design.Variant` fields, one entry per variant."""
        return cls(*(np.array([getattr(v, f) for v in variants], np.float32) for f in cls._fields))


class MovingStatistics(NamedTuple):
    """The batch-normalization layers' moving statistics, one row per run."""

    bn_features_moving_mean: Batched
    bn_features_moving_variance: Batched
    bn_hidden_moving_mean: Batched
    bn_hidden_moving_variance: Batched

    @classmethod
    def initial(cls, n_runs) -> MovingStatistics:
        """Keras's initial statistics: means 0, variances 1."""
        import tensorflow as tf

        return cls(
            tf.zeros([n_runs, FEATURES]),
            tf.ones([n_runs, FEATURES]),
            tf.zeros([n_runs, HIDDEN_UNITS]),
            tf.ones([n_runs, HIDDEN_UNITS]),
        )


def forward(weights: dict, moving, settings, x, *, training: bool, dropout_uniforms=None):
    """Logits of every run on its own inputs ``x`` (runs, batch, features).

    ``x`` is the output of the frozen base layers (the images if none is
    frozen); ``weights`` (see :func:`unpack`) holds the trained base layers,
    which come first, and the head. In training, batch normalization uses
    the batch's statistics and dropout keeps a unit where its number in
    ``dropout_uniforms`` is at least the rate; otherwise, the moving
    statistics and no dropout. Returns the logits and the moving statistics
    (updated in training).
    """
    import tensorflow as tf

    use_bn_features, use_bn_hidden, rate = (
        per_run(values, x)
        for values in (settings.bn_features, settings.bn_hidden, settings.dropout)
    )
    statistics = moving._asdict()
    h = x
    for layer in range(len(BASE_UNITS)):
        name = base_name(layer)
        if f"{name}_kernel" in weights:
            h = tf.nn.relu(dense(h, weights[f"{name}_kernel"], weights[f"{name}_bias"]))

    def normalize(h, name):
        """Batch normalization ``name`` (its weights and statistics are named after it)."""
        mean_name, variance_name = f"{name}_moving_mean", f"{name}_moving_variance"
        if training:
            mean, variance = tf.nn.moments(h, axes=[1], keepdims=True)
            momentum = settings.bn_momentum[:, None]
            old_mean, old_variance = getattr(moving, mean_name), getattr(moving, variance_name)
            statistics[mean_name] = old_mean * momentum + mean[:, 0] * (1 - momentum)
            statistics[variance_name] = old_variance * momentum + variance[:, 0] * (1 - momentum)
        else:
            mean = getattr(moving, mean_name)[:, None, :]
            variance = getattr(moving, variance_name)[:, None, :]
        return batch_norm(h, weights[f"{name}_gamma"], weights[f"{name}_beta"], mean, variance)

    h = tf.where(use_bn_features > 0, normalize(h, "bn_features"), h)
    h = tf.nn.relu(dense(h, weights["hidden_kernel"], weights["hidden_bias"]))
    h = tf.where(use_bn_hidden > 0, normalize(h, "bn_hidden"), h)
    if training:
        keep = tf.cast(dropout_uniforms >= rate, h.dtype)
        h = tf.where(rate > 0, h * keep / (1 - rate), h)
    logits = dense(h, weights["output_kernel"], weights["output_bias"])
    return logits, MovingStatistics(**statistics)


def predict(theta: np.ndarray, moving, settings, X: np.ndarray, slots) -> np.ndarray:
    """Inference logits (moving statistics, no dropout) of every run, computed 256 runs at a time.

    ``theta``, ``moving``, ``settings`` and ``X`` are NumPy arrays, runs first.
    """
    import tensorflow as tf

    out = []
    for start in range(0, len(X), 256):
        chunk = slice(start, start + 256)
        logits, _ = forward(
            unpack(tf.constant(theta[chunk]), slots),
            MovingStatistics(*(tf.constant(m[chunk]) for m in moving)),
            RunSettings(*(tf.constant(s[chunk]) for s in settings)),
            tf.constant(X[chunk]),
            training=False,
        )
        out.append(logits.numpy())
    return np.concatenate(out)


def forward_plain(params, X) -> np.ndarray:
    """Logits of stacked plain MLPs (kernel, bias pairs, ReLU between) on shared inputs.

    Computed with TensorFlow, whose pinned numerics are the same on every CPU
    (NumPy's own loops pick their vector instructions at run time).
    """
    import tensorflow as tf

    h = tf.broadcast_to(tf.constant(X), [params[0].shape[0], *X.shape])
    for i in range(0, len(params), 2):
        h = dense(h, tf.constant(params[i]), tf.constant(params[i + 1]))
        if i + 2 < len(params):
            h = tf.nn.relu(h)
    return h.numpy()


def at_least_two(array: np.ndarray) -> np.ndarray:
    """``array``, its first axis doubled if it has length 1.

    TensorFlow multiplies a batch of one matrix with another kernel than a
    larger batch, and the two round differently in the last bit: runs are
    never trained alone, so that a run's result does not depend on how many
    others share its graph.
    """
    return np.concatenate([array, array]) if len(array) == 1 else array


# ----------------------------------------------------------------------------- graphs

_GRAPHS = {}


def graph(function):
    """``function`` as a ``tf.function``, traced once per process (per argument kind)."""
    import tensorflow as tf

    if function not in _GRAPHS:
        _GRAPHS[function] = tf.function(function, reduce_retracing=True)
    return _GRAPHS[function]


# ----------------------------------------------------------------------------- pretraining


def pretrain_loop(params, order, X, y, learning_rate):
    """Train stacked plain MLPs (one per split) with Adam; ``order[split, step]`` is a batch."""
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
                h = dense(h, params[i], params[i + 1])
                if i + 2 < n:
                    h = tf.nn.relu(h)
            losses = tf.nn.sparse_softmax_cross_entropy_with_logits(yb, h)
            loss = tf.reduce_sum(tf.reduce_mean(losses, axis=1))
        grads = tape.gradient(loss, params)
        updated = [adam(params[i], grads[i], m[i], v[i], learning_rate, step) for i in range(n)]
        params = [u[0] for u in updated]
        m = [u[1] for u in updated]
        v = [u[2] for u in updated]
    return params


# ----------------------------------------------------------------------------- fine-tuning


class Parameters(NamedTuple):
    """Every run's trained parameters, flat (see :func:`layout`), and how each one trains."""

    theta: Batched  # (runs, n) float32: the values
    rate_factors: Batched  # (runs, n) float32: learning rate / the head's learning rate
    penalized: Batched  # (runs, n) float32: 1.0 where the L2 penalty applies


class Draws(NamedTuple):
    """The batches and dropout numbers of each ``(split, seed)`` pair (``design.run_draws``)."""

    orders: Batched  # (pairs, steps, batch) int32: indices into the training images
    uniforms: Batched  # (pairs, steps, batch, hidden units) float32
    pair_of_run: Batched  # (runs,) int32: the pair each run belongs to


class Images(NamedTuple):
    """Each split's training and validation inputs (the frozen layers' output) and labels."""

    X_train: Batched  # (splits, images, features) float32
    y_train: Batched  # (splits, images) int32
    X_valid: Batched
    y_valid: Batched
    split_of_run: Batched  # (runs,) int32: the split each run belongs to


class Schedule(NamedTuple):
    """The head's learning rate (float32) and the number of steps in an epoch (int32)."""

    learning_rate: Batched
    steps_per_epoch: Batched


class LoopOptions(NamedTuple):
    """What the loop trains (``slots``) and records besides the final weights."""

    slots: tuple[Slot, ...]
    curves: bool  # the losses and validation accuracy after every epoch
    track_best: bool  # the weights at the epoch of lowest validation loss


class TrainedState(NamedTuple):
    """Every run's flat parameters and moving statistics at one point of training."""

    theta: Batched
    moving: MovingStatistics


class LoopResult(NamedTuple):
    """What :func:`fine_tune_loop` returns; curves are ``(epochs, runs)``."""

    final: TrainedState
    best: TrainedState  # at the end of the epoch of lowest validation loss (if tracked)
    best_epoch: Batched  # (runs,) int32, counted from 0
    train_loss: Batched  # the epoch's mean training cross-entropy
    valid_loss: Batched  # the validation cross-entropy after the epoch
    valid_accuracy: Batched


def _training_step_gradient(theta, moving, settings, batch, penalized_parts, slots):
    """One training step's gradient of the summed loss, data losses and moving statistics.

    The gradient is taken with respect to each weight's slice of ``theta``,
    then concatenated: the same numbers as the gradient with respect to
    ``theta`` itself, without padding every slice's gradient to ``theta``'s
    full size and adding them.
    """
    import tensorflow as tf

    xb, yb, dropout_uniforms = batch
    parts = [theta[:, s.start : s.end] for s in slots]
    with tf.GradientTape() as tape:
        tape.watch(parts)
        weights = {
            s.name: tf.reshape(part, [-1, *s.shape]) for s, part in zip(slots, parts, strict=True)
        }
        logits, new_moving = forward(
            weights, moving, settings, xb, training=True, dropout_uniforms=dropout_uniforms
        )
        data_loss = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(yb, logits), axis=1
        )
        squares = [
            tf.reduce_sum(tf.square(part) * mask, axis=1)
            for part, mask in zip(parts, penalized_parts, strict=True)
        ]
        penalty = settings.l2 * tf.add_n(squares)
        loss = tf.reduce_sum(data_loss + penalty)
    grads = tape.gradient(loss, parts, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    return tf.concat(grads, axis=1), data_loss, new_moving


class _Validation(NamedTuple):
    """Every run's validation logits and labels, and its mean cross-entropy (no L2 penalty)."""

    logits: Batched
    labels: Batched
    loss: Batched


def _validate(theta, moving, settings, images, slots) -> _Validation:
    import tensorflow as tf

    X_valid = tf.gather(images.X_valid, images.split_of_run)
    logits, _ = forward(unpack(theta, slots), moving, settings, X_valid, training=False)
    labels = tf.gather(images.y_valid, images.split_of_run)
    cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
    return _Validation(logits, labels, tf.reduce_mean(cross_entropy, axis=1))


class _Curves(NamedTuple):
    """The curves being recorded: per epoch, one ``(runs,)`` value in each TensorArray."""

    train_loss: tf.TensorArray  # the epoch's mean training cross-entropy
    valid_loss: tf.TensorArray
    valid_accuracy: tf.TensorArray

    @classmethod
    def empty(cls, n_epochs) -> _Curves:
        import tensorflow as tf

        return cls(*(tf.TensorArray(tf.float32, size=n_epochs) for _ in cls._fields))


def _record_curves(curves: _Curves, epoch, train_loss, validation: _Validation) -> _Curves:
    import tensorflow as tf

    train_losses = curves.train_loss.write(epoch, train_loss)
    valid_losses = curves.valid_loss.write(epoch, validation.loss)
    predicted = tf.argmax(validation.logits, axis=-1, output_type=tf.int32)
    hits = tf.cast(tf.equal(predicted, validation.labels), tf.float32)
    return _Curves(
        train_losses, valid_losses, curves.valid_accuracy.write(epoch, tf.reduce_mean(hits, 1))
    )


class _Best(NamedTuple):
    """Each run's lowest validation loss so far, its epoch, and the weights then."""

    loss: Batched
    epoch: Batched
    theta: Batched
    moving: MovingStatistics


def _keep_if_better(best: _Best, valid_loss, epoch, theta, moving) -> _Best:
    import tensorflow as tf

    better = valid_loss < best.loss
    return _Best(
        loss=tf.where(better, valid_loss, best.loss),
        epoch=tf.where(better, epoch, best.epoch),
        theta=tf.where(better[:, None], theta, best.theta),
        moving=MovingStatistics(
            *[
                tf.where(better[:, None], now, kept)
                for now, kept in zip(moving, best.moving, strict=True)
            ]
        ),
    )


def fine_tune_loop(
    parameters: Parameters,
    draws: Draws,
    images: Images,
    settings: RunSettings,
    schedule: Schedule,
    options: LoopOptions,
) -> LoopResult:
    """Train every run for all its steps, with Adam; run it through :func:`graph`."""
    import tensorflow as tf

    theta, slots = parameters.theta, options.slots
    n_runs = tf.shape(theta)[0]
    steps_per_epoch = schedule.steps_per_epoch
    n_steps = tf.shape(draws.orders)[1]
    n_epochs = n_steps // steps_per_epoch
    run_orders = tf.gather(draws.orders, draws.pair_of_run)  # (runs, steps, batch)
    X_runs = tf.gather(images.X_train, images.split_of_run)
    y_runs = tf.gather(images.y_train, images.split_of_run)
    lr = parameters.rate_factors * schedule.learning_rate
    moving = MovingStatistics.initial(n_runs)
    m, v = tf.zeros_like(theta), tf.zeros_like(theta)
    curves = _Curves.empty(n_epochs)
    epoch_loss = tf.zeros_like(theta[:, 0])
    penalized_parts = [parameters.penalized[:, s.start : s.end] for s in slots]
    best = _Best(
        loss=tf.fill([n_runs], float("inf")),
        epoch=tf.zeros([n_runs], tf.int32),
        theta=theta,
        moving=moving,
    )
    for step in tf.range(n_steps):
        idx = run_orders[:, step]
        xb = tf.gather(X_runs, idx, batch_dims=1)
        yb = tf.gather(y_runs, idx, batch_dims=1)
        dropout_uniforms = tf.gather(draws.uniforms[:, step], draws.pair_of_run)
        grad, data_loss, moving = _training_step_gradient(
            theta, moving, settings, (xb, yb, dropout_uniforms), penalized_parts, slots
        )
        theta, m, v = adam(theta, grad, m, v, lr, step)
        epoch_loss += data_loss
        end_of_epoch = tf.equal((step + 1) % steps_per_epoch, 0)
        if (options.curves or options.track_best) and end_of_epoch:
            epoch = (step + 1) // steps_per_epoch - 1
            validation = _validate(theta, moving, settings, images, slots)
            if options.curves:
                mean_loss = epoch_loss / tf.cast(steps_per_epoch, tf.float32)
                curves = _record_curves(curves, epoch, mean_loss, validation)
            if options.track_best:
                best = _keep_if_better(best, validation.loss, epoch, theta, moving)
        epoch_loss = tf.where(end_of_epoch, tf.zeros_like(epoch_loss), epoch_loss)
    if not options.curves:  # empty stacks must still have a shape
        curves = _Curves(*(values.write(0, tf.zeros([n_runs])) for values in curves))
    return LoopResult(
        final=TrainedState(theta, moving),
        best=TrainedState(best.theta, best.moving),
        best_epoch=best.epoch,
        train_loss=curves.train_loss.stack(),
        valid_loss=curves.valid_loss.stack(),
        valid_accuracy=curves.valid_accuracy.stack(),
    )


def train_runs(
    parameters: Parameters,
    draws: Draws,
    images: Images,
    settings: RunSettings,
    schedule: Schedule,
    options: LoopOptions,
) -> LoopResult:
    """:func:`fine_tune_loop` as a graph, on NumPy inputs; returns NumPy arrays."""
    import tensorflow as tf

    inputs = tf.nest.map_structure(tf.constant, (parameters, draws, images, settings, schedule))
    trained = graph(fine_tune_loop)(*inputs, options)
    return tf.nest.map_structure(lambda tensor: tensor.numpy(), trained)
