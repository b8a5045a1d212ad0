"""Measure every chapter's run time and peak memory; write the appendix page.

Usage (from the repository root, on an otherwise idle machine)::

    .venv/bin/python scripts/measure_run_times.py            # all chapters + benchmarks
    .venv/bin/python scripts/measure_run_times.py --skip-benchmarks

Each chapter is executed top to bottom in a fresh kernel, exactly as nbval
runs it, without changing the stored notebook. The script then runs
``scripts/benchmark.py`` for the speed tables of chapters 6 and 7,
and writes ``appendix/run_times.md`` with the figures and a description of
the machine. Nothing here runs during the book build or the tests: the page
shows what was measured, when and where.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts import run_notebooks  # noqa: E402
from utils.reference import load_provenance, provenance_markdown  # noqa: E402

PAGE = ROOT / "appendix" / "run_times.md"
BENCH_HEADING = "## Speed tables (chapters 6, 7, 9 and 10)"
"""The page's section whose benchmark block ``--keep-benchmarks`` keeps."""

RUN_BUDGET = 240
"""The book's run budget: seconds for all chapters on 2 cores."""


def machine() -> dict:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "?"
    try:
        kb = int(
            next(
                line
                for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")
            ).split()[1]
        )
        memory = f"{kb / 2**20:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    env_line = subprocess.run(
        [sys.executable, "-c", "from utils import setup_chapter; setup_chapter()"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "environment": env_line,
    }


def budget_line(results: list[dict]) -> str:
    """Whether the chapters' total is within :data:`RUN_BUDGET`, in one sentence."""
    total = sum(r["seconds"] for r in results)
    if total <= RUN_BUDGET:
        return (
            f"The book's run budget is {RUN_BUDGET} s for all chapters on 2 cores; "
            f"these runs took {total:.0f} s, within it."
        )
    return (
        f"The book's run budget is {RUN_BUDGET} s for all chapters on 2 cores; these "
        f"runs took {total:.0f} s, **{total - RUN_BUDGET:.0f} s over it**."
    )


def chapter_table(results: list[dict]) -> list[str]:
    lines = ["| chapter | wall time | peak memory of the kernel |", "|---|---:|---:|"]
    for r in results:
        stem = Path(r["notebook"]).stem
        link = f"[{stem}](../chapters/{stem}.ipynb)"
        memory = "?" if r["peak_rss_mib"] is None else f"{r['peak_rss_mib']:,} MiB"
        lines.append(f"| {link} | {r['seconds']:.0f} s | {memory} |")
    total = sum(r["seconds"] for r in results)
    lines.append(f"| **all chapters** | **{total:.0f} s** ({total / 60:.1f} min) | |")
    return lines


def benchmarks() -> list[str]:
    script = ROOT / "scripts" / "benchmark.py"
    result = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=1800
    )
    if result.returncode != 0:
        raise RuntimeError(f"benchmark.py failed:\n{result.stderr[-3000:]}")
    return ["```text", *result.stdout.strip().splitlines(), "```"]


def kept_benchmarks() -> list[str]:
    """The benchmark block of the current page, to write back unchanged.

    Raises:
        SystemExit: the page has no benchmark block to keep.
    """
    text = PAGE.read_text() if PAGE.is_file() else ""
    start = text.find("```text", text.find(BENCH_HEADING))
    end = text.find("```", start + 1)
    if BENCH_HEADING not in text or start < 0 or end < 0:
        raise SystemExit(f"{PAGE.relative_to(ROOT)} has no benchmark tables to keep")
    return text[start : end + 3].splitlines()


def render(results, info, bench, today) -> str:
    lines = [
        "# Appendix: run times, measured",
        "",
        "How long each chapter takes to run from top to bottom in a fresh kernel, and how "
        "much memory its kernel needs at its peak. These are the numbers behind the "
        "**Run time** line at the top of each chapter. They were measured by "
        "`scripts/measure_run_times.py`, which executes each chapter exactly as the test suite "
        "does, on the machine described below; re-run it to measure yours.",
        "",
        "<!-- Generated by scripts/measure_run_times.py; do not edit by hand. -->",
        "",
        "## The machine",
        "",
        f"- measured on {today}",
        f"- CPU: {info['cpu']}, {info['cores']} cores; memory: {info['memory']}; {info['os']}",
        *(f"- `{line}`" for line in info["environment"].splitlines()),
        "",
        provenance_markdown(load_provenance()),
        "",
        "## Chapters on the CPU",
        "",
        *chapter_table(results),
        "",
        budget_line(results),
        "",
        "What the latest additions cost on this machine: chapter 10 (a profile, an input "
        "pipeline timed five ways, two clusters of worker processes), about 35 s; "
        "chapter 9's mixed-precision timing, about 8 s; chapter 5's `tf.recompute_grad` "
        "measurement, which needs a process of its own, about 5 s. Before them, chapter 8's "
        "checks under early stopping (about 3 s), with 5 to 50 labels per class (about "
        "11 s) and without the slow learning rate (about 1 s), of which a faster way to "
        "compute the same bits in its engine paid back about 3 s.",
        "",
        "## Chapters on a GPU",
        "",
        "No GPU machine was available when these figures were measured, so the chapters "
        "have not been timed on a GPU here. They are written to run unchanged on one "
        "(see the README for the CUDA install); this page will list GPU times once they "
        "are measured rather than guessed.",
        "",
        BENCH_HEADING,
        "",
        "The tables of [chapter 6](../chapters/06_custom_training_loops.ipynb), "
        "[chapter 7](../chapters/07_tf_function_and_graphs.ipynb), "
        "[chapter 9](../chapters/09_training_beyond_the_basics.ipynb) (mixed precision) "
        "and [chapter 10](../chapters/10_where_the_time_goes.ipynb) (the input pipeline), "
        "and what the book's "
        "pinned settings cost, measured by `scripts/benchmark.py` on the same machine with "
        "the chapters' own timing method (`utils.time_it`): every row is the median of its "
        "passes, with the range from the slowest to the fastest pass, and a verdict that "
        "says `faster` or `slower` only when every pass agrees. In the chapters, these "
        "measurements take about 20 s of chapter 6's run time and 35 s of chapter 7's, "
        "12-14 s of which go to its comparison with and without the pins (two new Python "
        "processes); before the book's one timing method, with single short passes, they "
        "took a few seconds. The machine's own speed varies too: chapters 1-5, which that "
        "work did not change, took from 114 s to 134 s in five measurements on "
        "2026-12-07.",
        "",
        *bench,
    ]
    return "\n".join(lines).rstrip() + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    benchmark = parser.add_mutually_exclusive_group()
    benchmark.add_argument("--skip-benchmarks", action="store_true")
    benchmark.add_argument(
        "--keep-benchmarks",
        action="store_true",
        help="re-measure the chapters only; keep the page's benchmark tables",
    )
    args = parser.parse_args(argv)
    kept = kept_benchmarks() if args.keep_benchmarks else None  # before any run
    run_notebooks.default_environment()
    results = []
    for path in sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb")):
        print(f"running {path.name} ...", flush=True)
        results.append(run_notebooks.run(path, write=False))
        print(f"  {results[-1]['seconds']} s, {results[-1]['peak_rss_mib']} MiB", flush=True)
    if kept is not None:
        bench = kept
    elif args.skip_benchmarks:
        bench = ["(not measured in this run)"]
    else:
        bench = benchmarks()
    today = dt.date.today().isoformat()
    PAGE.parent.mkdir(exist_ok=True)
    PAGE.write_text(render(results, machine(), bench, today))
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
