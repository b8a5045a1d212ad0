"""scripts/benchmark.py runs end to end and prints every table.

A smoke test with the smallest counts: it checks that the script works, not
how fast anything is (the timings themselves are never asserted).
"""

from __future__ import annotations

import subprocess
import sys


def run_benchmark(root, *args, timeout=600):
    return subprocess.run(
        [sys.executable, "scripts/benchmark.py", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_benchmark_prints_every_table_and_the_ratios(root, mirror_dir):
    result = run_benchmark(
        root,
        "--repeats",
        "1",
        "--eager-batches",
        "1",
        "--scale",
        "1",
        "--steps-per-execution",
        "4",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "medians of 1 repeats" in out
    for row in (
        "eager loop (1 batches)",
        "tf.function loop",
        "fit()",
        "steps_per_execution=4",
        "one graph per epoch",
    ):
        assert row in out, row
    for table in ("tiny op", "large tensor op", "training step"):
        assert f"Chapter 7: {table}" in out, table
    assert "tf.function loop / fit()" in out and "XLA / tf.function" in out


def test_benchmark_rejects_bad_counts(root):
    result = run_benchmark(root, "--repeats", "0", timeout=120)
    assert result.returncode == 2
    assert "at least 1" in result.stderr
