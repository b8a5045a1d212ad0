"""scripts/benchmark.py runs end to end and prints every table.

A smoke test with the smallest counts: it checks that the script works, not
how fast anything is (the timings themselves are never asserted).
"""

from __future__ import annotations

import subprocess
import sys

import pytest


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
        "--batches",
        "4",
        "--eager-batches",
        "1",
        "--scale",
        "1",
        "--steps-per-execution",
        "2",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "medians of 1 repeats" in out
    assert "Chapter 6: training on 4 batches of 32" in out
    for row in (
        "eager loop (1 batches)",
        "tf.function loop",
        "fit()",
        "steps_per_execution=2",
        "one graph per epoch",
    ):
        assert row in out, row
    # The four graph ways of chapter 6 trained the same model on the same batches.
    assert "(the same training)" in out
    for table in ("tiny op", "large tensor op", "training step"):
        assert f"Chapter 7: {table}" in out, table
    assert "fit() / tf.function loop" in out and "XLA / tf.function" in out


def test_benchmark_defaults_are_the_chapters_sizes(root):
    """The benchmark times what the chapters time: their calls pass the same sizes."""
    from scripts.benchmark import CHAPTER_SIZES

    ch6 = (root / "chapters" / "06_custom_training_loops.ipynb").read_text()
    ch7 = (root / "chapters" / "07_tf_function_and_graphs.ipynb").read_text()
    assert f"batches={CHAPTER_SIZES['batches']}" in ch6
    assert "workloads.training_timings(" in ch6 and "workloads.graph_timings(" in ch7
    assert f"scale={CHAPTER_SIZES['scale']}" in ch7


@pytest.mark.parametrize("option", ["--repeats", "--batches", "--scale"])
def test_benchmark_rejects_bad_counts(root, option):
    result = run_benchmark(root, option, "0", timeout=120)
    assert result.returncode == 2
    assert "at least 1" in result.stderr
