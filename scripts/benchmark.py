"""Print the speed tables of chapters 6 and 7 for this machine.

Usage (from the repository root, inside the book's environment)::

    .venv/bin/python scripts/benchmark.py              # medians of 5 repeats, about a minute
    .venv/bin/python scripts/benchmark.py --repeats 9  # steadier medians, slower

It calls the very functions that the speed sections of the chapters call
(``utils/workloads.py``), with the same data, model, step, metrics and sizes,
and only more repeats; each row is the median of the repeats (see
:func:`utils.time_it`):

* chapter 6 (:func:`utils.workloads.training_timings`): training the housing
  model on the first 100 batches of 32 five ways: an eager loop (over 10
  batches), a ``tf.function`` loop, ``fit()``, ``fit()`` with
  ``steps_per_execution``, and the loop inside one graph;
* chapter 7 (:func:`utils.workloads.graph_timings`): a tiny op, a large tensor
  op and chapter 6's training step, each eager, through ``tf.function`` and
  through ``tf.function(jit_compile=True)`` (XLA).

Then the ratios between rows, and a check that the four graph ways of
chapter 6 computed the same training (the same loss on their first pass).
Larger sizes (``--batches 387`` for a whole epoch, ``--scale``) time the
same code on more work. This is a measurement, not a test: nothing fails
when a number is unexpected. Close other programs first; on a shared or
busy machine the spread between repeats is large.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.run_notebooks import default_environment  # noqa: E402
from utils import setup_chapter  # noqa: E402  (must run before TensorFlow is imported)

CHAPTER_SIZES = {"batches": 100, "eager_batches": 10, "steps_per_execution": 32, "scale": 1}
"""The sizes the chapters time (their speed sections pass the same values)."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per row (default 5)")
    parser.add_argument(
        "--batches",
        type=int,
        default=CHAPTER_SIZES["batches"],
        help="batches of 32 per pass in chapter 6 (default 100, as the chapter; 387 is an epoch)",
    )
    parser.add_argument(
        "--eager-batches",
        type=int,
        default=CHAPTER_SIZES["eager_batches"],
        help="batches per pass of chapter 6's eager loop (default 10, as the chapter)",
    )
    parser.add_argument(
        "--steps-per-execution", type=int, default=CHAPTER_SIZES["steps_per_execution"]
    )
    parser.add_argument(
        "--scale",
        type=int,
        default=CHAPTER_SIZES["scale"],
        help="calls per repeat in chapter 7: 100x, 4x, 4x this (default 1, as the chapter)",
    )
    args = parser.parse_args(argv)
    counts = (args.repeats, args.batches, args.eager_batches, args.steps_per_execution, args.scale)
    if min(counts) < 1:
        parser.error("all counts must be at least 1")

    default_environment()
    setup_chapter(verbose=False)
    from utils import environment_line, housing_split, speed_table, workloads

    print(environment_line())
    print(f"medians of {args.repeats} repeats, after one untimed call each\n")
    start = time.perf_counter()
    split = housing_split()

    ch6 = workloads.training_timings(
        split,
        batches=args.batches,
        eager_batches=args.eager_batches,
        steps_per_execution=args.steps_per_execution,
        repeats=args.repeats,
    )
    print(f"Chapter 6: training on {args.batches} batches of 32 (samples per second)")
    print(speed_table(ch6.timings, baseline="tf.function loop"), end="\n\n")
    losses = sorted(ch6.first_pass_loss.values())
    same = losses[-1] - losses[0] <= 1e-5 * abs(losses[0])
    print(
        f"First-pass mean loss of the {len(losses)} graph ways: {losses[0]:.4f} to "
        f"{losses[-1]:.4f} ({'the same training' if same else 'they DIFFER'})\n"
    )

    ch7 = workloads.graph_timings(split, scale=args.scale, repeats=args.repeats)
    for name, rows in ch7.items():
        print(f"Chapter 7: {name} (calls per second)")
        print(speed_table(rows, unit="calls/s", baseline="tf.function"), end="\n\n")

    speed6 = {t.label.split(" (")[0]: t.throughput for t in ch6.timings}
    loop = speed6["tf.function loop"]
    print("Ratios (throughput over throughput; > 1 means the first is faster)")
    for label, value in speed6.items():
        if label != "tf.function loop":
            print(f"  {label + ' / tf.function loop':48} {value / loop:8.3f}")
    for name, rows in ch7.items():
        row = {t.label: t.throughput for t in rows}
        print(
            f"  {name:16} eager / tf.function  {row['eager'] / row['tf.function']:8.3f}"
            f"   XLA / tf.function {row['XLA'] / row['tf.function']:6.2f}"
        )
    print(f"\n(total {time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
