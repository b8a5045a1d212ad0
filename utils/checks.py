"""Argument checks shared by the helpers, so that they all accept and refuse alike.

Each check returns the value converted to a plain Python type and raises
``ValueError``, with a message that names the argument, for a value of the
wrong kind or out of range alike. NumPy scalars count as numbers;
``bool`` does not, although Python treats it as an ``int``.
"""

from __future__ import annotations

import math
import numbers

__all__ = ["check_fraction", "check_int", "check_real"]


def check_int(name: str, value, *, minimum: int | None = None) -> int:
    """An integer (Python or NumPy, not bool) of at least ``minimum``.

    Raises:
        ValueError: not an integer, or below ``minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an int, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


def check_real(name: str, value, *, positive: bool = False, minimum: float | None = None) -> float:
    """A finite real number (not bool); strictly positive, or at least ``minimum``, if asked.

    Raises:
        ValueError: not a finite real number, or out of range.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if positive and not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return value


def check_fraction(name: str, value, *, open_interval: bool = True) -> float:
    """A number in (0, 1), or in [0, 1) with ``open_interval=False``.

    Raises:
        ValueError: not a number in the interval.
    """
    value = check_real(name, value)
    inside = 0.0 < value < 1.0 if open_interval else 0.0 <= value < 1.0
    if not inside:
        interval = "(0, 1)" if open_interval else "[0, 1)"
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return value
