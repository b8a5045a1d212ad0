"""Every link inside the built book resolves: files and #anchors."""

from __future__ import annotations

from tests.site_checks import broken_internal_links


def test_no_broken_internal_links(built_book):
    problems = broken_internal_links(built_book)
    assert not problems, "broken links:\n" + "\n".join(problems)


def test_links_are_actually_checked(built_book):
    """The check must see the book's cross-references, or passing means nothing."""
    from tests.site_checks import _parse

    pages = list(built_book.rglob("chapters/*.html"))
    links = [url for page in pages for _, url in _parse(page).links]
    internal = [url for url in links if not url.startswith(("http:", "https:", "#", "mailto:"))]
    assert any(".html" in url for url in internal), "no links between pages found"
    assert any(url.startswith("#") for url in links), "no in-page anchors found"


def test_planted_broken_links_are_found(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "index.html").write_text(
        '<h1 id="top">Top</h1>'
        '<a href="#top">ok</a> <a href="sub/page.html#part">ok</a>'
        '<a href="#nowhere">bad anchor</a> <a href="missing.html">bad file</a>'
        '<a href="sub/page.html#gone">bad remote anchor</a> <img src="img/none.png">'
        '<a href="https://example.org/x.html">external, not followed</a>'
    )
    (tmp_path / "sub" / "page.html").write_text(
        '<p id="part">x</p><a href="../index.html#top">ok</a>'
    )
    problems = "\n".join(broken_internal_links(tmp_path))
    assert "#nowhere" in problems and "missing.html" in problems
    assert "#gone" in problems and "img/none.png" in problems
    assert "example.org" not in problems and "#top" not in problems and "#part'" not in problems
    assert len(problems.splitlines()) == 4
