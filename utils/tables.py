"""Plain-text tables of dict rows, for outputs that read well on the page and in tests.

One renderer for every table the chapters print (speed tables, experiment
results), so that they all look alike.

Introduced in Chapter 2 (Custom losses, functions and metrics); used by
Chapters 5 (autodiff), 8 (fine-tuning experiments), 9 (training beyond
the basics) and 10 (where the time goes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .checks import check_int

__all__ = ["format_table"]


def format_table(
    rows: Sequence[Mapping],
    columns: Sequence[str] | None = None,
    *,
    digits: int = 3,
    headers: Mapping[str, str] | None = None,
) -> str:
    """A plain-text table of dict rows, floats rounded to ``digits`` decimals.

    Args:
        rows: the rows; every row must have every column.
        columns: which columns, in order (default: the keys of the first row).
        digits: decimals for floats (ints and strings are printed as they are).
        headers: optional display names, ``{column: header}``.

    Raises:
        ValueError: no rows, a missing column or a negative ``digits``.

    Introduced in Chapter 2; also renders the speed tables of :mod:`tfcustom.timing`.
    """
    rows = list(rows)
    if not rows:
        raise ValueError("no rows to format")
    digits = check_int("digits", digits, minimum=0)
    columns = list(rows[0]) if columns is None else list(columns)
    headers = dict(headers or {})

    def cell(value) -> str:
        if isinstance(value, (float, np.floating)):
            text = f"{value:.{digits}f}"
            return text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0.000"
        return str(value)

    body = []
    for i, row in enumerate(rows):
        missing = [c for c in columns if c not in row]
        if missing:
            raise ValueError(f"row {i} has no column(s) {missing}")
        body.append([cell(row[c]) for c in columns])
    head = [headers.get(c, c) for c in columns]
    widths = [max(len(head[j]), *(len(r[j]) for r in body)) for j in range(len(columns))]

    def line(cells):
        # First column (names) left-aligned, numbers right-aligned.
        return "  ".join(
            c.ljust(w) if j == 0 else c.rjust(w)
            for j, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(head), line(["-" * w for w in widths])] + [line(r) for r in body])
