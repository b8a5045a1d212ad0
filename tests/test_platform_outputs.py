"""Outputs of platform-dependent cells: compared digit for digit, or else within a tolerance.

The unit tests pin down the rule of ``tests/outputs.py``. The negative
controls run the real thing: pytest with nbval on a copy of chapter 1 whose
stored outputs were changed on purpose, with a provenance record whose
reference fingerprints were changed too, so that this run takes the path of
a machine that does *not* reproduce the reference probes (an AMD machine
when the reference is Intel, or the other way round), whichever CPU runs
the suite.
"""

from __future__ import annotations

import json
import re

import nbformat
import pytest

from booktools.book import chapter_paths
from booktools.reference import load_provenance
from tests.outputs import (
    DEFAULT_UNITS,
    DESCRIBES_MACHINE,
    NUMBER,
    PLATFORM_TAG,
    cell_tolerance,
    compare_text,
    last_digit_unit,
)
from tests.python_runs import run_pytest, scratch_folder

TAGGED = {"tags": [PLATFORM_TAG]}


@pytest.mark.parametrize(
    ("token", "unit"),
    [("0.034", 0.001), ("12", 1.0), ("2.", 1.0), ("1.5e-03", 1e-4), ("-7.25E+02", 1.0)],
)
def test_last_digit_unit(token, unit):
    assert last_digit_unit(token) == pytest.approx(unit)


def test_equal_texts_pass_with_no_difference():
    verdict = compare_text("loss 0.251\n", "loss 0.251\n", DEFAULT_UNITS)
    assert verdict.ok and verdict.differences == []


def test_a_last_digit_passes_and_is_reported():
    verdict = compare_text("+ BN   +0.034  0.0034\n", "+ BN   +0.035  0.0034\n", 1)
    assert verdict.ok
    assert [(d.stored, d.got) for d in verdict.differences] == [("+0.034", "+0.035")]


def test_two_units_fail_at_the_default_and_pass_where_the_cell_allows_them():
    assert not compare_text("0.250", "0.252", DEFAULT_UNITS).ok
    assert compare_text("0.250", "0.252", 2).ok


def test_a_sign_flip_at_zero_is_one_number():
    assert compare_text("effect -0.000", "effect +0.001", 1).ok


def test_a_widened_column_is_not_a_text_difference():
    assert compare_text("x    9.9 |\n", "x   10.0 |\n", 1).ok


@pytest.mark.parametrize(
    ("stored", "got"),
    [
        ("verdict: better", "verdict: worse"),  # a word: never tolerated
        ("0.25 0.50", "0.25"),  # a number lost
        ("float32 0.1", "float64 0.1"),  # digits inside a name are text
        ("TensorFlow 2.21.0", "TensorFlow 2.21.1"),  # so is a version
        ("1.0e-03", "1.0e-02"),  # an exponent is part of the number
    ],
)
def test_what_is_never_tolerated(stored, got):
    verdict = compare_text(stored, got, 1)
    assert not verdict.ok, (stored, got)
    assert verdict.reason


def test_a_cell_that_describes_the_machine_reports_every_difference():
    verdict = compare_text("device: CPU", "device: GPU (H100)", DESCRIBES_MACHINE)
    assert verdict.ok and len(verdict.differences) == 1


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        (TAGGED, DEFAULT_UNITS),
        ({**TAGGED, "tolerance": 3}, 3.0),
        ({**TAGGED, "tolerance": DESCRIBES_MACHINE}, DESCRIBES_MACHINE),
    ],
)
def test_cell_tolerance(metadata, expected):
    assert cell_tolerance(metadata) == expected


@pytest.mark.parametrize(
    "metadata",
    [
        {**TAGGED, "tolerance": 0},
        {**TAGGED, "tolerance": "loose"},
        {**TAGGED, "tolerance": True},
        {"tolerance": 2},  # not tagged: a tolerance would be silently unused
    ],
)
def test_a_bad_tolerance_is_refused(metadata):
    with pytest.raises(ValueError, match="tolerance"):
        cell_tolerance(metadata)


@pytest.mark.parametrize("path", chapter_paths(), ids=lambda p: p.stem)
def test_every_chapter_states_valid_tolerances(path):
    nb = nbformat.read(path, as_version=4)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and (
            PLATFORM_TAG in cell.metadata.get("tags", []) or "tolerance" in cell.metadata
        ):
            try:
                cell_tolerance(cell.metadata)
            except ValueError as error:
                pytest.fail(f"{path.name}, cell {index}: {error}")


def test_the_setup_cell_describes_the_machine():
    """Versions, device and numerics are facts about the machine: reported, not failed."""
    for path in chapter_paths():
        setup = nbformat.read(path, as_version=4).cells[1]
        assert "setup_chapter()" in setup.source, path.name
        assert cell_tolerance(setup.metadata) == DESCRIBES_MACHINE, path.name


# --- the negative controls: nbval on a changed copy of chapter 1 ----------------------


def _shift(token: str, units: int) -> str:
    """``token`` moved by ``units`` of its last printed digit, printed the same way."""
    mantissa = token.lower().partition("e")[0]
    decimals = len(mantissa.partition(".")[2])
    assert "e" not in token.lower(), "keep the controls to plain decimals"
    text = f"{float(token) + units * last_digit_unit(token):.{decimals}f}"
    return text + "." if token.endswith(".") else text


def _output_text(cell) -> str:
    return "".join(
        out.get("text", "") or out.get("data", {}).get("text/plain", "") for out in cell.outputs
    )


def _with_number_shifted(cell, units: int) -> tuple[str, str]:
    """Shift the first decimal number of the cell's (only) output; return (old, new)."""
    (out,) = cell.outputs
    key = "text" if "text" in out else None
    text = out["text"] if key else out["data"]["text/plain"]
    match = next(m for m in NUMBER.finditer(text) if "." in m.group())
    new = _shift(match.group(), units)
    changed = text[: match.start()] + new + text[match.end() :]
    if key:
        out["text"] = changed
    else:
        out["data"]["text/plain"] = changed
    return match.group(), new


@pytest.fixture(scope="module")
def changed_run() -> dict:
    """Run nbval on a copy of chapter 1 with three outputs changed and a changed reference."""
    source = next(p for p in chapter_paths() if p.name.startswith("01_"))
    nb = nbformat.read(source, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    candidates = [
        number
        for number, cell in enumerate(code)
        if number > 0
        and len(cell.outputs) == 1
        and not cell.metadata.get("tags")
        and any("." in m for m in NUMBER.findall(_output_text(cell)))
    ]
    assert len(candidates) >= 3, "chapter 1 has too few printed decimals for the controls"
    tolerated, beyond, strict = candidates[:3]
    for number in (tolerated, beyond):
        code[number].metadata["tags"] = [PLATFORM_TAG]
    shifted = {
        "tolerated": _with_number_shifted(code[tolerated], +1),
        "beyond": _with_number_shifted(code[beyond], +5),
        "strict": _with_number_shifted(code[strict], +1),
    }

    with scratch_folder("platform-outputs-") as folder:
        copy = folder / source.name
        nbformat.write(nb, copy)
        provenance = load_provenance()
        provenance["reference"]["fingerprints"]["matmul_64x64"] = "0" * 16
        provenance["reference"]["machine"]["cpu"] = "A Reference CPU"
        changed = folder / "provenance.json"
        changed.write_text(json.dumps(provenance))
        result = run_pytest(str(copy), "--book-provenance", str(changed))
    outcomes = dict(re.findall(r"::Cell (\d+) (PASSED|FAILED)", result.stdout))
    return {
        "result": result,
        "outcome": {
            name: outcomes.get(str(number))
            for name, number in (("tolerated", tolerated), ("beyond", beyond), ("strict", strict))
        },
        "planted_failures": [beyond, strict],
        "shifted": shifted,
        "cells": len(code),
        "outcomes": outcomes,
    }


def _log(run) -> str:
    return run["result"].stdout[-6000:] + run["result"].stderr[-2000:]


def test_a_last_digit_in_a_platform_dependent_cell_passes_and_is_listed(changed_run):
    assert changed_run["outcome"]["tolerated"] == "PASSED", _log(changed_run)
    fresh, stored = changed_run["shifted"]["tolerated"]
    summary = changed_run["result"].stdout.split("the book on this machine")[-1]
    assert f"{stored} -> {fresh}" in summary, _log(changed_run)


def test_beyond_the_tolerance_fails(changed_run):
    assert changed_run["outcome"]["beyond"] == "FAILED", _log(changed_run)
    assert "beyond the cell's tolerance" in changed_run["result"].stdout, _log(changed_run)


def test_a_changed_platform_independent_output_fails(changed_run):
    assert changed_run["outcome"]["strict"] == "FAILED", _log(changed_run)


def test_every_other_cell_passes(changed_run):
    """Only the two planted failures fail: the changed reference stops nothing."""
    outcomes = changed_run["outcomes"]
    assert len(outcomes) == changed_run["cells"], _log(changed_run)
    failed = sorted(int(n) for n, outcome in outcomes.items() if outcome == "FAILED")
    assert failed == sorted(changed_run["planted_failures"]), _log(changed_run)


def test_the_summary_names_the_machine_and_the_differing_probe(changed_run):
    stdout = changed_run["result"].stdout
    header, _, summary = stdout.partition("the book on this machine")
    for text in (header, summary):
        assert "A Reference CPU" in text, _log(changed_run)
        probes = re.search(r"differ from the reference in their bits: (.*)", text)
        assert probes and "matmul_64x64" in probes.group(1), _log(changed_run)
