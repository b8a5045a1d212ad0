"""The book's conventions, in one place: where things are and how they are named.

The tools of :mod:`booktools` and the tests import this module; the chapters
do not need it. The repository's address and branch are written once, in
``_config.yml``, the table of contents once, in ``_toc.yml``, and the
offline data folder once, here (:func:`default_data_dir`); everything else
reads them through this module.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from functools import cache
from pathlib import Path

from tfcustom.data import DATA_DIR_ENV, env_data_dir

ROOT = Path(__file__).resolve().parents[1]
"""The repository's root folder."""

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


def use_default_data_dir() -> Path | None:
    """Set ``BOOK_DATA_DIR`` to :func:`default_data_dir` when it is unset; return the folder used.

    The test suite, ``run_notebooks``, ``check_robustness`` and
    ``audit_cpu_ops`` call it before they start a kernel, so that chapters
    find the offline copy; a value already set is left alone. The result is
    the folder the chapters will read (``None``: scikit-learn downloads).
    """
    if not os.environ.get(DATA_DIR_ENV):
        mirror = default_data_dir()
        if mirror is not None:
            os.environ[DATA_DIR_ENV] = str(mirror)
    return env_data_dir()


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


def toc() -> dict:
    """``_toc.yml``, parsed."""
    return _yaml("_toc.yml")


def toc_files() -> list[str]:
    """Every file of ``_toc.yml`` (without suffix), in reading order, root first."""
    parsed = toc()
    files = [parsed["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))

    for part in parsed.get("parts", []):
        walk(part.get("chapters"))
    walk(parsed.get("chapters"))
    return files


def utils_tree(root: Path = ROOT) -> str:
    """The git tree hash of ``root/utils/`` as it is now, without committing anything.

    It is what ``git rev-parse HEAD:utils`` prints once the folder is
    committed as it is: a hash of the content (every file not ignored by
    ``.gitignore``, so no ``__pycache__``), whatever the commit, branch or
    history around it. :func:`helpers_tag` names a release after it.

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


HELPERS_TAG_PREFIX = "helpers-"
"""Release tags of the reader's package: ``helpers-`` and 12 hex digits of its tree."""


def helpers_tag(tree: str | None = None) -> str:
    """The release tag of the helpers whose ``utils/`` tree is ``tree`` (default: as it is now).

    A release of ``tfcustom`` is a commit tagged with this name
    (``python -m booktools.release`` makes it). The name is a function of the
    content alone, so the setup cells can name the release before the commit
    that makes it exists, and two different ``utils/`` can never share a tag.
    """
    tree = utils_tree() if tree is None else tree
    return HELPERS_TAG_PREFIX + tree[:12]


SETUP_CELL_TEMPLATE = """\
# Setup: on Colab, install the book's helpers as they were for these
# outputs; then check versions, quiet the logs, pin numerics, fix seeds.
if "google.colab" in str(get_ipython()):
    book = "git+{url}"
    %pip install -q {{book}}@{tag}
from tfcustom import setup_chapter

setup_chapter()"""


def setup_cell() -> str:
    """The first code cell of every chapter: the repository and the helpers' release filled in.

    The release is :func:`helpers_tag`, so the cell changes with every
    change to ``utils/``: ``python -m booktools.run_notebooks --setup-cells``
    writes it into the chapters again (``tests/test_notebooks.py`` fails
    until then), and ``python -m booktools.release`` tags the commit that
    lands it.
    """
    return SETUP_CELL_TEMPLATE.format(url=repository_url(), tag=helpers_tag())
