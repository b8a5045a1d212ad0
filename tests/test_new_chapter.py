"""A new chapter from booktools/new_chapter.py passes the hygiene tests once executed.

The skeleton is written and executed outside the repository (it imports the
installed tfcustom, as the chapters do), then put through every hygiene check of
tests/test_notebooks.py, so that the documented path for adding a chapter
cannot drift from what the suite requires.
"""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from booktools import new_chapter
from booktools.notebooks import canonical_text, is_canonical
from tests import test_notebooks as hygiene

CHECKS = [
    hygiene.test_valid_notebook_with_python3_kernel,
    hygiene.test_executed_in_order,
    hygiene.test_errors_only_where_they_are_the_lesson,
    hygiene.test_no_warnings_or_log_noise,
    hygiene.test_opening_cells,
    hygiene.test_ends_with_summary_and_exercises,
    hygiene.test_exercise_solutions_are_toggled,
    hygiene.test_no_keras2_only_apis_in_working_code,
    hygiene.test_solutions_are_hidden_one_way,
]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("book")
    (folder / "chapters").mkdir()
    path = folder / "chapters" / "99_a_new_topic.ipynb"
    assert new_chapter.main([str(path), "A new topic"]) == 0
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()  # fmt: skip
    path.write_text(canonical_text(nb))
    return path, nbformat.read(path, as_version=4)


@pytest.mark.parametrize("check", CHECKS, ids=[c.__name__ for c in CHECKS])
def test_the_skeleton_passes(executed, check):
    check(executed)


def test_the_skeleton_is_canonical_and_refuses_to_overwrite(executed, tmp_path):
    path, _ = executed
    assert is_canonical(path)
    assert new_chapter.main([str(path), "Again"]) == 1
    assert new_chapter.main(["only-one-argument"]) == 2


def test_help_and_bad_arguments_touch_nothing(tmp_path, capsys):
    assert new_chapter.main(["--help"]) == 0
    assert "Usage" in capsys.readouterr().out
    assert new_chapter.main([str(tmp_path / "09_x.txt"), "Title"]) == 2
    assert new_chapter.main([str(tmp_path / "missing" / "09_x.ipynb"), "Title"]) == 2
    assert new_chapter.main([str(tmp_path / "09_x.ipynb"), "  "]) == 2
    assert list(tmp_path.iterdir()) == []
