"""The workloads that chapters 6, 7, 9 and 10 time, written once.

The speed sections of Chapter 6 (Custom training loops), Chapter 7
(tf.function and graphs), Chapter 9 (Training beyond the basics) and
Chapter 10 (Where the time goes) call these functions, and ``booktools/benchmark.py``
calls the same functions: both measure the same code on the same data
(Chapter 6's housing model, its training step with the same loss and
metrics, the same batches) by the book's one timing method,
:func:`tfcustom.time_it` (passes of at least half a second, their median and
their spread). Only the number of passes may differ.

* :func:`training_timings`: training on the housing data five ways (an eager
  loop, a ``tf.function`` loop, ``fit()``, ``fit()`` with
  ``steps_per_execution``, a whole epoch in one graph), in samples per second;
* :func:`graph_timings`: a tiny op, a large tensor op and a training step,
  each eager, through ``tf.function`` and through XLA, in calls per second;
* :func:`graph_timings_by_setting`: the same in two new Python processes,
  with and without the book's pinned numerics and op determinism (what they
  cost);
* :func:`precision_timings`: a wider regressor trained in float32 and under
  the mixed-precision policies (Chapter 9);
* :func:`pipeline_timings`: Chapter 6's step fed by input pipelines with a
  slow ``map`` (:func:`pipeline`), in samples per second, with the share of
  each epoch spent waiting for data.

Importing this module does not import TensorFlow; its functions do, so call
:func:`tfcustom.setup_chapter` first.

Introduced in Chapter 6; used by Chapters 7, 9 and 10 and ``booktools/benchmark.py``.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .checks import check_int, check_real
from .timing import PASS_SECONDS, PASSES, Timing, time_it

SEED = 42
"""The seed of every model, shuffle and random tensor here."""

BATCH_SIZE = 32
"""Chapter 6's batch size."""

LEARNING_RATE = 0.002
"""Chapter 6's Adam learning rate."""

GRAPH_CALLS = {"tiny op": 100, "large tensor op": 4, "training step": 4}
"""Calls per timed unit in :func:`graph_timings`; a unit ends by waiting for its last result."""

GRAPH_MODES = ("eager", "tf.function", "XLA")
"""The ways :func:`graph_timings` runs each workload."""


def housing_model(dropout_rate: float = 0.1, seed: int = SEED):
    """Chapter 6's housing regressor: the same seed, the same weights.

    It reseeds everything first (``keras.utils.set_random_seed``), so the
    initial weights and the dropout masks depend on ``seed`` only. Eight
    inputs; a ``Dense(30, relu)`` layer whose kernel has an L2 penalty of
    1e-3 and a max-norm constraint of 1 on each column; dropout; one linear
    output. Introduced in Chapter 6, which calls it ``build_model``.
    """
    import keras

    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input(shape=(8,)),
            keras.layers.Dense(
                30,
                activation="relu",
                kernel_regularizer=keras.regularizers.L2(1e-3),
                kernel_constraint=keras.constraints.MaxNorm(1.0),
            ),
            keras.layers.Dropout(dropout_rate),
            keras.layers.Dense(1),
        ]
    )


def housing_metrics() -> dict:
    """The streaming metrics of Chapter 6's loop: the mean loss and the RMSE.

    Written for Chapter 6's speed table; called by name first in Chapter 10.
    """
    import keras

    return {"loss": keras.metrics.Mean(), "rmse": keras.metrics.RootMeanSquaredError()}


def housing_train_step(model, optimizer, metrics: dict) -> Callable:
    """Chapter 6's training step, as a ``tf.function``.

    One step: the forward pass with ``training=True``, the mean squared error
    plus the model's own losses (``model.losses``), their gradients, one
    update by ``optimizer`` (which also applies the constraints), then the
    metrics: ``metrics["loss"]`` gets the loss weighted by the batch size,
    ``metrics["rmse"]`` compares targets and predictions. It returns the
    loss. Its plain Python function, ``.python_function``, is the eager step.
    The optimizer is built first (if it is not yet), as Chapter 6's
    ``LoopSteps`` does.

    Written for Chapter 6's speed table (its ``LoopSteps.train_step``
    computes the same); called by name first in Chapter 10.
    """
    import keras
    import tensorflow as tf

    loss_fn = keras.losses.MeanSquaredError()
    if not optimizer.built:  # build now: variables created in a trace cost a second trace
        optimizer.build(model.trainable_variables)

    @tf.function
    def train_step(X_batch, y_batch):
        with tf.GradientTape() as tape:
            y_pred = model(X_batch, training=True)
            loss = loss_fn(y_batch, y_pred) + sum(model.losses)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        metrics["loss"].update_state(loss, sample_weight=tf.shape(y_batch)[0])
        metrics["rmse"].update_state(y_batch, y_pred)
        return loss

    return train_step


def housing_batches(split, batches: int | None = None, batch_size: int = BATCH_SIZE):
    """The training set of ``split`` in batches, shuffled once, the same order every pass.

    It reseeds everything (``keras.utils.set_random_seed``) first, so the
    order depends on nothing else: it is the order of Chapter 6's
    ``ordered_set``.

    Args:
        split: a :class:`tfcustom.HousingSplit`.
        batches: keep only the first ``batches`` batches (all when None).
        batch_size: samples per batch.

    Raises:
        ValueError: ``batches`` or ``batch_size`` is not an int >= 1 (Python
            or NumPy, not bool).

    Introduced in Chapter 6.
    """
    import keras
    import tensorflow as tf

    batch_size = check_int("batch_size", batch_size, minimum=1)
    if batches is not None:
        batches = check_int("batches", batches, minimum=1)
    keras.utils.set_random_seed(SEED)  # the shuffle order depends on the global seed too
    n = len(split.X_train)
    dataset = (
        tf.data.Dataset.from_tensor_slices((split.X_train, split.y_train))
        .shuffle(n, seed=SEED, reshuffle_each_iteration=False)
        .batch(batch_size)
    )
    if batches is not None:
        dataset = dataset.take(batches)
    return dataset.prefetch(tf.data.AUTOTUNE)


@dataclass(frozen=True)
class TrainingTimings:
    """What :func:`training_timings` measured.

    Attributes:
        timings: one :class:`tfcustom.Timing` per way of training, in samples per
            second, in the order eager loop, ``tf.function`` loop, ``fit()``,
            ``fit()`` with ``steps_per_execution``, one graph per epoch.
        first_pass_loss: for each way except the eager loop (which sees fewer
            batches), the mean training loss of its first (untimed) pass. Every
            way starts from the same weights and sees the same batches, so
            these agree when the ways compute the same training.

    Introduced in Chapter 6.
    """

    timings: list[Timing]
    first_pass_loss: dict[str, float]


def training_timings(
    split,
    *,
    batches: int | None = None,
    eager_batches: int = 10,
    steps_per_execution: int = 32,
    passes: int = PASSES,
    min_seconds: float = PASS_SECONDS,
) -> TrainingTimings:
    """Time Chapter 6's training five ways, on the same data with the same step.

    Each way gets a fresh :func:`housing_model` (same seed, so the same
    weights), a fresh Adam optimizer and fresh metrics, makes one untimed pass
    over the batches (tracing happens then) and is then timed by
    :func:`tfcustom.time_it`: ``passes`` timed passes, each of as many passes
    over the batches as make it last ``min_seconds``:

    1. ``eager loop (N batches)``: the step's plain Python function, over the
       first ``eager_batches`` batches only (it is slow);
    2. ``tf.function loop``: a Python loop calling the graph once per batch;
    3. ``fit()``: the same model compiled with the same loss (MSE, plus the
       model's L2 penalty), optimizer and RMSE metric;
    4. ``fit(), steps_per_execution=K``: ``fit()`` running K steps per call;
    5. ``one graph per epoch``: the loop over the dataset inside one
       ``tf.function``.

    Args:
        split: a :class:`tfcustom.HousingSplit`.
        batches: batches of 32 per pass (all 387 when None).
        eager_batches: batches in the eager loop's pass.
        steps_per_execution: K in way 4.
        passes: timed passes per way.
        min_seconds: the shortest a timed pass may be.

    Returns:
        A :class:`TrainingTimings`.

    Raises:
        ValueError: a count (``batches``, ``eager_batches``,
            ``steps_per_execution``, ``passes``) is not an int >= 1 (Python
            or NumPy, not bool), or ``min_seconds`` is not a number >= 0.

    Introduced in Chapter 6.
    """
    import keras
    import tensorflow as tf

    eager_batches = check_int("eager_batches", eager_batches, minimum=1)
    steps_per_execution = check_int("steps_per_execution", steps_per_execution, minimum=1)
    passes = check_int("passes", passes, minimum=1)
    min_seconds = check_real("min_seconds", min_seconds, minimum=0.0)
    if batches is not None:
        batches = check_int("batches", batches, minimum=1)
    dataset = housing_batches(split, batches)
    n_batches = math.ceil(len(split.X_train) / BATCH_SIZE)
    if batches is not None:
        n_batches = min(batches, n_batches)
    n_samples = min(n_batches * BATCH_SIZE, len(split.X_train))
    eager_batches = min(eager_batches, n_batches)

    def fresh_step():
        metrics = housing_metrics()
        optimizer = keras.optimizers.Adam(learning_rate=LEARNING_RATE)
        return housing_train_step(housing_model(), optimizer, metrics), metrics

    def loop_pass(step, metrics, data):
        def run():
            for X_batch, y_batch in data:
                step(X_batch, y_batch)
            return float(metrics["loss"].result())  # waits for the last step

        return run

    def epoch_pass(step, metrics, data):
        @tf.function
        def train_epoch(dataset):
            for X_batch, y_batch in dataset:
                step.python_function(X_batch, y_batch)  # traced into this graph
            return metrics["loss"].result()

        return lambda: float(train_epoch(data))

    def fit_pass(steps):
        model = housing_model()
        model.compile(
            loss="mse",
            optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE),
            metrics=[keras.metrics.RootMeanSquaredError()],
            steps_per_execution=steps,
        )
        return lambda: model.fit(dataset, epochs=1, shuffle=False, verbose=0).history["loss"][0]

    eager_step, eager_metrics = fresh_step()
    loop_step, loop_metrics = fresh_step()
    epoch_step, epoch_metrics = fresh_step()
    eager_data = dataset.take(eager_batches)
    ways = [
        (
            f"eager loop ({eager_batches} batches)",
            loop_pass(eager_step.python_function, eager_metrics, eager_data),
            eager_batches * BATCH_SIZE,
        ),
        ("tf.function loop", loop_pass(loop_step, loop_metrics, dataset), n_samples),
        ("fit()", fit_pass(1), n_samples),
        (
            f"fit(), steps_per_execution={steps_per_execution}",
            fit_pass(steps_per_execution),
            n_samples,
        ),
        ("one graph per epoch", epoch_pass(epoch_step, epoch_metrics, dataset), n_samples),
    ]
    timings, first_pass_loss = [], {}
    for label, run, items in ways:
        loss = run()  # the untimed first pass: tracing, building the optimizer
        if not label.startswith("eager"):
            first_pass_loss[label] = float(loss)
        timings.append(
            time_it(
                run,
                items=items,
                passes=passes,
                min_seconds=min_seconds,
                warmup=0,
                label=label,
            )
        )
    return TrainingTimings(timings=timings, first_pass_loss=first_pass_loss)


def tiny_op(x):
    """``x * 2 + 1``: two operations on a scalar (Chapter 7's tiny op)."""
    return x * 2.0 + 1.0


def large_tensor_op(x):
    """A chain of element-wise operations and a sum (Chapter 7's large tensor op)."""
    import tensorflow as tf

    return tf.reduce_sum(tf.nn.relu(x * 2.0 + 1.0) ** 2 - tf.tanh(x))


def graph_workloads(split) -> dict[str, tuple[Callable, tuple, int]]:
    """Chapter 7's three workloads: ``{name: (function, arguments, calls per unit)}``.

    * ``tiny op``: :func:`tiny_op` on the scalar 3.0;
    * ``large tensor op``: :func:`large_tensor_op` on a 1000 x 1000 matrix of
      standard normal numbers;
    * ``training step``: Chapter 6's step (:func:`housing_train_step`, as a
      plain Python function) on the first 32 training samples of ``split``.

    A unit is :data:`GRAPH_CALLS` calls, then a wait for the last result.

    Introduced in Chapter 7.
    """
    import keras
    import tensorflow as tf

    metrics = housing_metrics()
    optimizer = keras.optimizers.Adam(learning_rate=LEARNING_RATE)
    step = housing_train_step(housing_model(), optimizer, metrics).python_function
    X_batch = tf.constant(split.X_train[:BATCH_SIZE])
    y_batch = tf.constant(split.y_train[:BATCH_SIZE])
    x_large = tf.random.stateless_normal((1000, 1000), seed=(SEED, 0))
    arguments = {
        "tiny op": (tiny_op, (tf.constant(3.0),)),
        "large tensor op": (large_tensor_op, (x_large,)),
        "training step": (step, (X_batch, y_batch)),
    }
    return {name: (fn, args, GRAPH_CALLS[name]) for name, (fn, args) in arguments.items()}


def _check_choice(names: Sequence[str] | None, modes: Sequence[str]) -> list[str]:
    """The workload names (all when None); raises ValueError for an unknown name or mode."""
    names = list(GRAPH_CALLS) if names is None else list(names)
    unknown = [n for n in names if n not in GRAPH_CALLS]
    unknown += [m for m in modes if m not in GRAPH_MODES]
    if unknown or not names or not modes:
        raise ValueError(
            f"choose one or more of the workloads {list(GRAPH_CALLS)} and of the modes "
            f"{list(GRAPH_MODES)}; got names={names}, modes={list(modes)}"
        )
    return names


def graph_timings(
    split,
    *,
    names: Sequence[str] | None = None,
    modes: Sequence[str] = GRAPH_MODES,
    passes: int = PASSES,
    min_seconds: float = PASS_SECONDS,
) -> dict[str, list[Timing]]:
    """Time each of :func:`graph_workloads` eager, with ``tf.function`` and with XLA.

    For each workload, the same Python function is called as it is
    (``eager``), through ``tf.function`` and through
    ``tf.function(jit_compile=True)`` (``XLA``), in that order (so the
    training step's optimizer creates its variables eagerly). Each is timed
    by :func:`tfcustom.time_it`: one untimed unit (tracing and XLA compilation
    happen then), a calibration, then ``passes`` passes of at least
    ``min_seconds``, each made of whole units.

    Args:
        split: a :class:`tfcustom.HousingSplit`.
        names: the workloads to time, in order (all when None).
        modes: which of ``"eager"``, ``"tf.function"`` and ``"XLA"``, in order.
        passes: timed passes per row.
        min_seconds: the shortest a pass may be.

    Returns:
        ``{workload name: [one timing per mode]}``, in calls per second.

    Raises:
        ValueError: an unknown workload or mode, ``passes`` not an int >= 1
            (Python or NumPy, not bool), or ``min_seconds`` not a number >= 0.

    Introduced in Chapter 7.
    """
    import tensorflow as tf

    passes = check_int("passes", passes, minimum=1)
    min_seconds = check_real("min_seconds", min_seconds, minimum=0.0)
    names = _check_choice(names, modes)

    def calls(fn, args, n):
        def run():
            for _ in range(n):
                result = fn(*args)
            return result.numpy()  # waits for the last call to finish

        return run

    wrap = {
        "eager": lambda fn: fn,
        "tf.function": tf.function,
        "XLA": lambda fn: tf.function(fn, jit_compile=True),
    }
    workloads = graph_workloads(split)
    tables = {}
    for name in names:
        fn, args, n = workloads[name]
        tables[name] = [
            time_it(
                calls(wrap[mode](fn), args, n),
                items=n,
                passes=passes,
                min_seconds=min_seconds,
                label=mode,
            )
            for mode in modes
        ]
    return tables


def graph_timings_by_setting(
    *,
    names: Sequence[str] | None = None,
    modes: Sequence[str] = ("tf.function",),
    passes: int = PASSES,
    min_seconds: float = PASS_SECONDS,
    timeout: float = 600,
) -> dict[str, tuple[dict[str, list[Timing]], str]]:
    """:func:`graph_timings` in two new Python processes, with and without the book's settings.

    TensorFlow reads the pinned numerics (:data:`tfcustom.setup.PINNED_NUMERICS`)
    once, when it is imported, so only a new process can go without them; and
    a process that has run for a while (a notebook's kernel) is not a fair
    comparison for a new one, so both sides get a new process. The
    ``"pinned"`` process sets up as a chapter does (pins and op determinism
    on); the ``"unpinned"`` one starts with ``BOOK_PIN_NUMERICS=0`` and none
    of the pinned variables, and turns op determinism off after the setup.
    Both start at once (importing TensorFlow takes seconds, and nothing is
    timed meanwhile); then they time in turn, never together: each workload
    first in the pinned process, then in the unpinned one. The housing data
    is found as in this process (the same environment otherwise).

    Returns:
        ``{"pinned": (timings, settings), "unpinned": (timings, settings)}``:
        each process's timings as :func:`graph_timings` returns them, and its
        :func:`tfcustom.timing.settings_line`.

    Raises:
        ValueError: bad arguments (checked here, before any process starts).
        RuntimeError: a process failed or took longer than ``timeout`` seconds
            in all; the message ends with its stderr.

    Introduced in Chapter 7.
    """
    import tempfile
    import threading

    from .setup import PIN_SWITCH, PINNED_NUMERICS

    passes = check_int("passes", passes, minimum=1)
    min_seconds = check_real("min_seconds", min_seconds, minimum=0.0)
    names = _check_choice(names, modes)
    timeout = check_real("timeout", timeout, positive=True)
    request = {"modes": list(modes), "passes": passes, "min_seconds": min_seconds}
    processes, logs = {}, {}
    killer = threading.Timer(timeout, lambda: [p.kill() for p in processes.values()])
    try:
        for setting in ("pinned", "unpinned"):
            env = dict(os.environ)
            if setting == "unpinned":
                for key in PINNED_NUMERICS:
                    env.pop(key, None)
            env[PIN_SWITCH] = "1" if setting == "pinned" else "0"
            logs[setting] = tempfile.TemporaryFile(mode="w+")  # stderr: never a full pipe
            processes[setting] = subprocess.Popen(
                [sys.executable, "-m", "tfcustom.workloads", json.dumps(request)],
                cwd=Path(__file__).resolve().parents[1],
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=logs[setting],
                text=True,
            )
        killer.start()

        def answer(setting: str) -> dict:
            line = processes[setting].stdout.readline()
            if not line:
                logs[setting].seek(0)
                raise RuntimeError(
                    f"the {setting} timing process failed or ran past {timeout:g} s:\n"
                    + logs[setting].read()[-3000:]
                )
            return json.loads(line)

        settings = {setting: answer(setting)["settings"] for setting in processes}
        timings: dict[str, dict[str, list[Timing]]] = {setting: {} for setting in processes}
        for name in names:
            for setting, process in processes.items():
                process.stdin.write(name + "\n")
                process.stdin.flush()
                rows = answer(setting)["rows"]
                timings[setting][name] = [
                    Timing(row["label"], tuple(row["seconds"]), row["items"]) for row in rows
                ]
        for process in processes.values():
            process.stdin.close()
            process.wait()
    finally:
        killer.cancel()
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
            for stream in (process.stdin, process.stdout):
                if not stream.closed:
                    stream.close()
        for log in logs.values():
            log.close()
    return {setting: (timings[setting], settings[setting]) for setting in processes}


PIPELINE_BATCH_SIZE = 256
"""Samples per batch in :func:`pipeline_timings`."""

READ_SECONDS = 0.01
"""How long :func:`slow_read` waits per batch, standing for a read from disk or network."""

PIPELINE_WAYS = ("map", "map, prefetch", "map, 4 parallel calls", "map, cache")
"""The input pipelines :func:`pipeline_timings` times, after the steps alone."""


def slow_read(X_batch, y_batch):
    """A deliberately costly ``map``: wait :data:`READ_SECONDS`, return the batch unchanged.

    The wait stands for what a real pipeline spends reading and decoding
    files: time during which the step has nothing to train on. It is a
    ``tf.numpy_function`` around ``time.sleep``, so it holds no core while
    it waits (as a read from disk or the network does), and several calls
    can wait at once. It is declared stateless (``stateful=False``): with op
    determinism on, as in the book's setup, tf.data runs a stateful ``map``
    function one call at a time whatever ``num_parallel_calls`` says; and a
    ``tf.numpy_function`` costs less per call than a ``tf.py_function``.

    Introduced in Chapter 10.
    """
    import tensorflow as tf

    def wait(X):
        time.sleep(READ_SECONDS)
        return X

    X_read = tf.numpy_function(wait, [X_batch], tf.float32, stateful=False)
    X_read.set_shape(X_batch.shape)
    return X_read, y_batch


def pipeline(split, way: str, batches: int = 16):
    """One of :data:`PIPELINE_WAYS` over the first ``batches`` batches of the training set.

    ``"map"`` reads each batch with :func:`slow_read` when the loop asks for
    it; tf.data's automatic prefetch (``inject_prefetch``) and its automatic
    parallel ``map`` (``map_parallelization``, which applies to stateless
    functions) are turned off throughout, so that nothing overlaps unless
    the pipeline says so.
    ``"map, prefetch"`` adds ``prefetch(1)``: the next batch is read while
    the step trains on this one. ``"map, 4 parallel calls"`` reads four
    batches at once (``num_parallel_calls=4``, which also runs ahead of the
    loop). ``"map, cache"`` keeps the read batches in memory after the first
    epoch (``cache()``), with ``prefetch(1)``.

    Raises:
        ValueError: ``way`` is not one of :data:`PIPELINE_WAYS`, or
            ``batches`` is not an int >= 1.

    Introduced in Chapter 10.
    """
    import tensorflow as tf

    if way not in PIPELINE_WAYS:
        raise ValueError(f"way must be one of {PIPELINE_WAYS}, got {way!r}")
    batches = check_int("batches", batches, minimum=1)
    n = batches * PIPELINE_BATCH_SIZE
    options = tf.data.Options()
    options.experimental_optimization.inject_prefetch = False
    options.experimental_optimization.map_parallelization = False
    dataset = (
        tf.data.Dataset.from_tensor_slices((split.X_train[:n], split.y_train[:n]))
        .batch(PIPELINE_BATCH_SIZE)
        .with_options(options)
    )
    if way == "map, 4 parallel calls":
        return dataset.map(slow_read, num_parallel_calls=4)
    dataset = dataset.map(slow_read)
    if way == "map, cache":
        dataset = dataset.cache()
    return dataset if way == "map" else dataset.prefetch(1)


@dataclass(frozen=True)
class PipelineTimings:
    """What :func:`pipeline_timings` measured.

    Attributes:
        timings: one :class:`tfcustom.Timing` per row, in samples per second:
            ``"steps only"`` (the training steps on batches already in
            memory), then one per way of :data:`PIPELINE_WAYS`.
        waiting: for each way, the share of each epoch's wall time that the
            loop spent waiting for its next batch, one value per epoch run
            (the untimed ones included).

    Introduced in Chapter 10.
    """

    timings: list[Timing]
    waiting: dict[str, list[float]]

    def median_waiting(self) -> dict[str, float]:
        """For each way, the median of its epochs' waiting shares."""
        return {way: statistics.median(shares) for way, shares in self.waiting.items()}


def pipeline_timings(
    split,
    *,
    batches: int = 16,
    passes: int = PASSES,
    min_seconds: float = PASS_SECONDS,
) -> PipelineTimings:
    """Train Chapter 6's step on each input pipeline of :func:`pipeline`; time each.

    One call of the timed work is one epoch: a Python loop that asks the
    pipeline for each batch (the clock runs while it waits) and trains on it
    with :func:`housing_train_step`, then waits for the loss. The first row
    times the same loop over batches already in memory: the steps' own cost.

    Raises:
        ValueError: ``batches`` or ``passes`` is not an int >= 1, or
            ``min_seconds`` is not a number >= 0.

    Introduced in Chapter 10.
    """
    import keras

    batches = check_int("batches", batches, minimum=1)
    passes = check_int("passes", passes, minimum=1)
    min_seconds = check_real("min_seconds", min_seconds, minimum=0.0)
    metrics = housing_metrics()
    optimizer = keras.optimizers.Adam(learning_rate=LEARNING_RATE)
    step = housing_train_step(housing_model(), optimizer, metrics)
    in_memory = list(pipeline(split, "map, cache", batches))  # read once, untimed
    samples = sum(len(y) for _, y in in_memory)

    def epoch(dataset, waiting):
        def run():
            waited, started = 0.0, time.perf_counter()
            batches = iter(dataset)
            while True:
                asked = time.perf_counter()
                batch = next(batches, None)
                waited += time.perf_counter() - asked
                if batch is None:
                    break
                step(*batch)
            loss = float(metrics["loss"].result())  # waits for the last step
            waiting.append(waited / (time.perf_counter() - started))
            return loss

        return run

    rows = [("steps only", in_memory, [])]
    rows += [(way, pipeline(split, way, batches), []) for way in PIPELINE_WAYS]
    timings = [
        time_it(
            epoch(data, waiting),
            items=samples,
            passes=passes,
            min_seconds=min_seconds,
            label=label,
        )
        for label, data, waiting in rows
    ]
    return PipelineTimings(
        timings=timings, waiting={label: waiting for label, _, waiting in rows[1:]}
    )


PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
"""The dtype policies :func:`precision_timings` compares."""


def precision_step(split, policy: str, *, width: int = 256, batch_size: int = 512):
    """One pass of training steps on a wider housing regressor under a dtype policy.

    The model has two ``Dense(width, relu)`` layers with ``dtype=policy`` and
    a float32 output layer (Chapter 9's recipe: the last layer stays in
    float32); under ``mixed_float16`` the SGD optimizer is wrapped in a
    ``LossScaleOptimizer`` and the loss is scaled, as Chapter 9's loop does.
    The returned function trains one ``tf.function`` step per batch over the
    first 8 batches of the training set and returns the last loss.

    Raises:
        ValueError: ``policy`` is not one of :data:`PRECISIONS`, or ``width``
            or ``batch_size`` is not an int >= 1.

    Introduced in Chapter 9.
    """
    import keras
    import tensorflow as tf

    if policy not in PRECISIONS:
        raise ValueError(f"policy must be one of {PRECISIONS}, got {policy!r}")
    width = check_int("width", width, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    keras.utils.set_random_seed(SEED)
    model = keras.Sequential(
        [
            keras.Input(shape=(split.X_train.shape[1],)),
            keras.layers.Dense(width, activation="relu", dtype=policy),
            keras.layers.Dense(width, activation="relu", dtype=policy),
            keras.layers.Dense(1, dtype="float32"),
        ]
    )
    optimizer = keras.optimizers.SGD(learning_rate=0.01)
    scaled = policy == "mixed_float16"
    if scaled:
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    loss_fn = keras.losses.MeanSquaredError()

    @tf.function
    def train_step(X_batch, y_batch):
        with tf.GradientTape() as tape:
            loss = loss_fn(y_batch, model(X_batch, training=True))
            to_differentiate = optimizer.scale_loss(loss) if scaled else loss
        grads = tape.gradient(to_differentiate, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    n = 8 * batch_size
    X, y = tf.constant(split.X_train[:n]), tf.constant(split.y_train[:n])
    batches = [(X[i : i + batch_size], y[i : i + batch_size]) for i in range(0, n, batch_size)]

    def run():
        for X_batch, y_batch in batches:
            loss = train_step(X_batch, y_batch)
        return float(loss)  # waits for the last step

    run.samples = len(X)
    return run


def precision_timings(
    split,
    *,
    policies: Sequence[str] = PRECISIONS,
    passes: int = PASSES,
    min_seconds: float = PASS_SECONDS,
) -> list[Timing]:
    """Time :func:`precision_step` under each policy, in samples per second.

    Raises:
        ValueError: a policy is not one of :data:`PRECISIONS`, ``passes`` is
            not an int >= 1, or ``min_seconds`` is not a number >= 0.

    Introduced in Chapter 9.
    """
    passes = check_int("passes", passes, minimum=1)
    min_seconds = check_real("min_seconds", min_seconds, minimum=0.0)
    runs = [(policy, precision_step(split, policy)) for policy in policies]
    return [
        time_it(run, items=run.samples, passes=passes, min_seconds=min_seconds, label=policy)
        for policy, run in runs
    ]


def _serve(request: dict) -> None:
    """The child's side of :func:`graph_timings_by_setting`.

    It sets up (without the settings when ``BOOK_PIN_NUMERICS=0``), prints
    its settings line as JSON, then times one workload per name read from
    stdin, printing each one's rows as a JSON line, until stdin closes.
    """
    from . import housing_split, setup_chapter
    from .setup import numerics_pinned
    from .timing import settings_line

    setup_chapter(verbose=False)
    if not numerics_pinned():
        from tensorflow.python.framework import config as tf_config

        tf_config.disable_op_determinism()
    split = housing_split()
    print(json.dumps({"settings": settings_line(request["passes"], request["min_seconds"])}))
    sys.stdout.flush()
    for line in sys.stdin:
        (rows,) = graph_timings(
            split,
            names=[line.strip()],
            modes=request["modes"],
            passes=request["passes"],
            min_seconds=request["min_seconds"],
        ).values()
        rows = [{"label": t.label, "seconds": list(t.seconds), "items": t.items} for t in rows]
        print(json.dumps({"rows": rows}))
        sys.stdout.flush()


if __name__ == "__main__":
    _serve(json.loads(sys.argv[1]))
