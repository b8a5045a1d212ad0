"""Tests of tfcustom.finetune: the data splits, exact pairing, and the same arithmetic as Keras."""

from __future__ import annotations

import numpy as np
import pytest
from tfcustom.setup import quiet_tensorflow

quiet_tensorflow()

import keras  # noqa: E402
from tfcustom import finetune  # noqa: E402
from tfcustom.finetune import (  # noqa: E402
    Training,
    Variant,
    design,
    engine,
    fine_tune,
    initial_head,
    load_transfer_data,
    macro_f1,
    make_split,
    pretrain,
    run_draws,
)


@pytest.fixture(scope="module")
def data():
    return load_transfer_data()


@pytest.fixture(scope="module")
def pretrained(data):
    return pretrain(data, [0, 1], n_epochs=2)


def test_the_data_and_a_split(data):
    assert len(data.y_source_train) + len(data.y_source_test) == 901
    assert len(data.y_target) == 896 and set(data.y_target) == set(range(5))
    split = make_split(data, 3)
    assert np.bincount(data.y_target[split.train]).tolist() == [10] * 5
    assert len(split.valid) == len(split.test) == 423
    everything = np.concatenate([split.train, split.valid, split.test])
    assert len(set(everything)) == len(everything) == 896
    again, other = make_split(data, 3), make_split(data, 4)
    np.testing.assert_array_equal(split.test, again.test)
    assert not np.array_equal(split.train, other.train)
    with pytest.raises(ValueError):
        make_split(data, -1)
    with pytest.raises(ValueError, match="too few"):
        make_split(data, 0, labels_per_class=500)


def test_book_seed_offset_moves_every_draw(data, monkeypatch):
    """BOOK_SEED_OFFSET=N (check_robustness --seed-offset N) moves every stream's key by 10 N."""
    monkeypatch.delenv("BOOK_SEED_OFFSET", raising=False)
    before = make_split(data, 3), initial_head(0, 1), run_draws(0, 1, 50)
    monkeypatch.setenv("BOOK_SEED_OFFSET", "0")
    np.testing.assert_array_equal(make_split(data, 3).test, before[0].test)
    monkeypatch.setenv("BOOK_SEED_OFFSET", "1")
    split, head, (order, uniforms) = make_split(data, 3), initial_head(0, 1), run_draws(0, 1, 50)
    assert not np.array_equal(split.train, before[0].train)
    assert not np.array_equal(head["hidden_kernel"], before[1]["hidden_kernel"])
    assert not np.array_equal(order, before[2][0])
    assert not np.array_equal(uniforms, before[2][1])
    moved = np.random.default_rng([design.Stream.INIT + 10, 0, 1, 1])  # the stream's key + 10
    np.testing.assert_array_equal(head["hidden_kernel"], design.glorot_uniform(moved, 32, 32))


@pytest.mark.parametrize("value", ["1.5", "one", "-1"])
def test_a_seed_offset_that_is_not_an_integer_is_refused(data, monkeypatch, value):
    monkeypatch.setenv("BOOK_SEED_OFFSET", value)
    message = rf"BOOK_SEED_OFFSET must be an integer >= 0 .*got '{value}'"
    for draw in (lambda: make_split(data, 0), lambda: initial_head(0, 0)):
        with pytest.raises(ValueError, match=message):
            draw()


def test_pretraining_learns_the_source_task(data):
    pre = pretrain(data, [5, 6], n_epochs=10)
    assert pre.splits == (5, 6) and pre.source_accuracy.min() > 0.95
    assert not np.array_equal(pre.base[0][0][0], pre.base[0][0][1])  # a base per split
    with pytest.raises(ValueError, match="was not pretrained"):
        pre.index(7)
    with pytest.raises(ValueError):
        pretrain(data, [1, 1])


def test_variants_describe_themselves_and_refuse_nonsense():
    v = Variant(bn_features=True, dropout=0.3, n_unfrozen=2)
    assert v.head() == "BN → Dense → Dropout → Dense"
    assert Variant().trainable_parameters() == 32 * 32 + 32 + 32 * 5 + 5 == 1221
    assert v.trainable_parameters() == 1221 + 64 + (64 * 64 + 64) + (64 * 32 + 32)
    assert v.replace(dropout=0.0) == Variant(bn_features=True, n_unfrozen=2)
    for bad in (
        {"dropout": 1.0},
        {"n_unfrozen": 4},
        {"l2": -1.0},
        {"slow_factor": 0},
        {"bn_momentum": 1.0},
    ):
        with pytest.raises(ValueError):
            Variant(**bad)


def test_macro_f1_agrees_with_scikit_learn():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    truth = rng.integers(0, 5, (4, 60))
    predicted = np.where(rng.random((4, 60)) < 0.7, truth, rng.integers(0, 5, (4, 60)))
    predicted[3] = 0  # a run that predicts one class only
    expected = [
        f1_score(t, p, average="macro", zero_division=0)
        for t, p in zip(truth, predicted, strict=True)
    ]
    np.testing.assert_allclose(macro_f1(truth, predicted), expected)


def test_macro_f1_is_scikit_learns_with_every_class_named():
    # A class that is neither present nor predicted counts as 0 here, as in
    # scikit-learn with labels=range(5); without labels=, scikit-learn
    # leaves it out of the mean, and the two differ (the docstring says so).
    from sklearn.metrics import f1_score

    truth, predicted = [0, 1, 2, 3, 3], [0, 1, 2, 3, 2]  # class 4 absent
    with_labels = f1_score(truth, predicted, average="macro", zero_division=0, labels=range(5))
    without = f1_score(truth, predicted, average="macro", zero_division=0)
    assert macro_f1(truth, predicted) == pytest.approx(with_labels)
    assert without == pytest.approx(with_labels * 5 / 4)


def test_macro_f1_accepts_integral_floats_and_one_row():
    truth, predicted = [0, 1, 2, 3, 4, 4], [0, 1, 2, 3, 3, 4]
    expected = macro_f1(np.array([truth]), np.array([predicted]))[0]
    assert macro_f1(truth, predicted) == pytest.approx(expected)
    as_floats = macro_f1(np.array(truth, float), np.array(predicted, np.int8))
    assert as_floats == pytest.approx(expected)
    assert macro_f1([7, 8, 9], [7, 8, 9], n_classes=10) == pytest.approx(0.3)


IN_RANGE = r"must hold class labels in range\(5\), got"


@pytest.mark.parametrize(
    "y_true, y_pred, kwargs, message",
    [
        ([7, 8, 9], [7, 8, 9], {}, rf"y_true {IN_RANGE} \[7, 8, 9\] \(3 outside\)"),
        ([0, 1, 2], [0, 1, -1], {}, rf"y_pred {IN_RANGE} \[-1\] \(1 outside\)"),
        ([], [], {}, r"y_true must hold at least one label, got shape \(0,\)"),
        (np.zeros((3, 0), int), np.zeros((3, 0), int), {}, "y_true must hold at least one label"),
        (2, 2, {}, "y_true must hold at least one label"),
        ([0.0, float("nan")], [0, 1], {}, "y_true must hold integer class labels"),
        ([0, 1.5], [0, 1], {}, "y_true must hold integer class labels"),
        (["a", "b"], [0, 1], {}, "y_true must hold integer class labels"),
        ([True, False], [1, 0], {}, "y_true must hold integer class labels"),
        ([0, 1, 2], [0, 1], {}, "y_true and y_pred must have the same shape"),
        ([0, 1], [0, 1], {"n_classes": 0}, "n_classes must be an int >= 1"),
        ([0, 1], [0, 1], {"n_classes": 2.0}, "n_classes must be an int"),
    ],
)
def test_macro_f1_refuses_labels_it_cannot_score(y_true, y_pred, kwargs, message):
    """Labels outside the classes, or none at all, used to score 0.0."""
    with pytest.raises(ValueError, match=message):
        macro_f1(y_true, y_pred, **kwargs)


def test_scores_names_what_it_does_not_know():
    shape = (2, 1, 1)
    result = finetune.FineTuned(
        (Variant(), Variant(dropout=0.3)),
        (0,),
        (0,),
        *(np.arange(2.0).reshape(shape) for _ in range(3)),
    )
    assert result.scores(Variant(dropout=0.3), "valid_f1").tolist() == [[1.0]]
    with pytest.raises(ValueError, match=r"variant must be one of the 2 variants.*dropout=0\.5"):
        result.scores(Variant(dropout=0.5), "valid_f1")
    with pytest.raises(ValueError, match="variant must be one of"):
        result.scores("baseline", "valid_f1")
    with pytest.raises(ValueError, match=r"metric must be one of .*'valid_f1'.*got 'f1'"):
        result.scores(Variant(), "f1")
    with pytest.raises(ValueError, match="metric must be one of"):
        result.scores(Variant(), "variants")  # a field, but not a score
    with pytest.raises(ValueError, match="test_f1 was not computed"):
        result.scores(Variant())


def test_pairing_is_exact_whatever_the_variant(data, pretrained):
    """Runs on the same (split, seed) start shared layers from the same weights.

    With a vanishing learning rate nothing moves, so the final weights are the
    initial ones: the hidden and output kernels of every variant equal
    initial_head(split, seed), drawn from (split, seed, layer) alone.
    """
    still = Training(n_epochs=1, learning_rate=1e-30)
    variants = [
        Variant(),
        Variant(bn_features=True, bn_hidden=True, dropout=0.3),
        Variant(bn_features=True, dropout=0.5, n_unfrozen=2),
    ]
    result = fine_tune(data, pretrained, variants, [0, 1], [3, 4], still, keep_weights=True)
    for i, split in enumerate((0, 1)):
        for j, seed in enumerate((3, 4)):
            head = initial_head(split, seed)
            for name in ("hidden_kernel", "output_kernel"):
                for v in range(len(variants)):
                    np.testing.assert_array_equal(result.weights[name][v, i, j], head[name])
    assert not np.array_equal(
        initial_head(0, 3)["hidden_kernel"], initial_head(0, 4)["hidden_kernel"]
    )


def test_batches_and_dropout_masks_are_shared_by_variants(data, pretrained):
    """Two variants that differ only at inference (the BN momentum) train identically."""
    a = Variant(bn_features=True, dropout=0.3)
    b = a.replace(bn_momentum=0.5)
    result = fine_tune(data, pretrained, [a, b], [0], [7], Training(n_epochs=3), keep_weights=True)
    for name in ("hidden_kernel", "output_kernel", "bn_features_gamma"):
        np.testing.assert_array_equal(result.weights[name][0], result.weights[name][1])
    assert not np.array_equal(
        result.weights["bn_features_moving_mean"][0], result.weights["bn_features_moving_mean"][1]
    )


def keras_replica(pretrained, variant, split, seed):
    """The same run as a Keras model: returns (model, slow layers)."""
    regularizer = keras.regularizers.L2(variant.l2) if variant.l2 else None
    n_base = len(pretrained.base)
    base_layers = []
    for k, (kernel, _) in enumerate(pretrained.base):
        trains = k >= n_base - variant.n_unfrozen
        layer = keras.layers.Dense(
            kernel.shape[2], activation="relu", kernel_regularizer=regularizer if trains else None
        )
        layer.trainable = trains
        base_layers.append(layer)
    bn = {"momentum": variant.bn_momentum, "epsilon": finetune.BN_EPSILON}
    head = []
    if variant.bn_features:
        head.append(keras.layers.BatchNormalization(**bn))
    hidden = keras.layers.Dense(32, activation="relu", kernel_regularizer=regularizer)
    head.append(hidden)
    if variant.bn_hidden:
        head.append(keras.layers.BatchNormalization(**bn))
    output = keras.layers.Dense(5, kernel_regularizer=regularizer)
    head.append(output)
    model = keras.Sequential([keras.Input((64,)), *base_layers, *head])
    index = pretrained.index(split)
    for layer, (kernel, bias) in zip(base_layers, pretrained.base, strict=True):
        layer.set_weights([kernel[index], bias[index]])
    start = initial_head(split, seed)
    hidden.set_weights([start["hidden_kernel"], np.zeros(32, np.float32)])
    output.set_weights([start["output_kernel"], np.zeros(5, np.float32)])
    return model, [layer for layer in base_layers if layer.trainable]


def test_the_arithmetic_is_keras(data, pretrained):
    """One run trained by fine_tune and the same run as a Keras model agree."""
    import tensorflow as tf

    variant = Variant(bn_features=True, bn_hidden=True, n_unfrozen=2, l2=0.01)
    training = Training(n_epochs=4)
    split, seed = 1, 2
    result = fine_tune(data, pretrained, [variant], [split], [seed], training, keep_weights=True)
    model, slow_layers = keras_replica(pretrained, variant, split, seed)
    slow = [v for layer in slow_layers for v in layer.trainable_variables]
    fast = [v for v in model.trainable_variables if all(v is not s for s in slow)]
    optimizers = [
        (keras.optimizers.Adam(training.learning_rate), fast),
        (keras.optimizers.Adam(training.learning_rate * variant.slow_factor), slow),
    ]
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    chosen = make_split(data, split)
    X, y = data.X_target[chosen.train], data.y_target[chosen.train]
    order, _ = run_draws(split, seed, len(y), training)
    for idx in order:
        with tf.GradientTape() as tape:
            loss = loss_fn(y[idx], model(X[idx], training=True)) + tf.add_n(model.losses)
        grads = tape.gradient(loss, fast + slow)
        optimizers[0][0].apply_gradients(zip(grads[: len(fast)], fast, strict=True))
        optimizers[1][0].apply_gradients(zip(grads[len(fast) :], slow, strict=True))
    ours = {name: values[0, 0, 0] for name, values in result.weights.items()}
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    pairs = [
        (dense[1].kernel, ours["base_2_kernel"]),
        (dense[2].kernel, ours["base_3_kernel"]),
        (dense[0].kernel, ours["base_1_kernel"]),
        (dense[3].kernel, ours["hidden_kernel"]),
        (dense[4].kernel, ours["output_kernel"]),
        (dense[4].bias, ours["output_bias"]),
    ]
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    pairs += [
        (norms[0].gamma, ours["bn_features_gamma"]),
        (norms[1].moving_variance, ours["bn_hidden_moving_variance"]),
    ]
    for theirs, mine in pairs:
        np.testing.assert_allclose(np.asarray(theirs), mine, rtol=2e-4, atol=2e-5)
    np.testing.assert_array_equal(np.asarray(dense[0].kernel), pretrained.base[0][0][1])
    # and the scores come from the same model
    logits = model(data.X_target[chosen.valid], training=False).numpy()
    expected = macro_f1(data.y_target[chosen.valid], logits.argmax(-1))
    assert result.valid_f1[0, 0, 0] == pytest.approx(float(expected), abs=0.005)


def test_test_scores_only_on_request(data, pretrained):
    result = fine_tune(data, pretrained, [Variant()], [0], [0, 1], Training(n_epochs=1))
    assert result.test_f1 is None and result.valid_f1.shape == (1, 1, 2)
    with pytest.raises(ValueError, match="not computed"):
        result.scores(Variant(), "test_f1")
    assert result.scores(Variant(), "valid_f1").shape == (1, 2)


def test_a_frozen_base_forgets_nothing(data, pretrained):
    result = fine_tune(
        data,
        pretrained,
        [Variant(), Variant(n_unfrozen=3, slow_factor=1.0)],
        [0],
        [0],
        Training(n_epochs=3),
    )
    frozen, unfrozen = result.source_accuracy[:, 0, 0]
    assert frozen == pytest.approx(pretrained.source_accuracy[0])
    assert unfrozen < frozen


@pytest.mark.parametrize(
    "kwargs",
    [
        {"variants": []},
        {"splits": []},
        {"seeds": [1, 1]},
        {"splits": [9]},
        {"variants": ["baseline"]},
    ],
)
def test_fine_tune_rejects_bad_grids(data, pretrained, kwargs):
    args = {"variants": [Variant()], "splits": [0], "seeds": [0]}
    with pytest.raises(ValueError):
        fine_tune(data, pretrained, **{**args, **kwargs}, training=Training(n_epochs=1))


def test_dropout_is_inverted_dropout_with_shared_draws():
    """Training-mode dropout keeps h where u >= rate and scales by 1 / (1 - rate);
    two rates drawn from the same uniforms give nested masks (pairing)."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    slots = engine.layout(0)
    theta = tf.constant(rng.normal(size=(2, slots[-1].end)).astype(np.float32))
    x = tf.constant(rng.normal(size=(2, 4, design.FEATURES)).astype(np.float32))
    uniforms = tf.constant(rng.random((2, 4, design.HIDDEN_UNITS)).astype(np.float32))
    weights = engine.unpack(theta, slots)
    moving = engine.MovingStatistics.initial(2)
    outputs = {}
    for rate in (0.0, 0.3, 0.6):
        settings = engine.RunSettings(
            bn_features=tf.zeros([2]),
            bn_hidden=tf.zeros([2]),
            dropout=tf.fill([2], rate),
            l2=tf.zeros([2]),
            bn_momentum=tf.fill([2], 0.9),
        )
        logits, _ = engine.forward(
            weights, moving, settings, x, training=True, dropout_uniforms=uniforms
        )
        outputs[rate] = logits.numpy()
    hidden = tf.nn.relu(engine.dense(x, weights["hidden_kernel"], weights["hidden_bias"]))
    for rate, logits in outputs.items():
        kept = hidden.numpy() * (uniforms.numpy() >= rate) / (1 - rate)
        expected = engine.dense(
            tf.constant(kept), weights["output_kernel"], weights["output_bias"]
        )
        np.testing.assert_allclose(logits, expected.numpy(), rtol=1e-5, atol=1e-6)
    u = uniforms.numpy()
    assert np.all((u >= 0.6) <= (u >= 0.3))  # a unit kept at 0.6 is kept at 0.3


def test_a_run_does_not_depend_on_the_rest_of_the_grid(data, pretrained):
    """The same (variant, split, seed) alone or among other runs gives the same bits."""
    v = Variant(bn_features=True, dropout=0.3)
    training = Training(n_epochs=3)
    alone = fine_tune(data, pretrained, [v], [1], [4], training, keep_weights=True)
    grid = fine_tune(
        data,
        pretrained,
        [Variant(), v, v.replace(bn_hidden=True)],
        [0, 1],
        [2, 4, 5],
        training,
        keep_weights=True,
    )
    for name in ("hidden_kernel", "output_kernel", "bn_features_moving_mean"):
        np.testing.assert_array_equal(alone.weights[name][0, 0, 0], grid.weights[name][1, 1, 1])
    assert alone.valid_f1[0, 0, 0] == grid.valid_f1[1, 1, 1]


def test_curves_end_where_the_scores_are(data, pretrained):
    training = Training(n_epochs=3)
    result = fine_tune(
        data, pretrained, [Variant(), Variant(n_unfrozen=1)], [0], [0, 1], training, curves=True
    )
    assert result.valid_loss.shape == result.train_loss.shape == (2, 1, 2, 3)
    np.testing.assert_allclose(
        result.valid_accuracy_curve[..., -1], result.valid_accuracy, atol=1e-6
    )
    assert np.all(result.valid_loss > 0) and np.all(result.train_loss > 0)
    with pytest.raises(ValueError):
        result.scores(Variant(dropout=0.5))


def test_a_base_does_not_depend_on_the_other_splits(data):
    alone = pretrain(data, [3], n_epochs=1)
    together = pretrain(data, [2, 3, 4], n_epochs=1)
    for (kernel, _), (other, _) in zip(alone.base, together.base, strict=True):
        np.testing.assert_array_equal(kernel[0], other[1])
    assert alone.source_accuracy[0] == together.source_accuracy[1]


def test_the_best_epoch_is_the_run_stopped_there(data, pretrained):
    """``best_epoch=True`` scores each run's weights at its lowest validation loss:
    the same bits as the same run trained for only that many epochs."""
    bn = Variant(bn_features=True)
    variants = [bn, bn.replace(dropout=0.3, n_unfrozen=2, l2=0.01)]
    grid = {"variants": variants, "splits": [0, 1], "seeds": [0, 1], "evaluate_test": True}
    fast = {"learning_rate": 0.03}  # so that some runs pass their best before the end
    full = fine_tune(
        data, pretrained, **grid, training=Training(20, **fast), curves=True, best_epoch=True
    )
    plain = fine_tune(data, pretrained, **grid, training=Training(20, **fast))
    np.testing.assert_array_equal(full.test_f1, plain.test_f1)  # tracking changes nothing
    np.testing.assert_array_equal(full.best_epoch, full.valid_loss.argmin(axis=-1) + 1)
    assert len(np.unique(full.best_epoch)) > 1  # the check below is not of one epoch only
    for epochs in np.unique(full.best_epoch):
        short = fine_tune(
            data, pretrained, **grid, training=Training(int(epochs), learning_rate=0.03)
        )
        stopped = full.best_epoch == epochs
        np.testing.assert_array_equal(full.best_test_f1[stopped], short.test_f1[stopped])
        np.testing.assert_array_equal(full.best_valid_f1[stopped], short.valid_f1[stopped])
    assert plain.best_epoch is None
    with pytest.raises(ValueError, match="not computed"):
        plain.scores(bn, "best_test_f1")


def test_labels_per_class_reaches_the_split(data, pretrained):
    sets = design.stacked_splits(data, [0, 1], 5, with_test=False)
    assert sets["train"].X.shape[:2] == (2, 25)
    assert [np.bincount(y).tolist() for y in sets["train"].y] == [[5] * 5] * 2
    args = {"variants": [Variant()], "splits": [0], "seeds": [0], "training": Training(n_epochs=2)}
    few = fine_tune(data, pretrained, **args, labels_per_class=5, keep_weights=True)
    usual = fine_tune(data, pretrained, **args, keep_weights=True)
    assert not np.array_equal(few.weights["hidden_kernel"], usual.weights["hidden_kernel"])
    for bad in (0, 500):
        with pytest.raises(ValueError, match="labels"):
            fine_tune(data, pretrained, **args, labels_per_class=bad)
