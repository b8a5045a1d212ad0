"""Statistics for repeated training runs: intervals, paired tests, splits and seeds, power.

Introduced in Chapter 8 (fine-tuning experiments). NumPy and SciPy only.

A training run's score is one draw from a distribution: the seed (initial
weights, batch order, dropout masks) moves it, and so does the data split
it was trained and tested on. The helpers here summarize such draws:

- :func:`summarize`: mean, standard deviation and t confidence interval of
  independent values;
- :func:`paired_difference`: two variants run with the same seeds, compared
  run by run (paired t-test, bootstrap interval);
- :func:`across_splits`: values on a grid of data splits x seeds, where the
  splits are the independent units: the interval comes from the split means,
  and the variance is decomposed into a split part and a seed part;
- :func:`power`: the chance that a design of so many splits and seeds
  detects an effect of a given size, from variances measured in a pilot.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .checks import check_fraction, check_int, check_real

__all__ = [
    "PairedDifference",
    "SplitSummary",
    "Summary",
    "across_splits",
    "holm",
    "paired_difference",
    "power",
    "summarize",
    "variance_components",
]


def _as_array(values, name: str, ndim: int, min_size: int = 2) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be numbers, got {values!r}") from exc
    if array.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {array.shape}")
    if min(array.shape) < min_size:
        raise ValueError(f"{name} needs at least {min_size} values per axis, got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinity")
    return array


def _t_quantile(confidence: float, df: int) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.5 + confidence / 2, df=df))


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
    confidence: float

    @property
    def half_width(self) -> float:
        """Half the width of the confidence interval (the "±" of the mean)."""
        return (self.ci_high - self.ci_low) / 2

    @property
    def excludes_zero(self) -> bool:
        """Whether the interval lies entirely above or below 0."""
        return self.ci_low > 0 or self.ci_high < 0


def summarize(values, confidence: float = 0.95) -> Summary:
    """Mean, standard deviation (``ddof=1``) and a t-based confidence interval.

    The interval is ``mean ± t(1 - α/2, n - 1) · std / √n``: it assumes the
    values are independent draws from one roughly normal distribution.

    Raises:
        TypeError: the values are not numbers.
        ValueError: fewer than 2 values, NaN or infinite values, or a
            confidence outside (0, 1).

    Introduced in Chapter 8.
    """
    confidence = check_fraction("confidence", confidence)
    sample = _as_array(values, "values", ndim=1)
    n, mean = len(sample), float(sample.mean())
    std = float(sample.std(ddof=1))
    if std <= 1e-12 * max(1.0, abs(mean)):  # (nearly) identical values: no spread
        std = 0.0
    half = _t_quantile(confidence, n - 1) * std / math.sqrt(n)
    return Summary(n, mean, std, mean - half, mean + half, confidence)


@dataclass(frozen=True)
class PairedDifference(Summary):
    """The difference ``after - before`` of paired runs, with its uncertainty.

    The :class:`Summary` fields describe the differences; ``p_value`` is the
    two-sided paired t-test, ``boot_low``/``boot_high`` a percentile
    bootstrap interval of the mean difference, ``wins`` how many pairs
    improved.

    Introduced in Chapter 8.
    """

    p_value: float
    boot_low: float
    boot_high: float
    wins: int


def paired_difference(
    after, before, *, confidence: float = 0.95, n_boot: int = 10_000, seed: int = 0
) -> PairedDifference:
    """Compare two variants run with the same seeds, run by run.

    Works on the differences ``d_i = after_i - before_i``: their
    :func:`summarize`, the paired t-test and a percentile bootstrap interval
    (``n_boot`` resamples drawn with ``numpy.random.default_rng(seed)``).
    Pairing removes the part of the run-to-run spread that both variants
    share, which makes the comparison far more sensitive than comparing two
    independent means.

    Raises:
        TypeError: the values are not numbers.
        ValueError: fewer than 2 pairs, samples of different lengths, NaN
            or infinity, a bad confidence, or ``n_boot < 100``.

    Introduced in Chapter 8.
    """
    after = _as_array(after, "after", ndim=1)
    before = _as_array(before, "before", ndim=1)
    if after.shape != before.shape:
        raise ValueError(
            f"paired samples need the same length, got {len(after)} and {len(before)}"
        )
    n_boot = check_int("n_boot", n_boot, minimum=100)
    diffs = after - before
    base = summarize(diffs, confidence)
    if base.std == 0.0:
        p_value = 1.0 if base.mean == 0.0 else 0.0
    else:
        from scipy import stats

        t = base.mean / (base.std / math.sqrt(base.n))
        p_value = float(2 * stats.t.sf(abs(t), df=base.n - 1))
    rng = np.random.default_rng(seed)
    boot_means = diffs[rng.integers(0, base.n, size=(n_boot, base.n))].mean(axis=1)
    alpha = 1.0 - base.confidence
    boot_low, boot_high = np.quantile(boot_means, [alpha / 2, 1 - alpha / 2])
    return PairedDifference(
        **vars(base),
        p_value=p_value,
        boot_low=float(boot_low),
        boot_high=float(boot_high),
        wins=int((diffs > 0).sum()),
    )


def variance_components(values) -> tuple[float, float]:
    """The split and seed parts of the variance of a ``(splits, seeds)`` grid.

    A one-way random-effects analysis of variance: the seed part is the mean
    within-split variance, and the split part is what the variance of the
    split means holds beyond the seed noise they carry,
    ``(MS_between - MS_within) / n_seeds`` (0 when that is negative).
    Returns ``(split_variance, seed_variance)``.

    Raises:
        TypeError, ValueError: as :func:`across_splits`.

    Introduced in Chapter 8.
    """
    grid = _as_array(values, "values", ndim=2)
    n_seeds = grid.shape[1]
    within = float(grid.var(axis=1, ddof=1).mean())
    between = float(n_seeds * grid.mean(axis=1).var(ddof=1))
    return max(0.0, (between - within) / n_seeds), within


@dataclass(frozen=True)
class SplitSummary:
    """A quantity measured on every (split, seed): its mean, interval and variance parts.

    ``ci_low``/``ci_high``: t interval from the split means (the splits are the
    independent units, ``n_splits - 1`` degrees of freedom), and ``p_value``
    its two-sided t-test of a zero mean; ``new_split_low``/``new_split_high``:
    a prediction interval for what a new split will show, the mean of
    ``n_seeds`` runs on it: ``mean ± t · s · sqrt(1 + 1 / n_splits)``, where
    ``s`` is the standard deviation of the split means and ``t`` the quantile
    with ``n_splits - 1`` degrees of freedom. The split means are independent
    draws of that quantity, so under normality its coverage is exact for
    every split and seed variance (nothing is estimated as zero and cut off),
    and it covers the new split's *true* value (its mean over endless seeds)
    at least as often; ``split_sd`` and ``seed_sd``: square
    roots of :func:`variance_components`; ``split_p``: the F-test of "every
    split has the same true value" (one-way analysis of variance);
    ``split_means``: one mean per split (they include seed noise);
    ``same_sign``: how many split means have the sign of the overall mean.

    Introduced in Chapter 8.
    """

    n_splits: int
    n_seeds: int
    mean: float
    ci_low: float
    ci_high: float
    confidence: float
    split_sd: float
    seed_sd: float
    split_means: tuple[float, ...]
    same_sign: int
    p_value: float
    new_split_low: float
    new_split_high: float
    split_p: float

    @property
    def excludes_zero(self) -> bool:
        """Whether the interval lies entirely above or below 0."""
        return self.ci_low > 0 or self.ci_high < 0

    @property
    def every_split_agrees(self) -> bool:
        """Whether every split's mean has the sign of the overall mean."""
        return self.same_sign == self.n_splits

    @property
    def holds_on_a_new_split(self) -> bool:
        """Whether the prediction interval for a new split's mean excludes 0."""
        return self.new_split_low > 0 or self.new_split_high < 0


def across_splits(values, confidence: float = 0.95) -> SplitSummary:
    """Summarize a ``(splits, seeds)`` grid, with the splits as the independent units.

    Runs on the same split share its labelled images, its test images and its
    pretrained base, so they are not independent of each other; averaging
    over the seeds first and taking the interval over the split means is the
    honest interval when the question is about other splits too.

    Raises:
        TypeError: the values are not numbers.
        ValueError: not 2-D, fewer than 2 splits or seeds, NaN or infinity,
            or a bad confidence.

    Introduced in Chapter 8.
    """
    from scipy import stats

    grid = _as_array(values, "values", ndim=2)
    n_splits, n_seeds = grid.shape
    split_means = grid.mean(axis=1)
    overall = summarize(split_means, confidence)
    split_var, seed_var = variance_components(grid)
    sign = np.sign(overall.mean)
    se = overall.std / math.sqrt(n_splits)
    if se == 0.0:
        p_value = 1.0 if overall.mean == 0.0 else 0.0
    else:
        p_value = float(2 * stats.t.sf(abs(overall.mean) / se, df=n_splits - 1))
    # A new split's mean of n_seeds runs varies as the split means do (s),
    # and the mean it is compared with carries s / sqrt(n_splits) of its own.
    spread = _t_quantile(overall.confidence, n_splits - 1) * se * math.sqrt(n_splits + 1)
    within = seed_var  # mean within-split variance
    between = n_seeds * split_means.var(ddof=1)
    if within == 0.0:
        split_p = 0.0 if between > 0 else 1.0
    else:
        df = (n_splits - 1, n_splits * (n_seeds - 1))
        split_p = float(stats.f.sf(between / within, *df))
    return SplitSummary(
        n_splits=grid.shape[0],
        n_seeds=grid.shape[1],
        mean=float(grid.mean()),
        ci_low=overall.ci_low,
        ci_high=overall.ci_high,
        confidence=overall.confidence,
        split_sd=math.sqrt(split_var),
        seed_sd=math.sqrt(seed_var),
        split_means=tuple(float(m) for m in split_means),
        same_sign=int((np.sign(split_means) == sign).sum()) if sign != 0 else 0,
        p_value=p_value,
        new_split_low=overall.mean - spread,
        new_split_high=overall.mean + spread,
        split_p=split_p,
    )


def holm(p_values: dict) -> dict:
    """Holm's step-down adjustment of a family of p-values: ``{name: adjusted p}``.

    Controls the chance of any false "effect" among the family at the level
    used, without assuming the tests are independent; less conservative than
    Bonferroni (multiplying every p-value by their number).

    Raises:
        ValueError: ``p_values`` is not a non-empty mapping, or one of its
            values is not a number in [0, 1] (NaN included).

    Introduced in Chapter 8.
    """
    if not isinstance(p_values, Mapping) or not p_values:
        raise ValueError(f"p_values must be a non-empty dict {{name: p}}, got {p_values!r}")
    checked = {}
    for name, p in p_values.items():
        p = check_real(f"p_values[{name!r}]", p)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p_values[{name!r}] must be a p-value in [0, 1], got {p!r}")
        checked[name] = p
    names = sorted(checked, key=lambda name: checked[name])
    adjusted, running = {}, 0.0
    for rank, name in enumerate(names):
        running = max(running, min(1.0, (len(names) - rank) * checked[name]))
        adjusted[name] = running
    return {name: adjusted[name] for name in checked}


def power(
    effect: float,
    split_sd: float,
    seed_sd: float,
    n_splits: int,
    n_seeds: int,
    alpha: float = 0.05,
) -> float:
    """The chance that :func:`across_splits` finds an effect of size ``effect``.

    The split means of a paired difference have standard deviation
    ``sqrt(split_sd² + seed_sd² / n_seeds)``; their t-test with
    ``n_splits - 1`` degrees of freedom rejects "no effect" at level
    ``alpha`` (two-sided) with the probability returned, computed from the
    noncentral t distribution.

    Raises:
        ValueError: ``effect`` is not a finite number (NaN included), a
            spread is not a finite number >= 0, fewer than 2 splits or 1
            seed, or ``alpha`` outside (0, 1).

    Introduced in Chapter 8.
    """
    from scipy import stats

    effect = check_real("effect", effect)
    split_sd = check_real("split_sd", split_sd, minimum=0.0)
    seed_sd = check_real("seed_sd", seed_sd, minimum=0.0)
    n_splits = check_int("n_splits", n_splits, minimum=2)
    n_seeds = check_int("n_seeds", n_seeds, minimum=1)
    alpha = check_fraction("alpha", alpha)
    sd_of_split_means = math.sqrt(split_sd**2 + seed_sd**2 / n_seeds)
    if sd_of_split_means == 0:
        return 1.0 if effect != 0 else alpha
    df = n_splits - 1
    critical = stats.t.ppf(1 - alpha / 2, df)
    shift = abs(effect) / (sd_of_split_means / math.sqrt(n_splits))
    upper = stats.nct.sf(critical, df, shift)
    lower = stats.nct.cdf(-critical, df, shift)  # NaN far in the tail, where it is 0
    return float(min(1.0, upper + (lower if np.isfinite(lower) else 0.0)))


@dataclass(frozen=True)
class Equivalence:
    """The result of :func:`equivalence`: is the true mean within ±``margin``?

    ``p_value`` is the larger of the two one-sided p-values; ``low`` and
    ``high`` bound the ``1 - 2 alpha`` interval of the mean (90% for the
    usual 5%), which lies inside ±``margin`` exactly when both one-sided
    tests reject.

    Introduced in Chapter 8.
    """

    margin: float
    alpha: float
    mean: float
    low: float
    high: float
    p_value: float

    @property
    def equivalent(self) -> bool:
        """Whether both one-sided tests reject: the mean is within ±margin."""
        return self.p_value < self.alpha


def equivalence(values, margin: float, alpha: float = 0.05) -> Equivalence:
    """Two one-sided t-tests (TOST) that a ``(splits, seeds)`` grid's true mean is within ±margin.

    As in :func:`across_splits`, the splits are the units: the test runs on
    the split means, with ``n_splits - 1`` degrees of freedom. "No
    significant difference" says only that a test failed to find one; an
    equivalence test says that the data rule out every effect as large as
    ``margin``, at level ``alpha``.

    Raises:
        TypeError, ValueError: as :func:`across_splits`; a ``margin`` that
            is not a positive number, or ``alpha`` outside (0, 1).

    Introduced in Chapter 8.
    """
    from scipy import stats

    margin = check_real("margin", margin, positive=True)
    alpha = check_fraction("alpha", alpha)
    means = _as_array(values, "values", ndim=2).mean(axis=1)
    n = len(means)
    mean, se = float(means.mean()), float(means.std(ddof=1) / math.sqrt(n))
    if se == 0.0:
        p_value = 0.0 if abs(mean) < margin else 1.0
    else:
        above_low = stats.t.sf((mean + margin) / se, n - 1)  # H0: mean <= -margin
        below_high = stats.t.cdf((mean - margin) / se, n - 1)  # H0: mean >= +margin
        p_value = float(max(above_low, below_high))
    half = float(stats.t.ppf(1 - alpha, n - 1)) * se
    return Equivalence(margin, alpha, mean, mean - half, mean + half, p_value)


def significant_share(
    values, n_splits: int, *, draws: int = 1000, alpha: float = 0.05, seed: int = 0
) -> float:
    """How often a random subset of ``n_splits`` splits finds the grid's mean significant.

    ``draws`` subsets of the rows of a ``(splits, seeds)`` grid, each drawn
    without replacement (a NumPy generator seeded with ``seed``); for each,
    the t-test of :func:`across_splits` on its split means at level
    ``alpha``. The share of subsets that reject says how much a conclusion
    owes to the number of splits: an experiment half the size would have
    reached it that often.

    Raises:
        TypeError, ValueError: as :func:`across_splits`; ``n_splits`` not an
            int from 2 to the grid's splits, ``draws`` not an int >= 1.

    Introduced in Chapter 8.
    """
    from scipy import stats

    means = _as_array(values, "values", ndim=2).mean(axis=1)
    n_splits = check_int("n_splits", n_splits, minimum=2)
    if n_splits > len(means):
        raise ValueError(f"n_splits must be at most {len(means)}, got {n_splits}")
    draws = check_int("draws", draws, minimum=1)
    alpha = check_fraction("alpha", alpha)
    rng = np.random.default_rng(seed)
    subsets = np.stack([rng.choice(len(means), n_splits, replace=False) for _ in range(draws)])
    chosen = means[subsets]
    se = chosen.std(axis=1, ddof=1) / math.sqrt(n_splits)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.abs(chosen.mean(axis=1)) / se
    p = 2 * stats.t.sf(t, n_splits - 1)
    return float(np.mean(np.nan_to_num(p, nan=1.0) < alpha))
