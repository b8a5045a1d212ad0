"""On Google Colab, give a chapter the code that produced its stored outputs.

On Colab only the notebook is downloaded, so every chapter's setup cell
clones the book's repository (into ``book.partial``, renamed to ``book``
once complete) and then runs, inside the clone::

    python -m utils.colab <tree>

``<tree>`` is the cell's ``BOOK_CODE``: the git tree hash of the ``utils/``
folder that the chapter's outputs came from (:func:`utils.book.utils_tree`
computes it when the cells are written). A tree hash names content, not a
commit, so it still matches after a rebase or a squash rewrote the history.
:func:`check_out_code` finds a commit of the branch whose ``utils/`` has
that hash and checks it out, so that a reader runs the code the outputs
came from, not whatever the branch holds today. When no commit has it (the
history lost it, or the chapter was changed without committing), the clone
keeps the branch's newest code and one line says so.

The clone is partial (``--filter=blob:none``): all commits and folders,
but a file's contents only when it is checked out, so the search is fast.
The setup cell runs this module in a separate process, so that nothing of
the branch's newest ``utils`` stays imported after the checkout.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

TREE_HASH = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
"""A git object name: SHA-1 (40 hex digits) or SHA-256 (64)."""


def _git(repo: Path | str, *args: str, stdin: str | None = None) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def check_tree(tree: str) -> str:
    """``tree`` if it is a git object name (40 or 64 lowercase hex digits).

    Raises:
        ValueError: it is not.
    """
    if not isinstance(tree, str) or not TREE_HASH.fullmatch(tree):
        raise ValueError(f"tree must be a git tree hash (40 hex digits), got {tree!r}")
    return tree


def matching_commit(tree: str, repo: Path | str = ".") -> str | None:
    """The newest commit of ``repo``'s ``HEAD`` whose ``utils/`` is ``tree``, or ``None``.

    Only commits that changed ``utils/`` are compared (``git log -- utils``):
    every other commit has the same ``utils/`` as one of them. One
    ``git cat-file`` reads all their ``utils`` tree hashes at once.

    Raises:
        ValueError: ``tree`` is not a tree hash.
        subprocess.CalledProcessError: ``repo`` is not a git repository.
    """
    check_tree(tree)
    commits = _git(repo, "log", "--format=%H", "--", "utils").split()
    if not commits:
        return None
    lines = "".join(f"{commit}:utils\n" for commit in commits)
    trees = _git(repo, "cat-file", "--batch-check=%(objectname)", stdin=lines).splitlines()
    # A commit without utils/ answers "<commit>:utils missing", never a hash.
    return next((c for c, t in zip(commits, trees, strict=True) if t == tree), None)


def check_out_code(tree: str, repo: Path | str = ".") -> str | None:
    """Check out the commit of ``repo`` whose ``utils/`` is ``tree``; return it, or ``None``.

    When ``HEAD`` already has that ``utils/``, nothing changes (the clone
    stays on its branch) and ``HEAD``'s commit is returned. When no commit
    has it, ``HEAD`` stays too, one line on standard output says that the
    branch's newest code is used instead, and the result is ``None``.

    Raises:
        ValueError: ``tree`` is not a tree hash.
        subprocess.CalledProcessError: git failed (not a repository, or the
            checkout could not fetch the files).
    """
    check_tree(tree)
    head = _git(repo, "rev-parse", "HEAD").strip()
    if _git(repo, "rev-parse", "HEAD:utils").strip() == tree:
        return head
    commit = matching_commit(tree, repo)
    if commit is None:
        branch = _git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip()
        print(
            f"The exact code of this chapter's outputs (utils/ tree {tree[:12]}) was not "
            f"found in the book's history: using the newest code of {branch}, so an "
            "output may differ from the one shown."
        )
        return None
    _git(repo, "-c", "advice.detachedHead=false", "checkout", "--quiet", commit)
    return commit


def main(argv: list[str] | None = None) -> int:
    """``python -m utils.colab TREE``: :func:`check_out_code` in the current folder."""
    parser = argparse.ArgumentParser(
        prog="python -m utils.colab", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("tree", help="the git tree hash of the wanted utils/ (BOOK_CODE)")
    args = parser.parse_args(argv)
    try:
        check_tree(args.tree)
    except ValueError as error:
        parser.error(str(error))
    try:
        check_out_code(args.tree)
    except subprocess.CalledProcessError as error:
        print(f"git {' '.join(error.cmd[3:])} failed: {error.stderr.strip()}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
