"""Checks of a built HTML book, shared by the link and browser tests.

Each check returns a list of human-readable problems (empty when all is
well), so that a test can both assert on a real build and prove, on a
planted defect, that the check fails.
"""

from __future__ import annotations

import functools
import posixpath
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit


class _LinkParser(HTMLParser):
    """Collects element ids/names and the href/src of links and resources."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[tuple[str, str]] = []  # (tag, url)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name"):
            if attrs.get(key):
                self.ids.add(attrs[key])
        if tag == "a" and attrs.get("href"):
            self.links.append((tag, attrs["href"]))
        elif tag in ("img", "script") and attrs.get("src"):
            self.links.append((tag, attrs["src"]))
        elif tag == "link" and attrs.get("href") and attrs.get("rel") in ("stylesheet", "preload"):
            self.links.append((tag, attrs["href"]))


@functools.cache
def _parse(path: Path) -> _LinkParser:
    parser = _LinkParser()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return parser


def broken_internal_links(html_root: Path) -> list[str]:
    """Every in-book link whose target file, or whose #anchor, does not exist.

    External links (http:, https:, mailto:, ...) are not followed: the book
    must work offline, and what it links to outside is not its to check.
    """
    html_root = Path(html_root)
    _parse.cache_clear()
    problems = []
    pages = sorted(p for p in html_root.rglob("*.html") if "_static" not in p.parts)
    for page in pages:
        for tag, url in _parse(page).links:
            parts = urlsplit(url)
            if parts.scheme or parts.netloc or url.startswith(("javascript:", "data:")):
                continue
            rel = page.relative_to(html_root).as_posix()
            if parts.path:
                target_rel = posixpath.normpath(
                    posixpath.join(posixpath.dirname(rel), unquote(parts.path))
                )
                if target_rel.startswith(".."):
                    problems.append(f"{rel}: {tag} {url!r} points outside the book")
                    continue
                target = html_root / target_rel
                if target.is_dir():
                    target = target / "index.html"
            else:
                target = page
            if not target.is_file():
                problems.append(f"{rel}: {tag} {url!r} -> missing file")
                continue
            anchor = unquote(parts.fragment)
            if anchor and target.suffix == ".html" and anchor not in _parse(target).ids:
                problems.append(f"{rel}: {tag} {url!r} -> no anchor #{anchor} in {target.name}")
    return problems


# JavaScript run in each page by the browser test; returns a dict of facts.
PAGE_FACTS_JS = r"""
const done = arguments[arguments.length - 1];
const ready = (window.MathJax && MathJax.startup && MathJax.startup.promise) || Promise.resolve();
ready.then(() => {
  const images = Array.from(document.querySelectorAll('img'));
  const broken = images.filter(i => !(i.complete && i.naturalWidth > 0))
      .map(i => i.getAttribute('src'));
  const math = Array.from(document.querySelectorAll('.math'));
  const rawMath = math.filter(m => !m.querySelector('mjx-container'))
      .map(m => m.textContent.slice(0, 60));
  // Code that scrolls sideways: open every toggle (hidden solutions too), then
  // compare each block's content width with its box; report the longest line.
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  const scrolls = el => el.scrollWidth > el.clientWidth + 1;
  const longest = el => el.innerText.split('\n')
      .reduce((a, line) => (line.length > a.length ? line : a), '');
  const codeBlocks = Array.from(document.querySelectorAll('.cell_input pre'));
  const outputBlocks = Array.from(document.querySelectorAll('.cell_output pre'));
  const visible = el => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  // Error outputs that the notebook stored (myst-nb gives them the class
  // "traceback"), and full Python tracebacks printed to a stream. A message
  // that a cell catches and prints on purpose is neither.
  const tracebacks = Array.from(document.querySelectorAll('.cell_output')).filter(o =>
      o.querySelector('.traceback') || /Traceback \(most recent call last\)/.test(o.innerText));
  const untagged = tracebacks.filter(o => {
      const cell = o.closest('.cell');
      return !(cell && cell.classList.contains('tag_raises-exception'));
  }).map(o => o.innerText.slice(0, 120));
  const launch = Array.from(document.querySelectorAll('a')).map(a => a.href)
      .filter(h => h.includes('colab.research.google.com'));
  done({
    title: document.title,
    images: images.length, brokenImages: broken,
    math: math.length, mathjax: document.querySelectorAll('mjx-container').length,
    rawMath: rawMath,
    codeBlocks: codeBlocks.length,
    overflowingCode: codeBlocks.filter(scrolls).map(b => longest(b).slice(0, 120)),
    outputBlocks: outputBlocks.length,
    overflowingOutputs: outputBlocks.filter(scrolls).map(b => longest(b).slice(0, 120)),
    cells: document.querySelectorAll('.cell .cell_input').length,
    outputs: document.querySelectorAll('.cell_output').length,
    untaggedTracebacks: untagged,
    colabLinks: Array.from(new Set(launch)),
  });
}).catch(e => done({error: String(e)}));
"""


def page_problems(facts: dict, *, chapter: str | None, colab_url: str | None) -> list[str]:
    """Turn the facts PAGE_FACTS_JS gathered on one page into problems."""
    if "error" in facts:
        return [f"the page script failed: {facts['error']}"]
    problems = [f"image does not load: {src}" for src in facts["brokenImages"]]
    problems += [f"math left as raw TeX: {text!r}" for text in facts["rawMath"]]
    if facts["math"] and not facts["mathjax"]:
        problems.append("MathJax typeset nothing")
    problems += [
        f"traceback outside a raises-exception cell: {text!r}"
        for text in facts["untaggedTracebacks"]
    ]
    if chapter is not None:
        if facts["cells"] == 0:
            problems.append("no code cells")
        if facts["outputs"] == 0:
            problems.append("no outputs")
        if colab_url not in facts["colabLinks"]:
            problems.append(f"no launch link to {colab_url} (found {facts['colabLinks']})")
    return problems


def console_problems(log: list[dict], base_url: str) -> list[str]:
    """Console errors caused by the book's own files (served from base_url)."""
    problems = []
    for entry in log:
        if entry.get("level") != "SEVERE":
            continue
        message = entry.get("message", "")
        source = message.split(" ", 1)[0]
        if source.startswith(base_url) or entry.get("source") in ("javascript", "console-api"):
            problems.append(message[:300])
    return problems
