"""The Korean edition is complete, faithful to the English, current, and built as such.

- Every catalog of ``locales/ko`` translates every message, none is fuzzy,
  and every inline code span, math expression, link target and number of an
  English message is in its Korean message (``booktools/translations.py``).
- The catalogs hold exactly the messages the English pages have now: when the
  English prose changes, this fails until ``python -m booktools.translations
  update`` is run and the new messages translated (CONTRIBUTING.md).
- The built Korean pages say ``lang="ko"``, show no paragraph left in
  English, and every page of each edition links to the same page in the
  other. The browser test (``tests/test_browser.py``) opens them too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from booktools import translations

KOREAN = translations.catalogs("ko")
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def test_there_is_a_catalog_for_every_page():
    pages = {p.relative_to(translations.catalog_dir("ko")).with_suffix("").as_posix()
             for p in KOREAN}  # fmt: skip
    from booktools.book import toc_files

    assert pages == set(toc_files())


@pytest.mark.parametrize("catalog", KOREAN, ids=lambda p: p.stem)
def test_every_message_is_translated_faithfully(catalog):
    problems = translations.problems(catalog)
    assert not problems, f"{len(problems)} problems (fix them in the .po file):\n" + "\n".join(
        map(str, problems[:40])
    )


def test_the_kept_tokens_are_found_and_checked(tmp_path):
    english = (
        "Call `tf.function` on $f(x)$ ([details](../appendix/run_times.md)); "
        "{ref}`the appendix <pinned-numerics>` has 2,400 rows and 25 million cells."
    )
    assert translations.kept_tokens(english) == [
        "pinned-numerics",
        "f(x)",
        "tf.function",
        "../appendix/run_times.md",
    ]
    assert translations.numbers(english) == ["2400", "25"]
    good = (
        "`tf.function`을 $f(x)$에 호출한다([자세히](../appendix/run_times.md)). "
        "{ref}`부록 <pinned-numerics>`에는 2,400개의 행과 2500만 개의 셀이 있다."
    )
    bad = good.replace("`tf.function`을", "그것을").replace("2,400", "2,500")
    catalog = tmp_path / "page.po"
    catalog.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        f'msgid "{english}"\nmsgstr "{good}"\n\n'
        f'msgid "{english} Again."\nmsgstr "{bad}"\n\n'
        'msgid "Left alone."\nmsgstr ""\n\n'
        '#, fuzzy\nmsgid "Changed."\nmsgstr "바뀌었다."\n',
        encoding="utf-8",
    )
    found = [problem.what for problem in translations.problems(catalog)]
    assert found == [
        "'tf.function' is missing",
        "the number 2400 is missing",
        "not translated",
        "fuzzy (the English changed)",
    ]


@pytest.mark.slow
def test_the_catalogs_hold_the_current_english(tmp_path):
    """Extract the English messages afresh: each catalog must have exactly those."""
    from babel.messages.pofile import read_po

    templates = translations.extract(tmp_path)
    pots = {
        p.relative_to(templates).with_suffix("").as_posix(): p for p in templates.rglob("*.pot")
    }
    pos = {
        p.relative_to(translations.catalog_dir("ko")).with_suffix("").as_posix(): p for p in KOREAN
    }
    assert pots.keys() == pos.keys()
    stale = []
    for page, pot in sorted(pots.items()):
        with open(pot, "rb") as handle:
            english = {m.id for m in read_po(handle) if m.id}
        with open(pos[page], "rb") as handle:
            korean = {m.id for m in read_po(handle) if m.id}
        if english != korean:
            stale.append(f"{page}: {len(english - korean)} new, {len(korean - english)} gone")
    assert not stale, (
        "the English changed; run `python -m booktools.translations update` and translate "
        "the new messages:\n" + "\n".join(stale)
    )


def _korean_pages(built_book: Path) -> list[Path]:
    """The Korean edition's pages (not its redirect, index.html)."""
    ko = built_book / "ko"
    return sorted(
        p for p in ko.rglob("*.html") if "_static" not in p.parts and p != ko / "index.html"
    )


def _untranslated(html: str) -> list[str]:
    """Paragraphs, list items, headings and captions of the article with English words
    and no Korean (code, math, outputs and links' addresses do not count)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    article = soup.find("article") or soup
    for hidden in article.select(
        "div.cell_output, div.output, pre, code, .math, span.math, div.math, "
        "script, style, .headerlink, .toggle-details__summary, button"
    ):
        hidden.decompose()
    found = []
    for element in article.find_all(["p", "h1", "h2", "h3", "h4", "figcaption", "th"]):
        text = " ".join(element.get_text(" ").split())
        # English words, not identifiers such as file names (02_custom_losses)
        words = [w for w in text.split() if re.fullmatch(r"[(\"']*[A-Za-z]{3,}[,.;:!?)\"']*", w)]
        if len(words) >= 3 and not HANGUL.search(text):
            found.append(text[:120])
    return found


def test_the_korean_pages_are_korean(built_book):
    pages = _korean_pages(built_book)
    assert len(pages) >= len(KOREAN)
    report = {}
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert '<html lang="ko"' in html, page
        left = _untranslated(html) if page.name not in ("genindex.html", "search.html") else []
        if left:
            report[page.relative_to(built_book).as_posix()] = left
    assert not report, "paragraphs left in English:\n" + "\n".join(
        f"{page}: {lines[:3]}" for page, lines in report.items()
    )


def test_the_check_for_english_paragraphs_can_fail():
    page = (
        '<html lang="ko"><body><article><p>이 문단은 <code>tf.function</code>을 쓴다.</p>'
        "<p>This paragraph was left in English.</p>"
        '<div class="cell_output"><p>Output text stays English.</p></div></article></body></html>'
    )
    assert _untranslated(page) == ["This paragraph was left in English."]


def test_every_page_links_to_itself_in_the_other_edition(built_book):
    pairs = 0
    for page in sorted(built_book.rglob("*.html")):
        if "_static" in page.parts or page.name == "index.html":
            continue
        html = page.read_text(encoding="utf-8")
        korean = page.relative_to(built_book).parts[0] == "ko"
        switch = re.search(r'class="btn btn-sm edition-switch" href="([^"]+)"', html)
        assert switch, f"{page.relative_to(built_book)} has no language switch"
        other = (page.parent / switch[1]).resolve()
        expected = (
            built_book / page.relative_to(built_book / "ko")
            if korean
            else built_book / "ko" / page.relative_to(built_book)
        )
        assert other == expected.resolve() and other.is_file(), (page, switch[1])
        pairs += 1
    assert pairs >= 2 * len(KOREAN)


def test_korean_pages_open_the_same_notebooks_in_colab(built_book):
    for page in sorted((built_book / "ko" / "chapters").glob("*.html")):
        english = (built_book / "chapters" / page.name).read_text(encoding="utf-8")
        colab = set(re.findall(r'https://colab\.research\.google\.com/[^"\')\s]+', english))
        assert colab, page.name
        assert colab == set(
            re.findall(r'https://colab\.research\.google\.com/[^"\')\s]+', page.read_text("utf-8"))
        ), page.name


def test_the_korean_settings_are_merged_over_the_english():
    from booktools import editions

    assert editions.merged({"a": {"b": 1, "c": 2}, "d": 3}, {"a": {"c": 9}}) == {
        "a": {"b": 1, "c": 9},
        "d": 3,
    }
    settings = editions.korean_config()
    assert settings["sphinx"]["config"]["language"] == "ko"
    assert HANGUL.search(settings["title"]) and HANGUL.search(settings["html"]["extra_footer"])
    # everything else is the English edition's; the book's own paths are absolute
    assert settings["repository"] == editions.config()["repository"]
    for folder in settings["sphinx"]["local_extensions"].values():
        assert Path(folder).is_absolute() and Path(folder).is_dir()
    assert Path(settings["html"]["favicon"]).is_file()


def test_the_korean_title_is_the_translated_heading_of_the_root_page():
    from babel.messages.pofile import read_po

    from booktools import editions

    english = editions.config()["title"]
    with open(translations.catalog_dir("ko") / "intro.po", "rb") as handle:
        korean = {m.id: m.string for m in read_po(handle) if m.id}
    assert editions.korean_config()["title"] == korean[english]


def test_update_changes_nothing_after_a_failed_extraction(tmp_path):
    """An empty extraction must not be read as "every page was removed"."""
    before = {p: p.read_bytes() for p in KOREAN}
    (tmp_path / "chapters").mkdir()
    (tmp_path / "chapters" / "01_tensors.pot").write_text('msgid ""\nmsgstr ""\n')
    with pytest.raises(RuntimeError, match="no catalog was changed"):
        translations.update("ko", tmp_path)
    assert {p: p.read_bytes() for p in translations.catalogs("ko")} == before
