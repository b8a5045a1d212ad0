"""The book's conventions, in one place: where things are and how they are named.

Scripts and tests import this module; the chapters do not need it. The
repository's address and branch are written once, in ``_config.yml``, and
the table of contents once, in ``_toc.yml``; everything else reads them here.
"""

from __future__ import annotations

import os
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


SETUP_CELL_TEMPLATE = """\
# Setup: make the book's `utils` importable (on Colab, fetch it first), then
# check the TensorFlow and Keras releases, quiet TensorFlow's logs, pin its
# CPU numerics, fix the seeds and report the environment.
import sys
from pathlib import Path

BOOK_REPO = "{url}"
BOOK_BRANCH = "{branch}"
if "google.colab" in sys.modules and not Path("book").is_dir():
    import subprocess

    git = ["git", "clone", "--quiet", "--depth=1", "--branch"]
    subprocess.run([*git, BOOK_BRANCH, BOOK_REPO, "book"], check=True)
for folder in (Path("book"), Path.cwd().parent, Path.cwd()):
    if (folder / "utils" / "__init__.py").is_file():
        sys.path.insert(0, str(folder.resolve()))
        break

from utils import setup_chapter

setup_chapter()"""


def setup_cell() -> str:
    """The first code cell of every chapter, with the repository and branch filled in."""
    return SETUP_CELL_TEMPLATE.format(url=repository_url(), branch=repository_branch())
