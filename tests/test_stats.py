"""Tests of tfcustom.stats: intervals, paired tests, splits and seeds, power."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from tfcustom.stats import (
    across_splits,
    equivalence,
    holm,
    paired_difference,
    power,
    significant_share,
    summarize,
    variance_components,
)


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
    assert s.excludes_zero and not summarize([-1.0, 1.0]).excludes_zero


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
    assert d.ci_low > 0 and d.excludes_zero
    assert 0.01 <= d.boot_low <= d.mean <= d.boot_high <= 0.05
    assert d == paired_difference(after, before)  # the bootstrap is seeded
    plain = summarize(after - before)  # the interval is summarize's, on the differences
    assert (d.ci_low, d.ci_high) == (plain.ci_low, plain.ci_high)
    reverse = paired_difference(before, after)
    assert reverse.mean == pytest.approx(-0.03) and reverse.excludes_zero and reverse.wins == 0


def test_pairing_sees_what_unpaired_intervals_miss():
    """A small, consistent gain hidden in a large run-to-run spread."""
    before = np.array([0.40, 0.70, 0.55, 0.62, 0.48])
    after = before + np.array([0.011, 0.009, 0.010, 0.012, 0.008])
    a, b = summarize(after), summarize(before)
    assert a.ci_low < b.ci_high  # the two intervals overlap widely...
    assert paired_difference(after, before).excludes_zero  # ...the pairs do not


def test_paired_difference_handles_no_spread():
    d = paired_difference([0.6, 0.7, 0.8], [0.5, 0.6, 0.7])
    assert (d.std, d.ci_low, d.ci_high, d.p_value) == (0.0, d.mean, d.mean, 0.0)
    assert d.mean == pytest.approx(0.1) and d.excludes_zero
    same = paired_difference([0.5, 0.6], [0.5, 0.6])
    assert (same.mean, same.p_value, same.excludes_zero) == (0.0, 1.0, False)


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


def grid(split_effects, seed_noise):
    """values[s, k] = split_effects[s] + seed_noise[s, k]."""
    return np.asarray(split_effects)[:, None] + np.asarray(seed_noise)


def test_variance_components_recover_known_parts():
    rng = np.random.default_rng(0)
    values = grid(rng.normal(0, 2.0, 400), rng.normal(0, 0.5, (400, 30)))
    split_var, seed_var = variance_components(values)
    assert split_var == pytest.approx(4.0, rel=0.2)
    assert seed_var == pytest.approx(0.25, rel=0.05)
    # No split effect at all: the split part is (close to) 0, never negative.
    flat = rng.normal(0, 1.0, (50, 4))
    assert 0.0 <= variance_components(flat)[0] < 0.1


def test_across_splits_uses_the_splits_as_units():
    noise = np.array([[0.01, -0.01, 0.0], [0.02, 0.0, -0.02], [0.0, 0.01, -0.01]])
    values = grid([0.10, 0.30, 0.20], noise)
    s = across_splits(values)
    means = values.mean(axis=1)
    assert s.split_means == pytest.approx(tuple(means))
    expected = summarize(means)
    assert (s.mean, s.ci_low, s.ci_high) == pytest.approx(
        (expected.mean, expected.ci_low, expected.ci_high)
    )
    assert (s.n_splits, s.n_seeds, s.same_sign) == (3, 3, 3) and s.every_split_agrees
    assert s.split_sd == pytest.approx(np.sqrt(variance_components(values)[0]))
    assert s.seed_sd == pytest.approx(np.sqrt(variance_components(values)[1]))
    # The seeds alone would give a far narrower, overconfident interval.
    assert summarize(values.ravel()).half_width < s.ci_high - s.mean
    mixed = across_splits(grid([0.1, -0.05, 0.2], noise))
    assert mixed.same_sign == 2 and not mixed.every_split_agrees


@pytest.mark.parametrize(
    "bad", [[0.1, 0.2], [[0.1, 0.2]], [[0.1], [0.2]], [["a", "b"], ["c", "d"]]]
)
def test_across_splits_rejects_bad_grids(bad):
    with pytest.raises((TypeError, ValueError)):
        across_splits(bad)


def test_power_against_simulation():
    """The noncentral-t power matches the rejection rate of simulated experiments."""
    rng = np.random.default_rng(1)
    effect, split_sd, seed_sd, n_splits, n_seeds = 0.02, 0.015, 0.03, 6, 5
    rejections = 0
    for _ in range(2000):
        values = grid(effect + rng.normal(0, split_sd, n_splits),
                      rng.normal(0, seed_sd, (n_splits, n_seeds)))  # fmt: skip
        rejections += across_splits(values).excludes_zero
    predicted = power(effect, split_sd, seed_sd, n_splits, n_seeds)
    assert predicted == pytest.approx(rejections / 2000, abs=0.03)
    assert power(0.0, split_sd, seed_sd, n_splits, n_seeds) == pytest.approx(0.05, abs=0.001)
    assert power(effect, split_sd, seed_sd, 12, n_seeds) > predicted
    assert power(effect, split_sd, seed_sd, n_splits, 50) > predicted
    assert power(0.5, 0.0, 0.014, 8, 5) == 1.0  # far in the tail: no NaN


@pytest.mark.parametrize("kwargs", [{"n_splits": 1}, {"n_seeds": 0}, {"alpha": 1.5},
                                    {"split_sd": -0.1}])  # fmt: skip
def test_power_rejects_bad_designs(kwargs):
    args = {"effect": 0.01, "split_sd": 0.01, "seed_sd": 0.01, "n_splits": 5, "n_seeds": 5}
    with pytest.raises(ValueError):
        power(**{**args, **kwargs})


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"effect": float("nan")}, "effect must be a finite number, got nan"),
        ({"effect": float("inf")}, "effect must be a finite number"),
        ({"split_sd": float("nan")}, "split_sd must be a finite number, got nan"),
        ({"seed_sd": float("nan")}, "seed_sd must be a finite number, got nan"),
        ({"seed_sd": -0.01}, "seed_sd must be >= 0"),
        ({"effect": "0.03"}, "effect must be a number"),
    ],
)
def test_power_refuses_what_it_cannot_answer(kwargs, message):
    """NaN used to give a power of 1.0: certain detection of nothing."""
    args = {"effect": 0.01, "split_sd": 0.01, "seed_sd": 0.01, "n_splits": 5, "n_seeds": 5}
    with pytest.raises(ValueError, match=message):
        power(**{**args, **kwargs})


def test_power_accepts_numpy_numbers():
    plain = power(0.02, 0.01, 0.02, 8, 3)
    assert power(np.float64(0.02), np.float32(0.01), 0.02, np.int64(8), np.int32(3)) == (
        pytest.approx(plain)
    )


def test_power_is_symmetric_in_the_sign_of_the_effect():
    assert power(-0.02, 0.01, 0.02, 8, 3) == pytest.approx(power(0.02, 0.01, 0.02, 8, 3))


def test_a_zero_mean_agrees_with_no_split():
    s = across_splits([[0.1, -0.1], [-0.1, 0.1], [0.0, 0.0]])
    assert s.mean == 0.0 and s.same_sign == 0 and not s.every_split_agrees


def test_the_p_value_and_the_prediction_interval():
    rng = np.random.default_rng(3)
    values = grid(0.05 + rng.normal(0, 0.03, 10), rng.normal(0, 0.02, (10, 3)))
    s = across_splits(values)
    means = values.mean(axis=1)
    assert s.p_value == pytest.approx(stats.ttest_1samp(means, 0.0).pvalue)
    # A new split varies more than the mean does.
    assert s.new_split_low < s.ci_low < s.mean < s.ci_high < s.new_split_high
    t = stats.t.ppf(0.975, 9)
    half = t * means.std(ddof=1) * np.sqrt(1 + 1 / 10)
    assert (s.new_split_low, s.new_split_high) == pytest.approx((s.mean - half, s.mean + half))


def _coverage(split_sd, seed_sd, n_splits, n_seeds, trials, rng):
    """How often the new-split interval covers a new split's mean and its true value.

    Also returns the coverage of the interval chapter 8 used before, which
    added the split variance *estimate*, cut off at zero, to the mean's
    uncertainty: ``mean ± t · sqrt(split_var + se²)``.
    """
    hits_mean = hits_true = hits_old = 0
    t = stats.t.ppf(0.975, n_splits - 1)
    for _ in range(trials):
        values = grid(
            rng.normal(0, split_sd, n_splits), rng.normal(0, seed_sd, (n_splits, n_seeds))
        )
        s = across_splits(values)
        true_new = rng.normal(0, split_sd)
        mean_new = true_new + rng.normal(0, seed_sd, n_seeds).mean()
        hits_mean += s.new_split_low <= mean_new <= s.new_split_high
        hits_true += s.new_split_low <= true_new <= s.new_split_high
        se = np.std(values.mean(axis=1), ddof=1) / np.sqrt(n_splits)
        old = t * np.sqrt(s.split_sd**2 + se**2)
        hits_old += s.mean - old <= true_new <= s.mean + old
    return hits_mean / trials, hits_true / trials, hits_old / trials


@pytest.mark.parametrize(
    "split_sd, seed_sd, n_splits",
    [
        (0.0, 0.017, 20),  # no split-to-split differences at all
        (0.003, 0.017, 20),  # chapter 8's "+ L2" step
        (0.024, 0.022, 20),  # chapter 8's "+ unfreeze" step
        (0.035, 0.026, 20),  # chapter 8's "+ BN" step
        (0.01, 0.02, 4),  # the pilot's four splits
    ],
)
def test_the_new_split_interval_has_its_coverage(split_sd, seed_sd, n_splits):
    # 2,000 simulated experiments of (n_splits, 3 seeds) with normal split
    # and seed effects: the interval covers a new split's mean of 3 runs
    # 95% of the time (Monte Carlo error 0.005), and its true value at
    # least as often. The old interval fell short where the split part is
    # small next to the seed part, as for "+ L2".
    rng = np.random.default_rng(2026)
    mean_cover, true_cover, old_cover = _coverage(split_sd, seed_sd, n_splits, 3, 2000, rng)
    assert 0.935 <= mean_cover <= 0.965, mean_cover
    assert true_cover >= 0.94, true_cover
    if 0 < split_sd < seed_sd / 2:
        assert old_cover < 0.92, old_cover


def test_the_split_heterogeneity_test():
    rng = np.random.default_rng(4)
    same = across_splits(grid(np.zeros(12), rng.normal(0, 0.02, (12, 3))))
    different = across_splits(grid(rng.normal(0, 0.05, 12), rng.normal(0, 0.02, (12, 3))))
    assert same.split_p > 0.05 > different.split_p
    values = grid(rng.normal(0, 0.05, 6), rng.normal(0, 0.02, (6, 3)))
    assert across_splits(values).split_p == pytest.approx(stats.f_oneway(*values).pvalue)


def test_holm_adjusts_a_family_step_down():
    adjusted = holm({"a": 0.01, "b": 0.04, "c": 0.03})
    assert adjusted == pytest.approx({"a": 0.03, "b": 0.06, "c": 0.06})
    assert holm({"only": 0.2}) == {"only": 0.2}
    assert holm({"x": 0.6, "y": 0.9}) == {"x": 1.0, "y": 1.0}


@pytest.mark.parametrize(
    "p_values, message",
    [
        ({"a": 0.01, "b": float("nan")}, r"p_values\['b'\] must be a finite number, got nan"),
        ({"a": -0.01}, r"p_values\['a'\] must be a p-value in \[0, 1\], got -0.01"),
        ({"a": 0.01, "b": 1.5}, r"p_values\['b'\] must be a p-value in \[0, 1\], got 1.5"),
        ({"a": "0.01"}, r"p_values\['a'\] must be a number"),
        ({}, "p_values must be a non-empty dict"),
        ([0.01, 0.02], "p_values must be a non-empty dict"),
    ],
)
def test_holm_refuses_what_is_not_a_family_of_p_values(p_values, message):
    """A NaN p-value used to come back as 1.0, and p < 0 or p > 1 passed."""
    with pytest.raises(ValueError, match=message):
        holm(p_values)


def test_holm_keeps_the_order_and_accepts_the_bounds():
    adjusted = holm({"z": 1.0, "a": 0.0, "m": np.float64(0.02)})
    assert list(adjusted) == ["z", "a", "m"]
    assert adjusted == pytest.approx({"z": 1.0, "a": 0.0, "m": 0.04})


def test_equivalence_is_two_one_sided_t_tests_on_the_split_means():
    rng = np.random.default_rng(5)
    values = grid(0.004 + rng.normal(0, 0.01, 20), rng.normal(0, 0.02, (20, 3)))
    means = values.mean(axis=1)
    e = equivalence(values, 0.03)
    above = stats.ttest_1samp(means, -0.03, alternative="greater").pvalue
    below = stats.ttest_1samp(means, 0.03, alternative="less").pvalue
    assert e.p_value == pytest.approx(max(above, below))
    assert e.equivalent and -0.03 < e.low < e.mean < e.high < 0.03
    # The duality: equivalent exactly when the 90% interval lies inside the margins.
    for margin in np.linspace(0.002, 0.03, 29):
        e = equivalence(values, margin)
        assert e.equivalent == (-margin < e.low and e.high < margin), margin
    # A mean beyond the margin is not shown equivalent, however significant.
    far = equivalence(grid(0.04 + rng.normal(0, 0.01, 20), np.zeros((20, 3))), 0.03)
    assert not far.equivalent


def test_equivalence_refuses_a_bad_margin():
    with pytest.raises(ValueError, match="margin must be a positive number"):
        equivalence([[0.1, 0.2], [0.3, 0.1]], 0.0)


def test_significant_share_of_subsets():
    rng = np.random.default_rng(6)
    strong = grid(0.1 + rng.normal(0, 0.01, 20), rng.normal(0, 0.01, (20, 3)))
    assert significant_share(strong, 5) == 1.0
    # With no effect, a subset rejects about as often as the level says.
    null = rng.normal(0, 1, (400, 3))
    share = significant_share(null, 10, draws=4000, seed=1)
    assert 0.03 < share < 0.07, share
    # The whole grid as the only subset: the t-test of across_splits.
    values = grid(0.01 + rng.normal(0, 0.02, 8), rng.normal(0, 0.02, (8, 3)))
    expected = float(across_splits(values).p_value < 0.05)
    assert significant_share(values, 8, draws=3) == expected
    with pytest.raises(ValueError, match="n_splits must be at most 8"):
        significant_share(values, 9)
