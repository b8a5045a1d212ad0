"""A small Sphinx extension for this book: each script is loaded once.

With Jupyter Book 1.0.4 and Sphinx 7.4, some extensions register their
scripts twice (sphinx-togglebutton, sphinx-thebe's inline config, and
MathJax, once deferred and once not). In a browser, the second copy breaks:
"Identifier 'THEBE_JS_URL' has already been declared", and MathJax fails
with "Cannot set property Package". This extension drops the repeats from
every page just before it is written, keeping the first of each.
"""

from __future__ import annotations


def _key(script) -> tuple:
    """Scripts are the same if they load the same file or inline the same code."""
    filename = getattr(script, "filename", script)
    if filename:
        return ("file", str(filename).split("?", 1)[0])
    return ("inline", getattr(script, "attributes", {}).get("body", ""))


def dedupe_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        key = _key(script)
        if key in seen:
            continue
        seen.add(key)
        unique.append(script)
    context["script_files"] = unique


def setup(app):
    # The PDF edition and its download link (_ext/book_pdf.py).
    app.setup_extension("book_pdf")
    # The English and Korean editions' language switch (_ext/book_editions.py).
    app.setup_extension("book_editions")
    # Run after every other html-page-context handler (they add scripts).
    app.connect("html-page-context", dedupe_scripts, priority=1000)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
