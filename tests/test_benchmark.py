"""python -m booktools.benchmark runs end to end and prints every table.

A smoke test with the smallest counts: it checks that the script works, not
how fast anything is (the timings themselves are never asserted).
"""

from __future__ import annotations

import subprocess
import sys

import pytest


def run_benchmark(root, *args, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "booktools.benchmark", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_benchmark_prints_every_table(root, mirror_dir):
    result = run_benchmark(
        root,
        "--passes",
        "1",
        "--min-seconds",
        "0",
        "--batches",
        "4",
        "--eager-batches",
        "1",
        "--steps-per-execution",
        "2",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "Timed: 1 passes of at least 0 s per row" in out
    assert "Op determinism on" in out
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
    assert "Chapter 10: an input pipeline with a slow map" in out
    assert "map, cache: waiting for data" in out
    assert "Chapter 9: mixed precision" in out and "mixed_bfloat16" in out
    assert out.count("slowest-fastest") == 6 + 3  # chapters 6, 7, 9 and 10, the pins
    for run in ("pinned 1", "pinned 2", "unpinned 1", "unpinned 2"):
        rows = [line for line in out.splitlines() if line.startswith(run + " ")]
        assert len(rows) == 3, (run, rows)


def test_benchmark_defaults_are_the_chapters_sizes(root):
    """The benchmark times what the chapters time: their calls pass the same sizes."""
    from booktools.benchmark import CHAPTER_SIZES

    ch6 = (root / "chapters" / "06_custom_training_loops.ipynb").read_text()
    ch7 = (root / "chapters" / "07_tf_function_and_graphs.ipynb").read_text()
    assert f"batches={CHAPTER_SIZES['batches']}" in ch6
    assert "workloads.training_timings(" in ch6 and "workloads.graph_timings(" in ch7
    # Neither chapter changes the book's timing method (passes, their length).
    assert "passes=" not in ch6 + ch7 and "min_seconds=" not in ch6 + ch7


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--passes", "0", "at least 1"),
        ("--batches", "0", "at least 1"),
        ("--min-seconds", "-1", "at least 0"),
        ("--min-seconds", "nan", "at least 0"),
        ("--min-seconds", "inf", "finite number"),
    ],
)
def test_benchmark_rejects_bad_counts(root, option, value, message):
    result = run_benchmark(root, option, value, timeout=120)
    assert result.returncode == 2
    assert message in result.stderr
