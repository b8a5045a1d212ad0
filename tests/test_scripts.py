"""The shell scripts check their arguments and .venv before they touch anything.

``build-book``, ``test``, ``test-stack`` and ``ensure-env`` each get a
``--help`` that prints what they do and changes nothing, and an unknown
argument stops them (exit status 2) before anything is removed, created or
installed. ``ensure-env`` also notices a ``.venv`` that no longer works (no
pip, its Python removed, a package the book needs uninstalled) and a
``PYTHON`` of another version than the one ``.venv`` was made from, and says
how to fix it instead of going on.

Every test runs a copy of ``scripts/`` in a temporary folder, never on the
repository's own ``_build`` or ``.venv``. Nothing is installed: the ``.venv``
of a test is made with ``python -m venv --without-pip`` in a fraction of a
second and holds empty stand-ins for the packages the book needs, ``PYTHON``
is a stub that records being run, and pip is told to use no index.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from booktools.book import ROOT, chapter_paths, setup_cell
from booktools.notebooks import stale_notebooks

SCRIPTS = ROOT / "scripts"
NEEDED = re.search(r'needed="([^"]*)"', (SCRIPTS / "ensure-env").read_text()).group(1).split()
"""The modules ensure-env requires in .venv (read from the script)."""

THIS_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


@pytest.fixture
def book(tmp_path) -> Path:
    """A copy of the scripts and of the files they read, with a built book in _build."""
    folder = tmp_path / "book"
    shutil.copytree(SCRIPTS, folder / "scripts", ignore=shutil.ignore_patterns("__pycache__"))
    for name in (
        "requirements.txt",
        "constraints.txt",
        "requirements-oldest.txt",
        "pyproject.toml",
    ):
        shutil.copy2(ROOT / name, folder / name)
    for path in ("_build/html/index.html", "_build/latex/book.tex"):
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text("a book built earlier\n")
    # The Korean edition's build: records its arguments and writes a page.
    (folder / "booktools").mkdir()
    (folder / "booktools" / "editions.py").write_text(
        "import pathlib, sys\n"
        "pathlib.Path('_build/editions-args').write_text(' '.join(sys.argv[1:]))\n"
        "pathlib.Path(sys.argv[1], 'ko').mkdir()\n"
        "pathlib.Path(sys.argv[1], 'ko', 'index.html').write_text('new')\n"
    )
    return folder


def stub(path: Path, body: str) -> Path:
    """An executable shell script at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def recording_python(tmp_path) -> Path:
    """A PYTHON that fails and leaves a file behind when anything runs it."""
    return stub(tmp_path / "stub" / "python3", f'echo "$@" >> {tmp_path}/python-was-run\nexit 1')


def run(book: Path, script: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    """Run ``scripts/<script> args`` from outside the copy, with pip offline."""
    environ = {k: v for k, v in os.environ.items() if k not in ("PYTHON", "VIRTUAL_ENV")}
    environ.update(PIP_NO_INDEX="1", PIP_CONFIG_FILE=os.devnull, **env)
    return subprocess.run(
        [str(book / "scripts" / script), *args],
        cwd=book.parent,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def make_venv(book: Path, lacking: tuple[str, ...] = (), stamp: bool = True) -> Path:
    """A .venv as ensure-env leaves it, with empty packages instead of the real ones."""
    venv = book / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    site = venv / "lib" / f"python{THIS_PYTHON}" / "site-packages"
    assert site.is_dir()
    for module in NEEDED:
        if module not in lacking:
            (site / module).mkdir()
            (site / module / "__init__.py").write_text("")
    if "pytest" not in lacking:  # `python -m pytest ARGS` prints its arguments
        (site / "pytest" / "__main__.py").write_text("import sys\nprint('PYTEST', sys.argv[1:])\n")
    if stamp:
        names = ("requirements.txt", "constraints.txt", "pyproject.toml")
        text = b"".join((book / name).read_bytes() for name in names)
        (venv / ".requirements.sha256").write_text(hashlib.sha256(text).hexdigest() + "\n")
    # jupyter-book: records its arguments and writes a page
    page = "mkdir -p _build/html\necho new > _build/html/index.html"
    stub(venv / "bin" / "jupyter-book", f'echo "$@" > _build/jupyter-book-args\n{page}')
    return venv


def built_book_is_intact(book: Path) -> bool:
    return all(
        (book / path).read_text() == "a book built earlier\n"
        for path in ("_build/html/index.html", "_build/latex/book.tex")
    )


# build-book


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_build_book_help_prints_the_usage_and_removes_nothing(book, flag):
    make_venv(book)  # ready, so that nothing would stop a build
    result = run(book, "build-book", flag)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: scripts/build-book")
    for what in ("--pdf", "--help", f"{book}/_build/html", "_build/latex/<name>.pdf"):
        assert what in result.stdout
    assert built_book_is_intact(book)
    assert not (book / "_build" / "jupyter-book-args").exists()


@pytest.mark.parametrize("args", [["--bogus"], ["--pdf", "--bogus"], ["-pdf"], ["html"]])
def test_build_book_stops_at_an_unknown_argument_before_removing_anything(book, args):
    make_venv(book)
    result = run(book, "build-book", *args)
    assert result.returncode == 2
    first, rest = result.stderr.split("\n", 1)
    bad = [a for a in args if a != "--pdf"][0]
    assert first.startswith(f"build-book: unknown argument '{bad}'")
    assert rest.startswith("usage: scripts/build-book")
    assert result.stdout == ""
    assert built_book_is_intact(book)
    assert not (book / "_build" / "jupyter-book-args").exists()


def test_build_book_builds_as_before_with_valid_arguments(book):
    """--pdf builds the PDF first; arguments after -- go to jupyter-book."""
    make_venv(book)
    stub_pdf = (
        "import os\nos.makedirs('_build/latex')\nopen('_build/latex/book.pdf', 'w').close()\n"
    )
    (book / "booktools" / "build_pdf.py").write_text(stub_pdf)  # build-book removed _build/latex
    result = run(book, "build-book", "--pdf", "--", "--verbose")
    assert result.returncode == 0, result.stderr
    args = (book / "_build" / "jupyter-book-args").read_text().split()
    assert args == ["build", ".", "--builder", "html", "-W", "-n", "--keep-going", "--verbose"]
    assert (book / "_build" / "editions-args").read_text() == "_build/html --verbose"
    assert (book / "_build" / "html" / "ko" / "index.html").read_text() == "new"
    assert f"the book is in {book}/_build/html/index.html" in result.stdout
    assert f"with the PDF edition: {book}/_build/html/book.pdf" in result.stdout
    assert not (book / "_build" / "latex" / "book.tex").exists()  # the earlier build is gone

    result = run(book, "build-book")
    assert result.returncode == 0, result.stderr
    assert not (book / "_build" / "latex").exists()  # no PDF older than the HTML book


def test_a_failed_build_puts_the_previous_book_back(book):
    """A build that fails (here jupyter-book exits 1) must not leave the reader without a book."""
    venv = make_venv(book)
    stub(venv / "bin" / "jupyter-book", "mkdir -p _build/html\necho half > _build/html/x\nexit 1")
    result = run(book, "build-book")
    assert result.returncode == 1
    assert "the previous book" in result.stderr and "is back in" in result.stderr
    assert built_book_is_intact(book)
    assert not (book / "_build" / "html" / "x").exists()
    assert not (book / "_build" / "previous").exists()


# scripts/test


def test_test_help_creates_no_venv(book, tmp_path, recording_python):
    result = run(book, "test", "--help", PYTHON=str(recording_python))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: scripts/test")
    assert "once .venv exists" in result.stdout
    assert not (book / ".venv").exists()
    assert not (tmp_path / "python-was-run").exists()


def test_test_help_goes_on_to_pytests_help_when_venv_is_ready(book):
    make_venv(book)
    (book / ".venv" / ".requirements.sha256").write_text("stale: would reinstall\n")
    result = run(book, "test", "-x", "-h")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: scripts/test")
    assert "PYTEST ['-x', '-h']" in result.stdout
    assert "installing" not in result.stdout + result.stderr


# scripts/test-stack


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["oldest", "--help"]])
def test_test_stack_help_creates_nothing(book, tmp_path, recording_python, args):
    result = run(book, "test-stack", *args, PYTHON=str(recording_python))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: scripts/test-stack")
    assert f"{book}/.venv-stacks/" in result.stdout
    assert not (book / ".venv-stacks").exists()
    assert not (tmp_path / "python-was-run").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "name a stack"),
        (["olddest"], "'olddest' is neither 'oldest' nor a TensorFlow version"),
        (["-x"], "'-x' is neither 'oldest' nor a TensorFlow version"),
        (["2.20.0"], "give a Keras version"),
        (["2.20.0", "-x"], "'-x' is not a Keras version"),
        (["2.20.0", "bogus"], "'bogus' is not a Keras version"),
        (["2.20.0;", "3.15.1"], "'2.20.0;' is neither"),
    ],
)
def test_test_stack_checks_its_arguments_before_creating_anything(
    book, tmp_path, recording_python, args, message
):
    result = run(book, "test-stack", *args, PYTHON=str(recording_python))
    assert result.returncode == 2
    first, rest = result.stderr.split("\n", 1)
    assert first.startswith("test-stack: ") and message in first
    assert rest.startswith("usage: scripts/test-stack")
    assert not (book / ".venv-stacks").exists()
    assert not (tmp_path / "python-was-run").exists()


@pytest.mark.parametrize("args", [["2.20.0", "3.15.1"], ["2.21.0rc1", "3.15.1.post1", "-x"]])
def test_test_stack_accepts_release_numbers(book, tmp_path, recording_python, args):
    """Valid versions get as far as creating the environment (with a PYTHON that fails)."""
    result = run(book, "test-stack", *args, PYTHON=str(recording_python))
    assert result.returncode == 1
    assert "does not run" in result.stderr
    assert (tmp_path / "python-was-run").exists()


# ensure-env


def test_ensure_env_help_touches_nothing(book, tmp_path, recording_python):
    result = run(book, "ensure-env", "--help", PYTHON=str(recording_python))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: scripts/ensure-env")
    assert "PYTHON" in result.stdout
    assert not (book / ".venv").exists()
    assert not (tmp_path / "python-was-run").exists()

    result = run(book, "ensure-env", "--bogus", PYTHON=str(recording_python))
    assert result.returncode == 2
    assert result.stderr.startswith("ensure-env: unknown argument '--bogus'\nusage:")
    assert not (book / ".venv").exists()


def test_ensure_env_checks_every_package_of_requirements_txt():
    """NEEDED names an importable module of each requirement (pip's, of this environment)."""
    normal = lambda name: re.sub(r"[-_.]+", "-", name).lower()
    modules = defaultdict(set)  # distribution -> the modules it installs
    for module, distributions in importlib.metadata.packages_distributions().items():
        for distribution in distributions:
            modules[normal(distribution)].add(module)
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        requirement = line.split("#")[0].strip()
        if requirement == "-e .":  # the book's own helpers, editable
            assert "tfcustom" in NEEDED
        elif requirement:
            requirement = Requirement(requirement)
            if requirement.marker is None or requirement.marker.evaluate():
                assert modules[normal(requirement.name)] & set(NEEDED), requirement.name


def test_ensure_env_is_a_quiet_no_op_when_all_is_well(book):
    make_venv(book)
    result = run(book, "ensure-env")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    # PYTHON of the same version as .venv's: nothing to say either
    result = run(book, "ensure-env", PYTHON=sys.executable)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def assert_broken(result, *phrases):
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert "/.venv is broken: " in result.stderr
    for phrase in phrases:
        assert phrase in result.stderr


@pytest.mark.parametrize("stamp", [True, False], ids=["up to date", "to install"])
def test_ensure_env_reports_a_venv_without_pip(book, stamp):
    venv = make_venv(book, lacking=("pip",), stamp=stamp)
    result = run(book, "ensure-env")
    assert_broken(result, "has no pip", f"rm -rf {venv}\n")
    assert "installing" not in result.stdout
    assert (venv / ".requirements.sha256").exists() == stamp  # nothing changed


def test_ensure_env_reports_a_venv_whose_python_was_removed(book, tmp_path):
    venv = make_venv(book)
    gone = tmp_path / "removed-python" / f"python{THIS_PYTHON}"
    link = venv / "bin" / f"python{THIS_PYTHON}"  # bin/python and bin/python3 point here
    link.unlink()
    link.symlink_to(gone)
    result = run(book, "ensure-env")
    assert_broken(result, f"is a link to {gone}, which no longer exists", f"rm -rf {venv}\n")
    assert os.readlink(link) == str(gone)  # left as it was
    assert "creating" not in result.stdout


def test_ensure_env_reports_a_venv_whose_python_does_not_run(book):
    venv = make_venv(book)
    (venv / "bin" / "python").unlink()
    stub(venv / "bin" / "python", "echo 'cannot execute: Exec format error' >&2\nexit 126")
    result = run(book, "ensure-env")
    assert_broken(result, "does not run", "Exec format error", f"rm -rf {venv}\n")


def test_ensure_env_reports_a_package_that_was_uninstalled(book):
    venv = make_venv(book, lacking=("nbval", "sklearn"))
    result = run(book, "ensure-env")
    assert_broken(
        result,
        "lacks packages the book needs: nbval sklearn\n",
        "unrecognized arguments: --nbval",
        f"rm {venv}/.requirements.sha256\n",  # the fix that keeps .venv
        f"rm -rf {venv}\n",
    )
    assert (venv / ".requirements.sha256").exists()


@pytest.mark.parametrize("version", ["3.99", "3.12" if THIS_PYTHON == "3.11" else "3.11"])
def test_ensure_env_reports_a_python_of_another_version(book, version):
    venv = make_venv(book)
    other = stub(book.parent / "stub" / "python3.x", f"echo {version}")
    result = run(book, "ensure-env", PYTHON=str(other))
    assert result.returncode == 1
    assert result.stdout == ""
    expected = [f"is Python {version}", f"made from Python {THIS_PYTHON}", "nothing was changed"]
    for phrase in [*expected, f"rm -rf {venv}\n", "unset PYTHON"]:
        assert phrase in result.stderr
    assert (venv / "bin" / "python").exists()


def test_ensure_env_refuses_a_python_older_than_3_11(book, tmp_path):
    old = stub(tmp_path / "stub" / "python3.10", "echo 3.10")
    result = run(book, "ensure-env", PYTHON=str(old))
    assert result.returncode == 1
    assert "Python 3.11 or newer is needed" in result.stderr
    assert f"PYTHON={old} is Python 3.10" in result.stderr
    assert not (book / ".venv").exists()


def test_ensure_env_removes_the_partial_venv_of_a_failed_creation(book, tmp_path):
    """A venv that `python -m venv` left half made (no pip) would be broken forever."""
    python = stub(
        tmp_path / "stub" / "python3",
        f'case "$1" in -c) echo {THIS_PYTHON} ;; --version) echo Python {THIS_PYTHON}.0 ;;\n'
        '-m) mkdir -p .venv/bin; echo "ensurepip is not available" >&2; exit 1 ;; esac',
    )
    result = run(book, "ensure-env", PYTHON=str(python))
    assert result.returncode == 1
    assert "== creating .venv" in result.stdout
    assert "removed the partial .venv" in result.stderr
    assert not (book / ".venv").exists()


# the Python scripts: a path that is not a chapter stops them before anything runs


@pytest.mark.parametrize("tool", ["run_notebooks", "audit_cpu_ops", "check_robustness --vendor"])
def test_python_tools_refuse_a_path_that_is_not_a_chapter(tool, tmp_path):
    name, *flags = tool.split()
    result = subprocess.run(
        [sys.executable, "-m", f"booktools.{name}", *flags, str(tmp_path / "nope.ipynb")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "does not exist (expected chapters/NN_topic.ipynb)" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_gather_keras3_notes_refuses_an_unknown_argument():
    result = subprocess.run(
        [sys.executable, "-m", "booktools.gather_keras3_notes", "--chek"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "unknown argument '--chek'" in result.stderr


def test_run_notebooks_writes_on_another_cpu_but_not_on_another_stack():
    """A differing probe is noted (outputs are checked anyway); another stack is refused."""
    from booktools.provenance import check_reference, probe_note
    from booktools.reference import load_provenance

    provenance = load_provenance()
    reference = provenance["reference"]
    other_cpu = {
        "machine": {**reference["machine"], "cpu": "AMD EPYC", "vendor": "AuthenticAMD"},
        "fingerprints": {**reference["fingerprints"], "matmul_depth_256": "0" * 16},
    }
    assert check_reference(other_cpu, provenance, False, False) is None
    assert "matmul_depth_256" in probe_note(other_cpu, provenance)
    assert probe_note(reference, provenance) is None
    other_stack = {**other_cpu, "machine": {**other_cpu["machine"], "keras": "3.16.0"}}
    assert "another Python, TensorFlow or Keras" in check_reference(
        other_stack, provenance, False, False
    )
    unpinned = {**other_cpu, "machine": {**other_cpu["machine"], "numerics": "own"}}
    assert "not pinned" in check_reference(unpinned, provenance, False, False)


def test_measure_run_times_keeps_the_benchmark_tables(tmp_path, monkeypatch):
    """--keep-benchmarks writes back the page's benchmark block, or refuses."""
    from booktools import measure_run_times

    kept = measure_run_times.kept_benchmarks()
    assert kept[0] == "```text" and kept[-1] == "```" and len(kept) > 10
    assert any(line.startswith("Chapter 6: training on") for line in kept)
    page = tmp_path / "run_times.md"
    page.write_text("# Appendix: run times, measured\n\nno benchmark here\n")
    monkeypatch.setattr(measure_run_times, "PAGE", page)
    monkeypatch.setattr(measure_run_times, "ROOT", tmp_path)
    with pytest.raises(SystemExit, match="no benchmark tables to keep"):
        measure_run_times.kept_benchmarks()


def test_the_run_times_page_says_whether_the_budget_holds():
    from booktools import measure_run_times

    budget = measure_run_times.RUN_BUDGET
    within = measure_run_times.budget_line([{"seconds": budget - 1.0}])
    over = measure_run_times.budget_line([{"seconds": budget / 2}, {"seconds": budget / 2 + 30}])
    assert within.endswith(f"took {budget - 1} s, within it.")
    assert over.endswith(f"took {budget + 30} s, **30 s over it**.")


def test_run_notebooks_check_lists_what_would_change_and_writes_nothing(tmp_path, capsys):
    from booktools import run_notebooks

    chapter = chapter_paths()[0]
    assert stale_notebooks([chapter]) == []
    assert run_notebooks.main(["--check", str(chapter)]) == 0
    text = chapter.read_text()
    stale = tmp_path / chapter.name
    stale.write_text(text.replace(setup_cell().splitlines()[0], "# old", 1)[:-1])
    before = stale.read_text()
    problems = stale_notebooks([stale])
    assert len(problems) == 2, problems
    assert "canonical form" in problems[0] and "setup cell is stale" in problems[1]
    assert stale.read_text() == before


def test_the_pre_commit_hooks_run_the_books_own_tools():
    import yaml

    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    (repo,) = config["repos"]
    assert repo["repo"] == "local"  # no network: the hooks come from .venv
    entries = {hook["id"]: hook["entry"].split() for hook in repo["hooks"]}
    assert entries["notebooks"][1:] == ["-m", "booktools.run_notebooks", "--check"]
    for command in entries.values():
        assert command[0].startswith(".venv/bin/"), command
        modules = [command[i + 1] for i, part in enumerate(command) if part == "-m"]
        assert all(importlib.util.find_spec(name) for name in modules), command
