"""What the book's Python scripts share on their command lines: checked chapter paths.

Every script checks its arguments before it touches anything (README,
"Quick start"): a path that is not one of the book's chapters stops it with a
one-line error and the usage, exit status 2, before a kernel starts or a file
is written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from booktools.book import chapter_paths


def add_chapters_argument(parser: argparse.ArgumentParser) -> None:
    """A ``notebooks`` argument: chapter files, all of them when none is named."""
    parser.add_argument(
        "notebooks",
        nargs="*",
        type=Path,
        help="chapter notebooks (chapters/NN_topic.ipynb); default: every chapter",
    )


def chapters(parser: argparse.ArgumentParser, named: list[Path]) -> list[Path]:
    """The chapters ``named`` (resolved), or every chapter; ``parser.error`` on any other path."""
    known = {path.resolve() for path in chapter_paths()}
    if not named:
        return sorted(known)
    resolved = []
    for path in named:
        full = path.resolve()
        if full not in known:
            why = "does not exist" if not full.exists() else "is not one of the book's chapters"
            parser.error(f"{path} {why} (expected chapters/NN_topic.ipynb)")
        resolved.append(full)
    return resolved
