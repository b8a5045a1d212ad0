"""Build the PDF edition of the book: ``./scripts/build-book --pdf`` runs this.

Usage (from the repository root, inside the book's environment)::

    python -m scripts.build_pdf                   # into _build/latex/
    python -m scripts.build_pdf --output DIR      # into DIR/_build/latex/

Two steps, both from the notebooks' stored outputs (nothing is executed):
Sphinx's LaTeX builder (through Jupyter Book, with warnings as errors, like
the HTML build) writes the book as one ``.tex`` file, then ``latexmk`` runs
XeLaTeX until every page reference is resolved. The PDF is named after the
book (``_config.yml``, ``latex.latex_documents.targetname``).

XeLaTeX, because the outputs print Unicode (arrows, Greek letters, math
symbols) that pdfLaTeX would need a font package per script for. What the
build needs from TeX, and the Debian packages that provide it, are listed in
``DEBIAN_PACKAGES`` and checked before anything runs: when something is
missing, one message says what and how to install it, instead of a LaTeX log.
``tests/test_pdf.py`` builds the PDF with this module and checks it page by page.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from booktools.book import ROOT, config

DEBIAN_PACKAGES = (
    "texlive-xetex",
    "texlive-latex-extra",
    "texlive-fonts-recommended",
    "latexmk",
    "fonts-freefont-otf",
    "fonts-dejavu-core",
)
"""What the PDF needs (Debian 12 names), without their recommended packages."""

TEST_PACKAGES = ("poppler-utils",)
"""What tests/test_pdf.py needs besides: pdftotext, pdftoppm, pdfimages."""

INSTALL_HINT = "apt-get install --no-install-recommends " + " ".join(
    DEBIAN_PACKAGES + TEST_PACKAGES
)

COMMANDS = ("xelatex", "latexmk", "kpsewhich", "fc-list")
LATEX_FILES = (
    # texlive-latex-recommended, texlive-latex-extra (Sphinx's LaTeX needs)
    "fontspec.sty",
    "polyglossia.sty",
    "unicode-math.sty",
    "titlesec.sty",
    "tabulary.sty",
    "needspace.sty",
    "changepage.sty",
    # texlive-fonts-recommended (the dingbats Sphinx's LaTeX uses)
    "pzdr.tfm",
)
FONTS = ("FreeSerif", "FreeSans", "DejaVu Sans Mono", "Latin Modern Math")
"""Text, code and math fonts (see _ext/book_pdf.py)."""


class TexMissing(RuntimeError):
    """TeX, or a part of it the book needs, is not installed."""


class PdfBuildError(RuntimeError):
    """Sphinx or XeLaTeX failed; the message quotes the relevant lines."""


@dataclass
class PdfBuild:
    pdf: Path
    latex_dir: Path
    log: str
    """XeLaTeX's log of the last run (overfull boxes, missing glyphs, ...)."""
    sphinx_seconds: float
    latex_seconds: float


def pdf_name() -> str:
    return Path(config()["latex"]["latex_documents"]["targetname"]).with_suffix(".pdf").name


def missing_requirements() -> list[str]:
    """What the PDF build needs and this machine lacks (empty when all is there)."""
    missing = [command for command in COMMANDS if shutil.which(command) is None]
    if "kpsewhich" not in missing:
        for name in LATEX_FILES:
            found = subprocess.run(["kpsewhich", name], capture_output=True, text=True)
            if not found.stdout.strip():
                missing.append(name)
    if "fc-list" not in missing:
        families = subprocess.run(
            ["fc-list", ":", "family"], capture_output=True, text=True
        ).stdout
        missing += [font for font in FONTS if font not in families]
    return missing


def require_tex() -> None:
    missing = missing_requirements()
    if missing:
        raise TexMissing(
            f"the PDF edition needs TeX, which is missing here ({', '.join(missing)}). "
            f"On Debian or Ubuntu: {INSTALL_HINT} (about 110 MB to download, 360 MB "
            "installed); see README, 'The PDF edition'"
        )


def _latex_errors(log: str, limit: int = 3) -> str:
    """The first errors of a LaTeX log, each with the lines that locate it."""
    lines = log.splitlines()
    found = []
    for i, line in enumerate(lines):
        if line.startswith("! "):
            found.append("\n".join(lines[i : i + 4]))
            if len(found) == limit:
                break
    return "\n\n".join(found) or "\n".join(lines[-20:])


def build(output: Path | None = None) -> PdfBuild:
    """Build the PDF into ``output/_build/latex`` (default: the repository's _build)."""
    require_tex()
    base = Path(output) if output is not None else ROOT
    latex_dir = base / "_build" / "latex"
    shutil.rmtree(latex_dir, ignore_errors=True)
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    command = [str(jupyter_book), "build", str(ROOT), "--builder", "latex", "-W", "-n"]
    command += ["--keep-going"]
    if output is not None:
        command += ["--path-output", str(base)]
    start = time.perf_counter()
    sphinx = subprocess.run(command, capture_output=True, text=True, timeout=600)
    sphinx_seconds = time.perf_counter() - start
    sphinx_log = sphinx.stdout + sphinx.stderr
    if sphinx.returncode != 0 or "WARNING" in sphinx_log:
        raise PdfBuildError(f"the LaTeX build (Sphinx) failed or warned:\n{sphinx_log[-4000:]}")
    tex = latex_dir / pdf_name().replace(".pdf", ".tex")
    env = dict(os.environ, LATEXOPTS="-interaction=nonstopmode -halt-on-error")
    start = time.perf_counter()
    # XeLaTeX as often as the page references need (three times), then one
    # conversion to PDF (xdvipdfmx); Sphinx's latexmkrc in latex_dir says how.
    latex = subprocess.run(
        ["latexmk", "-pdfxe", "-dvi-", "-ps-", "-silent", tex.name],
        cwd=latex_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    latex_seconds = time.perf_counter() - start
    log_path = tex.with_suffix(".log")
    log = log_path.read_text(errors="replace") if log_path.exists() else ""
    pdf = tex.with_suffix(".pdf")
    if latex.returncode != 0 or not pdf.exists():
        raise PdfBuildError(
            f"XeLaTeX failed on {tex} (full log: {log_path}):\n{_latex_errors(log)}"
        )
    return PdfBuild(pdf, latex_dir, log, sphinx_seconds, latex_seconds)


def page_count(pdf: Path) -> int | None:
    if shutil.which("pdfinfo") is None:
        return None
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    match = re.search(r"^Pages:\s+(\d+)", info, re.M)
    return int(match.group(1)) if match else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, help="build under DIR/_build (default: _build)")
    args = parser.parse_args(argv)
    try:
        result = build(args.output)
    except TexMissing as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except PdfBuildError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    pages = page_count(result.pdf)
    size = result.pdf.stat().st_size / 1e6
    print(
        f"== the PDF is in {result.pdf} ("
        + (f"{pages} pages, " if pages else "")
        + f"{size:.1f} MB; LaTeX written in {result.sphinx_seconds:.0f} s, "
        f"typeset in {result.latex_seconds:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
