"""The appendix pages are current: Keras 2 → 3 notes gathered, run times measured."""

from __future__ import annotations

import re

import pytest

from booktools import gather_keras3_notes
from booktools.book import ROOT, chapter_paths


def test_keras3_appendix_is_up_to_date():
    notes, problems = gather_keras3_notes.gather()
    assert not problems, problems
    assert notes, "no chapter has a labelled Keras 2 → 3 note"
    assert gather_keras3_notes.APPENDIX.read_text() == gather_keras3_notes.render(notes), (
        "appendix/keras2_to_3.md is out of date: run python -m booktools.gather_keras3_notes"
    )


def test_every_keras3_note_in_a_chapter_is_labelled_and_gathered():
    text = gather_keras3_notes.APPENDIX.read_text()
    for chapter in gather_keras3_notes.chapters_in_toc_order():
        raw = (ROOT / f"{chapter}.ipynb").read_text()
        n_admonitions = len(re.findall(r"\{admonition\}\s*Keras 2\s*(?:→|->)\s*3", raw))
        labels = set(re.findall(r"\((keras3-[a-z0-9-]+)\)=", raw))
        assert len(labels) == n_admonitions, (
            f"{chapter}: {n_admonitions} notes, {len(labels)} labels"
        )
        for label in labels:
            assert f"<{label}>`" in text, f"{label} of {chapter} is missing from the appendix"


def test_the_gatherer_finds_an_unlabelled_note(tmp_path, monkeypatch):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# A chapter"),
        nbformat.v4.new_markdown_cell(
            "```{admonition} Keras 2 → 3: x\n:class: warning\nOld.\n```"
        ),
    ]
    (tmp_path / "chapters").mkdir()
    nbformat.write(nb, tmp_path / "chapters" / "99_x.ipynb")
    monkeypatch.setattr(gather_keras3_notes, "ROOT", tmp_path)
    notes, problems = gather_keras3_notes.notes_of("chapters/99_x")
    assert notes == [] and "no (keras3-...)= label" in problems[0]


def test_run_times_page_covers_every_chapter():
    page = (ROOT / "appendix" / "run_times.md").read_text()
    for path in chapter_paths():
        row = re.search(
            rf"^\| \[{path.stem}\]\(.*?\) \| (\d+) s \| ([\d,]+) MiB \|$", page, re.MULTILINE
        )
        assert row, (
            f"appendix/run_times.md has no measured row for {path.stem}: "
            "re-run python -m booktools.measure_run_times"
        )
    assert "## Chapters on a GPU" in page and "## The machine" in page


def test_run_times_page_says_where_the_outputs_come_from():
    from booktools.reference import load_provenance, provenance_markdown

    page = (ROOT / "appendix" / "run_times.md").read_text()
    assert provenance_markdown(load_provenance()) in page, (
        "appendix/run_times.md does not show chapters/provenance.json: re-run "
        "python -m booktools.run_notebooks (it updates the section) or "
        "python -m booktools.measure_run_times"
    )


@pytest.mark.slow  # starts processes
def test_reproducibility_appendix_code_runs_and_its_asserts_hold():
    """The page's Python blocks run, in order, in a fresh process, and assert what it says."""
    from tests.python_runs import run_python

    page = (ROOT / "appendix" / "reproducibility.md").read_text()
    blocks = re.findall(r"^```python\n(.*?)^```$", page, re.MULTILINE | re.DOTALL)
    assert len(blocks) == 2, f"expected the page's 2 Python blocks, found {len(blocks)}"
    code = "\n".join(blocks)
    assert "assert" in code
    done = run_python(code + "\nprint('appendix code ran')\n", ROOT)
    assert done.returncode == 0 and "appendix code ran" in done.stdout, done.stderr[-2000:]


def test_reproducibility_appendix_names_every_pin():
    from tfcustom.setup import PINNED_NUMERICS

    page = (ROOT / "appendix" / "reproducibility.md").read_text()
    for name, value in PINNED_NUMERICS.items():
        assert f"`{name}={value}`" in page, f"the appendix does not explain {name}={value}"
    assert page.startswith("(pinned-numerics)=\n"), "chapter 1 links to this label"
