"""Open every page of the built book, both editions, in headless Chromium, with no network.

For each page: images load, math is typeset (not raw TeX), chapters show code
cells and outputs, no traceback is visible outside cells tagged
raises-exception, the launch button points at the page's own notebook, and
the console shows no errors from the book's own files. A screenshot of each
page is saved under _build/screenshots/ (CI keeps it as an artifact). On the
Korean edition's pages, also: lang="ko", Korean glyphs drawn with a real font
(no tofu), words kept whole at line breaks, no paragraph left in English.
Each page is loaded once (the ``visits`` fixture); the tests read its facts.

Chromium and ChromeDriver come from Debian's packages (`chromium`,
`chromium-driver`); `.ci/run` installs them. Without them the test is
skipped with a message saying so, except in CI (CI=true), where it fails.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

import pytest

from booktools import book
from booktools.book import ROOT
from tests.site_checks import PAGE_FACTS_JS, console_problems, page_problems

SCREENSHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def _require_browser():
    if CHROMIUM and CHROMEDRIVER:
        return
    message = (
        "headless Chromium is not installed, so the browser test cannot run: "
        "install Debian's packages with `apt-get install chromium chromium-driver`"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI must run this test)")
    pytest.skip(message)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture(scope="module")
def server(built_book):
    """Serve the built book on a free port of localhost."""
    handler = functools.partial(_QuietHandler, directory=str(built_book))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    _require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1600",
        # No network: every host but localhost fails to resolve.
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_script_timeout(60)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _pages(html: Path) -> list[Path]:
    return sorted(
        p
        for p in html.rglob("*.html")
        if "_static" not in p.parts and p.name not in ("search.html", "genindex.html")
    )


@pytest.fixture(scope="module")
def visits(built_book, server, browser) -> dict[str, dict]:
    """Open every page of both editions once: ``{page: {"facts", "console", "korean"}}``.

    ``facts`` are :data:`PAGE_FACTS_JS`'s, ``console`` the browser log of the
    visit, and ``korean``, on the Korean edition's pages, :data:`KOREAN_FACTS_JS`'s.
    A screenshot of each page is saved. The tests below read these visits, so
    that each page is loaded once, however many things are checked on it.
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    found = {}
    for page in _pages(built_book):
        rel = page.relative_to(built_book).as_posix()
        browser.get(server + rel)
        facts = browser.execute_async_script(PAGE_FACTS_JS)
        korean = browser.execute_async_script(KOREAN_FACTS_JS) if rel.startswith("ko/") else None
        browser.save_screenshot(str(SCREENSHOTS / (rel.replace("/", "__")[:-5] + ".png")))
        found[rel] = {"facts": facts, "console": browser.get_log("browser"), "korean": korean}
    return found


def test_every_page_in_a_real_browser(visits, server):
    assert len(visits) >= 2
    report, code_blocks, overflowing = {}, 0, []
    for rel, visit in visits.items():
        facts = visit["facts"]
        # A Korean page (ko/chapters/...) opens the same notebook as the English one.
        english = rel.removeprefix("ko/")
        chapter = english[len("chapters/") : -5] if english.startswith("chapters/") else None
        colab = book.colab_url(f"chapters/{chapter}.ipynb") if chapter else None
        problems = page_problems(facts, chapter=chapter, colab_url=colab)
        problems += console_problems(visit["console"], server)
        if problems:
            report[rel] = problems
        code_blocks += facts.get("codeBlocks", 0)
        overflowing += [f"{rel}: {line}" for line in facts.get("overflowingCode", [])]
    assert not report, "\n".join(f"{page}:\n  " + "\n  ".join(p) for page, p in report.items())
    # Code fits the page: at 1280 px at most 5% of the code blocks scroll sideways.
    assert code_blocks > 0
    assert len(overflowing) <= 0.05 * code_blocks, (
        f"{len(overflowing)} of {code_blocks} code blocks scroll sideways at 1280 px; "
        "their longest lines:\n" + "\n".join(overflowing[:30])
    )


def test_math_is_typeset_where_the_book_has_math(visits):
    """The check above must not pass merely because no page has math."""
    assert sum(visit["facts"]["mathjax"] for visit in visits.values()) > 0


def test_the_browser_check_catches_planted_defects(tmp_path, browser):
    """A page with a broken image, raw TeX, a stray traceback and no launch link fails."""
    (tmp_path / "bad.html").write_text(
        # No MathJax on this page: as when its script cannot be fetched.
        "<html><head></head><body>"
        '<img src="missing.png">'
        '<span class="math notranslate nohighlight">\\(x^2 \\foo{</span>'
        '<div class="cell"><div class="cell_input"><pre>x</pre></div>'
        '<div class="cell_output"><pre>Traceback (most recent call last):\n'
        "ValueError: boom</pre></div></div>"
        # A message that a cell catches and prints is not a traceback.
        '<div class="cell"><div class="cell_output">'
        "<pre>ValueError: printed on purpose</pre></div></div>"
        '<div class="cell" style="width: 700px"><div class="cell_input">'
        '<pre style="overflow-x: auto">y = "' + "a very long line " * 20 + '"</pre></div></div>'
        '<script>console.error("planted")</script></body></html>'
    )
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{httpd.server_port}/"
        browser.get(base + "bad.html")
        facts = browser.execute_async_script(PAGE_FACTS_JS)
        problems = page_problems(facts, chapter="bad", colab_url="https://colab.example/bad.ipynb")
        problems += console_problems(browser.get_log("browser"), base)
    finally:
        httpd.shutdown()
        httpd.server_close()
    text = "\n".join(problems)
    assert facts["codeBlocks"] == 2 and len(facts["overflowingCode"]) == 1
    assert facts["overflowingCode"][0].startswith('y = "a very long line')
    assert "printed on purpose" not in text
    for expected in (
        "image does not load",
        "math left as raw TeX",
        "traceback outside",
        "no launch link",
        "planted",
    ):
        assert expected in text, f"{expected!r} not detected in:\n{text}"


KOREAN_FACTS_JS = """
const done = arguments[arguments.length - 1];
const body = getComputedStyle(document.body);
const canvas = document.createElement("canvas");
canvas.width = 64; canvas.height = 64;
const context = canvas.getContext("2d");
context.font = "40px " + body.fontFamily;
const draw = (text) => {
  context.clearRect(0, 0, 64, 64);
  context.fillText(text, 4, 48);
  return Array.from(context.getImageData(0, 0, 64, 64).data).join(",");
};
const ga = draw("가"), hih = draw("힣"), blank = draw(" ");
// Paragraphs a reader sees in English: 3 or more English words and no Hangul,
// outside code, math and cell outputs.
const english = [];
for (const p of document.querySelectorAll("article p, article h1, article h2, article h3")) {
  if (p.closest("pre, .cell_output, .output, .math, mjx-container")) continue;
  const clone = p.cloneNode(true);
  clone.querySelectorAll("code, .math, mjx-container, .headerlink").forEach(e => e.remove());
  const text = clone.innerText || "";
  const words = text.split(/\\s+/).filter(w => /^[("']*[A-Za-z]{3,}[,.;:!?)"']*$/.test(w));
  if (words.length >= 3 && !/[\uac00-\ud7a3]/.test(text)) english.push(text.slice(0, 100));
}
done({lang: document.documentElement.lang, wordBreak: body.wordBreak,
      fontFamily: body.fontFamily, glyphsDiffer: ga !== hih && ga !== blank, english});
"""


def test_korean_pages_use_a_korean_font_and_keep_words_whole(visits):
    """Korean text renders with real glyphs (two syllables drawn differently, not two
    identical tofu boxes), breaks lines between words only, and no paragraph a reader
    sees is left in English."""
    korean = {rel: visit["korean"] for rel, visit in visits.items() if visit["korean"]}
    assert len(korean) >= 10
    for where, facts in korean.items():
        assert facts["lang"] == "ko", where
        assert facts["wordBreak"] == "keep-all", (where, facts)
        assert facts["glyphsDiffer"], f"{where}: Korean glyphs render as tofu ({facts})"
        assert not facts["english"], f"{where}: paragraphs in English: {facts['english'][:3]}"
