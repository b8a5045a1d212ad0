"""Simulate a reader opening a chapter on Google Colab, without Colab or network.

The chapter runs from a temporary folder outside the repository, as on Colab
(where only the notebook is downloaded). A stand-in `google.colab` module is
imported first, as Colab's kernel does, and the repository URL in the setup
cell points at a local git repository with two commits: the working tree's
`utils/` (the code the chapter's outputs came from, the cell's `BOOK_CODE`),
then a later change to it, as `main` moves on after a chapter was run. The
setup cell must clone it, check out the first commit's code and import
`utils` from the clone, and the chapter must then run to the end with all of
its asserts.

The other cases run the setup cell's code in a plain Python process (no
kernel, no chapter): a clone cut short is redone, a `BOOK_CODE` that no
commit has falls back to the newest code with one line, outside Colab
nothing is fetched; and `utils.colab`, which finds the commit, is tested on
its own.
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

from scripts.run_notebooks import canonical_text, refresh_setup_cells
from utils import book, colab
from utils.book import ROOT

# Chapter 1 is quick; the housing chapters also need the data (online on Colab).
CHAPTERS = ["chapters/01_tensors.ipynb"]

REFRESH = "python scripts/run_notebooks.py --setup-cells"
"""The command that writes the current setup cell into every chapter."""

LATER = "later_helper.py"
"""A file that only the remote's second (later) commit adds to utils/."""

SETUP_TAIL = "from utils import setup_chapter\n\nsetup_chapter()"
"""How the setup cell ends; the plain-Python runs replace it (no TensorFlow)."""

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@t",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@t",
}


def _git(*args, cwd) -> str:
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
    ).stdout.strip()


def _commit(repo: Path, message: str) -> str:
    _git("add", "-A", cwd=repo)
    _git("commit", "-q", "--allow-empty", "-m", message, cwd=repo)
    return _git("rev-parse", "HEAD", cwd=repo)


@pytest.fixture(scope="module")
def fake_remote(tmp_path_factory) -> dict:
    """The book's repository as Colab would clone it, with main moved on.

    Returns ``url`` (file://), ``chapter`` and ``later``: the commits with
    the working tree's utils/ and with a later change to it.
    """
    remote = tmp_path_factory.mktemp("remote")
    _git("init", "-q", "-b", "main", cwd=remote)
    # GitHub serves partial clones; a local remote must be told to.
    _git("config", "uploadpack.allowFilter", "true", cwd=remote)
    shutil.copy(ROOT / ".gitignore", remote / ".gitignore")
    (remote / "README.md").write_text("before utils/ existed\n")
    _commit(remote, "no utils yet")
    shutil.copytree(ROOT / "utils", remote / "utils", ignore=shutil.ignore_patterns("__pycache__"))
    chapter = _commit(remote, "the code of the chapter's outputs")
    assert _git("rev-parse", "HEAD:utils", cwd=remote) == book.utils_tree()
    (remote / "utils" / LATER).write_text('"""Added after the chapter was run."""\n')
    later = _commit(remote, "main moves on")
    (remote / "README.md").write_text("a change outside utils/\n")
    _commit(remote, "not about utils")
    return {"url": remote.as_uri(), "chapter": chapter, "later": later}


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


def test_every_chapter_has_the_current_setup_cell():
    """The setup cell records utils/'s tree hash, so every change to utils/ changes it."""
    expected = book.setup_cell()
    assert f'BOOK_CODE = "{book.utils_tree()}"' in expected
    stale = [
        path.name
        for path in book.chapter_paths()
        if nbformat.read(path, as_version=4).cells[1].source != expected
    ]
    assert not stale, (
        f"the setup cell of {', '.join(stale)} is not utils/book.py's setup_cell() (after a "
        f"change to utils/, BOOK_CODE changes with it): run `{REFRESH}`"
    )


@pytest.mark.slow  # starts processes
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_runs_as_on_colab(chapter, tmp_path, fake_remote, fake_colab, monkeypatch):
    nb = nbformat.read(ROOT / chapter, as_version=4)
    setup = next(c for c in nb.cells if c.cell_type == "code")
    assert setup.source == book.setup_cell(), f"{chapter}: a stale setup cell; run `{REFRESH}`"
    url = book.repository_url()
    assert f'BOOK_REPO = "{url}"' in setup.source
    setup.source = setup.source.replace(url, fake_remote["url"])
    nb.cells.insert(0, nbformat.v4.new_code_cell("import google.colab  # preloaded on Colab"))
    nb.cells.append(nbformat.v4.new_code_cell("import utils\nprint(utils.__file__)"))

    workdir = tmp_path / "content"  # Colab's working folder
    workdir.mkdir()
    monkeypatch.setenv("PYTHONPATH", str(fake_colab))
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    )
    client.execute()  # raises CellExecutionError on any unexpected error or failed assert

    clone = workdir / "book"
    assert (clone / "utils" / "__init__.py").is_file(), "the setup cell did not clone"
    assert not (workdir / "book.partial").exists()
    # The chapter's code, not main's newest.
    assert _git("rev-parse", "HEAD", cwd=clone) == fake_remote["chapter"]
    assert _git("rev-parse", "HEAD:utils", cwd=clone) == book.utils_tree()
    assert not (clone / "utils" / LATER).exists()
    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert Path(printed.strip()).resolve() == (clone / "utils" / "__init__.py").resolve()
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert not (out.output_type == "stream" and out.name == "stderr"), out.text


def _setup_script(url: str, *, code: str | None = None, colab: bool = True) -> str:
    """The setup cell's code with ``url`` (and ``code``), importing utils without TensorFlow."""
    source = book.setup_cell().replace(book.repository_url(), url)
    if code is not None:
        source = source.replace(book.utils_tree(), code)
    assert source.endswith(SETUP_TAIL)
    if not colab:
        return source.removesuffix(SETUP_TAIL)
    source = source.removesuffix(SETUP_TAIL) + "import utils\nprint('utils:', utils.__file__)\n"
    # What Colab's kernel has imported before the first cell.
    return "import sys, types\nsys.modules['google.colab'] = types.ModuleType('c')\n" + source


def _run_setup(folder: Path, source: str) -> subprocess.CompletedProcess:
    script = folder.parent / f"{folder.name}-setup.py"
    script.write_text(source)
    return subprocess.run(
        [sys.executable, str(script)], cwd=folder, capture_output=True, text=True, timeout=120
    )


def _half_clone(folder: Path, origin: str) -> None:
    """A book/ without utils, cloned from ``origin``: an older cell's interrupted clone."""
    folder.mkdir(parents=True)
    _git("init", "-q", cwd=folder)
    _git("remote", "add", "origin", origin, cwd=folder)
    (folder / "README.md").write_text("half a clone\n")


def test_a_clone_cut_short_is_redone(tmp_path, fake_remote):
    """A book/ without utils (an older cell's interrupted clone) and a book.partial/ left over."""
    workdir = tmp_path / "content"
    no_remote = (tmp_path / "no-such-remote").as_uri()
    _half_clone(workdir / "book", no_remote)
    (workdir / "book.partial" / "utils").mkdir(parents=True)
    (workdir / "book.partial" / "utils" / "data.py").write_text("# half a file")

    # The network drops: the cell fails, and leaves nothing that looks complete.
    failed = _run_setup(workdir, _setup_script(no_remote))
    assert failed.returncode != 0
    assert not (workdir / "book").exists()

    _half_clone(workdir / "book", fake_remote["url"])
    result = _run_setup(workdir, _setup_script(fake_remote["url"]))
    assert (result.returncode, result.stderr) == (0, "")
    clone = workdir / "book"
    assert result.stdout == f"utils: {clone.resolve() / 'utils' / '__init__.py'}\n"
    assert _git("rev-parse", "HEAD:utils", cwd=clone) == book.utils_tree()
    assert not (workdir / "book.partial").exists()

    # A complete book/ is used as it is: nothing is fetched again.
    again = _run_setup(workdir, _setup_script((tmp_path / "no-such-remote").as_uri()))
    assert again.returncode == 0, again.stderr
    assert again.stdout == result.stdout


@pytest.mark.parametrize("origin", [None, "https://example.com/someone/else.git"])
def test_a_readers_own_book_folder_is_never_removed(tmp_path, fake_remote, origin):
    """A folder named book/ that is not a clone of this book: the cell stops, and keeps it."""
    workdir = tmp_path / "content"
    if origin is None:
        (workdir / "book").mkdir(parents=True)
    else:
        _half_clone(workdir / "book", origin)
    (workdir / "book" / "notes.txt").write_text("a reader's work\n")
    result = _run_setup(workdir, _setup_script(fake_remote["url"]))
    assert result.returncode != 0
    assert "FileExistsError: book/ is not this book's clone: rename it" in result.stderr
    assert (workdir / "book" / "notes.txt").read_text() == "a reader's work\n"
    assert not (workdir / "book.partial").exists()


def test_unknown_code_falls_back_to_the_newest_with_one_line(tmp_path, fake_remote):
    workdir = tmp_path / "content"
    workdir.mkdir()
    unknown = "0123456789abcdef" * 2 + "01234567"
    result = _run_setup(workdir, _setup_script(fake_remote["url"], code=unknown))
    assert result.returncode == 0, result.stderr
    note, imported = result.stdout.splitlines()
    assert "was not found" in note and unknown[:12] in note and "newest code of main" in note
    assert imported.startswith("utils: ") and "book" in imported
    clone = workdir / "book"
    assert _git("rev-parse", "HEAD", cwd=clone) == _git("rev-parse", "main", cwd=clone)
    assert (clone / "utils" / LATER).is_file()


def test_without_colab_nothing_is_cloned(tmp_path, fake_remote):
    """Outside Colab, the setup cell must not fetch anything."""
    result = _run_setup(tmp_path, _setup_script(fake_remote["url"], colab=False))
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "book").exists() and not (tmp_path / "book.partial").exists()


# --- utils.colab on its own -------------------------------------------------------------


@pytest.fixture()
def history(tmp_path) -> dict:
    """A repository: no utils/, utils/ "a", utils/ "b", a change elsewhere; HEAD on the last."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _git("init", "-q", "-b", "main", cwd=repo)
    (repo / "README.md").write_text("one\n")
    _commit(repo, "no utils")
    (repo / "utils").mkdir()
    (repo / "utils" / "__init__.py").write_text("a = 1\n")
    first = _commit(repo, "a")
    tree_a = _git("rev-parse", "HEAD:utils", cwd=repo)
    (repo / "utils" / "__init__.py").write_text("a = 2\n")
    second = _commit(repo, "b")
    tree_b = _git("rev-parse", "HEAD:utils", cwd=repo)
    (repo / "README.md").write_text("two\n")
    _commit(repo, "elsewhere")
    return {"repo": repo, "a": (first, tree_a), "b": (second, tree_b)}


def test_matching_commit_finds_the_commit_of_a_tree(history):
    repo = history["repo"]
    for commit, tree in (history["a"], history["b"]):
        assert colab.matching_commit(tree, repo) == commit
    assert colab.matching_commit("f" * 40, repo) is None


def test_check_out_code_checks_out_the_older_code(history, capsys):
    repo = history["repo"]
    commit, tree = history["a"]
    assert colab.check_out_code(tree, repo) == commit
    assert _git("rev-parse", "HEAD", cwd=repo) == commit
    assert (repo / "utils" / "__init__.py").read_text() == "a = 1\n"
    assert capsys.readouterr().out == ""


def test_check_out_code_keeps_a_branch_that_already_has_the_code(history, capsys):
    repo = history["repo"]
    _, tree = history["b"]
    head = _git("rev-parse", "HEAD", cwd=repo)
    assert colab.check_out_code(tree, repo) == head
    assert _git("rev-parse", "--abbrev-ref", "HEAD", cwd=repo) == "main"
    assert capsys.readouterr().out == ""


def test_check_out_code_falls_back_with_one_line(history, capsys):
    repo = history["repo"]
    head = _git("rev-parse", "HEAD", cwd=repo)
    assert colab.check_out_code("e" * 40, repo) is None
    assert _git("rev-parse", "HEAD", cwd=repo) == head
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "eeeeeeeeeeee" in out and "newest code of main" in out


@pytest.mark.parametrize("bad", ["", "abc", "A" * 40, "g" * 40, "f" * 39, None])
def test_a_bad_tree_is_refused(bad, tmp_path):
    with pytest.raises(ValueError, match="git tree hash"):
        colab.check_out_code(bad, tmp_path)
    if bad is not None:
        with pytest.raises(SystemExit) as stop:
            colab.main([bad])
        assert stop.value.code == 2


def test_the_module_runs_from_a_clone(history):
    repo = history["repo"]
    shutil.copytree(ROOT / "utils", repo / "utils", dirs_exist_ok=True)  # runnable code
    _commit(repo, "the book's utils")
    commit, tree = history["a"]
    run = [sys.executable, "-m", "utils.colab"]
    result = subprocess.run([*run, tree], cwd=repo, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (result.stdout, result.stderr) == ("", "")
    assert _git("rev-parse", "HEAD", cwd=repo) == commit
    outside = subprocess.run([*run, tree], cwd=repo.parent, capture_output=True, text=True)
    assert outside.returncode != 0  # no utils here


# --- refreshing the chapters' setup cells ------------------------------------------------


def test_refresh_setup_cells_changes_only_the_setup_cells_source(tmp_path):
    chapter = book.chapter_paths()[0]
    copy = tmp_path / chapter.name
    nb = nbformat.read(chapter, as_version=4)
    before = nbformat.from_dict(nb)
    nb.cells[1].source = nb.cells[1].source.replace(book.utils_tree(), "0" * 40)
    copy.write_text(canonical_text(nb))
    assert refresh_setup_cells([copy]) == [copy]
    after = nbformat.read(copy, as_version=4)
    assert after.cells[1].source == book.setup_cell()
    assert after.cells[1].metadata == before.cells[1].metadata
    assert after.cells[1].outputs == before.cells[1].outputs
    assert [c.source for c in after.cells[2:]] == [c.source for c in before.cells[2:]]
    assert copy.read_text() == canonical_text(after)
    text = copy.read_text()
    assert refresh_setup_cells([copy]) == []  # idempotent: nothing written
    assert copy.read_text() == text


def test_refresh_setup_cells_refuses_a_chapter_without_one(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# T"), nbformat.v4.new_markdown_cell("text")]
    path = tmp_path / "09_x.ipynb"
    path.write_text(canonical_text(nb))
    with pytest.raises(ValueError, match="not the setup cell"):
        refresh_setup_cells([path])
