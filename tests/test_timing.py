"""Tests for utils/timing.py (no TensorFlow needed)."""

import itertools
import time

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from utils.tables import format_table
from utils.timing import Timing, plot_throughput, speed_table, time_it


def fake_clock(durations):
    """A clock whose successive start/stop pairs are `durations` apart."""
    ticks = itertools.accumulate(itertools.chain.from_iterable((0.0, d) for d in durations))
    return lambda: next(ticks)


def test_median_and_throughput():
    t = Timing("loop", (1.0, 3.0, 2.0), items=100)
    assert t.median == 2.0
    assert t.throughput == 50.0
    assert t.seconds_per_item == 0.02


def test_time_it_counts_warmup_and_repeats():
    calls = []
    t = time_it(
        lambda: calls.append(1),
        repeats=4,
        warmup=2,
        items=10,
        label="x",
        clock=fake_clock([0.5, 0.1, 0.2, 0.9]),
    )
    assert len(calls) == 6
    assert t.label == "x" and t.items == 10
    assert t.seconds == pytest.approx((0.5, 0.1, 0.2, 0.9))
    assert t.median == pytest.approx(0.35)
    assert t.throughput == pytest.approx(10 / 0.35)


def test_time_it_real_clock_measures_the_call():
    # Each call sleeps at least 20 ms, so each repeat must last at least that
    # long: this fails if time_it read the clock before and after anything
    # but the call itself.
    t = time_it(lambda: time.sleep(0.02), repeats=2, warmup=0)
    assert len(t.seconds) == 2 and all(s >= 0.02 for s in t.seconds)


def test_median_ignores_one_slow_repeat():
    t = time_it(lambda: None, repeats=3, warmup=0, clock=fake_clock([1.0, 1.0, 50.0]))
    assert t.median == 1.0


def test_zero_time_gives_infinite_throughput():
    assert Timing("instant", (0.0,)).throughput == float("inf")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"repeats": 0},
        {"repeats": 1.5},
        {"repeats": True},
        {"warmup": -1},
        {"items": 0},
        {"items": "10"},
    ],
)
def test_time_it_rejects_bad_counts(kwargs):
    with pytest.raises(ValueError):
        time_it(lambda: None, **kwargs)


def test_time_it_counts_numpy_integers():
    calls = []
    t = time_it(lambda: calls.append(1), repeats=np.int64(3), warmup=np.int32(1),
                items=np.uint16(10), clock=fake_clock([0.1, 0.2, 0.3]))  # fmt: skip
    assert len(calls) == 4 and len(t.seconds) == 3
    assert t.items == 10 and type(t.items) is int


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"repeats": np.float64(3.0)}, "repeats must be an int, got"),
        ({"repeats": np.bool_(True)}, "repeats must be an int, got"),
        ({"warmup": np.int64(-1)}, "warmup must be an int >= 0, got -1"),
        ({"items": np.int8(0)}, "items must be an int >= 1, got 0"),
    ],
)
def test_time_it_names_the_bad_count(kwargs, message):
    with pytest.raises(ValueError, match=message):
        time_it(lambda: None, **kwargs)


@pytest.mark.parametrize(
    "seconds, items, message",
    [
        ((), 1, "seconds must hold at least one time"),
        (2.0, 1, "seconds must be a sequence of times, got 2.0"),
        ((1.0, float("nan")), 1, r"seconds\[1\] must be a finite number, got nan"),
        ((-0.5,), 1, r"seconds\[0\] must be >= 0"),
        ((1.0,), 0, "items must be an int >= 1, got 0"),
        ((1.0,), 2.5, "items must be an int, got 2.5"),
    ],
)
def test_a_timing_refuses_what_has_no_median_or_throughput(seconds, items, message):
    with pytest.raises(ValueError, match=message):
        Timing("x", seconds, items=items)


def test_time_it_rejects_non_callable():
    with pytest.raises(TypeError, match="callable"):
        time_it(42)


def test_speed_table_ratios_against_baseline():
    rows = [Timing("eager", (2.0,), items=100), Timing("graph", (0.5,), items=100)]
    table = speed_table(rows, baseline="eager").splitlines()
    assert table[0].split() == ["method", "median", "samples/s", "x", "eager"]
    assert table[2].split() == ["eager", "2.00", "s", "50", "1.00"]
    assert table[3].split() == ["graph", "500.0", "ms", "200", "4.00"]
    # The first row is the default baseline.
    assert speed_table(rows) == "\n".join(table)


def test_speed_table_is_rendered_by_format_table():
    rows = [Timing("eager", (2.0,), items=100), Timing("tf.function", (0.5,), items=100)]
    expected = format_table(
        [
            {"method": "eager", "median": "2.00 s", "calls/s": "50", "x eager": 1.0},
            {"method": "tf.function", "median": "500.0 ms", "calls/s": "200", "x eager": 4.0},
        ],
        digits=2,
    )
    assert speed_table(rows, unit="calls/s") == expected


def test_speed_table_units_of_time():
    table = speed_table([Timing("tiny", (2e-6,))], unit="calls/s")
    assert "2.0 µs" in table and "calls/s" in table and "500,000" in table


def test_speed_table_bad_input():
    with pytest.raises(ValueError, match="empty"):
        speed_table([])
    with pytest.raises(ValueError, match="baseline"):
        speed_table([Timing("a", (1.0,))], baseline="b")


def test_plot_throughput_draws_one_bar_per_timing():
    rows = [Timing("eager", (2.0,), items=100), Timing("graph", (0.5,), items=100)]
    ax = plot_throughput(rows, title="speed", log=True)
    assert len(ax.patches) == 2
    assert [t.get_text() for t in ax.get_yticklabels()] == ["graph", "eager"]
    assert ax.get_xscale() == "log" and ax.get_title() == "speed"
    assert ax.get_xlabel() == "samples/s"
    plt.close(ax.figure)


def test_plot_throughput_on_given_axes_and_bad_input():
    fig, ax = plt.subplots()
    assert plot_throughput([Timing("a", (1.0,))], ax=ax, unit="calls/s") is ax
    assert ax.get_xlabel() == "calls/s"
    plt.close(fig)
    with pytest.raises(ValueError, match="empty"):
        plot_throughput([])
