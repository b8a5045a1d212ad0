"""Start a new chapter from the book's template.

Usage (from the repository root)::

    python -m booktools.new_chapter chapters/09_new_topic.ipynb "Title of the chapter"

The skeleton has every part that ``tests/test_notebooks.py`` requires: the
opening cell with the Colab link, the shared setup cell (``booktools.book``
holds its text), a first section, a summary and exercises with a hidden
solution. List the new file in ``_toc.yml`` and run it with
``python -m booktools.run_notebooks``; it then passes the test suite as it is.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

from booktools import book


def skeleton(path: Path, title: str) -> nbformat.NotebookNode:
    """A new chapter that passes the hygiene tests once executed."""
    rel = f"chapters/{path.name}"  # chapters live in chapters/
    nb = nbformat.v4.new_notebook()
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    nb.cells = [
        md(
            f"# {title}\n\n"
            f"[Open this chapter in Colab]({book.colab_url(rel)})\n\n"
            "*One-line summary.*\n\n"
            "**You will learn:** ...\n\n"
            "**Prerequisites:** ...\n\n"
            "**Run time:** about N minutes on a 2-core CPU."
        ),
        code(
            book.setup_cell(),
            # It prints the versions and the device: a report on the machine,
            # reported, never failed, where it differs (tests/outputs.py).
            metadata={
                "tags": ["hide-input", "platform-dependent"],
                "tolerance": "describes-machine",
            },
        ),
        md(
            "## A first section\n\nWhy before how: say what the code below shows "
            "and what it should print."
        ),
        code(
            "import tensorflow as tf\n\nresult = tf.reduce_sum(tf.range(4))\n"
            "assert int(result) == 6\nint(result)"
        ),
        md("## Summary\n\n- ..."),
        md("## Exercises\n\n1. ..."),
        md("**Solution 1.**"),
        code("answer = 6\nassert answer == 6", metadata={"tags": ["hide-cell"]}),
    ]
    return nb


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if len(argv) != 2:
        print("new_chapter.py: give the new notebook's path and its title\n", file=sys.stderr)
        print(__doc__, file=sys.stderr)
        return 2
    path, title = Path(argv[0]), argv[1]
    if path.suffix != ".ipynb" or not title.strip():
        print(
            f"new_chapter.py: {path} must end in .ipynb and the title be non-empty",
            file=sys.stderr,
        )
        return 2
    if path.exists():
        print(f"{path} exists; not overwritten", file=sys.stderr)
        return 1
    if not path.parent.is_dir():
        print(f"new_chapter.py: the folder {path.parent} does not exist", file=sys.stderr)
        return 2
    nbformat.write(skeleton(path, title), path)
    print(f"wrote {path}; list it in _toc.yml, then run python -m booktools.run_notebooks {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
