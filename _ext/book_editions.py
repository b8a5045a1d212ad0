"""The book's two editions, English and Korean: a language switch on every page.

The English edition is built into ``_build/html`` and the Korean one, from
the same notebooks and the catalogs in ``locales/ko``, into
``_build/html/ko`` (``booktools/editions.py``; ``./scripts/build-book``
builds both). Every page of each edition links, in its header, to the same
page in the other: from ``chapters/05_autodiff.html`` to
``ko/chapters/05_autodiff.html`` and back. Korean pages also get a font
stack with Korean glyphs and line breaks that keep words whole
(``_static/editions.css``).
"""

from __future__ import annotations

from pathlib import Path

EDITIONS = {"en": ("English", ""), "ko": ("한국어", "ko/")}
"""Each edition's language: (its name, in itself; its folder under the English site)."""


def other_edition(language: str) -> str:
    """The language of the edition a page's switch leads to."""
    return "ko" if language == "en" else "en"


def switch_href(pagename: str, language: str) -> str:
    """The relative address of ``pagename`` in the other edition, from this page."""
    depth = pagename.count("/") + (1 if language == "ko" else 0)
    other = other_edition(language)
    return "../" * depth + EDITIONS[other][1] + pagename + ".html"


def add_switch(app, pagename, templatename, context, doctree):
    language = app.config.language or "en"
    other = other_edition(language)
    context["edition_switch"] = {
        "href": switch_href(pagename, language),
        "label": EDITIONS[other][0],
        "lang": other,
        "title": "이 페이지의 한국어판" if other == "ko" else "This page in English",
    }


def add_template(app, config):
    config.templates_path.append(str(Path(__file__).parent / "templates"))
    options = config.html_theme_options
    end = list(options.get("article_header_end") or ["article-header-buttons.html"])
    if "edition-switch.html" not in end:
        end.insert(0, "edition-switch.html")
    options["article_header_end"] = end


def setup(app):
    app.connect("config-inited", add_template)
    app.connect("html-page-context", add_switch)
    app.add_css_file("editions.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
