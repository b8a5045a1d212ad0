"""Run All twice in one kernel, and what a failing assert shows (``conftest.RunAllAgain``).

After nbval has run a notebook's cells, the test suite runs them all again
in the same kernel, as a reader's second Run All would. These controls run
pytest on small notebooks of their own: one that only a first run passes,
and one that passes both, so that the check is seen to fail and to pass.
"""

from __future__ import annotations

import re

import nbformat
import pytest

from tests.python_runs import run_pytest, scratch_folder

SETUP = "from tfcustom import setup_chapter\n\nsetup_chapter(verbose=False)"


def _notebook(*sources: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(SETUP)]
    nb.cells += [nbformat.v4.new_code_cell(source) for source in sources]
    for number, cell in enumerate(nb.cells, start=1):
        cell.execution_count = number
    return nb


@pytest.fixture(scope="module")
def reruns() -> str:
    """pytest's output for two notebooks: one that fails on a second Run All, one that does not."""
    once_only = _notebook(
        "runs = globals().get('runs', 0) + 1",
        "expected_runs = 1\nassert runs == expected_runs",
    )
    twice = _notebook("runs = 1", "assert runs == 1")
    twice.cells.append(nbformat.v4.new_code_cell("1 / 0", metadata={"tags": ["raises-exception"]}))
    twice.cells[-1].execution_count = len(twice.cells)
    twice.cells[-1].outputs = [
        nbformat.v4.new_output(
            "error", ename="ZeroDivisionError", evalue="division by zero", traceback=[]
        )
    ]
    with scratch_folder("rerun-") as folder:
        nbformat.write(once_only, folder / "once_only.ipynb")
        nbformat.write(twice, folder / "twice.ipynb")
        result = run_pytest(str(folder))
    return result.stdout + result.stderr


def _outcome(output: str, notebook: str, item: str) -> str | None:
    """PASSED or FAILED for one item of one notebook in pytest's verbose output."""
    match = re.search(rf"{notebook}\S*::{item} (PASSED|FAILED)", output)
    return match.group(1) if match else None


def test_a_notebook_that_only_runs_once_fails_the_second_run(reruns):
    assert _outcome(reruns, "once_only", "Run all again") == "FAILED", reruns[-4000:]
    assert _outcome(reruns, "once_only", "Cell 2") == "PASSED", reruns[-4000:]


def test_the_failing_assert_shows_its_line_and_values(reruns):
    assert "assert runs == expected_runs" in reruns, reruns[-4000:]
    assert "where runs = 2" in reruns and "where expected_runs = 1" in reruns, reruns[-4000:]


def test_a_notebook_that_runs_twice_passes_and_its_lesson_error_raises_again(reruns):
    assert _outcome(reruns, "twice", "Run all again") == "PASSED", reruns[-4000:]
    assert _outcome(reruns, "twice", "Cell 3") == "PASSED", reruns[-4000:]
