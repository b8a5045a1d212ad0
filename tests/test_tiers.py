"""The test tiers: ``-m "not slow"`` is the fast loop, ``-m pdf`` and ``-m browser`` a part each.

The markers are given in ``conftest.py`` (whole modules, every chapter cell,
tests that build the book) and by ``@pytest.mark.slow`` on single tests.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from booktools.book import ROOT


def collected(*args: str) -> list[str]:
    """The node ids pytest would run with ``args`` (collection only)."""
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q", *args]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    return [line for line in done.stdout.splitlines() if "::" in line]


@pytest.mark.slow  # starts pytest twice
def test_the_fast_loop_leaves_out_chapters_the_book_and_processes():
    fast = collected("-m", "not slow")
    assert len(fast) > 300, len(fast)
    assert not [n for n in fast if n.startswith("chapters/")]
    assert not [n for n in fast if n.split("::")[0].endswith(("test_pdf.py", "test_browser.py"))]
    assert "tests/test_benchmark.py::test_benchmark_prints_every_table" not in fast
    assert "tests/test_scripts.py::test_the_pre_commit_hooks_run_the_books_own_tools" in fast
    pdf = collected("-m", "pdf")
    assert pdf and all(n.startswith("tests/test_pdf.py::") for n in pdf)
