"""Shared fixtures for the book's tests."""

from __future__ import annotations

import os
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
