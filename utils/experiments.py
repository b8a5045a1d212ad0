"""Repeated experiments: variants x seeds -> a tidy table, and the statistics to read it.

Introduced in Chapter 8 (Fine-tuning experiments, with statistics).

A single training run is one draw from a distribution: change the seed and
the score changes. The helpers here run every variant of a model with the
same list of seeds (so that variants can be compared seed by seed), collect
one row per run, and summarise the rows with confidence intervals and paired
tests. They need NumPy and SciPy only; the training helpers
(:class:`RepeatedTrainer`, :func:`classification_scores`) import TensorFlow
and scikit-learn when they are called.

A results table is a plain ``list`` of ``dict`` rows, e.g.
``{"variant": "baseline", "seed": 0, "macro_f1": 0.71, "accuracy": 0.72}``,
so no data-frame library is needed (pandas works on it too:
``pandas.DataFrame(rows)``).
"""

from __future__ import annotations

import math
import numbers
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .tables import format_table

__all__ = [
    "PairedDifference",
    "RepeatedTrainer",
    "Summary",
    "classification_scores",
    "format_table",
    "paired_difference",
    "run_grid",
    "same_variant_differences",
    "summarize",
    "summary_table",
    "values_by_variant",
]

_RESERVED = ("variant", "seed")


# ---------------------------------------------------------------------------
# Running the grid
# ---------------------------------------------------------------------------


def _check_seeds(seeds) -> list[int]:
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Iterable):
        raise TypeError(f"seeds must be a sequence of ints, got {type(seeds).__name__}")
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds is empty: give at least one seed")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise ValueError(f"every seed must be a non-negative int, got {seed!r}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {seeds}")
    return [int(s) for s in seeds]


def _check_variants(variants) -> list[str]:
    if isinstance(variants, (str, bytes)) or not isinstance(variants, Iterable):
        raise TypeError(f"variants must be a sequence of names, got {type(variants).__name__}")
    variants = list(variants)
    if not variants:
        raise ValueError("variants is empty: give at least one variant")
    for name in variants:
        if not isinstance(name, str) or not name:
            raise ValueError(f"every variant must be a non-empty str, got {name!r}")
    if len(set(variants)) != len(variants):
        raise ValueError(f"variant names must be distinct, got {variants}")
    return variants


def run_grid(
    run_one: Callable[[str, int], Mapping],
    variants: Sequence[str],
    seeds: Sequence[int],
    *,
    progress: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Run every variant with every seed; return one row (a dict) per run.

    The seeds are the same for every variant, so that run ``(B, seed)`` can
    be compared with run ``(A, seed)``: a *paired* design. Runs go variant
    by variant, seeds in the given order.

    Args:
        run_one: ``run_one(variant, seed)`` trains and evaluates one model
            and returns a mapping of results, e.g. ``{"macro_f1": 0.7}``.
            Every run must return the same keys, and none of them may be
            ``"variant"`` or ``"seed"``.
        variants: distinct, non-empty names.
        seeds: distinct non-negative ints.
        progress: called with each row as soon as it is done (for printing).

    Returns:
        A tidy table: ``[{"variant": ..., "seed": ..., **results}, ...]``.

    Raises:
        TypeError: ``run_one`` is not callable, or returned no mapping.
        ValueError: empty or repeated variants or seeds, a bad seed, or
            results with reserved or inconsistent keys.

    Introduced in Chapter 8.
    """
    if not callable(run_one):
        raise TypeError(f"run_one must be callable, got {type(run_one).__name__}")
    variants = _check_variants(variants)
    seeds = _check_seeds(seeds)
    rows, keys = [], None
    for variant in variants:
        for seed in seeds:
            result = run_one(variant, seed)
            if not isinstance(result, Mapping):
                raise TypeError(
                    f"run_one({variant!r}, {seed}) returned "
                    f"{type(result).__name__}, expected a mapping of results"
                )
            clash = [k for k in _RESERVED if k in result]
            if clash:
                raise ValueError(f"run_one returned the reserved key(s) {clash}")
            if keys is None:
                keys = list(result)
            elif list(result) != keys:
                raise ValueError(
                    f"run_one({variant!r}, {seed}) returned keys {list(result)}, "
                    f"but earlier runs returned {keys}"
                )
            row = {"variant": variant, "seed": seed, **result}
            rows.append(row)
            if progress is not None:
                progress(row)
    return rows


def values_by_variant(
    rows: Sequence[Mapping], metric: str, variants: Sequence[str] | None = None
) -> dict[str, np.ndarray]:
    """The values of one metric per variant, as arrays ordered by seed.

    Every variant must have been run with the same seeds (checked), so that
    element ``i`` of every array comes from the same seed: the arrays can be
    subtracted for a paired comparison.

    Args:
        rows: a table from :func:`run_grid`.
        metric: the column to collect, e.g. ``"macro_f1"``.
        variants: which variants, in which order (default: all, in order of
            first appearance).

    Raises:
        ValueError: empty table, unknown metric or variant, a repeated
            ``(variant, seed)`` pair, or variants run with different seeds.

    Introduced in Chapter 8.
    """
    rows = list(rows)
    if not rows:
        raise ValueError("the results table is empty")
    if variants is None:
        variants = list(dict.fromkeys(row["variant"] for row in rows))
    per_variant: dict[str, dict[int, float]] = {v: {} for v in _check_variants(variants)}
    for row in rows:
        if metric not in row:
            raise ValueError(
                f"unknown metric {metric!r}; the table has "
                f"{[k for k in row if k not in _RESERVED]}"
            )
        if row["variant"] not in per_variant:
            continue
        seeds = per_variant[row["variant"]]
        if row["seed"] in seeds:
            raise ValueError(f"variant {row['variant']!r} has seed {row['seed']} twice")
        seeds[row["seed"]] = float(row[metric])
    reference = None
    for variant, seeds in per_variant.items():
        if not seeds:
            raise ValueError(f"no rows for variant {variant!r}")
        if reference is None:
            reference = sorted(seeds)
        elif sorted(seeds) != reference:
            raise ValueError(
                f"variant {variant!r} was run with seeds {sorted(seeds)}, "
                f"others with {reference}: the runs cannot be paired"
            )
    return {v: np.array([s[k] for k in reference]) for v, s in per_variant.items()}


# ---------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------


def _as_sample(values, name: str = "values", min_size: int = 2) -> np.ndarray:
    try:
        sample = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be numbers, got {values!r}") from exc
    if sample.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {sample.shape}")
    if len(sample) < min_size:
        raise ValueError(f"{name} needs at least {min_size} values, got {len(sample)}")
    if not np.all(np.isfinite(sample)):
        raise ValueError(f"{name} contains NaN or infinity")
    return sample


def _check_confidence(confidence) -> float:
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, numbers.Real)
        or not 0.0 < confidence < 1.0
    ):
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence!r}")
    return float(confidence)


def _t_interval(mean: float, std: float, n: int, confidence: float) -> tuple[float, float]:
    from scipy import stats

    half = stats.t.ppf(0.5 + confidence / 2, df=n - 1) * std / math.sqrt(n)
    return mean - half, mean + half


@dataclass(frozen=True)
class Summary:
    """Mean, sample standard deviation and t confidence interval of a sample.

    Introduced in Chapter 8.
    """

    n: int
    mean: float
    std: float
    ci_low: float
    ci_high: float
    confidence: float = 0.95

    @property
    def half_width(self) -> float:
        """Half the width of the confidence interval (the "±" of the mean)."""
        return (self.ci_high - self.ci_low) / 2


def summarize(values, confidence: float = 0.95) -> Summary:
    """Mean, standard deviation (``ddof=1``) and a t-based confidence interval.

    The interval is ``mean ± t(1 - α/2, n - 1) · std / √n``: it assumes the
    values are independent draws from one roughly normal distribution, as
    scores of runs that differ only by their seed are.

    Raises:
        TypeError: the values are not numbers.
        ValueError: fewer than 2 values, NaN or infinite values, or a
            confidence outside (0, 1).

    Introduced in Chapter 8.
    """
    confidence = _check_confidence(confidence)
    sample = _as_sample(values)
    mean, std = float(sample.mean()), float(sample.std(ddof=1))
    low, high = _t_interval(mean, std, len(sample), confidence)
    return Summary(len(sample), mean, std, low, high, confidence)


@dataclass(frozen=True)
class PairedDifference:
    """The difference ``after - before`` of paired runs, with its uncertainty.

    ``ci_low``/``ci_high``: t confidence interval of the mean difference;
    ``p_value``: two-sided paired t-test (:func:`scipy.stats.ttest_rel`);
    ``boot_low``/``boot_high``: percentile bootstrap interval of the mean
    difference; ``wins``: how many pairs improved.

    Introduced in Chapter 8.
    """

    n: int
    mean: float
    std: float
    ci_low: float
    ci_high: float
    p_value: float
    boot_low: float
    boot_high: float
    wins: int
    confidence: float = 0.95

    @property
    def significant(self) -> bool:
        """Whether the t interval excludes 0 (equivalently, p < 1 - confidence)."""
        return self.ci_low > 0 or self.ci_high < 0


def paired_difference(
    after, before, *, confidence: float = 0.95, n_boot: int = 10_000, seed: int = 0
) -> PairedDifference:
    """Compare two variants run with the same seeds, seed by seed.

    Works on the differences ``d_i = after_i - before_i``: their mean, a t
    confidence interval, the two-sided paired t-test and a percentile
    bootstrap interval (``n_boot`` resamples of the ``d_i``, drawn with
    ``numpy.random.default_rng(seed)``, so the result is reproducible).
    Pairing removes the part of the seed-to-seed spread that both variants
    share, which makes the comparison far more sensitive than comparing two
    independent means.

    Raises:
        TypeError: the values are not numbers.
        ValueError: fewer than 2 pairs, samples of different lengths, NaN
            or infinity, a bad confidence, or ``n_boot < 100``.

    Introduced in Chapter 8.
    """
    confidence = _check_confidence(confidence)
    after, before = _as_sample(after, "after"), _as_sample(before, "before")
    if after.shape != before.shape:
        raise ValueError(
            f"paired samples need the same length, got {len(after)} and {len(before)}"
        )
    if isinstance(n_boot, bool) or not isinstance(n_boot, numbers.Integral) or n_boot < 100:
        raise ValueError(f"n_boot must be an int >= 100, got {n_boot!r}")
    diffs = after - before
    n, mean, std = len(diffs), float(diffs.mean()), float(diffs.std(ddof=1))
    if std <= 1e-12 * max(1.0, abs(mean)):  # (nearly) identical differences: no spread
        std, low, high = 0.0, mean, mean
        p_value = 1.0 if mean == 0.0 else 0.0
    else:  # the paired t-test, as scipy.stats.ttest_rel computes it
        from scipy import stats

        low, high = _t_interval(mean, std, n, confidence)
        t = mean / (std / math.sqrt(n))
        p_value = float(2 * stats.t.sf(abs(t), df=n - 1))
    rng = np.random.default_rng(seed)
    boot_means = diffs[rng.integers(0, n, size=(int(n_boot), n))].mean(axis=1)
    alpha = 1.0 - confidence
    boot_low, boot_high = np.quantile(boot_means, [alpha / 2, 1 - alpha / 2])
    return PairedDifference(
        n,
        mean,
        std,
        float(low),
        float(high),
        p_value,
        float(boot_low),
        float(boot_high),
        int((diffs > 0).sum()),
        confidence,
    )


def same_variant_differences(values) -> np.ndarray:
    """All differences ``x_i - x_j`` (``i != j``) between runs of *one* variant.

    Each is what a single-run comparison would report if someone compared
    the variant with itself, trained with two different seeds: a difference
    made of nothing but seed noise.

    Raises:
        TypeError, ValueError: as :func:`summarize`.

    Introduced in Chapter 8.
    """
    sample = _as_sample(values)
    diffs = sample[:, None] - sample[None, :]
    return diffs[~np.eye(len(sample), dtype=bool)]


def summary_table(
    rows: Sequence[Mapping],
    metrics: Sequence[str] = ("macro_f1", "accuracy"),
    *,
    confidence: float = 0.95,
    variants: Sequence[str] | None = None,
) -> list[dict]:
    """One row per variant: n, then mean, std and CI bounds of each metric.

    Column names are ``n``, ``<metric>_mean``, ``<metric>_std``,
    ``<metric>_ci_low`` and ``<metric>_ci_high``.

    Raises:
        ValueError: as :func:`values_by_variant` and :func:`summarize`, or no
            metrics.

    Introduced in Chapter 8.
    """
    if isinstance(metrics, str) or not metrics:
        raise ValueError(f"metrics must be a non-empty sequence of names, got {metrics!r}")
    columns = {m: values_by_variant(rows, m, variants) for m in metrics}
    table = []
    for variant in columns[metrics[0]]:
        out = {"variant": variant, "n": len(columns[metrics[0]][variant])}
        for metric in metrics:
            s = summarize(columns[metric][variant], confidence)
            out.update(
                {
                    f"{metric}_mean": s.mean,
                    f"{metric}_std": s.std,
                    f"{metric}_ci_low": s.ci_low,
                    f"{metric}_ci_high": s.ci_high,
                }
            )
        table.append(out)
    return table


# ---------------------------------------------------------------------------
# Training and scoring a classifier (TensorFlow / scikit-learn)
# ---------------------------------------------------------------------------


class RepeatedTrainer:
    """Train one architecture many times, each run from fresh weights, tracing once.

    ``build_model()`` must return a new Keras classifier (softmax outputs),
    or a pair ``(model, slow_layers)``. Each call of :meth:`fit` seeds
    Python's and NumPy's random generators, builds a fresh model and trains
    it with a custom loop (Chapter 6) that runs entirely inside one
    ``tf.function`` (Chapter 7): all epochs, all batches and the validation
    after each epoch are one graph call.

    Tracing that graph costs more than training a small model, so the
    trainer traces it once, for the first model. Later runs copy the fresh
    model's variables (weights, batch-norm statistics, dropout seed state)
    into that first model and restore the optimizers' initial state: a run
    gives exactly what a brand-new model and optimizer would give, only
    faster. The trained model is :attr:`model`, until the next run
    overwrites it.

    Seeding: Keras draws the seeds of a new layer's initializers and of its
    dropout masks from Python's ``random`` module, so ``random.seed(seed)``
    before ``build_model()`` fixes the initial weights and the dropout
    masks; the batch order comes from ``numpy.random.default_rng(seed)``.
    :func:`keras.utils.set_random_seed` would seed the same generators but
    also calls ``tf.random.set_seed``, which clears TensorFlow's cache of
    instantiated functions: the next call of the traced loop would then pay
    for re-instantiating it (about half a second for a small model, more
    than the run itself).

    Training details: every epoch shuffles the training set with
    ``numpy.random.default_rng(seed)`` and cuts it into
    ``round(n / batch_size)`` batches of equal size; the few samples left
    over (fewer than the number of batches) sit that epoch out, a different
    few each time. Equal batches keep the graph to one trace and spare
    batch normalization a tiny last batch. The loss is sparse categorical
    cross-entropy plus ``model.losses`` (weight regularization). The
    trainable variables of the slow layers get their own Adam optimizer
    with learning rate ``learning_rate * slow_factor``, all others an Adam
    optimizer with ``learning_rate``: pretrained layers move gently while a
    new head learns fast.

    Args:
        build_model: returns ``model`` or ``(model, slow_layers)``; called
            once per run, after seeding.
        n_epochs: passes over the training set.
        batch_size: the target batch size.
        learning_rate: learning rate of the fast group.
        slow_factor: ratio of the slow to the fast learning rate.

    Raises:
        TypeError: ``build_model`` is not callable.
        ValueError: bad hyperparameters.

    Introduced in Chapter 8.
    """

    def __init__(
        self,
        build_model: Callable,
        *,
        n_epochs: int,
        batch_size: int,
        learning_rate: float,
        slow_factor: float = 0.1,
    ):
        if not callable(build_model):
            raise TypeError(f"build_model must be callable, got {type(build_model).__name__}")
        for name, value in (("n_epochs", n_epochs), ("batch_size", batch_size)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        for name, value in (("learning_rate", learning_rate), ("slow_factor", slow_factor)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        self.build_model = build_model
        self.n_epochs, self.batch_size = int(n_epochs), int(batch_size)
        self.learning_rate, self.slow_factor = float(learning_rate), float(slow_factor)
        self.model = None
        self.n_traces = 0  # how often the training graph was traced
        self._n_features = None

    def _build(self):
        built = self.build_model()
        model, slow_layers = built if isinstance(built, tuple) else (built, ())
        layers = {id(layer) for layer in _all_layers(model)}
        for layer in slow_layers:
            if id(layer) not in layers:
                raise ValueError(
                    f"slow layer {getattr(layer, 'name', layer)!r} is not part of the model"
                )
        return model, list(slow_layers)

    def _compile(self, model, slow_layers, n_features: int) -> None:
        """Create the optimizers and the traced training run, for the first model."""
        import keras
        import tensorflow as tf

        slow_ids = {id(v) for layer in slow_layers for v in layer.trainable_variables}
        fast = [v for v in model.trainable_variables if id(v) not in slow_ids]
        slow = [v for v in model.trainable_variables if id(v) in slow_ids]
        groups = [
            (keras.optimizers.Adam(rate), variables)
            for rate, variables in (
                (self.learning_rate, fast),
                (self.learning_rate * self.slow_factor, slow),
            )
            if variables
        ]
        for optimizer, variables in groups:
            optimizer.build(variables)  # create the slots now, not while tracing
        self._optimizer_start = [[v.numpy() for v in opt.variables] for opt, _ in groups]
        self._groups = groups
        loss_fn = keras.losses.SparseCategoricalCrossentropy()

        def train_step(X_batch, y_batch):
            with tf.GradientTape() as tape:
                data_loss = loss_fn(y_batch, model(X_batch, training=True))
                loss = data_loss + tf.add_n(model.losses) if model.losses else data_loss
            variables = [v for _, group in groups for v in group]
            gradients = tape.gradient(loss, variables)
            start = 0
            for optimizer, group in groups:
                optimizer.apply_gradients(
                    zip(gradients[start : start + len(group)], group, strict=True)
                )
                start += len(group)
            return data_loss

        features = tf.TensorSpec([None, n_features], tf.float32)
        labels = tf.TensorSpec([None], tf.int32)

        @tf.function(
            input_signature=[
                features,
                labels,
                tf.TensorSpec([None, None, None], tf.int32),
                features,
                labels,
            ]
        )
        def train_run(X, y, batches, X_valid, y_valid):
            self.n_traces += 1  # a Python side effect: it runs only while tracing
            n_epochs, n_batches = tf.shape(batches)[0], tf.shape(batches)[1]
            losses = tf.TensorArray(tf.float32, size=n_epochs)
            val_losses = tf.TensorArray(tf.float32, size=n_epochs)
            val_accuracies = tf.TensorArray(tf.float32, size=n_epochs)
            for epoch in tf.range(n_epochs):
                total = tf.constant(0.0)
                for i in tf.range(n_batches):
                    idx = batches[epoch, i]
                    total += train_step(tf.gather(X, idx), tf.gather(y, idx))
                losses = losses.write(epoch, total / tf.cast(n_batches, tf.float32))
                y_proba = model(X_valid, training=False)
                val_losses = val_losses.write(epoch, loss_fn(y_valid, y_proba))
                hits = tf.equal(tf.argmax(y_proba, axis=-1, output_type=tf.int32), y_valid)
                val_accuracies = val_accuracies.write(
                    epoch, tf.reduce_mean(tf.cast(hits, tf.float32))
                )
            return losses.stack(), val_losses.stack(), val_accuracies.stack()

        self.model, self._train_run, self._n_features = model, train_run, n_features

    def _reset_to(self, fresh) -> None:
        """Give the traced model the fresh model's state, the optimizers theirs."""
        targets, sources = self.model.variables, fresh.variables
        if [tuple(v.shape) for v in targets] != [tuple(v.shape) for v in sources]:
            raise ValueError(
                "build_model returned a model with a different architecture than on the first run"
            )
        for target, source in zip(targets, sources, strict=True):
            target.assign(source)
        for (optimizer, _), start in zip(self._groups, self._optimizer_start, strict=True):
            for variable, value in zip(optimizer.variables, start, strict=True):
                variable.assign(value)

    def batches(self, seed: int, n_samples: int) -> np.ndarray:
        """The batch indices of a run, shape ``(n_epochs, n_batches, batch_length)``."""
        n_batches = min(n_samples, max(1, round(n_samples / self.batch_size)))
        length = n_samples // n_batches
        rng = np.random.default_rng(seed)
        return np.stack(
            [
                rng.permutation(n_samples)[: n_batches * length].reshape(n_batches, length)
                for _ in range(self.n_epochs)
            ]
        ).astype(np.int32)

    def fit(
        self, seed: int, X, y, *, validation_data: tuple | None = None
    ) -> dict[str, list[float]]:
        """One run: seed, build a fresh model, train it; return its history.

        Args:
            seed: seeds the new layers' weights and dropout masks, and the
                shuffling.
            X, y: training inputs (2-D) and integer labels.
            validation_data: optional ``(X_valid, y_valid)``, evaluated
                after every epoch.

        Returns:
            ``{"loss": [...]}``, the mean training cross-entropy of each
            epoch (without the regularization term, so that variants with
            and without it compare), plus ``"val_loss"`` and
            ``"val_accuracy"`` with validation data.

        Raises:
            ValueError: a bad seed, inputs of the wrong shape or length, or a
                model whose architecture changed between runs.
        """
        _check_seeds([seed])
        X, y = _as_xy(X, y)
        X_valid, y_valid = X[:1], y[:1]  # a stand-in, so that one graph serves both cases
        if validation_data is not None:
            X_valid, y_valid = _as_xy(*validation_data)
            if X_valid.shape[1] != X.shape[1]:
                raise ValueError(
                    f"validation inputs have {X_valid.shape[1]} features, "
                    f"training inputs {X.shape[1]}"
                )
        if self._n_features not in (None, X.shape[1]):
            raise ValueError(f"X has {X.shape[1]} features; the first run had {self._n_features}")
        random.seed(int(seed))
        np.random.seed(int(seed))
        fresh, slow_layers = self._build()
        if self.model is None:
            self._compile(fresh, slow_layers, X.shape[1])
        else:
            self._reset_to(fresh)
        losses, val_losses, val_accuracies = self._train_run(
            X, y, self.batches(seed, len(X)), X_valid, y_valid
        )
        history = {"loss": losses.numpy().tolist()}
        if validation_data is not None:
            history.update(
                val_loss=val_losses.numpy().tolist(), val_accuracy=val_accuracies.numpy().tolist()
            )
        return history


def _as_xy(X, y) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (samples x features), got shape {X.shape}")
    if y.ndim != 1 or len(X) != len(y) or len(X) == 0:
        raise ValueError(f"X and y need the same, non-zero length, got {len(X)} and {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y must hold integer class labels, got dtype {y.dtype}")
    return X, y.astype(np.int32)


def _all_layers(model) -> list:
    """Every layer inside ``model``, nested models included."""
    found, stack = [], list(getattr(model, "layers", []))
    while stack:
        layer = stack.pop()
        found.append(layer)
        stack.extend(getattr(layer, "layers", []))
    return found


def classification_scores(model, X, y) -> dict[str, float]:
    """Macro-averaged F1 score and accuracy of a classifier on ``(X, y)``.

    Macro-F1 averages the F1 scores of the classes with equal weight, so a
    class the model neglects pulls it down even where accuracy looks fine.

    Raises:
        ValueError: ``X`` and ``y`` have bad shapes or lengths, or ``y`` is
            not integer labels.

    Introduced in Chapter 8.
    """
    from sklearn.metrics import accuracy_score, f1_score

    X, y = _as_xy(X, y)
    y_pred = np.argmax(np.asarray(model(X, training=False)), axis=-1)
    return {
        "macro_f1": float(f1_score(y, y_pred, average="macro")),
        "accuracy": float(accuracy_score(y, y_pred)),
    }
