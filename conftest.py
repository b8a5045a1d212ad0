"""Shared fixtures and the two test modes of the book (for tests/ and chapters/).

This file sits at the repository's root so that it applies to the notebooks
too, and so that pytest puts the root on ``sys.path``: ``import utils``
works from any test, with ``pytest`` as with ``python -m pytest``.

**Strict** (the default, and CI's): every stored output of every chapter is
compared with a fresh run, digit for digit. That is fair on any x86-64 CPU
because the chapters pin TensorFlow's CPU numerics; the canary
(``tests/test_canary.py``), which runs first, checks that this machine does
compute the reference numbers, and stops the run with an explanation if not.

**Portable** (``./scripts/test --portable``): for machines whose last digits
legitimately differ (Apple Silicon, a GPU, another TensorFlow release, or
the pins switched off). Every chapter still runs top to bottom with all of
its asserts, but outputs of cells tagged ``platform-dependent`` (printed
training losses, scores, anything that moves with the last bits) are not
compared.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from utils.book import DATA_DIR_ENV, ROOT, default_data_dir
from utils.setup import numerics_pinned, pin_numerics

PLATFORM_TAG = "platform-dependent"
"""Cells whose outputs portable mode does not compare."""

# TensorFlow reads the pins once, at its first import, which may come from any
# test module: pin before any of them is collected.
if numerics_pinned():
    pin_numerics()

if DATA_DIR_ENV not in os.environ and default_data_dir() is not None:
    os.environ[DATA_DIR_ENV] = str(default_data_dir())

MIRROR = Path(os.environ.get(DATA_DIR_ENV, ROOT.parent / "shared" / "data"))


def pytest_addoption(parser):
    parser.addoption(
        "--portable",
        action="store_true",
        help="portable mode: run every chapter and assert, but do not compare outputs "
        f"of cells tagged {PLATFORM_TAG} (for machines whose last digits differ)",
    )


def portable(config) -> bool:
    return bool(config.getoption("--portable"))


def pytest_report_header(config):
    if portable(config):
        return [
            f"book test mode: PORTABLE: every chapter runs with all its asserts; outputs of "
            f"cells tagged {PLATFORM_TAG} are not compared (for a platform whose last "
            "digits differ from the reference machine's)"
        ]
    return [
        "book test mode: STRICT: every stored output is compared digit for digit; the "
        "canary checks first that this machine computes the reference numbers "
        "(elsewhere, run ./scripts/test --portable)"
    ]


def pytest_collection_modifyitems(session, config, items):
    # The canary first: if this machine cannot reproduce the reference numbers,
    # it stops the run before dozens of output comparisons fail.
    items.sort(key=lambda item: item.nodeid.split("::")[0] != "tests/test_canary.py")
    if not portable(config):
        return
    for item in items:
        cell = getattr(item, "cell", None)
        if cell is not None and PLATFORM_TAG in cell.get("metadata", {}).get("tags", []):
            item.options["check"] = False


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def portable_mode(request) -> bool:
    return portable(request.config)


@pytest.fixture(scope="session")
def mirror_dir() -> Path:
    """The folder of the offline housing mirror (see README, "Offline data")."""
    if not (MIRROR / "cal_housing.data.gz").is_file():
        pytest.fail(
            f"the offline mirror {MIRROR}/cal_housing.data.gz is missing; "
            "set BOOK_DATA_DIR (the README's 'Offline data' section says how)"
        )
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
        [
            str(jb),
            "build",
            str(ROOT),
            "--builder",
            "html",
            "--path-output",
            str(out),
            "-W",
            "-n",
            "--keep-going",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"the book build failed:\n{log[-6000:]}"
    assert "WARNING" not in log, f"the book build warned:\n{log[-6000:]}"
    return out / "_build" / "html"
