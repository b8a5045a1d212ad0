"""Simulate a reader opening a chapter on Google Colab, without Colab or network.

The chapter runs from a temporary folder outside the repository, as on Colab
(where only the notebook is downloaded). A stand-in `google.colab` module is
imported first, as Colab's kernel does, and the repository URL in the setup
cell points at a local git repository holding the book's `utils/`. The
setup cell must clone it and import `utils` from the clone, and the chapter
must then run to the end with all of its asserts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from utils import book
from utils.book import ROOT

# Chapter 1 is quick; the housing chapters also need the data (online on Colab).
CHAPTERS = ["chapters/01_tensors.ipynb"]


def _git(*args, cwd):
    subprocess.run(
        ["git", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        env={
            **os.environ,
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@t",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@t",
        },
    )


@pytest.fixture(scope="module")
def fake_remote(tmp_path_factory) -> str:
    """A git repository with the working tree's utils/, as a file:// URL."""
    remote = tmp_path_factory.mktemp("remote")
    shutil.copytree(ROOT / "utils", remote / "utils", ignore=shutil.ignore_patterns("__pycache__"))
    _git("init", "-q", "-b", "main", cwd=remote)
    _git("add", "utils", cwd=remote)
    _git("commit", "-q", "-m", "book", cwd=remote)
    return remote.as_uri()


@pytest.fixture(scope="module")
def fake_colab(tmp_path_factory) -> Path:
    """A stand-in for the `google.colab` package that Colab's kernel preloads.

    `google` stays a namespace package (no __init__.py), so that protobuf's
    `google.protobuf`, which TensorFlow needs, is still found.
    """
    site = tmp_path_factory.mktemp("colab_site")
    (site / "google" / "colab").mkdir(parents=True)
    (site / "google" / "colab" / "__init__.py").write_text('"""Stand-in for tests."""\n')
    return site


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_runs_as_on_colab(chapter, tmp_path, fake_remote, fake_colab, monkeypatch):
    nb = nbformat.read(ROOT / chapter, as_version=4)
    setup = next(c for c in nb.cells if c.cell_type == "code")
    assert setup.source == book.setup_cell()
    url = book.repository_url()
    assert f'BOOK_REPO = "{url}"' in setup.source
    setup.source = setup.source.replace(url, fake_remote)
    nb.cells.insert(0, nbformat.v4.new_code_cell("import google.colab  # preloaded on Colab"))
    nb.cells.append(nbformat.v4.new_code_cell("import utils\nprint(utils.__file__)"))

    workdir = tmp_path / "content"  # Colab's working folder
    workdir.mkdir()
    monkeypatch.setenv("PYTHONPATH", str(fake_colab))
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    )
    client.execute()  # raises CellExecutionError on any unexpected error or failed assert

    assert (workdir / "book" / "utils" / "__init__.py").is_file(), "the setup cell did not clone"
    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert (
        Path(printed.strip()).resolve() == (workdir / "book" / "utils" / "__init__.py").resolve()
    )
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert not (out.output_type == "stream" and out.name == "stderr"), out.text


def test_without_colab_nothing_is_cloned(tmp_path, fake_remote):
    """Outside Colab, the setup cell must not fetch anything."""
    source = book.setup_cell().replace(book.repository_url(), fake_remote)
    source = source.replace("from utils import setup_chapter\n\nsetup_chapter()", "")
    script = tmp_path / "setup.py"
    script.write_text(source)
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "book").exists()
