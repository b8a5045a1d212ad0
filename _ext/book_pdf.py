"""The PDF edition of the book, and its download link in the HTML book.

Jupyter Book makes the PDF with Sphinx's LaTeX builder and
sphinx-jupyterbook-latex, then XeLaTeX (``./scripts/build-book --pdf``).
This extension adjusts that pipeline for this book:

- **A smaller TeX install.** sphinx-jupyterbook-latex's class loads ``bbm``,
  ``tikz`` and ``pgfplots`` for macros the book never uses; ``bbm`` alone
  needs Debian's ``texlive-fonts-extra`` (1.4 GB). ``latex/bookpdf.cls`` keeps
  only what the notebooks need, and this extension puts it in place.
- **Solutions in an appendix.** The HTML book hides exercise solutions behind
  toggles, so that a reader tries first. Paper has no toggles: the PDF moves
  every solution (the ``**Solution N.**`` paragraph, the code cells tagged
  ``hide-cell`` or ``hide-input``, ``{toggle}`` blocks and dropdown admonitions that follow)
  into a last appendix, "Solutions to the exercises", and leaves a line with
  the page number in its place.
- **Appendices as appendices**, lettered A, B, ... (the part captioned
  ``Appendices`` in ``_toc.yml``), without the "Appendix:" prefix of their
  HTML titles.
- **Code that stays inside the margins**: long lines of code and outputs wrap
  with a continuation mark, even inside long words.
- **The download link.** When the PDF has been built beside the HTML book
  (``_build/latex/<name>.pdf`` next to ``_build/html``), the HTML build copies
  it into the site and adds a "PDF" button to the header of every page.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.builders.latex import LaTeXBuilder
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util.fileutil import copy_asset_file

HERE = Path(__file__).resolve().parent
LATEX_CLASS = "bookpdf"
"""The LaTeX class (``latex/bookpdf.cls``) that replaces jupyterBook.cls."""

APPENDICES_CAPTION = "Appendices"
"""The caption, in _toc.yml, of the part whose chapters are the appendices."""

FRONT_MATTER_TITLE = "About this book"
"""The heading of the root page in the PDF (its HTML title is the book's)."""

SOLUTIONS_TITLE = "Solutions to the exercises"
SOLUTIONS_DOC = "book-solutions"
"""The name under which the solutions appendix's labels are made."""

SOLUTION_HIDDEN_TAGS = ("tag_hide-input", "tag_hide-cell")

LATEX_ELEMENTS = {
    "papersize": "a4paper",
    "pointsize": "10pt",
    # Read on screens more than on paper: no blank pages before chapters.
    "extraclassoptions": "openany,oneside",
    # Plain "Chapter 1" headings: Sphinx's default (fncychap's Bjarne) sets
    # chapter titles in capitals, which would turn `tf.function` into TF.FUNCTION.
    "fncychap": "",
    # DejaVu Sans Mono (Debian's fonts-dejavu-core) has every character the
    # outputs print: arrows, Greek letters, math symbols; scaled to the text's
    # x-height. The text fonts are Sphinx's XeLaTeX defaults (FreeSerif,
    # FreeSans: Debian's fonts-freefont-otf). A character missing from a font
    # shows in XeLaTeX's log, which tests/test_pdf.py reads.
    "fontpkg": r"""
\setmainfont{FreeSerif}[Extension=.otf, UprightFont=*, ItalicFont=*Italic,
  BoldFont=*Bold, BoldItalicFont=*BoldItalic]
\setsansfont{FreeSans}[Extension=.otf, UprightFont=*, ItalicFont=*Oblique,
  BoldFont=*Bold, BoldItalicFont=*BoldOblique]
\setmonofont{DejaVu Sans Mono}[Scale=0.88]
""",
    # Wrap long code and output lines, breaking inside long words when no
    # other break point is left (verbatimforcewraps), so that no line runs
    # into the margin; a small arrow marks each continued line.
    "sphinxsetup": ", ".join(
        [
            "hmargin={2.2cm,2.2cm}",
            "vmargin={2.4cm,2.6cm}",
            "verbatimwrapslines=true",
            "verbatimforcewraps=true",
            "verbatimmaxoverfull=0",
            "verbatimmaxunderfull=100",
            "pre_border-radius=2pt",
            "pre_padding=4pt",
            "TitleColor={RGB}{0,45,74}",
            "InnerLinkColor={RGB}{0,90,150}",
            "OuterLinkColor={RGB}{0,90,150}",
        ]
    ),
    # The book has no index entries: no index, and no xindy needed.
    "makeindex": "",
    "printindex": "",
    "preamble": r"""
\setcounter{tocdepth}{1}
% Chapter headings in the style of the section headings (sans serif, the
% title colour) and without the large empty band above them.
\makeatletter
\titleformat{\chapter}[display]{\py@HeaderFamily}{\large\@chapapp~\thechapter}{4pt}{\huge}
\titlespacing*{\chapter}{0pt}{0pt}{16pt}
\makeatother
""",
}


# --------------------------------------------------------------------- config


def configure_latex(app, config):
    """Runs after sphinx-jupyterbook-latex's own config-inited handler."""
    config.latex_theme = LATEX_CLASS
    # The root page's {tableofcontents} would print a second, shorter table of
    # contents after the real one.
    config.jblatex_show_tocs = False
    # Only needed for SVG or GIF images (through ImageMagick); the book's
    # figures are PNG.
    config.jblatex_load_imgconverter = False
    config.latex_use_xindy = False
    config.latex_domain_indices = False
    elements = dict(config.latex_elements)
    preamble = elements.get("preamble", "")
    # sphinx-jupyterbook-latex loads ucharclasses to switch fonts by Unicode
    # block; the fonts above cover every character the book prints.
    preamble = preamble.replace(r"\usepackage[Latin,Greek]{ucharclasses}", "")
    for key, value in LATEX_ELEMENTS.items():
        if key == "preamble":
            elements[key] = value + preamble
        else:
            elements.setdefault(key, value)
    config.latex_elements = elements


def copy_latex_class(app):
    if isinstance(app.builder, LaTeXBuilder):
        copy_asset_file(str(HERE / "latex" / f"{LATEX_CLASS}.cls"), app.outdir)


# ----------------------------------------------------------- solutions appendix


def _leading_strong(node) -> nodes.strong | None:
    """The bold text a paragraph opens with (MyST may put an empty text first)."""
    if not isinstance(node, nodes.paragraph):
        return None
    for child in node.children:
        if isinstance(child, nodes.Text) and not child.strip():
            continue
        return child if isinstance(child, nodes.strong) else None
    return None


def _is_solution_heading(node) -> bool:
    """A paragraph that opens with bold text "Solution" (numbered or not)."""
    strong = _leading_strong(node)
    return strong is not None and re.match(r"Solution\b", strong.astext().strip()) is not None


def _exercise_number(node) -> str | None:
    """The number of an exercise stated as a paragraph "**3. Title.** ..."
    (or "**Exercise 3.** ...")."""
    strong = _leading_strong(node)
    text = strong.astext().strip() if strong is not None else ""
    match = re.match(r"(?:Exercise\s+)?(\d+)\.", text)
    return match.group(1) if match else None


def _is_exercise_statement(node) -> bool:
    return isinstance(node, nodes.enumerated_list) or _exercise_number(node) is not None


def _is_hidden_solution(node) -> bool:
    classes = node.get("classes", []) if isinstance(node, nodes.Element) else []
    if isinstance(node, nodes.container) and set(SOLUTION_HIDDEN_TAGS) & set(classes):
        return True
    if isinstance(node, nodes.container) and "toggle" in classes:
        return True
    return isinstance(node, nodes.admonition) and "dropdown" in classes


def _label(*parts: str) -> str:
    return "book-" + "-".join(re.sub(r"[^A-Za-z0-9]+", "-", p).strip("-") for p in parts)


def _raw(latex: str) -> nodes.raw:
    return nodes.raw("", latex, format="latex")


def _target(label: str) -> str:
    return r"\phantomsection\label{" + label + "}"


def _page_link(label: str, text: str) -> str:
    """A link to a label, showing ``text`` and the label's page number."""
    return r"\hyperref[" + label + "]{" + text + r"page~\pageref*{" + label + "}}"


def _numbers(groups) -> str:
    numbers = [g["number"] for g in groups if g["number"]]
    if not numbers:
        return ""
    if len(numbers) > 2 and all(
        b.isdigit() and a.isdigit() and int(b) == int(a) + 1
        for a, b in zip(numbers, numbers[1:], strict=False)
    ):
        return f" {numbers[0]}\\textendash{{}}{numbers[-1]}"
    return " " + ", ".join(numbers)


class SolutionsToAppendix(SphinxPostTransform):
    """Move the solutions of every chapter's exercises to one appendix.

    Runs on the whole book (the LaTeX builder assembles every page into one
    doctree before its post-transforms), before sphinx-jupyterbook-latex
    hides the input of cells tagged ``hide-input`` (priority 400).
    """

    default_priority = 350
    builders = ("latex",)

    def run(self, **kwargs):
        chapters = []
        for start in self.document.findall(addnodes.start_of_file):
            docname = start["docname"]
            section = next(iter(start.findall(nodes.section)), None)
            if section is None or not docname.startswith("chapters/"):
                continue
            exercises = [
                s
                for s in section.findall(nodes.section)
                if s is not section and s[0].astext().strip().lower().startswith("exercises")
            ]
            if exercises:
                groups = self.extract(docname, exercises[0])
                if groups:
                    chapters.append((docname, section, exercises[0], groups))
        if not chapters:
            return
        appendix = self.build_appendix(chapters)
        # Parked at the end; PlaceAppendices moves it into the appendices part.
        self.document.append(appendix)

    def extract(self, docname, section):
        """Detach the solutions from an Exercises section; leave page pointers."""
        groups, run, current_exercise = [], [], None
        children = list(section.children)
        in_solution = False
        for child in children:
            if isinstance(child, nodes.title):
                continue
            if _is_exercise_statement(child):
                number = _exercise_number(child)
                current_exercise = number or current_exercise
                in_solution = False
                self.flush(docname, section, run, before=child)
                run = []
                continue
            if _is_solution_heading(child) or (_is_hidden_solution(child) and not in_solution):
                group = {"nodes": [], "number": None}
                if _is_solution_heading(child):
                    match = re.match(r"Solution\s*(\d+)", _leading_strong(child).astext())
                    group["number"] = match.group(1) if match else current_exercise
                else:
                    group["number"] = current_exercise
                group["label"] = _label(docname, "solution", str(len(groups) + 1))
                groups.append(group)
                run.append(group)
                in_solution = True
            if not in_solution:
                continue
            section.remove(child)
            for node in child.findall(nodes.container):
                node["classes"] = [c for c in node["classes"] if c not in SOLUTION_HIDDEN_TAGS]
            if isinstance(child, nodes.container) and "toggle" in child["classes"]:
                child["classes"].remove("toggle")
            run[-1]["nodes"].append(child)
        self.flush(docname, section, run, before=None)
        for group in groups:
            first = group["nodes"][0]
            if not _is_solution_heading(first):
                heading = nodes.paragraph("", "", nodes.strong("", "Solution"))
                group["nodes"].insert(0, heading)
                first = heading
            # "**Solution**" under exercise 2 becomes "**Solution 2.**".
            strong = _leading_strong(first)
            text = strong.astext().strip()
            if group["number"] and not re.match(r"Solution\s*\d", text):
                strong.children = [nodes.Text(f"Solution {group['number']}.")]
            first.insert(0, _raw(_target(group["label"])))
        return groups

    def flush(self, docname, section, run, before):
        """Put one line in place of a run of consecutive solutions."""
        if not run:
            return
        first = run[0]["label"]
        word = "Solution" if len(run) == 1 else "Solutions"
        appendix = r"Appendix~\ref*{" + _label(SOLUTIONS_DOC) + "}, "
        line = _raw(
            r"\par\smallskip\noindent\textit{"
            + f"{word}{_numbers(run)}: "
            + _page_link(first, appendix)
            + r".}\par\smallskip"
        )
        if before is None:
            section.append(line)
        else:
            section.insert(section.index(before), line)

    def build_appendix(self, chapters):
        chapter_section = nodes.section("", ids=[SOLUTIONS_DOC])
        chapter_section += nodes.title("", SOLUTIONS_TITLE)
        chapter_section += _raw(r"\label{" + _label(SOLUTIONS_DOC) + "}")
        chapter_section += nodes.paragraph(
            "",
            "The HTML book hides each solution behind a toggle, so that you try the "
            "exercise first; this edition gathers them here, chapter by chapter, each "
            "with a link back to its exercises.",
        )
        # Sections within this appendix are not numbered: their titles carry
        # the chapter's own number.
        chapter_section += _raw(r"\setcounter{secnumdepth}{0}")
        number = 0
        for docname, chapter, exercises, groups in chapters:
            number = self.chapter_number(chapter, number)
            section = nodes.section("", ids=[_label(docname, "solutions")])
            title = nodes.title("", f"Chapter {number}. ")
            title.extend(child.deepcopy() for child in chapter[0].children)
            section += title
            back = _label(docname, "exercises")
            exercises.insert(1, _raw(_target(back)))
            section += _raw(
                r"\sphinxAtStartPar\textit{The exercises are on "
                + _page_link(back, "")
                + r".}\par"
            )
            # Keep each solution's own document name, so that its labels and
            # references stay what they were.
            start = addnodes.start_of_file(docname=docname)
            for group in groups:
                start.extend(group["nodes"])
            section += start
            chapter_section += section
        start = addnodes.start_of_file(docname=SOLUTIONS_DOC)
        start += chapter_section
        wrapper = nodes.compound("", start, classes=["toctree-wrapper", "book-solutions"])
        return wrapper

    def chapter_number(self, chapter, previous):
        match = re.match(r"chapters/(\d+)_", chapter.get("docname", ""))
        return int(match.group(1)) if match else previous + 1


class PlaceAppendices(SphinxPostTransform):
    """Letter the appendices and put the solutions appendix last among them.

    Runs after sphinx-jupyterbook-latex has turned _toc.yml's captions into
    parts (priority 700).
    """

    default_priority = 800
    builders = ("latex",)

    def run(self, **kwargs):
        solutions = next(
            (
                n
                for n in self.document.findall(nodes.compound)
                if "book-solutions" in n.get("classes", [])
            ),
            None,
        )
        part = None
        for section in self.document.findall(nodes.section):
            if (
                section.get("docname") == APPENDICES_CAPTION
                and section[0].astext() == APPENDICES_CAPTION
            ):
                part = section
                break
        self.title_front_matter()
        if part is None:
            return
        wrapper = part.parent.parent  # compound > start_of_file > section
        wrapper.parent.insert(wrapper.parent.index(wrapper), _raw(r"\appendix"))
        for chapter in part.findall(nodes.section):
            # A chapter's section is not inside another section (the LaTeX
            # builder puts each page's document node where its toctree was).
            if chapter is part or isinstance(chapter.parent, nodes.section):
                continue
            title = chapter[0]
            if title.children and isinstance(title[0], nodes.Text):
                text = re.sub(r"^Appendix:\s*", "", str(title[0]))
                if text != str(title[0]):
                    title[0] = nodes.Text(text[:1].upper() + text[1:])
        if solutions is not None:
            solutions.parent.remove(solutions)
            part.append(solutions)

    def title_front_matter(self):
        """Give the root page (intro.md), which opens the book, a heading."""
        root = self.config.root_doc
        for section in self.document.findall(nodes.section):
            if section.get("docname") == root:
                title = FRONT_MATTER_TITLE
                latex = r"\chapter*{T}\addcontentsline{toc}{chapter}{T}\markboth{T}{T}"
                section.insert(1, _raw(latex.replace("{T}", "{" + title + "}")))
                return


# -------------------------------------------------------------- the HTML link


def pdf_name(app) -> str:
    targetname = app.config.latex_documents[0][1]
    return Path(targetname).with_suffix(".pdf").name


def built_pdf(app) -> Path | None:
    """The PDF built beside this HTML build, if there is one."""
    pdf = Path(app.outdir).parent / "latex" / pdf_name(app)
    return pdf if pdf.is_file() else None


def add_pdf_button(app, pagename, templatename, context, doctree):
    if app.builder.format != "html" or built_pdf(app) is None:
        return
    buttons = context.get("header_buttons")
    if buttons is None:
        return
    buttons.insert(
        0,
        {
            "type": "link",
            "url": context["pathto"](pdf_name(app), 1),
            "text": "PDF",
            "tooltip": "Download the whole book as a PDF",
            "icon": "fas fa-file-pdf",
            "label": "download-book-pdf-button",
        },
    )


def copy_pdf(app, exception):
    if exception is None and app.builder.format == "html":
        pdf = built_pdf(app)
        if pdf is not None:
            shutil.copyfile(pdf, Path(app.outdir) / pdf.name)


def setup(app):
    app.connect("config-inited", configure_latex, priority=900)
    app.connect("builder-inited", copy_latex_class)
    app.add_post_transform(SolutionsToAppendix)
    app.add_post_transform(PlaceAppendices)
    # After sphinx-book-theme has made its header buttons (priority 501).
    app.connect("html-page-context", add_pdf_button, priority=600)
    app.connect("build-finished", copy_pdf)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
