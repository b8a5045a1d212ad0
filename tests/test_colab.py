"""Colab, simulated: the setup cell installs the helpers' release, and that release installs.

On Colab a chapter arrives alone, without the repository. Its setup cell
then runs ``%pip install -q git+<repository>@helpers-<tree>``. Here the cell
runs with a stand-in IPython that records the magic instead of running it
(on Colab and elsewhere), and a clone of this repository is tagged by
``python -m booktools.release`` and installed from with pip through a
``git+file://`` URL, as Colab installs from GitHub, but offline.
"""

from __future__ import annotations

import filecmp
import os
import subprocess
import sys

import pytest

from booktools import book
from booktools.notebooks import python_source


class StandInShell:
    """What the setup cell asks of ``get_ipython()``: its name, and line magics."""

    def __init__(self, name: str):
        self.name, self.magics = name, []

    def __str__(self) -> str:
        return f"<{self.name}.Shell object>"

    def run_line_magic(self, magic: str, line: str, _stack_depth: int = 1) -> None:
        caller = sys._getframe(_stack_depth).f_locals  # IPython expands {names} from here
        self.magics.append((magic, line.format(**caller)))


def run_until_import(shell: StandInShell) -> dict:
    """The setup cell up to its import of tfcustom (the rest is tested elsewhere)."""
    source = python_source(book.setup_cell())
    before_import = source[: source.index("from tfcustom import")]
    namespace = {"get_ipython": lambda: shell}
    exec(compile(before_import, "setup-cell", "exec"), namespace)
    return namespace


def test_on_colab_the_setup_cell_installs_the_helpers_release():
    shell = StandInShell("google.colab._shell")
    run_until_import(shell)
    url = f"git+{book.repository_url()}@{book.helpers_tag()}"
    assert shell.magics == [("pip", f"install -q {url}")]


def test_elsewhere_the_setup_cell_installs_nothing():
    shell = StandInShell("ipykernel.zmqshell.ZMQInteractiveShell")
    run_until_import(shell)
    assert shell.magics == []


def _git(repo, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.mark.slow
def test_a_tagged_release_installs_with_pip_from_git(tmp_path):
    """booktools.release tags a clone's HEAD; pip installs tfcustom from that tag."""
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", "--no-tags", str(book.ROOT), str(clone))  # as unreleased
    tag = book.helpers_tag(_git(clone, "rev-parse", "HEAD:utils"))
    release = subprocess.run(
        [sys.executable, "-m", "booktools.release"],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert release.returncode == 0, release.stderr
    assert f"tagged HEAD {tag}" in release.stdout
    assert _git(clone, "rev-parse", f"{tag}^{{commit}}") == _git(clone, "rev-parse", "HEAD")
    again = subprocess.run(
        [sys.executable, "-m", "booktools.release"], cwd=clone, capture_output=True, text=True
    )
    assert again.returncode == 0 and "exists already" in again.stdout

    site = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
    installed = subprocess.run(
        [*pip, "--no-build-isolation", "--target", str(site), f"git+file://{clone}@{tag}"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    compared = filecmp.dircmp(clone / "utils", site / "tfcustom", ignore=["__pycache__"])
    assert not (compared.left_only or compared.right_only or compared.diff_files)


@pytest.mark.slow
def test_release_refuses_uncommitted_helpers_and_checks_tags(tmp_path):
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", "--no-tags", str(book.ROOT), str(clone))  # as unreleased
    (clone / "utils" / "checks.py").write_text("# changed\n")

    def release(*args):
        return subprocess.run(
            [sys.executable, "-m", "booktools.release", *args],
            cwd=clone,
            capture_output=True,
            text=True,
            timeout=120,
        )

    refused = release()
    assert refused.returncode == 1 and "uncommitted changes" in refused.stderr
    assert _git(clone, "tag", "--list") == ""
    _git(clone, "tag", "helpers-000000000000", "HEAD")  # a tag that names other helpers
    checked = release("--check")
    assert checked.returncode == 1
    assert "helpers-000000000000 is on a commit whose utils/ tree is" in checked.stderr
