"""Check automatic gradients against finite differences.

Introduced in Chapter 5 (Automatic differentiation), where it verifies the
custom gradients of ``@tf.custom_gradient`` functions.

:func:`check_gradients` compares the gradient that ``tf.GradientTape``
computes with central finite differences, in float64, and raises
:class:`GradientMismatch` listing every entry where the two disagree.
Like ``tape.gradient``, both sides differentiate the *sum* of ``f``'s
outputs, so ``f`` may return a tensor of any shape.

TensorFlow is imported only when a function runs, so that importing this
module does not import it before :func:`tfcustom.setup_chapter` has run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .checks import check_int, check_real

#: Default step of the central differences (good for float64 inputs near 1).
DEFAULT_EPS = 1e-6
#: Default tolerances: an entry matches when |autodiff - numerical| <= atol + rtol * |numerical|.
DEFAULT_RTOL = 1e-5
DEFAULT_ATOL = 1e-6
#: Central differences cost two calls of ``f`` per input entry: keep inputs small.
MAX_ENTRIES = 10_000


class GradientMismatch(AssertionError):
    """Autodiff and numerical gradients differ; the message lists where.

    Introduced in Chapter 5.
    """


@dataclass(frozen=True)
class GradCheckReport:
    """What :func:`check_gradients` compared, one array per input of ``f``.

    Introduced in Chapter 5.
    """

    autodiff: tuple
    numerical: tuple
    max_abs_error: float

    def __str__(self) -> str:
        # The exact error is left out: its last digits vary between CPUs.
        n = sum(a.size for a in self.autodiff)
        return (
            f"gradients match at all {n} entr{'y' if n == 1 else 'ies'} "
            f"of {len(self.autodiff)} input(s)"
        )


def _as_float64(index: int, value) -> np.ndarray:
    """One input of ``f`` as a float64 array, or a clear error."""
    if hasattr(value, "numpy"):  # tf.Tensor, tf.Variable
        value = value.numpy()
    array = np.asarray(value)
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)
    ):
        raise TypeError(f"input {index} must hold real numbers, got dtype {array.dtype}")
    if array.size == 0:
        raise ValueError(f"input {index} is empty: there is no gradient to check")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"input {index} contains inf or nan")
    return array


def _scalar_output(f, arrays) -> float:
    """sum(f(*arrays)) as a Python float, insisting on a finite float64 result."""
    import tensorflow as tf

    out = tf.convert_to_tensor(f(*[tf.constant(a) for a in arrays]))
    if out.dtype != tf.float64:
        raise TypeError(
            f"f returned {out.dtype.name}; it must compute in float64, or finite "
            "differences drown in rounding error (cast inside f, not after)"
        )
    total = float(tf.reduce_sum(out).numpy())
    if not math.isfinite(total):
        raise ValueError(
            f"f is not finite at this point (its output sums to {total}); choose another point"
        )
    return total


def _prepare(f, inputs, eps):
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    if not inputs:
        raise ValueError("give at least one input: check_gradients(f, x, ...)")
    eps = check_real("eps", eps, positive=True)
    arrays = [_as_float64(i, x) for i, x in enumerate(inputs)]
    n = sum(a.size for a in arrays)
    if n > MAX_ENTRIES:
        raise ValueError(
            f"the inputs have {n} entries; finite differences need two "
            f"calls of f per entry, so at most {MAX_ENTRIES} are checked"
        )
    return arrays, eps


def numerical_gradients(f, *inputs, eps: float = DEFAULT_EPS) -> tuple:
    """Central-difference gradients of ``sum(f(*inputs))``, one array per input.

    Each entry is ``(F(x + eps) - F(x - eps)) / (2 * eps)`` with every other
    entry held fixed, computed in float64.

    Raises:
        TypeError: ``f`` is not callable, an input is not real-valued, or
            ``f`` does not return float64.
        ValueError: no inputs, an empty or non-finite input, ``eps`` <= 0,
            more than :data:`MAX_ENTRIES` entries, or ``f`` not finite.

    Introduced in Chapter 5.
    """
    arrays, eps = _prepare(f, inputs, eps)
    _scalar_output(f, arrays)  # validates f's output once, at the point itself
    grads = []
    for i, base in enumerate(arrays):
        grad = np.zeros_like(base)
        for idx in np.ndindex(base.shape):
            shifted = [a.copy() for a in arrays]
            shifted[i][idx] = base[idx] + eps
            plus = _scalar_output(f, shifted)
            shifted[i][idx] = base[idx] - eps
            minus = _scalar_output(f, shifted)
            grad[idx] = (plus - minus) / (2 * eps)
        grads.append(grad)
    return tuple(grads)


def autodiff_gradients(f, *inputs) -> tuple:
    """Gradients of ``sum(f(*inputs))`` from ``tf.GradientTape``, in float64.

    Inputs that ``f`` does not use get zeros (not ``None``).

    Introduced in Chapter 5.
    """
    import tensorflow as tf

    arrays, _ = _prepare(f, inputs, DEFAULT_EPS)
    xs = [tf.constant(a) for a in arrays]
    with tf.GradientTape() as tape:
        for x in xs:
            tape.watch(x)
        out = tf.convert_to_tensor(f(*xs))
        total = tf.reduce_sum(out)
    if out.dtype != tf.float64:
        raise TypeError(f"f returned {out.dtype.name}; it must compute in float64")
    grads = tape.gradient(total, xs, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    return tuple(np.asarray(g.numpy(), dtype=np.float64) for g in grads)


def _where(i: int, idx: tuple) -> str:
    """'input 1 at [0, 2]' for an entry of an array input, 'input 1' for a scalar."""
    return f"input {i} at [{', '.join(map(str, idx))}]" if idx else f"input {i}"


def check_gradients(
    f,
    *inputs,
    eps: float = DEFAULT_EPS,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    max_listed: int = 10,
) -> GradCheckReport:
    """Compare ``tf.GradientTape`` gradients of ``f`` with finite differences.

    Args:
        f: a function of one or more tensors returning a float64 tensor of
            any shape; both sides differentiate the sum of its outputs.
        *inputs: the point at which to check (numbers, arrays or tensors);
            they are converted to float64.
        eps: step of the central differences.
        rtol, atol: an entry matches when
            ``|autodiff - numerical| <= atol + rtol * |numerical|``.
        max_listed: how many mismatching entries the error message lists.

    Returns:
        A :class:`GradCheckReport` (both gradients and the largest error)
        when every entry matches.

    Raises:
        GradientMismatch: some entries differ (or autodiff gives inf/nan);
            the message lists them with both values.
        TypeError, ValueError: bad arguments, as in :func:`numerical_gradients`.

    Example::

        check_gradients(lambda x: x ** 2, [3.0])   # passes: both give 6

    Introduced in Chapter 5.
    """
    rtol = check_real("rtol", rtol, minimum=0.0)
    atol = check_real("atol", atol, minimum=0.0)
    max_listed = check_int("max_listed", max_listed, minimum=1)
    numerical = numerical_gradients(f, *inputs, eps=eps)
    autodiff = autodiff_gradients(f, *inputs)
    bad, total, max_err = [], 0, 0.0
    for i, (a, n) in enumerate(zip(autodiff, numerical, strict=True)):
        total += a.size
        err = np.abs(a - n)
        ok = err <= atol + rtol * np.abs(n)  # False where a is inf or nan
        if np.all(np.isfinite(err)):
            max_err = max(max_err, float(err.max()))
        for row in np.argwhere(~ok):  # rows of indices; () for a scalar input
            idx = tuple(int(j) for j in row)
            bad.append((i, idx, float(a[idx]), float(n[idx])))
    if bad:
        lines = [
            f"  {_where(i, idx)}: autodiff {a:.6g}, numerical {n:.6g}"
            for i, idx, a, n in bad[:max_listed]
        ]
        if len(bad) > max_listed:
            lines.append(f"  ... and {len(bad) - max_listed} more")
        raise GradientMismatch(
            f"autodiff and numerical gradients differ at {len(bad)} of {total} "
            f"entries (rtol={rtol:g}, atol={atol:g}, eps={eps:g}):\n" + "\n".join(lines)
        )
    return GradCheckReport(autodiff=autodiff, numerical=numerical, max_abs_error=max_err)
