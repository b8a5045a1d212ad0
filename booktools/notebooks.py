"""The chapters' canonical form and their setup cell.

A chapter is stored exactly as :func:`canonical_text` writes it: stable
metadata (execution counts 1..n, no timestamps, the ``python3``
kernelspec), so that a re-run of an unchanged chapter changes nothing but
inherently variable outputs, and a diff shows content only. Its first code
cell, the setup cell, is :func:`booktools.book.setup_cell`.
``python -m booktools.run_notebooks --normalise``, ``--setup-cells`` and
``--check`` use this module; ``tests/test_notebooks.py`` checks every chapter
with it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import nbformat

from booktools.book import ROOT, setup_cell

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
LANGUAGE_INFO = {
    "codemirror_mode": {"name": "ipython", "version": 3},
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "name": "python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
}


def normalise(nb: nbformat.NotebookNode) -> None:
    """Give a notebook stable, minimal metadata."""
    nb.metadata = nbformat.from_dict({"kernelspec": KERNELSPEC, "language_info": LANGUAGE_INFO})
    count = 0
    ids = {cell.get("id") for cell in nb.cells}
    for index, cell in enumerate(nb.cells):
        if not cell.get("id"):  # a cell added by hand: a stable id from its place and text
            digest = hashlib.sha1(f"{index}:{cell.source}".encode()).hexdigest()
            cell.id = next(
                digest[i : i + 8] for i in range(len(digest) - 8) if digest[i : i + 8] not in ids
            )
            ids.add(cell.id)
        cell.metadata.pop("execution", None)
        cell.metadata.pop("collapsed", None)
        cell.metadata.pop("scrolled", None)
        if cell.cell_type == "code":
            if cell.source.strip():
                count += 1
                cell.execution_count = count
                for out in cell.outputs:
                    if "execution_count" in out:
                        out.execution_count = count
            else:
                cell.execution_count = None
                cell.outputs = []


def canonical_text(nb: nbformat.NotebookNode) -> str:
    """The notebook as the book stores it: normalised, nbformat's JSON, a final newline."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))  # a copy
    normalise(nb)
    return nbformat.writes(nb) + "\n"


def is_canonical(path: Path) -> bool:
    """Whether the file is stored exactly in the book's canonical form."""
    text = Path(path).read_text()
    return text == canonical_text(nbformat.reads(text, as_version=4))


SETUP_CELL_INDEX = 1
"""Where the setup cell is: the first code cell, right after the opening markdown cell."""


def refresh_setup_cells(paths: list[Path]) -> list[Path]:
    """Write :func:`booktools.book.setup_cell` into each setup cell; return the chapters changed.

    Only that cell's source changes (its metadata, tags and stored outputs
    stay), and a chapter whose cell is current is not written, so a second
    run changes nothing. Each notebook is read right before it is written,
    and written in the canonical form.

    Raises:
        ValueError: a chapter's cell at :data:`SETUP_CELL_INDEX` is not its
            setup cell (nothing is written to that chapter).
    """
    source = setup_cell()
    changed = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        cell = nb.cells[SETUP_CELL_INDEX] if len(nb.cells) > SETUP_CELL_INDEX else None
        if cell is None or cell.cell_type != "code" or "setup_chapter()" not in cell.source:
            raise ValueError(f"{path.name}: cell {SETUP_CELL_INDEX} is not the setup cell")
        if cell.source != source:
            cell.source = source
            path.write_text(canonical_text(nb))
            changed.append(path)
    return changed


def stale_notebooks(paths: list[Path]) -> list[str]:
    """One line per chapter that ``--normalise`` or ``--setup-cells`` would change.

    Reads only: nothing is written.
    """
    source = setup_cell()
    problems = []
    for path in paths:
        text = Path(path).read_text()
        nb = nbformat.reads(text, as_version=4)
        name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        if text != canonical_text(nb):
            problems.append(f"{name}: not in the canonical form (run --normalise)")
        cells = nb.cells
        if len(cells) <= SETUP_CELL_INDEX or cells[SETUP_CELL_INDEX].source != source:
            problems.append(f"{name}: its setup cell is stale (run --setup-cells)")
    return problems


def python_source(cell_source: str) -> str:
    """A code cell's source as plain Python: IPython's ``%magics`` become calls.

    The setup cell installs the helpers with ``%pip`` on Colab, which
    :func:`ast.parse` refuses; IPython turns it into
    ``get_ipython().run_line_magic(...)``, as the kernel does.
    """
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(cell_source)
