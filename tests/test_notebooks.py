"""Notebook hygiene, read from the committed files (nbval does the executing).

A reader of the HTML book sees exactly what is stored, so what is stored must
be a clean top-to-bottom run: counts 1..n, no stray errors, no warnings or
log lines, the shared setup cell and a Colab link in every chapter.
"""

from __future__ import annotations

import re

import nbformat
import pytest

from booktools import book
from booktools.book import ROOT
from booktools.notebooks import python_source

CHAPTERS = book.chapter_paths()
NOISE = re.compile(
    r"(Warning:|WARNING|DeprecationWarning|UserWarning|FutureWarning|"
    r"^[IWE]\d{4} |oneDNN custom operations|cpu_feature_guard|absl::|TF-TRT|Could not find cuda|"
    r"Unable to register|E0000|W0000|I0000)",
    re.MULTILINE,
)


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]


def output_text(output) -> str:
    if output.output_type == "stream":
        return output.text
    if output.output_type in ("execute_result", "display_data"):
        return str(output.get("data", {}).get("text/plain", ""))
    return ""


def test_there_are_chapters():
    assert CHAPTERS, "no notebooks in chapters/"
    for path in CHAPTERS:
        assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name), path.name


@pytest.fixture(params=CHAPTERS, ids=[p.name for p in CHAPTERS])
def notebook(request):
    path = request.param
    return path, nbformat.read(path, as_version=4)


def test_valid_notebook_with_python3_kernel(notebook):
    path, nb = notebook
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3", path.name
    assert nb.metadata.language_info.name == "python"


def test_executed_in_order(notebook):
    path, nb = notebook
    counts = [c.execution_count for c in code_cells(nb)]
    assert counts == list(range(1, len(counts) + 1)), (
        f"{path.name}: execution counts {counts[:10]}... are not 1..n; re-run it with "
        "python -m booktools.run_notebooks"
    )
    for cell in code_cells(nb):
        for out in cell.outputs:
            if out.output_type == "execute_result":
                assert out.execution_count == cell.execution_count


def test_errors_only_where_they_are_the_lesson(notebook):
    path, nb = notebook
    for cell in code_cells(nb):
        tagged = "raises-exception" in cell.metadata.get("tags", [])
        errors = [o for o in cell.outputs if o.output_type == "error"]
        where = f"{path.name}, cell {cell.execution_count}"
        if tagged:
            assert errors, f"{where} is tagged raises-exception but raised nothing"
        else:
            assert not errors, f"{where} stored an error: {errors[0].ename}: {errors[0].evalue}"


def test_no_warnings_or_log_noise(notebook):
    path, nb = notebook
    for cell in code_cells(nb):
        for out in cell.outputs:
            where = f"{path.name}, cell {cell.execution_count}"
            assert not (out.output_type == "stream" and out.name == "stderr"), (
                f"{where} wrote to stderr: {out.text[:200]!r}"
            )
            match = NOISE.search(output_text(out))
            assert not match, f"{where} shows log noise: {output_text(out)[:200]!r}"


def prints_a_caught_error(source: str) -> bool:
    """Whether code catches an exception and prints something in the handler.

    A lesson shows an expected error with ``tfcustom.errors.expect_error``,
    which also fails when nothing is raised; a hand-written ``try``/
    ``except`` that prints (often a message cut with ``split`` or a regex)
    would pass silently when the error stops happening.
    """
    import ast

    for node in ast.walk(ast.parse(python_source(source))):
        if isinstance(node, ast.ExceptHandler):
            for inner in ast.walk(ast.Module(body=node.body, type_ignores=[])):
                call = isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name)
                if call and inner.func.id == "print":
                    return True
    return False


@pytest.mark.parametrize(
    "source, caught",
    [
        ("try:\n    f()\nexcept ValueError as e:\n    print(e)\n", True),
        ("try:\n    f()\nexcept (A, B):\n    if x:\n        print(str(e).split('. ')[0])", True),
        ("try:\n    f()\nexcept RuntimeError:\n    pass  # ran twice\n", False),
        ("with expect_error(ValueError):\n    f()\nprint('done')\n", False),
    ],
)
def test_the_caught_error_rule(source, caught):
    assert prints_a_caught_error(source) is caught


def test_expected_errors_are_shown_with_expect_error(notebook):
    path, nb = notebook
    for cell in code_cells(nb):
        assert not prints_a_caught_error(cell.source), (
            f"{path.name}, cell {cell.execution_count} prints a caught exception: show it "
            "with tfcustom.errors.expect_error (CONTRIBUTING.md, 'Outputs that verify everywhere')"
        )


def test_opening_cells(notebook):
    path, nb = notebook
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), path.name
    rel = f"chapters/{path.name}"
    assert book.colab_url(rel) in first.source, f"{path.name}: no Colab link to itself"
    for heading in ("**You will learn", "**Prerequisites", "**Run time"):
        assert heading in first.source, f"{path.name}: the opening lacks {heading}"
    setup = code_cells(nb)[0]
    assert setup.source == book.setup_cell(), (
        f"{path.name}: the first code cell is not the shared setup cell "
        "(booktools/book.py holds its text; after changing utils/, refresh every chapter's "
        "with: .venv/bin/python -m booktools.run_notebooks --setup-cells)"
    )
    assert "hide-input" in setup.metadata.get("tags", [])


def test_ends_with_summary_and_exercises(notebook):
    path, nb = notebook
    headings = [
        line
        for c in nb.cells
        if c.cell_type == "markdown"
        for line in c.source.splitlines()
        if line.startswith("## ")
    ]
    assert any(h.lower().startswith("## summary") for h in headings), path.name
    assert any(h.lower().startswith("## exercises") for h in headings), path.name


def test_exercise_solutions_are_toggled(notebook):
    path, nb = notebook
    start = next(
        (i for i, c in enumerate(nb.cells)
         if c.cell_type == "markdown" and "## Exercises" in c.source),
        None,
    )  # fmt: skip
    assert start is not None, f"{path.name}: no '## Exercises' section"
    solutions = [c for c in nb.cells[start:] if c.cell_type == "code" and c.source.strip()]
    assert solutions, f"{path.name}: exercises without solution cells"
    for cell in solutions:
        tags = cell.metadata.get("tags", [])
        assert "hide-cell" in tags, (
            f"{path.name}: solution cell {cell.execution_count} must be tagged hide-cell "
            "(hide-input would leave its output, often the answer, in view)"
        )
    for cell in nb.cells[start + 1 :]:
        if cell.cell_type == "markdown":
            visible = visible_answer_prose(cell.source)
            assert not visible, (
                f"{path.name}: answer prose in view after the exercises: {visible[:60]!r}; "
                "put it in a {toggle} block"
            )


EXERCISE_STATEMENT = re.compile(r"\*\*(Exercise\s+)?\d+\.")
SOLUTION_HEADING = re.compile(r"\*\*Solution[^*]*\*\*")
TOGGLE_BLOCK = re.compile(r"(`{3,}|:{3,})\{toggle\}.*?\n\1[ \t]*(\n|$)", re.DOTALL)


def visible_answer_prose(markdown: str) -> str:
    """What a reader sees, unasked, of a markdown cell after the exercises.

    An exercise statement ("**3. Title.** ...") is meant to be seen; a
    solution may show its heading ("**Solution 3.**") and nothing else
    outside a ``{toggle}`` block.
    """
    text = markdown.strip()
    if EXERCISE_STATEMENT.match(text):
        return ""
    text = SOLUTION_HEADING.sub("", text, count=1) if SOLUTION_HEADING.match(text) else text
    return TOGGLE_BLOCK.sub("", text).strip()


def test_solutions_are_hidden_one_way(notebook):
    """Code solutions behind hide-input toggles, prose answers in {toggle}: never {dropdown}."""
    path, nb = notebook
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            assert "{dropdown}" not in cell.source and ":class: dropdown" not in cell.source, (
                f"{path.name}: hide prose answers with a {{toggle}} block, as the other "
                "chapters do, not a {dropdown}"
            )


def test_no_keras2_only_apis_in_working_code(notebook):
    """Keras 2 idioms may appear only in cells that demonstrate why they fail."""
    path, nb = notebook
    legacy = re.compile(
        r"\binput_shape\s*=|\.reset_states\(|compiled_loss|compiled_metrics|"
        r"add_metric\(|\.save\([^)]*\.h5['\"]|from tensorflow import keras|tf\.keras\b"
    )
    for cell in code_cells(nb):
        tags = set(cell.metadata.get("tags", []))
        if tags & {"raises-exception", "keras2-demo"}:
            continue
        match = legacy.search(cell.source)
        assert not match, (
            f"{path.name}, cell {cell.execution_count} uses {match.group(0)!r}; "
            "tag the cell keras2-demo if it demonstrates the old API"
        )


def test_strict_mode_compares_nearly_every_cell():
    """Cells whose outputs nbval ignores (timings) stay rare: at least 95% are compared."""
    cells = [c for path in CHAPTERS for c in code_cells(nbformat.read(path, as_version=4))]
    ignored = [c for c in cells if "nbval-ignore-output" in c.metadata.get("tags", [])]
    assert len(cells) - len(ignored) >= 0.95 * len(cells), (
        f"{len(ignored)} of {len(cells)} code cells are tagged nbval-ignore-output"
    )


def test_platform_dependent_cells_are_tagged_where_they_print(notebook):
    """The tag marks cells whose printed numbers move with the platform, so it needs output."""
    path, nb = notebook
    for cell in code_cells(nb):
        if "platform-dependent" in cell.metadata.get("tags", []):
            assert cell.outputs, (
                f"{path.name}, cell {cell.execution_count} is tagged "
                "platform-dependent but prints nothing"
            )


def test_stored_in_the_canonical_form(notebook):
    """Stored exactly as booktools/run_notebooks.py writes it: diffs show content only."""
    from booktools.notebooks import is_canonical

    path, _ = notebook
    assert is_canonical(path), (
        f"{path.name} is not in the book's canonical form (saved by Jupyter?): run "
        f"python -m booktools.run_notebooks --normalise {path.relative_to(ROOT)}"
    )


def test_a_notebook_saved_by_jupyter_is_not_canonical(tmp_path):
    """The control: what plain Jupyter writes (timestamps, its own metadata) is caught."""
    from booktools.notebooks import canonical_text, is_canonical

    nb = nbformat.read(CHAPTERS[0], as_version=4)
    path = tmp_path / "chapter.ipynb"
    path.write_text(canonical_text(nb))
    assert is_canonical(path)
    nb.cells[1].metadata["execution"] = {"iopub.execute_input": "2026-11-30T10:00:00Z"}
    nb.metadata["language_info"]["version"] = "3.11.7"
    nbformat.write(nb, path)
    assert not is_canonical(path)


@pytest.mark.parametrize(
    "markdown, shown",
    [
        ("**Solution 2.** The answer is 5.", "The answer is 5."),
        ("**Solution 1.**\n\n```{toggle}\nThe answer is 5.\n```", ""),
        ("```{toggle}\nThe answer is 5.\n```\n", ""),
        ("**3. A lighter dropout.** Compare the two variants.", ""),
        ("**Solution 4**\n\n```{toggle}\nhidden\n```\nBut this is seen.", "But this is seen."),
    ],
)
def test_visible_answer_prose(markdown, shown):
    assert visible_answer_prose(markdown) == shown


def test_chapters_write_only_into_their_runs_folder(notebook):
    """No fixed output path and no rmtree: two runs at once must not touch each other's files."""
    path, nb = notebook
    for cell in code_cells(nb):
        for pattern in (r"""["']artifacts/""", r"\brmtree\(", r"\bos\.remove\(", r"\.unlink\("):
            assert not re.search(pattern, cell.source), (
                f"{path.name}, cell {cell.execution_count} matches {pattern!r}: write through "
                "tfcustom.saving.artifact_path(name) (fresh=True for an empty folder) instead"
            )


def test_safe_mode_is_taught_as_a_safeguard_not_a_guarantee():
    """Chapter 2 must not promise that safe_mode makes any file safe to load."""
    nb = nbformat.read(ROOT / "chapters" / "02_custom_losses_and_saving.ipynb", as_version=4)
    prose = " ".join(" ".join(c.source.split()) for c in nb.cells if c.cell_type == "markdown")
    assert "CVE-2025-1550" in prose and "CVE-2025-9905" in prose, "the known bypasses"
    assert "load only files you trust" in prose, "the advice that safe_mode cannot replace"
