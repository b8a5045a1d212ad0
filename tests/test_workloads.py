"""Tests for utils/workloads.py: the timed workloads of chapters 6 and 7.

The timings themselves are never asserted (they depend on the machine); what
is tested is that every way trains the same model on the same batches, that
the step is Chapter 6's, and that bad sizes are refused.
"""

from __future__ import annotations

import numpy as np
import pytest
from tfcustom import quiet_tensorflow

quiet_tensorflow()

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from tfcustom import workloads  # noqa: E402
from tfcustom.data import housing_split  # noqa: E402
from tfcustom.timing import Timing  # noqa: E402


@pytest.fixture(scope="module")
def split(mirror_dir):
    return housing_split(data_dir=mirror_dir)


def test_housing_model_is_chapter_6s_and_reproducible():
    model = workloads.housing_model()
    again = workloads.housing_model()
    hidden, dropout, output = model.layers
    assert hidden.units == 30 and output.units == 1 and dropout.rate == 0.1
    assert isinstance(hidden.kernel_constraint, keras.constraints.MaxNorm)
    assert len(model.losses) == 1  # the L2 penalty
    for w, w_again in zip(model.weights, again.weights, strict=True):
        np.testing.assert_array_equal(w, w_again)
    other = workloads.housing_model(seed=7)
    assert not np.array_equal(other.layers[0].kernel, hidden.kernel)


def test_train_step_updates_weights_loss_and_metrics(split):
    model = workloads.housing_model(dropout_rate=0.0)
    metrics = workloads.housing_metrics()
    optimizer = keras.optimizers.SGD(learning_rate=0.01)
    step = workloads.housing_train_step(model, optimizer, metrics)
    X, y = tf.constant(split.X_train[:32]), tf.constant(split.y_train[:32])
    expected = float(keras.losses.MeanSquaredError()(y, model(X)) + sum(model.losses))
    before = model.layers[-1].kernel.numpy()
    loss = float(step(X, y))
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    np.testing.assert_allclose(float(metrics["loss"].result()), loss, rtol=1e-6)
    assert float(metrics["rmse"].result()) > 0
    assert not np.array_equal(model.layers[-1].kernel.numpy(), before)
    assert int(optimizer.iterations) == 1


def test_housing_batches_are_fixed_and_cut(split):
    first = [x.numpy() for x, _ in workloads.housing_batches(split, batches=3)]
    again = [x.numpy() for x, _ in workloads.housing_batches(split, batches=3)]
    assert len(first) == 3 and first[0].shape == (32, 8)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert len(list(workloads.housing_batches(split))) == 387  # 12,384 / 32


def test_numpy_integers_are_counts(split):
    batches = list(workloads.housing_batches(split, batches=np.int64(2), batch_size=np.int32(16)))
    assert [x.shape[0] for x, _ in batches] == [16, 16]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"batches": 0}, "batches must be an int >= 1, got 0"),
        ({"batches": 2.5}, "batches must be an int, got 2.5"),
        ({"batch_size": True}, "batch_size must be an int, got True"),
        ({"batch_size": np.bool_(True)}, "batch_size must be an int"),
        ({"batches": np.float64(2.0)}, "batches must be an int"),
    ],
)
def test_housing_batches_rejects_bad_sizes(split, kwargs, message):
    with pytest.raises(ValueError, match=message):
        workloads.housing_batches(split, **kwargs)


def test_training_timings_time_five_ways_of_the_same_training(split):
    run = workloads.training_timings(
        split, batches=4, eager_batches=2, steps_per_execution=2, passes=1, min_seconds=0
    )
    labels = [t.label for t in run.timings]
    assert labels == [
        "eager loop (2 batches)",
        "tf.function loop",
        "fit()",
        "fit(), steps_per_execution=2",
        "one graph per epoch",
    ]
    assert all(isinstance(t, Timing) and len(t.seconds) == 1 for t in run.timings)
    assert [t.items for t in run.timings] == [64, 128, 128, 128, 128]
    assert sorted(run.first_pass_loss) == sorted(labels[1:])
    losses = list(run.first_pass_loss.values())
    np.testing.assert_allclose(losses, losses[0], rtol=1e-5)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"passes": 0},
        {"eager_batches": 0},
        {"steps_per_execution": -1},
        {"batches": 0},
        {"passes": np.float64(1.0)},
    ],
)
def test_training_timings_rejects_bad_counts(split, kwargs):
    with pytest.raises(ValueError, match="must be an int"):
        workloads.training_timings(split, **kwargs)


def test_graph_workloads_and_timings(split):
    cases = workloads.graph_workloads(split)
    assert {name: n for name, (_, _, n) in cases.items()} == workloads.GRAPH_CALLS
    fn, args, _ = cases["tiny op"]
    assert float(fn(*args)) == 7.0
    fn, args, _ = cases["large tensor op"]
    assert args[0].shape == (1000, 1000)
    tables = workloads.graph_timings(split, passes=1, min_seconds=0)
    assert list(tables) == list(cases)
    for name, rows in tables.items():
        assert [t.label for t in rows] == ["eager", "tf.function", "XLA"]
        assert all(t.items == workloads.GRAPH_CALLS[name] for t in rows)
    chosen = workloads.graph_timings(
        split, names=["tiny op"], modes=["XLA", "eager"], passes=2, min_seconds=0.05
    )
    assert [t.label for t in chosen["tiny op"]] == ["XLA", "eager"]
    assert all(len(t.seconds) == 2 and min(t.seconds) >= 0.04 for t in chosen["tiny op"])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"passes": 0}, "must be an int"),
        ({"passes": np.bool_(True)}, "must be an int"),
        ({"min_seconds": -1.0}, "min_seconds"),
        ({"names": ["huge op"]}, "choose one or more of the workloads"),
        ({"modes": ["graph"]}, "choose one or more"),
        ({"modes": []}, "choose one or more"),
    ],
)
def test_graph_timings_rejects_bad_arguments(split, kwargs, message):
    with pytest.raises(ValueError, match=message):
        workloads.graph_timings(split, **kwargs)


@pytest.mark.slow  # starts processes
def test_graph_timings_in_two_processes_with_and_without_the_pins():
    # Each process reports the settings it ran under: the pins and op
    # determinism on, or both off; the timings come back as Timing rows.
    by_setting = workloads.graph_timings_by_setting(
        names=["tiny op", "training step"], passes=2, min_seconds=0.05
    )
    assert list(by_setting) == ["pinned", "unpinned"]
    for setting, expected in [
        ("pinned", ["CPU numerics: pinned", "Op determinism on"]),
        ("unpinned", ["BOOK_PIN_NUMERICS=0", "Op determinism off"]),
    ]:
        timings, settings = by_setting[setting]
        assert all(text in settings for text in expected), settings
        assert list(timings) == ["tiny op", "training step"]
        for name, (row,) in timings.items():
            assert isinstance(row, Timing) and row.label == "tf.function"
            assert len(row.seconds) == 2 and row.items % workloads.GRAPH_CALLS[name] == 0


@pytest.mark.slow  # starts processes
def test_a_failing_timing_process_says_why_and_leaves_nothing_running(monkeypatch):
    # A data folder that does not exist: each process fails in its setup,
    # and the error carries its stderr.
    monkeypatch.setenv("BOOK_DATA_DIR", "/nonexistent/book-data")
    with pytest.raises(RuntimeError, match="timing process failed"):
        workloads.graph_timings_by_setting(names=["tiny op"], passes=1, min_seconds=0)


def test_graph_timings_by_setting_checks_before_it_starts():
    with pytest.raises(ValueError, match="choose one or more"):
        workloads.graph_timings_by_setting(names=["huge op"])
    with pytest.raises(ValueError, match="passes must be an int"):
        workloads.graph_timings_by_setting(passes=0)
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        workloads.graph_timings_by_setting(timeout=0)


def test_pipelines_deliver_the_same_batches_unchanged(split):
    n = 3 * workloads.PIPELINE_BATCH_SIZE
    for way in workloads.PIPELINE_WAYS:
        batches = list(workloads.pipeline(split, way, batches=3))
        assert len(batches) == 3, way
        X = np.concatenate([X_batch.numpy() for X_batch, _ in batches])
        y = np.concatenate([y_batch.numpy() for _, y_batch in batches])
        np.testing.assert_array_equal(X, split.X_train[:n], err_msg=way)
        np.testing.assert_array_equal(y, split.y_train[:n], err_msg=way)


def test_the_plain_map_overlaps_nothing(split):
    options = workloads.pipeline(split, "map", batches=2).options()
    assert options.experimental_optimization.inject_prefetch is False
    assert options.experimental_optimization.map_parallelization is False


@pytest.mark.parametrize(
    "way, batches, message",
    [("map, shuffle", 2, "way must be one of"), ("map", 0, "batches must be an int >= 1")],
)
def test_pipeline_rejects_bad_arguments(split, way, batches, message):
    with pytest.raises(ValueError, match=message):
        workloads.pipeline(split, way, batches=batches)


def test_pipeline_timings_time_every_way_and_record_the_waits(split):
    measured = workloads.pipeline_timings(split, batches=2, passes=1, min_seconds=0)
    labels = [t.label for t in measured.timings]
    assert labels == ["steps only", *workloads.PIPELINE_WAYS]
    assert all(t.items == 2 * workloads.PIPELINE_BATCH_SIZE for t in measured.timings)
    assert set(measured.waiting) == set(workloads.PIPELINE_WAYS)
    for way, shares in measured.waiting.items():
        assert shares and all(0 <= s <= 1 for s in shares), (way, shares)
        assert min(shares) <= measured.median_waiting()[way] <= max(shares)
    # Two reads of READ_SECONDS each: a plain map waits at least that long per epoch.
    map_timing = measured.timings[1]
    assert min(map_timing.seconds) >= 2 * workloads.READ_SECONDS


@pytest.mark.parametrize("kwargs", [{"batches": 0}, {"passes": 0}, {"min_seconds": -1}])
def test_pipeline_timings_rejects_bad_counts(split, kwargs):
    with pytest.raises(ValueError):
        workloads.pipeline_timings(split, **kwargs)


def test_precision_steps_train_the_same_model_under_each_policy(split):
    losses = {}
    for policy in workloads.PRECISIONS:
        run = workloads.precision_step(split, policy, width=16, batch_size=32)
        assert run.samples == 8 * 32
        first, second = run(), run()
        assert np.isfinite([first, second]).all(), (policy, first, second)
        losses[policy] = first
    # The same initial weights and batches: bfloat16 rounding apart, the same
    # loss (float16's first steps may be skipped while the loss scale falls).
    assert losses["mixed_bfloat16"] == pytest.approx(losses["float32"], rel=0.05)


def test_precision_timings_label_each_policy(split):
    rows = workloads.precision_timings(split, policies=("float32",), passes=1, min_seconds=0)
    assert [t.label for t in rows] == ["float32"] and rows[0].items == 8 * 512


@pytest.mark.parametrize(
    "kwargs, message",
    [({"policy": "float16"}, "policy must be one of"), ({"width": 0}, "width must be")],
)
def test_precision_step_rejects_bad_arguments(split, kwargs, message):
    kwargs = {"policy": "float32"} | kwargs
    policy = kwargs.pop("policy")
    with pytest.raises(ValueError, match=message):
        workloads.precision_step(split, policy, **kwargs)
