"""Tests of tfcustom.tables."""

from __future__ import annotations

import pytest
from tfcustom.tables import format_table


def test_format_table_rounds_and_aligns():
    text = format_table(
        [
            {"variant": "baseline", "f1": 0.51849, "n": 10},
            {"variant": "+ L2", "f1": -0.00001, "n": 10},
        ],
        headers={"f1": "macro-F1"},
    )
    lines = text.splitlines()
    assert lines[0].split() == ["variant", "macro-F1", "n"]
    assert set(lines[1]) <= {"-", " "}
    assert lines[2].split() == ["baseline", "0.518", "10"]
    assert lines[3].split() == ["+", "L2", "0.000", "10"]  # never "-0.000"
    assert len({len(line) for line in lines}) == 1  # aligned columns
    assert format_table([{"x": 1.23456}], digits=1).splitlines()[2] == "1.2"


def test_format_table_rejects_bad_input():
    with pytest.raises(ValueError, match="no rows"):
        format_table([])
    with pytest.raises(ValueError, match="no column"):
        format_table([{"a": 1}, {"b": 2}])
    with pytest.raises(ValueError, match="digits"):
        format_table([{"a": 1.0}], digits=-1)


# --------------------------------------------------------------------------- statistics
