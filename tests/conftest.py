"""Shared fixtures for the book's tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MIRROR = Path(os.environ.get("BOOK_DATA_DIR", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def mirror_dir() -> Path:
    """The folder of the offline housing mirror (see README, "Offline data")."""
    if not (MIRROR / "cal_housing.data.gz").is_file():
        pytest.fail(f"the offline mirror {MIRROR}/cal_housing.data.gz is missing; "
                    "set BOOK_DATA_DIR (the README's 'Offline data' section says how)")
    return MIRROR


@pytest.fixture(scope="session")
def built_book(tmp_path_factory) -> Path:
    """Build the HTML book once per test run, with Sphinx warnings as errors.

    Returns the folder of the HTML pages. The build renders the notebooks'
    stored outputs (execution is off), so what nbval checked is what readers get.
    """
    out = tmp_path_factory.mktemp("book")
    jb = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run(
        [str(jb), "build", str(ROOT), "--builder", "html", "--path-output", str(out),
         "-W", "-n", "--keep-going"],
        capture_output=True, text=True, timeout=900)
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"the book build failed:\n{log[-6000:]}"
    assert "WARNING" not in log, f"the book build warned:\n{log[-6000:]}"
    return out / "_build" / "html"
