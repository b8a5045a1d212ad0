"""Tag the commit that lands a change of the helpers: their release for Colab.

Usage (from the repository root, after committing)::

    python -m booktools.release          # tag HEAD helpers-<tree>, if it needs one
    python -m booktools.release --check  # exit 1 if a helpers-* tag is wrong

Every chapter's setup cell installs ``tfcustom`` on Colab from the tag
:func:`booktools.book.helpers_tag` names: ``helpers-`` and the first 12 hex
digits of the git tree of ``utils/``. The name is a function of the
content, so the setup cells name the release before its commit exists;
this tool makes the tag once the commit does. It refuses when
``utils/`` has uncommitted changes, or when a chapter's setup cell does not
name the committed ``utils/`` (run ``python -m booktools.run_notebooks
--setup-cells`` and commit). An existing tag is never moved.
Push it with ``git push origin <tag>``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from booktools.book import HELPERS_TAG_PREFIX, ROOT, chapter_paths, helpers_tag, utils_tree


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def helpers_tags() -> dict[str, str]:
    """Every ``helpers-*`` tag of the repository: ``{tag: the utils/ tree of its commit}``."""
    names = _git("tag", "--list", f"{HELPERS_TAG_PREFIX}*").split()
    return {name: _git("rev-parse", f"{name}^{{commit}}:utils") for name in names}


def wrong_tags() -> list[str]:
    """One line per ``helpers-*`` tag whose commit's ``utils/`` is not the one it names."""
    return [
        f"{name} is on a commit whose utils/ tree is {tree[:12]}"
        for name, tree in helpers_tags().items()
        if helpers_tag(tree) != name
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m booktools.release", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--check", action="store_true", help="tag nothing; exit 1 if a helpers-* tag is wrong"
    )
    args = parser.parse_args(argv)
    wrong = wrong_tags()
    for line in wrong:
        print(f"error: {line}", file=sys.stderr)
    if args.check or wrong:
        return 1 if wrong else 0
    committed = _git("rev-parse", "HEAD:utils")
    if utils_tree() != committed:
        print("not tagged: utils/ has uncommitted changes; commit them first", file=sys.stderr)
        return 1
    tag = helpers_tag(committed)
    stale = [path.name for path in chapter_paths() if tag not in path.read_text()]
    if stale:
        print(
            f"not tagged: the setup cells of {', '.join(stale)} do not name {tag}; run "
            "python -m booktools.run_notebooks --setup-cells, then commit",
            file=sys.stderr,
        )
        return 1
    if tag in helpers_tags():
        print(f"{tag} exists already (on {_git('rev-parse', '--short', tag + '^{commit}')})")
        return 0
    _git("tag", tag, "HEAD")
    print(f"tagged HEAD {tag}; push it: git push origin {tag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
