"""House style, checked: one formatter and linter (ruff), and no copied code.

ruff is configured once, in ruff.toml (and chapters/ruff.toml for the
notebooks' 76-column page); it reads the notebooks' code cells too. The copy
check runs pylint's duplicate-code checker over utils/, booktools/ and the
chapters' code cells together, so that a cell pasted into a script (or a
helper pasted into a chapter) is caught.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from booktools.book import ROOT, chapter_paths

SOURCES = ["utils", "booktools", "tests", "conftest.py", "chapters"]


def run(*command, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", *command], cwd=cwd, capture_output=True,
                          text=True, timeout=600)  # fmt: skip


def test_ruff_format():
    result = run("ruff", "format", "--check", *SOURCES)
    assert result.returncode == 0, (
        f"not formatted (run `.venv/bin/ruff format {' '.join(SOURCES)}`):\n{result.stdout}"
    )


def test_ruff_lint():
    result = run("ruff", "check", "--output-format", "concise", *SOURCES)
    assert result.returncode == 0, f"ruff finds problems:\n{result.stdout}"


def chapter_code(path: Path) -> str:
    """A chapter's code cells as one Python source, without the shared setup cell."""
    nb = nbformat.read(path, as_version=4)
    cells = [c.source for c in nb.cells if c.cell_type == "code"][1:]
    return "\n\n".join(cells) + "\n"


def duplicates(files: list[Path]) -> str:
    """pylint's report of blocks of 6 or more similar lines across ``files`` ("" if none)."""
    result = run("pylint", "--disable=all", "--enable=duplicate-code",
                 "--min-similarity-lines=6", "--ignore-comments=yes",
                 "--ignore-docstrings=yes", "--ignore-imports=yes",
                 "--ignore-signatures=yes", "--score=no", *map(str, files))  # fmt: skip
    return result.stdout.strip()


def extracted(folder: Path) -> list[Path]:
    files = []
    for path in chapter_paths():
        target = folder / f"chapter_{path.stem}.py"
        target.write_text(chapter_code(path))
        files.append(target)
    return files


def python_files() -> list[Path]:
    return sorted((ROOT / "utils").rglob("*.py")) + sorted((ROOT / "booktools").glob("*.py"))


@pytest.mark.slow  # starts processes
def test_no_code_is_copied_between_chapters_utils_and_scripts(tmp_path):
    report = duplicates(python_files() + extracted(tmp_path))
    assert not report, (
        "code appears twice (put it in utils/ once and call it from both places):\n" + report
    )


@pytest.mark.slow  # starts processes
@pytest.mark.parametrize("where", ["script", "chapter"])
def test_a_copied_block_is_caught(tmp_path, where):
    """The control: a chapter's longest cell, pasted into a script or another chapter."""
    path = chapter_paths()[-1]
    nb = nbformat.read(path, as_version=4)
    longest = max((c.source for c in nb.cells if c.cell_type == "code"),
                  key=lambda s: len(s.splitlines()))  # fmt: skip
    assert len(longest.splitlines()) >= 8
    files = extracted(tmp_path)
    if where == "script":
        copy = tmp_path / "copying_script.py"
        copy.write_text(f'"""A script."""\n\n\ndef main():\n    pass\n\n\n{longest}\n')
        files.append(copy)
    else:
        first = files[0]
        first.write_text(first.read_text() + "\n\n" + longest + "\n")
    assert "Similar lines" in duplicates(files)
