"""The PDF edition: built once per test run, then checked page by page.

The fixture builds the PDF exactly as ``./scripts/build-book --pdf`` does
(``booktools/build_pdf.py``: Sphinx's LaTeX builder with warnings as errors,
then XeLaTeX), and then the HTML book beside it, which must link it. The
checks read the PDF with poppler's tools: ``pdftotext`` for the text and the
position of every word, ``pdfimages`` for the figures, ``pdftoppm`` to render
pages (saved under ``_build/pdf-pages/`` for a human to look at).

It needs TeX and poppler (Debian: see ``build_pdf.INSTALL_HINT``; README,
"The PDF edition"). Without them the test is skipped with a message naming
the packages, except in CI (CI=true), where ``.ci/run`` installs them and the
test fails instead. The checks themselves are plain functions, and the last
tests prove on planted defects that each of them fails when it should.
"""

from __future__ import annotations

import hashlib
import html
import io
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from PIL import Image

from booktools import book, build_pdf
from booktools.book import ROOT

PAGES = (150, 270)
"""Expected page count: 128 on 2026-11-30, 201 on 2026-12-06 (issue 21's
lessons and the reproducibility appendix); room for the book to grow or
shrink by a third before the range needs a look (a build that lost a
chapter, or that printed every output twice, falls outside it)."""

OVERFULL_TOLERANCE_PT = {"h": 1.0, "v": 5.0}
"""TeX reports every line wider than the text by more than 0.1 pt (\\hfuzz):
1 pt (0.35 mm) is below what the eye sees at a margin, while a line of code
cut at the margin overflows by a character at least (about 5 pt). Vertically,
Sphinx splits a long code box across pages, and the piece on the first page
may end up to its padding and frame (4.4 pt) below the text block, into the
bottom margin and well above the footer (1.3 to 1.8 pt measured); anything
taller, such as a figure higher than the page, shows."""

MARGIN_TOLERANCE_PT = 1.0
"""The same tolerance for word positions: justified text may end a few
hundredths of a point past the line's end."""

POPPLER = ("pdftotext", "pdftoppm", "pdfimages", "pdfinfo")
PAGES_DIR = ROOT / "_build" / "pdf-pages"
APPENDICES_CAPTION = "Appendices"
SOLUTIONS_TITLE = "Solutions to the exercises"


# ------------------------------------------------------------------ the checks


def overfull_boxes(log: str, tolerance: dict = OVERFULL_TOLERANCE_PT) -> list[str]:
    """Overfull boxes in a LaTeX log wider (or taller) than the tolerance."""
    problems = []
    lines = log.splitlines()
    for i, line in enumerate(lines):
        match = re.match(r"Overfull \\([hv])box \(([\d.]+)pt too (?:wide|high)\)", line)
        if match and float(match.group(2)) > tolerance[match.group(1)]:
            problems.append(" ".join([line, *lines[i + 1 : i + 2]]).strip())
    return problems


def log_problems(log: str) -> list[str]:
    """Missing glyphs and unresolved references in a LaTeX log."""
    problems = [line for line in log.splitlines() if line.startswith("Missing character")]
    # Every internal link of the PDF is a \\hyperref or a \\ref to a label.
    problems += re.findall(
        r"LaTeX Warning: (?:Hyper reference|Reference|Citation) `[^']*' on page \S+ undefined",
        log,
    )
    if "There were undefined references" in log:
        problems.append("LaTeX: There were undefined references.")
    return problems


@dataclass
class Word:
    page: int
    text: str
    x_min: float
    x_max: float


def words(bbox_html: str) -> tuple[list[float], list[Word]]:
    """Page widths and every word's horizontal extent, from ``pdftotext -bbox``."""
    widths, found = [], []
    for number, page in enumerate(bbox_html.split("<page ")[1:], start=1):
        widths.append(float(re.search(r'width="([\d.]+)"', page).group(1)))
        for match in re.finditer(
            r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">([^<]*)</word>',
            page,
        ):
            text = html.unescape(match.group(3))
            found.append(Word(number, text, float(match.group(1)), float(match.group(2))))
    return widths, found


def outside_margins(bbox_html: str, left: float, right: float) -> list[str]:
    """Words that start left of the left margin or end right of the right one."""
    widths, found = words(bbox_html)
    problems = []
    for word in found:
        limit = widths[word.page - 1] - right
        if word.x_min < left - MARGIN_TOLERANCE_PT or word.x_max > limit + MARGIN_TOLERANCE_PT:
            problems.append(
                f"page {word.page}: {word.text!r} spans {word.x_min:.1f}-{word.x_max:.1f} pt, "
                f"the text block {left:.1f}-{limit:.1f} pt"
            )
    return problems


def body_ink(image: Image.Image) -> float:
    """The share of dark pixels between the running header and footer."""
    gray = image.convert("L")
    width, height = gray.size
    body = gray.crop((0, int(0.12 * height), width, int(0.88 * height)))
    histogram = body.histogram()
    return sum(histogram[:200]) / (body.size[0] * body.size[1])


def normalize(text: str) -> str:
    return " ".join(text.replace("\u2019", "'").split())


# -------------------------------------------------------------- what to expect


def _title(entry: str) -> str:
    """The heading of a _toc.yml entry, as the PDF prints it."""
    path = next(p for p in ROOT.glob(entry + ".*") if p.suffix in (".md", ".ipynb"))
    if path.suffix == ".ipynb":
        nb = nbformat.read(path, as_version=4)
        source = next(c.source for c in nb.cells if c.cell_type == "markdown")
    else:
        source = path.read_text()
    heading = next(line for line in source.splitlines() if line.startswith("# "))
    title = heading[2:].replace("`", "").strip()
    # The PDF letters its appendices: "Appendix: run times" becomes
    # "Appendix B / Run times" (_ext/book_pdf.py).
    if title.startswith("Appendix:"):
        title = title.removeprefix("Appendix:").strip()
        title = title[:1].upper() + title[1:]
    return title


def toc_outline() -> list[str]:
    """Part captions and chapter titles, in _toc.yml order, then the solutions."""
    toc = book.toc()
    outline = []
    for part in toc["parts"]:
        outline.append(part["caption"])
        outline += [_title(entry["file"]) for entry in part["chapters"]]
    return outline + [SOLUTIONS_TITLE]


def solution_lines() -> dict[str, list[str]]:
    """For each chapter, one telling line of code from each hidden solution cell:
    the longest that fits on a line of the PDF and appears nowhere else in the book."""
    solutions, elsewhere = {}, set()
    for path in book.chapter_paths():
        nb = nbformat.read(path, as_version=4)
        start = next(
            i
            for i, c in enumerate(nb.cells)
            if c.cell_type == "markdown" and "## Exercises" in c.source
        )
        hidden = [
            c
            for c in nb.cells[start:]
            if c.cell_type == "code" and "hide-cell" in c.metadata.get("tags", [])
        ]
        solutions[path.stem] = hidden
        for cell in nb.cells:
            if cell not in hidden:
                elsewhere |= {normalize(line) for line in cell.source.splitlines()}
    lines = {}
    for chapter, cells in solutions.items():
        lines[chapter] = []
        for cell in cells:
            candidates = [
                normalize(line)
                for line in cell.source.splitlines()
                if 20 <= len(line.strip()) <= 70
                and not any(normalize(line) in other for other in elsewhere)
            ]
            if candidates:
                lines[chapter].append(max(candidates, key=len))
    return lines


# ------------------------------------------------------------------- fixtures


def _require_tools():
    missing = build_pdf.missing_requirements()
    missing += [tool for tool in POPPLER if shutil.which(tool) is None]
    if not missing:
        return
    message = (
        f"the PDF edition cannot be built and checked here (missing: {', '.join(missing)}): "
        f"install Debian's packages with `{build_pdf.INSTALL_HINT}`"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI must run this test)")
    pytest.skip(message)


@dataclass
class Edition:
    pdf: Path
    tex: str
    log: str
    html: Path
    pages: list[str]
    """The text of each page (pdftotext), normalized."""

    @property
    def text(self) -> str:
        return " ".join(self.pages)


def _run(*command, **kwargs) -> str:
    return subprocess.run(command, check=True, capture_output=True, text=True, **kwargs).stdout


@pytest.fixture(scope="session")
def edition(tmp_path_factory) -> Edition:
    """Build the PDF, then the HTML book beside it (which links and ships it)."""
    _require_tools()
    out = tmp_path_factory.mktemp("pdf")
    try:
        result = build_pdf.build(out)
    except build_pdf.PdfBuildError as error:
        pytest.fail(str(error))
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    html_build = subprocess.run(
        [str(jupyter_book), "build", str(ROOT), "--builder", "html", "--path-output", str(out)]
        + ["-W", "-n", "--keep-going"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    log = html_build.stdout + html_build.stderr
    assert html_build.returncode == 0 and "WARNING" not in log, log[-4000:]
    # pdftotext ends every page with a form feed.
    pages = _run("pdftotext", str(result.pdf), "-").split("\f")[:-1]
    tex = result.pdf.with_suffix(".tex").read_text()
    return Edition(
        result.pdf, tex, result.log, out / "_build" / "html", [normalize(p) for p in pages]
    )


# ---------------------------------------------------------------------- tests


def test_named_after_the_book_with_a_title_page(edition):
    title, author = book.config()["title"], book.config()["author"]
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    assert edition.pdf.name == f"{slug}.pdf"
    assert normalize(title) in edition.pages[0] and normalize(author) in edition.pages[0]
    info = dict(
        line.split(":", 1)
        for line in _run("pdfinfo", str(edition.pdf)).splitlines()
        if ":" in line
    )
    assert info["Title"].strip() == title and info["Author"].strip() == author


def test_page_count_is_in_the_expected_range(edition):
    pages = int(re.search(r"^Pages:\s+(\d+)", _run("pdfinfo", str(edition.pdf)), re.M).group(1))
    assert pages == len(edition.pages)
    assert PAGES[0] <= pages <= PAGES[1], f"{pages} pages, expected {PAGES[0]} to {PAGES[1]}"


def test_contents_and_chapters_follow_the_toc(edition):
    """Every part, chapter and appendix, in _toc.yml order: in the table of
    contents first, then as headings in the body."""
    text = edition.text
    position = text.find("Contents")
    assert position >= 0, "no table of contents"
    for round_name in ("table of contents", "body"):
        for title in toc_outline():
            found = text.find(title, position)
            assert found >= 0, f"{title!r} missing from the {round_name}, or out of _toc.yml order"
            position = found + len(title)


def test_no_unresolved_references(edition):
    assert "??" not in edition.text
    assert not log_problems(edition.log), "\n".join(log_problems(edition.log))


def test_code_and_outputs_stay_inside_the_margins(edition):
    """No overfull box (LaTeX's own count) and no word outside the text block."""
    boxes = overfull_boxes(edition.log)
    assert not boxes, f"{len(boxes)} overfull boxes:\n" + "\n".join(boxes[:20])
    match = re.search(r"hmargin=\{([\d.]+)cm,([\d.]+)cm\}", edition.tex)
    assert match, "the margins are not set in the LaTeX source (sphinxsetup hmargin)"
    left, right = (float(match.group(i)) / 2.54 * 72 for i in (1, 2))
    bbox = _run("pdftotext", "-bbox", str(edition.pdf), "-")
    problems = outside_margins(bbox, left, right)
    assert not problems, f"{len(problems)} words outside the margins:\n" + "\n".join(problems[:20])
    # The check did look at code: the verbatim font's words are there.
    assert any(w.text == "tf.constant([1," for w in words(bbox)[1])


def test_every_figure_of_the_html_book_is_in_the_pdf(edition, tmp_path):
    def pixels(image: Image.Image) -> str:
        return hashlib.sha256(image.convert("RGB").tobytes()).hexdigest()

    html_figures = {
        pixels(Image.open(p)): p.name for p in (edition.html / "_images").glob("*.png")
    }
    assert len(html_figures) >= 5, "the HTML book has suspiciously few figures"
    _run("pdfimages", "-png", str(edition.pdf), str(tmp_path / "image"))
    in_pdf = {pixels(Image.open(p)) for p in tmp_path.glob("image-*.png")}
    missing = [name for key, name in html_figures.items() if key not in in_pdf]
    assert not missing, f"figures of the HTML book missing from the PDF: {missing}"


def test_solutions_are_in_the_appendix_with_a_pointer_in_each_chapter(edition):
    """As in the HTML book, a solution is not beside its exercise: each one is
    in the last appendix, and the chapter says on which page."""
    # Printed page 1 is the first page after the table of contents.
    first = next(i for i, page in enumerate(edition.pages) if page.startswith("About this book"))
    body = " ".join(edition.pages[first:])
    appendix = body.find(SOLUTIONS_TITLE)
    assert appendix > 0, "no solutions appendix"
    lines = solution_lines()
    assert sum(map(len, lines.values())) >= 10, "too few solution lines to check"
    for chapter, picks in lines.items():
        for line in picks:
            found = body.find(line)
            assert found >= appendix, f"{chapter}: {line!r} is not (only) in the appendix"
    pointers = re.findall(r"Solutions? [\d\u2013, ]+: Appendix ([A-Z]), page (\d+)\.", body)
    chapters = [chapter for chapter, picks in lines.items() if picks]
    assert len(pointers) >= len(chapters), f"{len(pointers)} pointers for {len(chapters)} chapters"
    toc = book.toc()
    appendices = next(p for p in toc["parts"] if p["caption"] == "Appendices")["chapters"]
    last = chr(ord("A") + len(appendices))  # the solutions follow the other appendices
    for letter, page in pointers:
        assert letter == last, f"solutions in appendix {letter}, expected {last}"
        assert "Solution" in edition.pages[first + int(page) - 1], page


def test_rendered_pages_are_not_blank(edition):
    """The title page, chapter 1's first page, the first page with a figure,
    the solutions appendix's first page and the last page, rendered at 50 dpi."""
    pages = edition.pages
    chapter_one = next(i for i, p in enumerate(pages) if p.startswith("Chapter 1 ")) + 1
    images = _run("pdfimages", "-list", str(edition.pdf)).splitlines()[2:]
    figure = int(images[0].split()[0])
    solutions = next(i for i, p in enumerate(pages) if p.startswith("Appendix C")) + 1
    last = len(pages)
    PAGES_DIR.mkdir(parents=True, exist_ok=True)
    for name, number in {
        "title": 1,
        "chapter-1": chapter_one,
        "first-figure": figure,
        "solutions": solutions,
        "last": last,
    }.items():
        png = _run_bytes(
            "pdftoppm", "-r", "50", "-png", "-f", str(number), "-l", str(number), str(edition.pdf)
        )
        image = Image.open(io.BytesIO(png))
        image.save(PAGES_DIR / f"{name}-page-{number}.png")
        assert body_ink(image) > 0.002, f"page {number} ({name}) is blank"


def _run_bytes(*command) -> bytes:
    return subprocess.run(command, check=True, capture_output=True).stdout


def test_html_book_links_and_ships_the_pdf(edition):
    shipped = edition.html / edition.pdf.name
    assert shipped.read_bytes() == edition.pdf.read_bytes()
    pages = [
        p
        for p in edition.html.rglob("*.html")
        if "_static" not in p.parts
        and p.name not in ("search.html", "genindex.html")
        and 'http-equiv="Refresh"' not in p.read_text()  # index.html only redirects
    ]
    assert len(pages) >= 10
    for page in pages:
        links = re.findall(
            r'<a href="([^"]+)"[^>]*class="[^"]*btn-download-book-pdf-button', page.read_text()
        )
        assert links, f"{page.name}: no PDF button"
        assert (page.parent / links[0]).resolve() == shipped.resolve(), links[0]


def test_html_book_built_without_the_pdf_does_not_link_it(built_book):
    """``./scripts/build-book`` without --pdf: no button to a missing file."""
    assert not list(built_book.glob("*.pdf"))
    assert "btn-download-book-pdf-button" not in (built_book / "intro.html").read_text()


# -------------------------------------------------- the checks catch defects


def test_the_checks_catch_planted_defects():
    log = (
        "Overfull \\hbox (23.5pt too wide) in paragraph at lines 10--11\n"
        "[]\\TU/DejaVuSansMono(0)/m/n/8.8 x = 1[]\n"
        "Overfull \\hbox (0.4pt too wide) in paragraph at lines 20--21\n"
        "Overfull \\vbox (1.8pt too high) detected at line 30\n"
        "Overfull \\vbox (40.2pt too high) has occurred while \\output is active\n"
        "Missing character: There is no \ud55c (U+D55C) in font FreeSerif!\n"
        "LaTeX Warning: Reference `book-x' on page 3 undefined on input line 7.\n"
        "LaTeX Warning: Hyper reference `chapters/01:gone' on page 9 undefined on input line 8.\n"
        "LaTeX Warning: There were undefined references.\n"
    )
    boxes = overfull_boxes(log)
    assert len(boxes) == 2 and "23.5pt" in boxes[0] and "x = 1" in boxes[0]
    assert "40.2pt" in boxes[1]
    problems = "\n".join(log_problems(log))
    assert "U+D55C" in problems and "book-x" in problems and "undefined references" in problems
    assert "chapters/01:gone" in problems
    assert not log_problems("Overfull \\hbox (0.4pt too wide)\n") and not overfull_boxes("")

    bbox = (
        '<page width="595.28" height="841.89">'
        '<word xMin="62.4" yMin="1" xMax="100.0" yMax="9">fits</word>'
        '<word xMin="500.0" yMin="1" xMax="532.9" yMax="9">edge</word>'
        '<word xMin="500.0" yMin="1" xMax="560.0" yMax="9">cut&amp;</word>'
        '</page><page width="595.28" height="841.89">'
        '<word xMin="40.0" yMin="1" xMax="70.0" yMax="9">left</word></page>'
    )
    problems = outside_margins(bbox, left=62.36, right=62.36)
    assert len(problems) == 2
    assert "'cut&'" in problems[0] and problems[1].startswith("page 2: 'left'")

    blank = Image.new("RGB", (400, 560), "white")
    assert body_ink(blank) == 0
    headed = blank.copy()
    headed.paste((0, 0, 0), (20, 20, 380, 40))  # a running header only
    assert body_ink(headed) == 0
    headed.paste((0, 0, 0), (50, 200, 350, 230))  # a line of text
    assert body_ink(headed) > 0.002


def test_missing_tex_gives_one_message_naming_the_packages(monkeypatch, capsys):
    monkeypatch.setattr(build_pdf, "missing_requirements", lambda: ["xelatex", "FreeSerif"])
    assert build_pdf.main([]) == 2
    message = capsys.readouterr().err.strip()
    assert len(message.splitlines()) == 1
    assert "xelatex, FreeSerif" in message and build_pdf.INSTALL_HINT in message


def test_ci_and_readme_install_what_the_pdf_needs():
    """One list of packages (booktools/build_pdf.py); CI and the README follow it."""
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    for package in build_pdf.DEBIAN_PACKAGES + build_pdf.TEST_PACKAGES:
        assert re.search(rf"\b{package}\b", ci), f".ci/run does not install {package}"
        assert re.search(rf"\b{package}\b", readme), f"the README does not list {package}"
