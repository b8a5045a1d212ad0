"""One plotting style for every figure in the book.

Introduced in Chapter 1 (Tensors); :func:`tfcustom.setup_chapter` applies it.
"""

from __future__ import annotations

#: Colours used across chapters, in order (colour-blind safe, Okabe-Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")

BOOK_STYLE = {
    "figure.figsize": (6.4, 3.6),
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "figure.autolayout": True,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.fontsize": 10,
    "legend.frameon": False,
    "lines.linewidth": 2.0,
    "font.size": 10,
    # Figures are stored in the notebooks: no timestamps or random ids in them.
    "svg.hashsalt": "custom-models-book",
    "image.cmap": "viridis",
}


def use_book_style() -> None:
    """Apply the book's matplotlib style (a headless backend if none is set).

    Introduced in Chapter 1.
    """
    import matplotlib
    from cycler import cycler

    if "MPLBACKEND" not in __import__("os").environ and not _in_notebook():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(BOOK_STYLE)
    plt.rcParams["axes.prop_cycle"] = cycler(color=list(PALETTE))


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "ZMQInteractiveShell" in type(shell).__name__
