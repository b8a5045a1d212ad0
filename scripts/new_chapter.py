"""Start a new chapter from the book's template, and hold the shared setup cell.

Usage::

    python scripts/new_chapter.py chapters/09_new_topic.ipynb "Title of the chapter"

The first code cell of every chapter is :data:`SETUP_CELL`, word for word
(``tests/test_notebooks.py`` checks it): it makes the book's ``utils``
importable (on Colab it clones the repository first), then calls
``utils.setup_chapter()``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def repository_url() -> str:
    """The repository URL, read from _config.yml (the one place it is written)."""
    text = (ROOT / "_config.yml").read_text()
    match = re.search(r"^repository:\s*\n\s+url:\s*(\S+)", text, flags=re.MULTILINE)
    if not match:
        raise RuntimeError("_config.yml has no repository.url")
    return match.group(1)


SETUP_CELL_TEMPLATE = '''\
# Setup: make the book's `utils` importable (on Colab, fetch it first),
# then quiet TensorFlow's logs, fix the seeds and report the environment.
import sys
from pathlib import Path

BOOK_REPO = "{url}"
if "google.colab" in sys.modules and not Path("book").is_dir():
    import subprocess
    subprocess.run(["git", "clone", "--quiet", "--depth=1", BOOK_REPO, "book"], check=True)
for folder in (Path("book"), Path.cwd().parent, Path.cwd()):
    if (folder / "utils" / "__init__.py").is_file():
        sys.path.insert(0, str(folder.resolve()))
        break

from utils import setup_chapter

setup_chapter()'''


def setup_cell() -> str:
    """The first code cell of every chapter, with the repository URL filled in."""
    return SETUP_CELL_TEMPLATE.format(url=repository_url())


def colab_url(notebook: str) -> str:
    """The Colab address of a chapter, e.g. for ``chapters/01_tensors.ipynb``."""
    slug = repository_url().removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{slug}/blob/main/{notebook}"


def skeleton(path: Path, title: str) -> nbformat.NotebookNode:
    """A new chapter: title cell with Colab badge, overview, setup cell."""
    rel = path.resolve().relative_to(ROOT).as_posix()
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(
            f"# {title}\n\n"
            f"[Open this chapter in Colab]({colab_url(rel)})\n\n"
            "*One-line summary.*\n\n"
            "**You will learn:** ...\n\n"
            "**Prerequisites:** ...\n\n"
            "**Run time:** about N minutes on a 2-core CPU."),
        nbformat.v4.new_code_cell(setup_cell(), metadata={"tags": ["hide-input"]}),
    ]
    return nb


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    path, title = Path(argv[0]), argv[1]
    if path.exists():
        print(f"{path} exists; not overwritten")
        return 1
    nbformat.write(skeleton(path, title), path)
    print(f"wrote {path}; list it in _toc.yml")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
