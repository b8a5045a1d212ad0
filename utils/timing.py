"""The book's one timing method: passes long enough to resolve, their median and their spread.

Introduced in Chapter 6 (Custom training loops); used by Chapters 7
(tf.function and graphs), 9 (Training beyond the basics) and 10 (Where the
time goes), by :mod:`tfcustom.workloads` and by
``booktools/benchmark.py``.

Every speed table of the book is measured the same way, by :func:`time_it`:

1. a warm-up call, untimed (tracing a ``tf.function``, XLA compilation,
   building an optimizer happen then);
2. a calibration: the work is called until one call's cost is known, and the
   number of calls that makes one *pass* last at least :data:`PASS_SECONDS`
   is chosen, so that a pass dwarfs the timer's resolution and the
   scheduler's millisecond interruptions;
3. :data:`PASSES` timed passes of that many calls each.

A :class:`Timing` keeps every pass. Tables show the median pass and the range
from the slowest to the fastest pass; :func:`verdict` calls one row faster
than another only when *every* pass of it beat every pass of the other, and
:func:`resolved_ratio` gives the speed-up that every pair of passes supports.
Prose and asserts rest on those, never on the ratio of two medians alone.

Nothing here imports TensorFlow at module level: a function to time must
itself wait until its work is done (return a NumPy value or a Python float,
not a pending tensor), so that the clock measures the work and not its
launch.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .checks import check_int, check_real
from .tables import format_table

PASS_SECONDS = 0.5
"""The shortest a timed pass may be, in seconds (see :func:`time_it`)."""

PASSES = 5
"""Timed passes per row of every speed table."""


@dataclass(frozen=True)
class Timing:
    """The wall times of the timed passes of one piece of work.

    Attributes:
        label: what was timed, e.g. ``"tf.function loop"``.
        seconds: the wall time of each pass, in seconds.
        items: how many items (samples, calls) one pass processes.

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
        """Median wall time of one pass, in seconds."""
        return statistics.median(self.seconds)

    @property
    def throughput(self) -> float:
        """Items per second, from the median pass."""
        return _rate(self.items, self.median)

    @property
    def fastest(self) -> float:
        """Items per second in the fastest pass."""
        return _rate(self.items, min(self.seconds))

    @property
    def slowest(self) -> float:
        """Items per second in the slowest pass."""
        return _rate(self.items, max(self.seconds))

    @property
    def seconds_per_item(self) -> float:
        """Seconds per item, from the median pass."""
        return self.median / self.items


def _rate(items: int, seconds: float) -> float:
    return items / seconds if seconds > 0 else math.inf


def time_it(
    fn: Callable[[], object],
    *,
    items: int = 1,
    passes: int = PASSES,
    min_seconds: float = PASS_SECONDS,
    warmup: int = 1,
    label: str = "",
    clock: Callable[[], float] = time.perf_counter,
) -> Timing:
    """Time ``fn()`` by the book's method: warm up, calibrate, then timed passes.

    ``fn`` is called ``warmup`` times untimed. Then it is called in groups of
    1, 2, 4, ... calls (timed only to calibrate) until a group lasts at least
    a tenth of ``min_seconds``; from that group's time per call, a pass gets
    enough calls to last at least ``min_seconds``. Finally ``passes`` passes
    of that many calls are timed, one clock reading before and after each.
    Should a pass last less than 80% of ``min_seconds`` (the calibration was
    fooled, e.g. by one slow call), the passes start again with more calls.

    Args:
        fn: the work, with no arguments; it must block until the work is
            done. One call may be small (one graph call) or large (an epoch).
        items: how many items one call processes (samples for a training
            pass, calls for a block of calls); a pass processes ``items``
            times its number of calls.
        passes: timed passes (at least 1).
        min_seconds: the shortest a pass may be; 0 makes every pass one call
            and skips the calibration.
        warmup: untimed calls before the calibration (0 or more).
        label: a name for tables and charts.
        clock: the clock, ``time.perf_counter`` unless a test replaces it.

    Returns:
        A :class:`Timing` whose ``items`` is the items of one pass.

    Raises:
        TypeError: ``fn`` is not callable.
        ValueError: ``passes``, ``warmup`` or ``items`` is not an int
            (Python or NumPy, not bool), ``passes`` < 1, ``warmup`` < 0,
            ``items`` < 1, or ``min_seconds`` is not a finite number >= 0.

    Introduced in Chapter 6.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    passes = check_int("passes", passes, minimum=1)
    warmup = check_int("warmup", warmup, minimum=0)
    items = check_int("items", items, minimum=1)
    min_seconds = check_real("min_seconds", min_seconds, minimum=0.0)
    for _ in range(warmup):
        fn()

    def run(calls: int) -> float:
        start = clock()
        for _ in range(calls):
            fn()
        return clock() - start

    calls = calls_per_pass(run, min_seconds)
    seconds: list[float] = []
    restarts = 0
    while len(seconds) < passes:
        pass_seconds = run(calls)
        if pass_seconds < 0.8 * min_seconds and restarts < 3:
            # The calibration was off (a slow call fooled it): more calls, start again.
            calls = max(calls + 1, math.ceil(calls * min_seconds / max(pass_seconds, 1e-9)))
            seconds, restarts = [], restarts + 1
            continue
        seconds.append(pass_seconds)
    return Timing(label=label, seconds=tuple(seconds), items=items * calls)


def calls_per_pass(run: Callable[[int], float], min_seconds: float) -> int:
    """How many calls make a pass last at least ``min_seconds``.

    ``run(n)`` makes ``n`` calls and returns their wall time. Groups of 1, 2,
    4, ... calls are run until one lasts a tenth of ``min_seconds`` (or a
    group reaches a million calls); the answer scales that group's time per
    call up to ``min_seconds``. 1 when ``min_seconds`` is 0.

    Introduced in Chapter 6.
    """
    if min_seconds <= 0:
        return 1
    calls, seconds = 1, run(1)
    while seconds < min_seconds / 10 and calls < 1_000_000:
        calls *= 2
        seconds = run(calls)
    per_call = seconds / calls
    return max(1, math.ceil(min_seconds / per_call)) if per_call > 0 else calls


def verdict(timing: Timing, baseline: Timing) -> str:
    """``"faster"``, ``"slower"`` or ``"overlaps"``: ``timing`` against ``baseline``.

    Faster only when the slowest pass of ``timing`` beat the fastest pass of
    ``baseline`` (in items per second); slower in the mirror case; otherwise
    the two ranges overlap and the passes cannot tell which is faster.

    Introduced in Chapter 6.
    """
    if timing.slowest > baseline.fastest:
        return "faster"
    if timing.fastest < baseline.slowest:
        return "slower"
    return "overlaps"


def resolved_ratio(faster: Timing, slower: Timing) -> float:
    """The speed-up of ``faster`` over ``slower`` that every pair of passes supports.

    The throughput of the slowest pass of ``faster`` over that of the fastest
    pass of ``slower``: above 1 only when every pass of ``faster`` beat every
    pass of ``slower``. Asserts about speed compare this, not two medians.

    Introduced in Chapter 6.
    """
    return faster.slowest / slower.fastest


def speed_table(
    timings: Sequence[Timing], *, unit: str = "samples/s", baseline: str | None = None
) -> str:
    """A plain-text table: median throughput, its range, the ratio and verdict against a baseline.

    One row per timing: the median pass's throughput, the range from the
    slowest to the fastest pass, the ratio of medians to the baseline row,
    and :func:`verdict` against it (``"faster"``, ``"slower"``,
    ``"overlaps"``; ``"baseline"`` on its own row), under ``verdict``. Rendered by
    :func:`tfcustom.tables.format_table`, the book's one table renderer.

    Args:
        timings: the rows, in the order to show them.
        unit: the throughput's unit, for the header.
        baseline: the label of the row that ratios and verdicts compare
            with; the first row when None.

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
    base = timings[labels.index(base_label)]
    rows = [
        {
            "method": t.label,
            unit: _count(t.throughput),
            "slowest-fastest": f"{_count(t.slowest)}-{_count(t.fastest)}",
            "ratio": t.throughput / base.throughput,
            "verdict": "baseline" if t is base else verdict(t, base),
        }
        for t in timings
    ]
    return format_table(rows, list(rows[0]), digits=2)


def _count(rate: float) -> str:
    """A rate with a thousands separator, three significant digits below 100."""
    if rate >= 100 or not math.isfinite(rate):
        return f"{rate:,.0f}"
    return f"{rate:.3g}"


def settings_line(passes: int = PASSES, min_seconds: float = PASS_SECONDS) -> str:
    """What the speed tables of this process ran under, in lines of at most 76 characters.

    The method (passes, their length), then the settings that change
    TensorFlow's speed: whether the CPU numerics are pinned, with their
    thread count (:func:`tfcustom.setup.numerics_line`), whether op
    determinism is on, and the CPU. Print it once, above a chapter's first
    speed table.

    Introduced in Chapter 6.
    """
    import textwrap

    from tensorflow.python.framework import config as tf_config

    from .machine import describe_machine
    from .setup import numerics_line

    machine = describe_machine()
    determinism = "on" if tf_config.is_op_determinism_enabled() else "off"
    lines = [
        f"Timed: {passes} passes of at least {min_seconds:g} s per row, after a warm-up;",
        "the median pass, and the slowest to the fastest.",
        numerics_line(),
        f"Op determinism {determinism}; {machine['cpu']}, {machine['logical_cpus']} logical CPUs.",
    ]
    return "\n".join(textwrap.fill(line, width=76) for line in lines)


def plot_throughput(
    timings: Sequence[Timing],
    ax=None,
    *,
    unit: str = "samples/s",
    title: str | None = None,
    log: bool = False,
):
    """A horizontal bar per timing at its median, a whisker from its slowest to its fastest pass.

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
    rows = timings[::-1]
    labels = [t.label for t in rows]
    values = [t.throughput for t in rows]
    whiskers = [
        [t.throughput - t.slowest for t in rows],
        [t.fastest - t.throughput for t in rows],
    ]
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(timings))][::-1]
    bars = ax.barh(labels, values, color=colours, xerr=whiskers, error_kw={"capsize": 3, "lw": 1})
    ax.bar_label(bars, labels=[_count(v) for v in values], padding=3, fontsize=9)
    if log:
        ax.set_xscale("log")
    ax.set_xlim(right=ax.get_xlim()[1] * (3 if log else 1.2))
    ax.set_xlabel(unit)
    ax.grid(axis="y", visible=False)
    if title:
        ax.set_title(title)
    return ax
