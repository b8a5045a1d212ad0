"""Tests for utils/experiments.py: the grid runner, the statistics, the trainer.

The statistics need no TensorFlow; the trainer tests build tiny models on a
tiny, separable problem, so that the whole file runs in seconds.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from utils.experiments import (
    RepeatedTrainer,
    classification_scores,
    paired_difference,
    run_grid,
    same_variant_differences,
    summarize,
    summary_table,
    values_by_variant,
)


def fake_run(variant, seed):
    """A deterministic stand-in for training: variant "b" is 0.1 better."""
    return {"score": 0.5 + (0.1 if variant == "b" else 0.0) + 0.01 * seed, "n": 3}


# --------------------------------------------------------------------------- run_grid


def test_run_grid_makes_one_tidy_row_per_run_in_order():
    seen = []
    rows = run_grid(fake_run, ["a", "b"], [0, 1, 2], progress=seen.append)
    assert [(r["variant"], r["seed"]) for r in rows] == [
        ("a", 0),
        ("a", 1),
        ("a", 2),
        ("b", 0),
        ("b", 1),
        ("b", 2),
    ]
    assert list(rows[0]) == ["variant", "seed", "score", "n"]
    assert rows[4]["score"] == pytest.approx(0.61)
    assert seen == rows


def test_run_grid_accepts_numpy_seeds():
    rows = run_grid(fake_run, ("a",), np.arange(2))
    assert [type(r["seed"]) for r in rows] == [int, int]


@pytest.mark.parametrize(
    "variants, seeds, error",
    [
        ([], [0], ValueError),
        (["a", "a"], [0], ValueError),
        (["a", ""], [0], ValueError),
        (["a", 3], [0], ValueError),
        ("ab", [0], TypeError),
        (["a"], [], ValueError),
        (["a"], [0, 0], ValueError),
        (["a"], [-1], ValueError),
        (["a"], [True], ValueError),
        (["a"], [1.5], ValueError),
        (["a"], 3, TypeError),
    ],
)
def test_run_grid_rejects_bad_variants_and_seeds(variants, seeds, error):
    with pytest.raises(error):
        run_grid(fake_run, variants, seeds)


def test_run_grid_rejects_bad_run_functions():
    with pytest.raises(TypeError, match="callable"):
        run_grid("not a function", ["a"], [0])
    with pytest.raises(TypeError, match="mapping"):
        run_grid(lambda v, s: 0.5, ["a"], [0])
    with pytest.raises(ValueError, match="reserved"):
        run_grid(lambda v, s: {"seed": s}, ["a"], [0])
    with pytest.raises(ValueError, match="earlier runs"):
        run_grid(lambda v, s: {"f1": 0.5} if s == 0 else {"acc": 0.5}, ["a"], [0, 1])


# --------------------------------------------------------------------------- tables


def test_values_by_variant_pairs_runs_by_seed():
    rows = run_grid(fake_run, ["a", "b"], [2, 0, 1])
    values = values_by_variant(rows, "score")
    assert list(values) == ["a", "b"]
    np.testing.assert_allclose(values["a"], [0.50, 0.51, 0.52])  # sorted by seed
    np.testing.assert_allclose(values["b"] - values["a"], 0.1)
    assert list(values_by_variant(rows, "score", ["b"])) == ["b"]


def test_values_by_variant_rejects_unpairable_tables():
    rows = run_grid(fake_run, ["a", "b"], [0, 1])
    with pytest.raises(ValueError, match="unknown metric"):
        values_by_variant(rows, "f1")
    with pytest.raises(ValueError, match="no rows"):
        values_by_variant(rows, "score", ["a", "c"])
    with pytest.raises(ValueError, match="cannot be paired"):
        values_by_variant(rows[:-1], "score")
    with pytest.raises(ValueError, match="twice"):
        values_by_variant(rows + rows[:1], "score")
    with pytest.raises(ValueError, match="empty"):
        values_by_variant([], "score")


def test_summary_table_agrees_with_summarize():
    rows = run_grid(fake_run, ["a", "b"], [0, 1, 2, 3])
    table = summary_table(rows, ["score"])
    assert [r["variant"] for r in table] == ["a", "b"]
    expected = summarize([0.6, 0.61, 0.62, 0.63])
    assert table[1]["n"] == 4
    assert table[1]["score_mean"] == pytest.approx(expected.mean)
    assert table[1]["score_ci_low"] == pytest.approx(expected.ci_low)
    with pytest.raises(ValueError, match="metrics"):
        summary_table(rows, [])
    with pytest.raises(ValueError, match="metrics"):
        summary_table(rows, "score")


def test_summarize_matches_the_t_interval():
    values = [0.52, 0.55, 0.49, 0.58, 0.51]
    s = summarize(values)
    low, high = stats.t.interval(0.95, df=4, loc=np.mean(values), scale=stats.sem(values))
    assert (s.n, s.confidence) == (5, 0.95)
    assert s.mean == pytest.approx(np.mean(values))
    assert s.std == pytest.approx(np.std(values, ddof=1))
    assert (s.ci_low, s.ci_high) == pytest.approx((low, high))
    assert s.half_width == pytest.approx((high - low) / 2)
    assert summarize(values, confidence=0.5).half_width < s.half_width


@pytest.mark.parametrize(
    "values, confidence, error",
    [
        ([0.5], 0.95, ValueError),
        ([0.5, float("nan")], 0.95, ValueError),
        ([[0.5, 0.6], [0.5, 0.6]], 0.95, ValueError),
        (["a", "b"], 0.95, TypeError),
        ([0.5, 0.6], 1.0, ValueError),
        ([0.5, 0.6], 0, ValueError),
        ([0.5, 0.6], True, ValueError),
    ],
)
def test_summarize_rejects_bad_input(values, confidence, error):
    with pytest.raises(error):
        summarize(values, confidence)


def test_paired_difference_matches_the_paired_t_test():
    before = np.array([0.50, 0.60, 0.55, 0.58, 0.52])
    after = before + np.array([0.02, 0.05, 0.01, 0.04, 0.03])
    d = paired_difference(after, before)
    assert d.n == 5 and d.wins == 5
    assert d.mean == pytest.approx(0.03)
    assert d.p_value == pytest.approx(stats.ttest_rel(after, before).pvalue)
    assert d.ci_low > 0 and d.significant
    assert 0.01 <= d.boot_low <= d.mean <= d.boot_high <= 0.05
    assert d == paired_difference(after, before)  # the bootstrap is seeded
    reverse = paired_difference(before, after)
    assert reverse.mean == pytest.approx(-0.03) and reverse.significant and reverse.wins == 0


def test_pairing_sees_what_unpaired_intervals_miss():
    """A small, consistent gain hidden in a large seed-to-seed spread."""
    before = np.array([0.40, 0.70, 0.55, 0.62, 0.48])
    after = before + np.array([0.011, 0.009, 0.010, 0.012, 0.008])
    a, b = summarize(after), summarize(before)
    assert a.ci_low < b.ci_high  # the two intervals overlap widely...
    assert paired_difference(after, before).significant  # ...the pairs do not


def test_paired_difference_handles_no_spread_without_warnings():
    d = paired_difference([0.6, 0.7, 0.8], [0.5, 0.6, 0.7])
    assert (d.std, d.ci_low, d.ci_high, d.p_value) == (0.0, d.mean, d.mean, 0.0)
    assert d.mean == pytest.approx(0.1) and d.significant
    same = paired_difference([0.5, 0.6], [0.5, 0.6])
    assert (same.mean, same.p_value, same.significant) == (0.0, 1.0, False)


@pytest.mark.parametrize(
    "after, before, kwargs",
    [
        ([0.5, 0.6, 0.7], [0.5, 0.6], {}),
        ([0.5], [0.4], {}),
        ([0.5, 0.6], [0.5, float("inf")], {}),
        ([0.5, 0.6], [0.4, 0.5], {"n_boot": 10}),
        ([0.5, 0.6], [0.4, 0.5], {"confidence": 95}),
    ],
)
def test_paired_difference_rejects_bad_input(after, before, kwargs):
    with pytest.raises(ValueError):
        paired_difference(after, before, **kwargs)


def test_same_variant_differences_are_all_ordered_pairs():
    diffs = same_variant_differences([0.5, 0.6, 0.8])
    np.testing.assert_allclose(np.sort(diffs), [-0.3, -0.2, -0.1, 0.1, 0.2, 0.3])
    assert len(same_variant_differences(np.arange(10.0))) == 90
    with pytest.raises(ValueError):
        same_variant_differences([0.5])


# --------------------------------------------------------------------------- scoring


def fixed_predictions(labels, n_classes=3):
    """A stand-in model that predicts the given labels, whatever the input."""
    return lambda X, training=False: np.eye(n_classes)[labels]


def test_classification_scores_macro_f1_and_accuracy():
    y_true = np.array([0, 0, 1, 1, 2, 2])
    scores = classification_scores(fixed_predictions([0, 0, 1, 2, 2, 2]), np.zeros((6, 2)), y_true)
    # F1 per class: 1, 2/3, 0.8; accuracy 5/6.
    assert scores["macro_f1"] == pytest.approx((1 + 2 / 3 + 0.8) / 3)
    assert scores["accuracy"] == pytest.approx(5 / 6)


@pytest.mark.parametrize(
    "X, y",
    [
        (np.zeros((3, 2)), np.array([0, 1])),
        (np.zeros(3), np.array([0, 1, 2])),
        (np.zeros((2, 2)), np.array([0.0, 1.0])),
        (np.zeros((0, 2)), np.array([], dtype=int)),
    ],
)
def test_classification_scores_rejects_bad_input(X, y):
    with pytest.raises(ValueError):
        classification_scores(fixed_predictions([0, 1, 2]), X, y)


# --------------------------------------------------------------------------- trainer (TensorFlow)


@pytest.fixture(scope="module")
def keras():
    from utils import setup_chapter

    setup_chapter(verbose=False)
    import keras

    return keras


@pytest.fixture(scope="module")
def tiny_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(48, 4)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return X[:32], y[:32], X[32:], y[32:]


def tiny_builder(keras, hidden=8, slow=False, freeze=False):
    def build():
        first = keras.layers.Dense(hidden, activation="relu", name="first")
        first.trainable = not freeze
        model = keras.Sequential(
            [keras.Input((4,)), first, keras.layers.Dense(2, activation="softmax", name="out")]
        )
        return (model, [first]) if slow else model

    return build


def test_trainer_repeats_a_fresh_run_exactly_and_traces_once(keras, tiny_data):
    X, y, X_valid, y_valid = tiny_data
    trainer = RepeatedTrainer(tiny_builder(keras), n_epochs=30, batch_size=8, learning_rate=0.05)
    first = trainer.fit(0, X, y, validation_data=(X_valid, y_valid))
    other = trainer.fit(1, X, y, validation_data=(X_valid, y_valid))
    again = trainer.fit(0, X, y, validation_data=(X_valid, y_valid))
    assert trainer.n_traces == 1
    assert set(first) == {"loss", "val_loss", "val_accuracy"}
    assert all(len(curve) == 30 for curve in first.values())
    assert again == first  # the reused graph, reset to seed 0, repeats the first run
    assert other != first  # another seed: other weights and shuffling
    new_trainer = RepeatedTrainer(
        tiny_builder(keras), n_epochs=30, batch_size=8, learning_rate=0.05
    )
    assert new_trainer.fit(1, X, y, validation_data=(X_valid, y_valid)) == other
    assert first["loss"][-1] < first["loss"][0] / 2
    assert classification_scores(trainer.model, X_valid, y_valid)["accuracy"] >= 0.8
    assert (
        again["val_accuracy"][-1]
        == classification_scores(trainer.model, X_valid, y_valid)["accuracy"]
    )
    assert set(trainer.fit(2, X, y)) == {"loss"}
    assert trainer.n_traces == 1


def test_trainer_slow_and_frozen_layers(keras, tiny_data):
    X, y, _, _ = tiny_data
    for kwargs, moves in (({"slow": True}, True), ({"freeze": True}, False)):
        trainer = RepeatedTrainer(
            tiny_builder(keras, **kwargs),
            n_epochs=3,
            batch_size=32,
            learning_rate=0.01,
            slow_factor=0.01,
        )
        keras.utils.set_random_seed(3)
        start = tiny_builder(keras)().get_layer("first").get_weights()[0]
        trainer.fit(3, X, y)
        change = np.abs(trainer.model.get_layer("first").get_weights()[0] - start).max()
        out_change = np.abs(
            trainer.model.get_layer("out").get_weights()[0]
            - tiny_builder(keras)().get_layer("out").get_weights()[0]
        ).max()
        # 3 Adam steps move a weight by about 3 learning rates at most.
        assert out_change > 0.005
        if moves:
            assert 0 < change < 5e-4
        else:
            assert change == 0


def test_trainer_batches_are_equal_and_seeded(keras):
    trainer = RepeatedTrainer(tiny_builder(keras), n_epochs=3, batch_size=16, learning_rate=0.01)
    batches = trainer.batches(0, 25)
    assert batches.shape == (3, 2, 12)  # 2 batches of 12; one sample sits out each epoch
    assert all(len(set(epoch.ravel())) == 24 for epoch in batches)
    np.testing.assert_array_equal(batches, trainer.batches(0, 25))
    assert not np.array_equal(batches, trainer.batches(1, 25))
    assert trainer.batches(0, 3).shape == (3, 1, 3)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"build_model": 3}, TypeError),
        ({"n_epochs": 0}, ValueError),
        ({"batch_size": 2.5}, ValueError),
        ({"learning_rate": -0.1}, ValueError),
        ({"slow_factor": 0}, ValueError),
        ({"n_epochs": True}, ValueError),
    ],
)
def test_trainer_rejects_bad_settings(keras, kwargs, error):
    settings = {
        "build_model": tiny_builder(keras),
        "n_epochs": 2,
        "batch_size": 8,
        "learning_rate": 0.01,
        **kwargs,
    }
    with pytest.raises(error):
        RepeatedTrainer(settings.pop("build_model"), **settings)


def test_trainer_rejects_bad_data_and_models(keras, tiny_data):
    X, y, X_valid, y_valid = tiny_data
    trainer = RepeatedTrainer(tiny_builder(keras), n_epochs=2, batch_size=16, learning_rate=0.01)
    for bad in [(X[:, 0], y), (X, y[:-1]), (X, y.astype(float)), (X[:0], y[:0])]:
        with pytest.raises(ValueError):
            trainer.fit(0, *bad)
    with pytest.raises(ValueError, match="seed"):
        trainer.fit(-1, X, y)
    with pytest.raises(ValueError, match="features"):
        trainer.fit(0, X, y, validation_data=(X_valid[:, :3], y_valid))
    trainer.fit(0, X, y)
    with pytest.raises(ValueError, match="features"):
        trainer.fit(0, X[:, :3], y)
    sizes = iter([8, 5])
    changing = RepeatedTrainer(
        lambda: tiny_builder(keras, hidden=next(sizes))(),
        n_epochs=1,
        batch_size=16,
        learning_rate=0.01,
    )
    changing.fit(0, X, y)
    with pytest.raises(ValueError, match="architecture"):
        changing.fit(1, X, y)
    stranger = keras.layers.Dense(3)
    with pytest.raises(ValueError, match="not part of the model"):
        RepeatedTrainer(
            lambda: (tiny_builder(keras)(), [stranger]),
            n_epochs=1,
            batch_size=8,
            learning_rate=0.01,
        ).fit(0, X, y)
