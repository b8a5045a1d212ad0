"""Tests for utils/timing.py (no TensorFlow needed)."""

import itertools
import time

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.container import BarContainer
from tfcustom.tables import format_table
from tfcustom.timing import (
    Timing,
    calls_per_pass,
    plot_throughput,
    resolved_ratio,
    speed_table,
    time_it,
    verdict,
)


def fake_clock(durations):
    """A clock whose successive start/stop pairs are `durations` apart."""
    ticks = itertools.accumulate(itertools.chain.from_iterable((0.0, d) for d in durations))
    return lambda: next(ticks)


def test_median_and_throughput():
    t = Timing("loop", (1.0, 3.0, 2.0), items=100)
    assert t.median == 2.0
    assert t.throughput == 50.0
    assert t.seconds_per_item == 0.02
    assert t.fastest == 100.0 and t.slowest == pytest.approx(100 / 3)


def test_time_it_without_calibration_counts_warmup_and_passes():
    calls = []
    t = time_it(
        lambda: calls.append(1),
        passes=4,
        min_seconds=0,
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


class CountingClock:
    """A clock that advances ``per_call`` seconds each time the work is called."""

    def __init__(self, per_call):
        self.now, self.per_call, self.calls = 0.0, per_call, 0

    def __call__(self):
        return self.now

    def work(self):
        self.calls += 1
        self.now += self.per_call


@pytest.mark.parametrize("per_call", [1e-5, 3e-3, 0.07, 0.4, 2.0])
def test_every_pass_lasts_at_least_min_seconds_and_not_much_more(per_call):
    clock = CountingClock(per_call)
    t = time_it(clock.work, passes=5, min_seconds=0.5, warmup=1, items=3, clock=clock)
    assert len(t.seconds) == 5
    calls = t.items // 3
    assert all(s >= 0.5 - 1e-9 for s in t.seconds), t.seconds
    # One call fewer would have been too short: the pass is as short as it can be.
    assert (calls - 1) * per_call < 0.5 or calls == 1
    assert t.seconds_per_item == pytest.approx(per_call / 3)


def test_the_calibration_costs_little_next_to_the_passes():
    clock = CountingClock(1e-4)
    t = time_it(clock.work, passes=5, min_seconds=0.5, warmup=1, clock=clock)
    timed = sum(t.seconds)
    overhead = clock.now - timed  # warm-up and calibration
    assert overhead < 0.25 * timed, (overhead, timed)


def test_calls_per_pass_doubles_until_a_tenth_of_min_seconds():
    seen = []

    def run(n):
        seen.append(n)
        return n * 0.001

    assert calls_per_pass(run, 0.5) == 500
    assert seen == [1, 2, 4, 8, 16, 32, 64]  # 64 ms >= 50 ms
    assert calls_per_pass(run, 0) == 1


def test_a_slow_calibration_call_does_not_make_short_passes():
    # The first call after the warm-up takes 0.2 s, the others 2 ms: the
    # calibration asks for 3 calls, the first pass is far too short, and
    # the passes start again with enough calls.
    class SlowOnce(CountingClock):
        def work(self):
            self.now += 0.2 if self.calls == 1 else self.per_call
            self.calls += 1

    clock = SlowOnce(0.002)
    t = time_it(clock.work, passes=5, min_seconds=0.5, warmup=1, clock=clock)
    assert all(s >= 0.5 - 1e-9 for s in t.seconds), t.seconds
    assert t.items == 250


def test_time_it_real_clock_measures_the_call():
    # Each call sleeps at least 20 ms, so each pass must last at least that
    # long: this fails if time_it read the clock before and after anything
    # but the calls themselves.
    t = time_it(lambda: time.sleep(0.02), passes=2, min_seconds=0, warmup=0)
    assert len(t.seconds) == 2 and all(s >= 0.02 for s in t.seconds)
    t = time_it(lambda: time.sleep(0.01), passes=2, min_seconds=0.05, warmup=0)
    assert all(s >= 0.05 for s in t.seconds) and t.items >= 5


def test_median_ignores_one_slow_pass():
    t = time_it(
        lambda: None, passes=3, min_seconds=0, warmup=0, clock=fake_clock([1.0, 1.0, 50.0])
    )
    assert t.median == 1.0


def test_verdict_needs_every_pass_to_agree():
    slow = Timing("slow", (1.0, 1.1, 1.2), items=10)
    fast = Timing("fast", (0.5, 0.6, 0.9), items=10)
    overlapping = Timing("overlapping", (0.8, 1.05), items=10)
    assert verdict(fast, slow) == "faster" and verdict(slow, fast) == "slower"
    assert verdict(overlapping, slow) == "overlaps" == verdict(slow, overlapping)
    # The speed-up every pair of passes supports: slowest fast vs fastest slow.
    assert resolved_ratio(fast, slow) == pytest.approx(1.0 / 0.9)
    assert resolved_ratio(overlapping, slow) < 1 < overlapping.throughput / slow.throughput


def test_zero_time_gives_infinite_throughput():
    assert Timing("instant", (0.0,)).throughput == float("inf")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"passes": 0},
        {"passes": 1.5},
        {"passes": True},
        {"min_seconds": -0.1},
        {"min_seconds": float("nan")},
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
    t = time_it(
        lambda: calls.append(1),
        passes=np.int64(3),
        min_seconds=np.float32(0),
        warmup=np.int32(1),
        items=np.uint16(10),
        clock=fake_clock([0.1, 0.2, 0.3]),
    )
    assert len(calls) == 4 and len(t.seconds) == 3
    assert t.items == 10 and type(t.items) is int


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"passes": np.float64(3.0)}, "passes must be an int, got"),
        ({"passes": np.bool_(True)}, "passes must be an int, got"),
        ({"min_seconds": "0.5"}, "min_seconds must be a number, got"),
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


def test_speed_table_median_range_ratio_and_verdict():
    rows = [
        Timing("eager", (2.0, 2.5), items=100),
        Timing("graph", (0.5, 0.4, 0.45), items=100),
        Timing("close", (1.8, 2.2), items=100),
    ]
    table = speed_table(rows, baseline="eager").splitlines()
    assert table[0].split() == [
        "method",
        "samples/s",
        "slowest-fastest",
        "ratio",
        "verdict",
    ]
    assert table[2].split() == ["eager", "44.4", "40-50", "1.00", "baseline"]
    assert table[3].split() == ["graph", "222", "200-250", "5.00", "faster"]
    assert table[4].split() == ["close", "50", "45.5-55.6", "1.12", "overlaps"]
    # The first row is the default baseline.
    assert speed_table(rows) == "\n".join(table)


def test_speed_table_is_rendered_by_format_table():
    rows = [Timing("eager", (2.0,), items=100), Timing("tf.function", (0.5,), items=100)]
    expected = format_table(
        [
            {
                "method": "eager",
                "calls/s": "50",
                "slowest-fastest": "50-50",
                "ratio": 1.0,
                "verdict": "baseline",
            },
            {
                "method": "tf.function",
                "calls/s": "200",
                "slowest-fastest": "200-200",
                "ratio": 4.0,
                "verdict": "faster",
            },
        ],
        digits=2,
    )
    assert speed_table(rows, unit="calls/s") == expected


def test_speed_table_thousands_and_small_rates():
    table = speed_table([Timing("tiny", (2e-6, 4e-6))], unit="calls/s")
    assert "250,000-500,000" in table and "calls/s" in table and "333,333" in table
    assert "0.5-1" in speed_table([Timing("slow", (1.0, 2.0))])


def test_speed_table_bad_input():
    with pytest.raises(ValueError, match="empty"):
        speed_table([])
    with pytest.raises(ValueError, match="baseline"):
        speed_table([Timing("a", (1.0,))], baseline="b")


def test_plot_throughput_draws_one_bar_per_timing():
    rows = [Timing("eager", (2.0,), items=100), Timing("graph", (0.5,), items=100)]
    ax = plot_throughput(rows, title="speed", log=True)
    assert len(ax.patches) == 2
    # A whisker per bar, from the slowest to the fastest pass.
    (bars,) = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert len(bars.errorbar.lines[2][0].get_segments()) == 2
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
