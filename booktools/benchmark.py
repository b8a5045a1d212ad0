"""Print the speed tables of chapters 6, 7, 9 and 10 for this machine.

Usage (from the repository root, inside the book's environment)::

    .venv/bin/python -m booktools.benchmark              # as the chapters, about two minutes
    .venv/bin/python -m booktools.benchmark --passes 9   # more passes per row

It calls the very functions that the speed sections of the chapters call
(``utils/workloads.py``), with the same data, model, step, metrics and sizes,
and times them by the book's one method (:func:`tfcustom.time_it`): a warm-up,
then passes of at least ``--min-seconds`` each; every row shows the median
pass, the slowest and the fastest, the ratio to the table's baseline and
whether every pass of the row beat (or lost to) every pass of the baseline:

* chapter 6 (:func:`tfcustom.workloads.training_timings`): training the housing
  model on the first 100 batches of 32 five ways: an eager loop (over 10
  batches), a ``tf.function`` loop, ``fit()``, ``fit()`` with
  ``steps_per_execution``, and the loop inside one graph;
* chapter 7 (:func:`tfcustom.workloads.graph_timings`): a tiny op, a large tensor
  op and chapter 6's training step, each eager, through ``tf.function`` and
  through ``tf.function(jit_compile=True)`` (XLA);
* chapter 9 (:func:`tfcustom.workloads.precision_timings`): a wider regressor
  trained in float32, ``mixed_float16`` and ``mixed_bfloat16``;
* chapter 10 (:func:`tfcustom.workloads.pipeline_timings`): chapter 6's step fed
  by an input pipeline with a slow ``map``, plain, with ``prefetch``, with
  parallel calls and with ``cache()``, and the share of each epoch spent
  waiting for data;
* what the book's pins and op determinism cost: chapter 7's ``tf.function``
  rows in two fresh processes each way, with and without them
  (:func:`tfcustom.workloads.graph_timings_by_setting`, twice), so that the difference
  between two processes with the same settings shows how much of a
  difference the settings themselves must exceed (``--no-pins-table`` skips
  it).

Then a check that the four graph ways of chapter 6 computed the same
training (the same loss on their first pass). This is a measurement, not a
test: nothing fails when a number is unexpected. Close other programs first;
on a shared or busy machine the spread between passes is large.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time

from tfcustom import setup_chapter

from booktools.book import use_default_data_dir

CHAPTER_SIZES = {"batches": 100, "eager_batches": 10, "steps_per_execution": 32}
"""The sizes the chapters time (their speed sections pass the same values)."""


def main(argv: list[str] | None = None) -> int:
    from tfcustom.timing import PASS_SECONDS, PASSES

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--passes", type=int, default=PASSES, help=f"timed passes per row (default {PASSES})"
    )
    parser.add_argument(
        "--min-seconds",
        type=float,
        default=PASS_SECONDS,
        help=f"the shortest a pass may be (default {PASS_SECONDS}; 0: one call per pass)",
    )
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
        "--no-pins-table", action="store_true", help="skip the table with and without the pins"
    )
    args = parser.parse_args(argv)
    counts = (args.passes, args.batches, args.eager_batches, args.steps_per_execution)
    if min(counts) < 1:
        parser.error("all counts must be at least 1")
    if not (math.isfinite(args.min_seconds) and args.min_seconds >= 0):
        parser.error("--min-seconds must be a finite number, at least 0")

    use_default_data_dir()
    setup_chapter(verbose=False)
    from tfcustom import environment_line, housing_split, settings_line, speed_table, workloads

    print(environment_line())
    print(settings_line(args.passes, args.min_seconds), end="\n\n")
    start = time.perf_counter()
    split = housing_split()
    timing = {"passes": args.passes, "min_seconds": args.min_seconds}

    ch6 = workloads.training_timings(
        split,
        batches=args.batches,
        eager_batches=args.eager_batches,
        steps_per_execution=args.steps_per_execution,
        **timing,
    )
    print(f"Chapter 6: training on {args.batches} batches of 32 (samples per second)")
    print(speed_table(ch6.timings, baseline="tf.function loop"), end="\n\n")
    losses = sorted(ch6.first_pass_loss.values())
    same = losses[-1] - losses[0] <= 1e-5 * abs(losses[0])
    print(
        f"First-pass mean loss of the {len(losses)} graph ways: {losses[0]:.4f} to "
        f"{losses[-1]:.4f} ({'the same training' if same else 'they DIFFER'})\n"
    )

    ch7 = workloads.graph_timings(split, **timing)
    for name, rows in ch7.items():
        print(f"Chapter 7: {name} (calls per second)")
        print(speed_table(rows, unit="calls/s", baseline="tf.function"), end="\n\n")

    ch9 = workloads.precision_timings(split, **timing)
    print("Chapter 9: mixed precision, a wider regressor (samples per second)")
    print(speed_table(ch9, baseline="float32"), end="\n\n")

    ch10 = workloads.pipeline_timings(split, **timing)
    print("Chapter 10: an input pipeline with a slow map (samples per second)")
    print(speed_table(ch10.timings, baseline="map"))
    for way, share in ch10.median_waiting().items():
        print(f"  {way}: waiting for data {share:.0%} of the epoch")
    print()

    if not args.no_pins_table:
        print("What the pins and op determinism cost (tf.function; two processes each way)")
        runs = {}
        for pair in ("1", "2"):
            for setting, (tables, _) in workloads.graph_timings_by_setting(**timing).items():
                runs[f"{setting} {pair}"] = tables
        for name in ch7:
            rows = [
                dataclasses.replace(tables[name][0], label=run)
                for run, tables in sorted(runs.items())
            ]
            print(f"{name} (calls per second)")
            print(speed_table(rows, unit="calls/s", baseline="pinned 1"), end="\n\n")
    print(f"(total {time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
