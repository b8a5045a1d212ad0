"""Tests for tfcustom.gradcheck (introduced in Chapter 5)."""

import numpy as np
import pytest
from tfcustom import quiet_tensorflow

quiet_tensorflow()

import tensorflow as tf  # noqa: E402
from tfcustom.gradcheck import (  # noqa: E402
    GradCheckReport,
    GradientMismatch,
    autodiff_gradients,
    check_gradients,
    numerical_gradients,
)


def f(w1, w2):
    return 3 * w1**2 + 2 * w1 * w2


@tf.custom_gradient
def product(x, y):
    def grad(upstream):
        return upstream * y, upstream * x

    return x * y, grad


@tf.custom_gradient
def product_swapped(x, y):
    """Deliberately wrong: the two partial derivatives are swapped."""

    def grad(upstream):
        return upstream * x, upstream * y

    return x * y, grad


@tf.custom_gradient
def softplus(z):
    def grad(upstream):
        return upstream * (1 - 1 / (1 + tf.exp(z)))

    return tf.math.log(1 + tf.exp(-tf.abs(z))) + tf.maximum(tf.zeros_like(z), z), grad


# --- correct gradients pass ---------------------------------------------------


def test_numerical_gradients_of_the_chapter_function():
    g1, g2 = numerical_gradients(f, 5.0, 3.0)
    np.testing.assert_allclose([g1, g2], [36.0, 10.0], atol=1e-6)


def test_autodiff_gradients_of_the_chapter_function():
    g1, g2 = autodiff_gradients(f, 5.0, 3.0)
    assert g1.dtype == np.float64
    np.testing.assert_allclose([g1, g2], [36.0, 10.0])


def test_check_passes_and_reports():
    report = check_gradients(f, 5.0, 3.0)
    assert isinstance(report, GradCheckReport)
    assert report.max_abs_error < 1e-6
    assert str(report) == "gradients match at all 2 entries of 2 input(s)"
    assert (
        str(check_gradients(lambda x: x**2, 3.0)) == "gradients match at all 1 entry of 1 input(s)"
    )


def test_correct_custom_gradient_passes():
    report = check_gradients(product, [2.0, 5.0], [3.0, 8.0])
    np.testing.assert_allclose(report.autodiff[0], [3.0, 8.0])
    np.testing.assert_allclose(report.autodiff[1], [2.0, 5.0])


def test_vector_output_is_checked_through_its_sum():
    report = check_gradients(lambda x: tf.stack([x[0] * x[1], tf.sin(x[0])]), [1.0, 2.0])
    np.testing.assert_allclose(report.autodiff[0], [2.0 + np.cos(1.0), 1.0])


def test_matrix_inputs_and_unused_inputs():
    a = np.arange(6.0).reshape(2, 3) / 10
    b = np.ones((3, 2))
    report = check_gradients(lambda a, b, unused: tf.matmul(a, b) ** 2, a, b, [1.0, 2.0])
    np.testing.assert_array_equal(report.autodiff[2], [0.0, 0.0])


def test_tensor_and_integer_inputs_are_accepted():
    check_gradients(lambda x: x**3, tf.constant([1.0, -2.0]))
    check_gradients(lambda x: x**3, [1, 2])


def test_stable_custom_softplus_passes_at_zero_and_far_out():
    check_gradients(softplus, [-30.0, -1.0, 0.0, 1.0, 30.0, 800.0])


# --- wrong gradients are detected ----------------------------------------------


def test_wrong_custom_gradient_is_detected_and_listed():
    with pytest.raises(GradientMismatch) as info:
        check_gradients(product_swapped, [2.0, 5.0], [3.0, 8.0])
    message = str(info.value)
    assert "differ at 4 of 4 entries" in message
    assert "input 0 at [0]: autodiff 2, numerical 3" in message
    assert "input 1 at [1]: autodiff 8, numerical 5" in message


def test_autodiff_wrong_at_a_kink_is_detected():
    def stable_softplus(z):  # autodiff gives 0 at z = 0; the derivative is 0.5
        return tf.math.log(1 + tf.exp(-tf.abs(z))) + tf.maximum(tf.zeros_like(z), z)

    with pytest.raises(GradientMismatch, match=r"input 0 at \[1\]: autodiff 0, numerical 0.5"):
        check_gradients(stable_softplus, [-1.0, 0.0, 1.0])


def test_nan_gradient_is_a_mismatch():
    @tf.custom_gradient
    def square(x):
        return x**2, lambda upstream: upstream * np.nan

    with pytest.raises(GradientMismatch, match="autodiff nan"):
        check_gradients(square, 3.0)


def test_listing_is_capped():
    @tf.custom_gradient
    def double(x):
        return 2 * x, lambda upstream: upstream

    with pytest.raises(GradientMismatch, match=r"\.\.\. and 7 more"):
        check_gradients(double, np.ones(10), max_listed=3)


def test_small_error_within_tolerance_passes_and_fails_when_tightened():
    @tf.custom_gradient
    def almost(x):
        return x**2, lambda upstream: upstream * (2 * x + 1e-7)

    check_gradients(almost, 1.0)
    with pytest.raises(GradientMismatch):
        check_gradients(almost, 1.0, atol=0.0, rtol=1e-9)


# --- bad input ------------------------------------------------------------------


def test_not_callable():
    with pytest.raises(TypeError, match="callable"):
        check_gradients("x ** 2", 1.0)


def test_no_inputs():
    with pytest.raises(ValueError, match="at least one input"):
        check_gradients(lambda: tf.constant(1.0, tf.float64))


@pytest.mark.parametrize("value", ["abc", [1 + 2j], [True, False], None])
def test_non_real_inputs(value):
    with pytest.raises(TypeError, match="real numbers"):
        check_gradients(lambda x: x, value)


def test_empty_input():
    with pytest.raises(ValueError, match="empty"):
        check_gradients(lambda x: x, [])


@pytest.mark.parametrize("value", [np.nan, [1.0, np.inf]])
def test_non_finite_input(value):
    with pytest.raises(ValueError, match="inf or nan"):
        check_gradients(lambda x: x, value)


@pytest.mark.parametrize("eps", [0, -1e-6, float("nan"), float("inf")])
def test_bad_eps(eps):
    with pytest.raises(ValueError, match="eps"):
        check_gradients(lambda x: x, 1.0, eps=eps)


@pytest.mark.parametrize("kwargs", [{"rtol": -1.0}, {"atol": float("nan")}])
def test_bad_tolerances(kwargs):
    with pytest.raises(ValueError, match="tol"):
        check_gradients(lambda x: x, 1.0, **kwargs)


@pytest.mark.parametrize("kwargs", [{"eps": "small"}, {"rtol": None}])
def test_tolerances_must_be_numbers(kwargs):
    with pytest.raises(ValueError, match="must be a number"):
        check_gradients(lambda x: x, 1.0, **kwargs)


def test_bad_max_listed():
    with pytest.raises(ValueError, match="max_listed"):
        check_gradients(lambda x: x, 1.0, max_listed=0)


def test_float32_output_is_refused():
    with pytest.raises(TypeError, match="float32"):
        check_gradients(lambda x: tf.cast(x, tf.float32) ** 2, 3.0)


def test_non_finite_output_is_refused():
    def naive_softplus(z):
        return tf.math.log(tf.exp(z) + 1)

    with pytest.raises(ValueError, match="not finite"):
        check_gradients(naive_softplus, 800.0)


def test_too_many_entries():
    with pytest.raises(ValueError, match="at most"):
        check_gradients(lambda x: x, np.zeros(10_001))
