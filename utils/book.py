"""The book's conventions, in one place: where things are and how they are named.

Scripts and tests import this module; the chapters do not need it. The
repository's address and branch are written once, in ``_config.yml``, and
the table of contents once, in ``_toc.yml``; everything else reads them here.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
"""The repository's root folder."""

DATA_DIR_ENV = "BOOK_DATA_DIR"
"""The environment variable that names a folder holding ``cal_housing.data.gz``."""

CHAPTER_GLOB = "[0-9][0-9]_*.ipynb"
"""The file names of the chapters in ``chapters/``."""


def default_data_dir() -> Path | None:
    """The offline data folder to use when ``BOOK_DATA_DIR`` is not set.

    That is ``../shared/data`` beside the repository when it holds the
    housing file (the machines that build and test the book have no
    network), else ``None`` (scikit-learn then downloads the data).
    """
    mirror = ROOT.parent / "shared" / "data"
    return mirror if (mirror / "cal_housing.data.gz").is_file() else None


def data_dir(*, fallback: bool = True) -> Path | None:
    """The folder that ``BOOK_DATA_DIR`` names, as an absolute path; if unset, the default.

    A relative ``BOOK_DATA_DIR`` (``~`` is expanded first) is resolved
    against the repository's root, :data:`ROOT`, never against the current
    folder: a notebook's kernel runs in ``chapters/``, a script in the root,
    and the same setting must name the same folder in both. So
    ``BOOK_DATA_DIR=../shared/data`` means ``../shared/data`` beside the
    repository, from wherever it is read, as in ``./scripts/test``, which
    sets an absolute path. When the variable is unset or empty, the result
    is :func:`default_data_dir` (``None`` with ``fallback=False``).
    """
    value = os.environ.get(DATA_DIR_ENV)
    if not value:
        return default_data_dir() if fallback else None
    return (ROOT / Path(value).expanduser()).resolve()


def chapter_paths() -> list[Path]:
    """The chapter notebooks, in file-name (= reading) order."""
    return sorted((ROOT / "chapters").glob(CHAPTER_GLOB))


@cache
def _yaml(name: str) -> dict:
    import yaml

    return yaml.safe_load((ROOT / name).read_text())


def config() -> dict:
    """``_config.yml``, parsed."""
    return _yaml("_config.yml")


def repository_url() -> str:
    """The repository's address, from ``_config.yml``."""
    url = config().get("repository", {}).get("url")
    if not url:
        raise RuntimeError("_config.yml has no repository.url")
    return url


def repository_branch() -> str:
    """The branch the book is published from, from ``_config.yml`` (default ``main``)."""
    return config().get("repository", {}).get("branch") or "main"


def colab_url(notebook: str) -> str:
    """The Colab address of a chapter, e.g. for ``chapters/01_tensors.ipynb``."""
    slug = repository_url().removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{slug}/blob/{repository_branch()}/{notebook}"


def toc_files() -> list[str]:
    """Every file of ``_toc.yml`` (without suffix), in reading order, root first."""
    toc = _yaml("_toc.yml")
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return files


def utils_tree(root: Path = ROOT) -> str:
    """The git tree hash of ``root/utils/`` as it is now, without committing anything.

    It is what ``git rev-parse HEAD:utils`` prints once the folder is
    committed as it is: a hash of the content (every file not ignored by
    ``.gitignore``, so no ``__pycache__``), whatever the commit, branch or
    history around it. The setup cell records it as ``BOOK_CODE``, and on
    Colab :mod:`utils.colab` checks out the commit that has this ``utils/``,
    even after a rebase rewrote every commit.

    The files are staged in a temporary index (the repository's own index,
    and so what ``git status`` shows, is left alone); their blobs are
    written to the object store, as ``git add`` does.

    Raises:
        RuntimeError: ``root`` is not a git working tree, or git failed.
    """
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "GIT_INDEX_FILE": str(Path(tmp) / "index")}
        steps = (
            ["read-tree", "--empty"],
            ["add", "-A", "utils"],
            ["write-tree", "--prefix=utils/"],
        )
        for step in steps:
            result = subprocess.run(
                ["git", "-C", str(root), *step], env=env, capture_output=True, text=True
            )
            if result.returncode != 0:
                raise RuntimeError(
                    f"git {' '.join(step)} failed in {root}: {result.stderr.strip()}"
                )
    return result.stdout.strip()


SETUP_CELL_TEMPLATE = """\
# Setup: make the book's `utils` importable (on Colab, fetch it first), then
# check the TensorFlow and Keras releases, quiet TensorFlow's logs, pin its
# CPU numerics, fix the seeds and report the environment.
import sys
from pathlib import Path

BOOK_REPO = "{url}"
BOOK_BRANCH = "{branch}"
# The utils/ these outputs came from: its git tree hash (see utils/colab.py)
BOOK_CODE = "{tree}"
on_colab = "google.colab" in sys.modules
if on_colab and not Path("book/utils/__init__.py").is_file():
    import subprocess

    # Clone into book.partial, renamed to book only when complete: a clone
    # cut short is redone, never taken for the book. Any other book/ is
    # the reader's own folder: it is never removed.
    partial = "book.partial"
    origin = ["git", "--git-dir=book/.git", "remote", "get-url", "origin"]
    found = subprocess.run(origin, capture_output=True, text=True).stdout
    if Path("book").exists() and found.strip() != BOOK_REPO:
        raise FileExistsError("book/ is not this book's clone: rename it")
    subprocess.run(["rm", "-rf", "book", partial], check=True)
    git = ["git", "clone", "--quiet", "--filter=blob:none", "--branch"]
    subprocess.run([*git, BOOK_BRANCH, BOOK_REPO, partial], check=True)
    # Check out the commit whose utils/ is BOOK_CODE (else main's newest).
    match = [sys.executable, "-m", "utils.colab", BOOK_CODE]
    print(subprocess.check_output(match, cwd=partial, text=True), end="")
    Path(partial).rename("book")
for folder in (Path("book"), Path.cwd().parent, Path.cwd()):
    if (folder / "utils" / "__init__.py").is_file():
        sys.path.insert(0, str(folder.resolve()))
        break

from utils import setup_chapter

setup_chapter()"""


def setup_cell() -> str:
    """The first code cell of every chapter, with the repository, branch and code filled in.

    The code is :func:`utils_tree`, so the cell changes with every change to
    ``utils/``: ``python scripts/run_notebooks.py --setup-cells`` writes it
    into the chapters again (``tests/test_colab.py`` fails until then).
    """
    return SETUP_CELL_TEMPLATE.format(
        url=repository_url(), branch=repository_branch(), tree=utils_tree()
    )
