"""Tests of tfcustom.checks: one set of rules for every helper's arguments."""

from __future__ import annotations

import numpy as np
import pytest
from tfcustom.checks import check_fraction, check_int, check_real


def test_integers_numpy_included_bool_excluded():
    assert check_int("n", 3) == 3 and check_int("n", np.int32(4), minimum=0) == 4
    assert type(check_int("n", np.int64(5))) is int
    assert check_int("n", np.uint8(7), minimum=7) == 7
    for bad in (True, 1.0, "1", None, np.float64(2.0), np.bool_(True)):
        with pytest.raises(ValueError, match="n must be an int"):
            check_int("n", bad)
    with pytest.raises(ValueError, match=">= 1"):
        check_int("n", 0, minimum=1)


def test_reals():
    assert check_real("x", 2) == 2.0 and check_real("x", np.float32(0.5)) == 0.5
    for bad in (True, "1", None, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="x must be"):
            check_real("x", bad)
    for bad in (float("nan"), np.float64("nan"), float("-inf")):
        with pytest.raises(ValueError, match="x must be a finite number, got"):
            check_real("x", bad)
    with pytest.raises(ValueError, match="positive"):
        check_real("x", 0.0, positive=True)
    with pytest.raises(ValueError, match=">= 0"):
        check_real("x", -1e-9, minimum=0.0)


def test_fractions():
    assert check_fraction("p", 0.3) == 0.3
    assert check_fraction("p", 0.0, open_interval=False) == 0.0
    for bad in (0.0, 1.0, -0.1, 2):
        with pytest.raises(ValueError, match=r"\(0, 1\)"):
            check_fraction("p", bad)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        check_fraction("p", 1.0, open_interval=False)
