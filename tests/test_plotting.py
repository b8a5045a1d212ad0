"""Tests of tfcustom.plotting: the book's figure style."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from tfcustom.plotting import BOOK_STYLE, PALETTE, use_book_style


def test_book_style_is_applied():
    plt.rcdefaults()
    assert plt.rcParams["axes.grid"] is False
    use_book_style()
    for key, value in BOOK_STYLE.items():
        current = plt.rcParams[key]
        assert (list(current) if isinstance(current, (list, tuple)) else current) == (
            list(value) if isinstance(value, tuple) else value
        ), key
    colours = [c["color"] for c in plt.rcParams["axes.prop_cycle"]]
    assert colours == list(PALETTE)
    plt.rcdefaults()


def test_figures_are_reproducible():
    """The same plot saved twice gives the same bytes (no timestamps, no random ids)."""
    import io

    use_book_style()

    def render() -> bytes:
        fig, ax = plt.subplots()
        ax.plot([0, 1, 2], [1, 0, 1], label="a")
        ax.legend()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None})
        plt.close(fig)
        return buffer.getvalue()

    assert render() == render()
    plt.rcdefaults()
