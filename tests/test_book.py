"""The book builds with warnings as errors, and its table of contents is complete.

The build renders the notebooks' stored outputs (execution is off), so this
test also shows that what nbval checked is what readers get.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from booktools import book
from booktools.book import ROOT


def toc_files() -> list[str]:
    toc = book.toc()
    files = [toc["root"]]
    for part in toc.get("parts", []):
        assert part.get("caption"), "every part of _toc.yml needs a caption"
        files += [entry["file"] for entry in part["chapters"]]
    return files


def test_every_chapter_is_in_the_toc_and_every_entry_exists():
    listed = toc_files()
    assert len(listed) == len(set(listed)), "a file is listed twice in _toc.yml"
    for entry in listed:
        matches = [p for p in ROOT.glob(entry + ".*") if p.suffix in (".md", ".ipynb")]
        assert len(matches) == 1, f"_toc.yml lists {entry!r}, which does not exist"
    chapters = {
        # every notebook, whether or not it is named as a chapter (NN_topic)
        p.relative_to(ROOT).with_suffix("").as_posix()
        for p in (ROOT / "chapters").glob("*.ipynb")
    }
    missing = chapters - set(listed)
    assert not missing, f"notebooks missing from _toc.yml: {sorted(missing)}"
    numbered = [e for e in listed if e.startswith("chapters/")]
    assert numbered == sorted(numbered), "chapters must appear in _toc.yml in number order"


def test_repository_url_is_configured_once():
    url = book.repository_url()
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url)
    config = book.config()
    assert config["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert config["execute"]["execute_notebooks"] == "off"


def _git(repo: Path, *args: str) -> str:
    identity = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t"}
    identity |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run(
        ["git", "-C", str(repo), *args],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **identity},
    ).stdout.strip()


def test_utils_tree_is_the_tree_git_would_commit(tmp_path):
    """The hash of utils/ as committed, without committing or touching the index."""
    repo = tmp_path / "repo"
    (repo / "utils" / "__pycache__").mkdir(parents=True)
    _git(repo, "init", "-q")
    (repo / ".gitignore").write_text("__pycache__/\n")
    (repo / "utils" / "__init__.py").write_text("x = 1\n")
    (repo / "utils" / "__pycache__" / "x.pyc").write_bytes(b"compiled")
    (repo / "README.md").write_text("not in utils\n")
    tree = book.utils_tree(repo)
    assert re.fullmatch(r"[0-9a-f]{40}", tree)
    assert _git(repo, "status", "--porcelain") == "?? .gitignore\n?? README.md\n?? utils/"
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "c")
    assert _git(repo, "rev-parse", "HEAD:utils") == tree
    (repo / "utils" / "__init__.py").write_text("x = 2\n")  # not committed: counted
    assert book.utils_tree(repo) not in (tree, _git(repo, "rev-parse", "HEAD:utils"))
    (repo / "utils" / "__init__.py").write_text("x = 1\n")
    (repo / "README.md").write_text("changed, but not in utils\n")
    assert book.utils_tree(repo) == tree


def test_utils_tree_needs_a_git_repository(tmp_path):
    (tmp_path / "utils").mkdir()
    with pytest.raises(RuntimeError, match="git read-tree --empty failed"):
        book.utils_tree(tmp_path)


def test_the_setup_cell_installs_the_helpers_the_outputs_came_from():
    """At most 8 lines: on Colab only, pip installs tfcustom from the repository at the
    tag named after the helpers' tree; then setup_chapter(). No sys.path edits."""
    cell = book.setup_cell()
    assert len(cell.splitlines()) <= 8, cell
    tag = book.helpers_tag()
    assert tag == "helpers-" + book.utils_tree()[:12]
    assert f'book = "git+{book.repository_url()}"' in cell
    assert f"%pip install -q {{book}}@{tag}\n" in cell
    colab, install = (line for line in cell.splitlines() if "colab" in line or "%pip" in line)
    assert colab.startswith('if "google.colab" in') and install.startswith("    ")  # Colab only
    assert cell.endswith("from tfcustom import setup_chapter\n\nsetup_chapter()")
    assert "sys.path" not in cell


@pytest.mark.slow
def test_pip_installs_the_helpers_and_nothing_of_the_maintainers(tmp_path):
    """The wheel that `pip install .` (or the setup cell's git URL) installs: every module
    of utils/ as tfcustom, importable from where pip put it, and nothing else."""
    import zipfile

    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = tmp_path.glob("tfcustom-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    modules = {name for name in names if name.endswith(".py")}
    expected = {f"tfcustom/{path.relative_to(ROOT / 'utils')}" for path in
                (ROOT / "utils").rglob("*.py")}  # fmt: skip
    assert modules == expected
    assert not [name for name in names if name.startswith(("booktools", "tests", "chapters"))]
    site = tmp_path / "site"
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
    subprocess.run([*install, "--target", str(site), str(wheel)], check=True, timeout=300)
    probe = "import tfcustom, tfcustom.machine; print(tfcustom.__file__)"
    found = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert found.returncode == 0, found.stderr[-2000:]
    assert found.stdout.strip() == str(site / "tfcustom" / "__init__.py")


def chapter_pages(html: Path) -> list[Path]:
    return sorted((html / "chapters").glob("*.html"))


def test_every_chapter_page_is_built(built_book):
    pages = {p.stem for p in chapter_pages(built_book)}
    expected = {p.stem for p in book.chapter_paths()}
    assert expected and pages == expected
    assert (built_book / "index.html").is_file()


def test_math_is_served_by_the_site_not_a_cdn(built_book):
    assert (built_book / "_static" / "mathjax" / "tex-svg.js").is_file()
    for page in [built_book / "intro.html", *chapter_pages(built_book)]:
        html = page.read_text()
        scripts = re.findall(r'<script[^>]+src="([^"]+)"', html)
        remote = [s for s in scripts if s.startswith(("http:", "https:", "//"))]
        assert not remote, f"{page.name} loads scripts from the network: {remote}"
        if 'class="math' in html:
            assert any(s.split("?")[0].endswith("mathjax/tex-svg.js") for s in scripts), page.name


def test_chapter_pages_show_outputs_and_launch_buttons(built_book):
    for page in chapter_pages(built_book):
        html = page.read_text()
        assert html.count('class="cell_output') >= 3, f"{page.name} shows no outputs"
        rel = f"chapters/{page.stem}.ipynb"
        launch = html.split("dropdown-launch-buttons", 1)[-1].split("</ul>", 1)[0]
        assert "dropdown-launch-buttons" in html, f"{page.name}: no launch buttons"
        assert f'href="{book.colab_url(rel)}"' in launch, f"{page.name}: no Colab button for {rel}"


def test_the_site_root_has_a_favicon(built_book):
    """index.html is a redirect without an icon link: browsers then ask for /favicon.ico."""
    icon = built_book / "favicon.ico"
    assert icon.is_file() and icon.read_bytes()[:4] == b"\x00\x00\x01\x00", (
        "no favicon.ico at the site's root (html_extra_path in _config.yml)"
    )


def _visible_markup(html: str) -> list[str]:
    """MyST markup left as text on a page (a directive Markdown did not parse)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    article = soup.find("article") or soup
    for code in article.select("pre, code, div.cell_input, div.cell_output, script"):
        code.decompose()
    text = article.get_text("\n")
    found = re.findall(r"(?:```|:::)\{\w+\}[^\n]*|^[ \t]*:class:[^\n]*", text, re.MULTILINE)
    return [line.strip() for line in found]


def test_no_page_shows_unparsed_markup(built_book):
    """A directive whose opening line Markdown cannot read (such as an admonition title
    with backticks after a backtick fence) shows up as raw text: in both editions."""
    found = {}
    for page in sorted(built_book.rglob("*.html")):
        if "_static" not in page.parts:
            left = _visible_markup(page.read_text(encoding="utf-8"))
            if left:
                found[page.relative_to(built_book).as_posix()] = left[:3]
    assert not found, found


def test_the_markup_check_can_fail():
    page = (
        "<article><p>```{admonition} Keras 2 → 3: weights are <code>x</code>\n"
        ":class: warning\nIn Keras 2 ...</p><pre>```{note} in code is fine</pre></article>"
    )
    left = _visible_markup(page)
    assert left == ["```{admonition} Keras 2 → 3: weights are", ":class: warning"]
