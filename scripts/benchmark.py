"""Print the speed tables of chapters 6 and 7 for this machine.

Usage (from the repository root, inside the book's environment)::

    .venv/bin/python scripts/benchmark.py              # 5 repeats, a few minutes
    .venv/bin/python scripts/benchmark.py --repeats 9  # steadier medians, slower

It runs the same workloads as the speed sections of the chapters, with more
repeats, and prints the median of each (see :func:`utils.time_it`):

* chapter 6: one epoch of the housing model (12,384 samples, batches of 32)
  trained five ways: an eager loop, a ``tf.function`` loop, ``fit()``,
  ``fit()`` with ``steps_per_execution``, and a whole epoch in one graph;
* chapter 7: a tiny op, a large tensor op and a training step, each eager,
  through ``tf.function`` and through ``tf.function(jit_compile=True)`` (XLA).

Then the ratios that the chapters discuss. This is a measurement, not a test:
nothing fails when a number is unexpected. Close other programs first; on a
shared or busy machine the spread between repeats is large.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from run_notebooks import default_environment  # noqa: E402

from utils import setup_chapter  # noqa: E402  (must run before TensorFlow is imported)


def chapter6(repeats: int, eager_batches: int, steps_per_execution: int):
    """The five ways to train one epoch of chapter 6's housing model."""
    import keras
    import tensorflow as tf

    from utils import housing_split, time_it

    split = housing_split()
    X_train, y_train = split.X_train, split.y_train
    batch_size, n_samples = 32, len(X_train)
    train_set = (
        tf.data.Dataset.from_tensor_slices((X_train, y_train))
        .shuffle(n_samples, seed=42)
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )

    def build_model():
        keras.utils.set_random_seed(42)
        return keras.Sequential(
            [
                keras.Input(shape=(8,)),
                keras.layers.Dense(
                    30,
                    activation="relu",
                    kernel_regularizer=keras.regularizers.L2(1e-3),
                    kernel_constraint=keras.constraints.MaxNorm(1.0),
                ),
                keras.layers.Dropout(0.1),
                keras.layers.Dense(1),
            ]
        )

    model, optimizer = build_model(), keras.optimizers.Adam(learning_rate=0.002)
    loss_fn, mean_loss = keras.losses.MeanSquaredError(), keras.metrics.Mean()

    def eager_step(X_batch, y_batch):
        with tf.GradientTape() as tape:
            y_pred = model(X_batch, training=True)
            loss = loss_fn(y_batch, y_pred) + tf.add_n(model.losses)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        mean_loss.update_state(loss)

    graph_step = tf.function(eager_step)

    @tf.function
    def train_epoch(dataset):
        for X_batch, y_batch in dataset:
            eager_step(X_batch, y_batch)
        return mean_loss.result()

    def epoch_with(step, dataset):
        def run():
            for X_batch, y_batch in dataset:
                step(X_batch, y_batch)
            return float(mean_loss.result())

        return run

    fit_models = {}
    for steps in (1, steps_per_execution):
        fit_models[steps] = build_model()
        fit_models[steps].compile(
            loss="mse",
            optimizer=keras.optimizers.Adam(learning_rate=0.002),
            steps_per_execution=steps,
        )

    few = train_set.take(eager_batches)
    return [
        time_it(
            epoch_with(eager_step, few),
            items=eager_batches * batch_size,
            repeats=repeats,
            label=f"eager loop ({eager_batches} batches)",
        ),
        time_it(
            epoch_with(graph_step, train_set),
            items=n_samples,
            repeats=repeats,
            label="tf.function loop",
        ),
        time_it(
            lambda: fit_models[1].fit(train_set, shuffle=False, verbose=0),
            items=n_samples,
            repeats=repeats,
            label="fit()",
        ),
        time_it(
            lambda: fit_models[steps_per_execution].fit(train_set, shuffle=False, verbose=0),
            items=n_samples,
            repeats=repeats,
            label=f"fit(), steps_per_execution={steps_per_execution}",
        ),
        time_it(
            lambda: float(train_epoch(train_set)),
            items=n_samples,
            repeats=repeats,
            label="one graph per epoch",
        ),
    ]


def chapter7(repeats: int, scale: int):
    """A tiny op, a large tensor op and a training step: eager, tf.function, XLA."""
    import keras
    import tensorflow as tf

    from utils import time_it

    def tiny(x):
        return x * 2.0 + 1.0

    def large(x):
        return tf.reduce_sum(tf.nn.relu(x * 2.0 + 1.0) ** 2 - tf.tanh(x))

    keras.utils.set_random_seed(42)
    model = keras.Sequential(
        [keras.Input(shape=(8,)), keras.layers.Dense(30, activation="relu"), keras.layers.Dense(1)]
    )
    optimizer = keras.optimizers.Adam(learning_rate=0.002)
    X_batch = tf.random.normal((32, 8), seed=1)
    y_batch = tf.random.normal((32, 1), seed=2)

    def train_step(X, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(y - model(X, training=True)))
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        return loss

    workloads = {
        "tiny op": (tiny, (tf.constant(3.0),), 100 * scale),
        "large tensor op": (large, (tf.random.normal((1000, 1000), seed=42),), 4 * scale),
        "training step": (train_step, (X_batch, y_batch), 4 * scale),
    }

    def calls(fn, args, n):
        def run():
            for _ in range(n):
                result = fn(*args)
            return result.numpy()

        return run

    tables = {}
    for name, (fn, args, n) in workloads.items():
        modes = {
            "eager": fn,
            "tf.function": tf.function(fn),
            "XLA": tf.function(fn, jit_compile=True),
        }
        tables[name] = [
            time_it(calls(f, args, n), items=n, repeats=repeats, label=mode)
            for mode, f in modes.items()
        ]
    return tables


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per row (default 5)")
    parser.add_argument(
        "--eager-batches",
        type=int,
        default=50,
        help="batches in the eager loop of chapter 6 (default 50)",
    )
    parser.add_argument("--steps-per-execution", type=int, default=32)
    parser.add_argument(
        "--scale",
        type=int,
        default=10,
        help="calls per repeat in chapter 7: 100x, 4x, 4x this (default 10)",
    )
    args = parser.parse_args(argv)
    if (
        args.repeats < 1
        or args.eager_batches < 1
        or args.steps_per_execution < 1
        or args.scale < 1
    ):
        parser.error("all counts must be at least 1")

    default_environment()
    setup_chapter(verbose=False)
    from utils import environment_line, speed_table

    print(environment_line())
    print(f"medians of {args.repeats} repeats, after one warm-up call each\n")
    start = time.perf_counter()

    ch6 = chapter6(args.repeats, args.eager_batches, args.steps_per_execution)
    print("Chapter 6: one epoch of the housing model (samples per second)")
    print(speed_table(ch6, baseline="tf.function loop"), end="\n\n")

    ch7 = chapter7(args.repeats, args.scale)
    for name, rows in ch7.items():
        print(f"Chapter 7: {name} (calls per second)")
        print(speed_table(rows, unit="calls/s", baseline="tf.function"), end="\n\n")

    speed6 = {t.label.split(" (")[0]: t.throughput for t in ch6}
    speed7 = {name: {t.label: t.throughput for t in rows} for name, rows in ch7.items()}
    print("Ratios (throughput over throughput; > 1 means the first is faster)")
    print(
        "  tf.function loop / fit()             "
        f"{speed6['tf.function loop'] / speed6['fit()']:8.2f}"
    )
    print(
        "  eager loop / tf.function loop        "
        f"{speed6['eager loop'] / speed6['tf.function loop']:8.3f}"
    )
    for name, row in speed7.items():
        print(
            f"  {name:16} eager / tf.function  {row['eager'] / row['tf.function']:8.3f}"
            f"   XLA / tf.function {row['XLA'] / row['tf.function']:6.2f}"
        )
    print(f"\n(total {time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
