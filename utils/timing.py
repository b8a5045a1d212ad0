"""Timing helpers: median run time over repeats, a speed table and a bar chart.

Introduced in Chapter 6 (Custom training loops); used by Chapter 7
(tf.function and graphs) and by ``scripts/benchmark.py``.

Nothing here imports TensorFlow: a function to time must itself wait until
its work is done (return a NumPy value or a Python float, not a pending
tensor), so that the clock measures the work and not just its launch.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .checks import check_int, check_real
from .tables import format_table


@dataclass(frozen=True)
class Timing:
    """The wall times of one function, repeated.

    Attributes:
        label: what was timed, e.g. ``"tf.function loop"``.
        seconds: the wall time of each repeat, in seconds.
        items: how many items (samples, calls) one repeat processes.

    Raises:
        ValueError: ``seconds`` is not a sequence, is empty or holds a time
            that is not a finite number >= 0 (NaN included), or ``items`` is
            not an int >= 1.

    Introduced in Chapter 6.
    """

    label: str
    seconds: tuple[float, ...]
    items: int = 1

    def __post_init__(self):
        if isinstance(self.seconds, str | bytes) or not hasattr(self.seconds, "__len__"):
            raise ValueError(f"seconds must be a sequence of times, got {self.seconds!r}")
        if len(self.seconds) == 0:
            raise ValueError(f"seconds must hold at least one time, got {self.seconds!r}")
        for i, s in enumerate(self.seconds):
            check_real(f"seconds[{i}]", s, minimum=0.0)
        check_int("items", self.items, minimum=1)

    @property
    def median(self) -> float:
        """Median wall time of one repeat, in seconds."""
        return statistics.median(self.seconds)

    @property
    def throughput(self) -> float:
        """Items per second, from the median repeat."""
        return self.items / self.median if self.median > 0 else math.inf

    @property
    def seconds_per_item(self) -> float:
        """Seconds per item, from the median repeat."""
        return self.median / self.items


def time_it(
    fn: Callable[[], object],
    *,
    items: int = 1,
    repeats: int = 3,
    warmup: int = 1,
    label: str = "",
    clock: Callable[[], float] = time.perf_counter,
) -> Timing:
    """Call ``fn()`` ``warmup`` times untimed, then ``repeats`` times timed.

    The warm-up calls absorb one-off costs (tracing a ``tf.function``,
    building a model, compiling with XLA), so the timed calls measure the
    steady state. Report :attr:`Timing.median`, which a single slow repeat
    (another process, the garbage collector) does not move.

    Args:
        fn: the work, with no arguments; it must block until the work is done.
        items: how many items one call processes (samples for a training
            epoch, 1 for a single call); used for :attr:`Timing.throughput`.
        repeats: timed calls (at least 1).
        warmup: untimed calls before them (0 or more).
        label: a name for tables and charts.
        clock: the clock, ``time.perf_counter`` unless a test replaces it.

    Returns:
        A :class:`Timing`.

    Raises:
        TypeError: ``fn`` is not callable.
        ValueError: ``repeats``, ``warmup`` or ``items`` is not an int
            (Python or NumPy, not bool), or ``repeats`` < 1, ``warmup`` < 0
            or ``items`` < 1.

    Introduced in Chapter 6.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    repeats = check_int("repeats", repeats, minimum=1)
    warmup = check_int("warmup", warmup, minimum=0)
    items = check_int("items", items, minimum=1)
    for _ in range(warmup):
        fn()
    seconds = []
    for _ in range(repeats):
        start = clock()
        fn()
        seconds.append(clock() - start)
    return Timing(label=label, seconds=tuple(seconds), items=items)


def speed_table(
    timings: Sequence[Timing], *, unit: str = "samples/s", baseline: str | None = None
) -> str:
    """A plain-text table: label, median time, throughput, ratio to a baseline.

    Rendered by :func:`utils.tables.format_table`, the book's one table
    renderer: a header, a rule, then one row per timing.

    Args:
        timings: the rows, in the order to show them.
        unit: the throughput's unit, for the header.
        baseline: the label of the row that the ratios divide by; the first
            row when None.

    Returns:
        The table, one row per line (no trailing newline).

    Raises:
        ValueError: ``timings`` is empty, or ``baseline`` is not one of its labels.

    Introduced in Chapter 6.
    """
    timings = list(timings)
    if not timings:
        raise ValueError("timings is empty")
    labels = [t.label for t in timings]
    base_label = labels[0] if baseline is None else baseline
    if base_label not in labels:
        raise ValueError(f"baseline {base_label!r} is not one of {labels}")
    base = timings[labels.index(base_label)].throughput
    ratio = f"x {base_label}"
    rows = [
        {
            "method": t.label,
            "median": _duration(t.median),
            unit: f"{t.throughput:,.0f}",
            ratio: t.throughput / base,
        }
        for t in timings
    ]
    return format_table(rows, ["method", "median", unit, ratio], digits=2)


def _duration(seconds: float) -> str:
    """A duration with a readable unit: ``12.3 s``, ``45.6 ms``, ``7.8 µs``."""
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.1f} µs"


def plot_throughput(
    timings: Sequence[Timing],
    ax=None,
    *,
    unit: str = "samples/s",
    title: str | None = None,
    log: bool = False,
):
    """A horizontal bar chart of throughput, one bar per timing, values written on the bars.

    Args:
        timings: the bars, top to bottom.
        ax: a matplotlib Axes; a new figure's when None.
        unit: the x-axis label.
        title: the axes title.
        log: a logarithmic x axis (for rows that differ by orders of magnitude).

    Returns:
        The Axes.

    Raises:
        ValueError: ``timings`` is empty.

    Introduced in Chapter 6.
    """
    import matplotlib.pyplot as plt

    from .plotting import PALETTE

    timings = list(timings)
    if not timings:
        raise ValueError("timings is empty")
    if ax is None:
        _, ax = plt.subplots()
    labels = [t.label for t in timings][::-1]
    values = [t.throughput for t in timings][::-1]
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(timings))][::-1]
    bars = ax.barh(labels, values, color=colours)
    ax.bar_label(bars, labels=[f"{v:,.0f}" for v in values], padding=3, fontsize=9)
    if log:
        ax.set_xscale("log")
    ax.set_xlim(right=ax.get_xlim()[1] * (3 if log else 1.2))
    ax.set_xlabel(unit)
    ax.grid(axis="y", visible=False)
    if title:
        ax.set_title(title)
    return ax
