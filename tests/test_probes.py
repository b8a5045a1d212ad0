"""The probe report: does this machine compute the reference machine's bits?

At the start and the end of a run that executes chapters, ``conftest.py``
prints :func:`booktools.reference.probe_report`: this machine, the reference
machine, and which probes differ. It is a report, never a verdict: whether
the book passes is decided by comparing the chapters' outputs themselves
(``tests/outputs.py``; the whole path on a machine whose probes differ is
exercised in ``tests/test_platform_outputs.py``).
"""

from __future__ import annotations

import json

import pytest
from tfcustom.machine import isa_class

from booktools.book import CHAPTER_GLOB
from booktools.reference import (
    PROVENANCE_PATH,
    differing_probes,
    fingerprints,
    load_provenance,
    probe_report,
    record_verification,
    run_probes,
)
from conftest import probe_comparison
from tests.python_runs import run_python


@pytest.fixture(scope="module")
def comparison(request) -> dict:
    """This run's probe comparison (computed once per run, shared with the report)."""
    result = probe_comparison(request.config)
    assert "error" not in result, result.get("error")
    return result


def test_the_reference_covers_every_probe(comparison):
    reference = load_provenance()["reference"]
    assert sorted(reference["fingerprints"]) == sorted(comparison["here"]), (
        f"{PROVENANCE_PATH.name} lists other probes than booktools.reference.run_probes() "
        "computes: re-run booktools/run_notebooks.py --new-reference"
    )


def test_every_chapter_has_provenance(root):
    chapters = load_provenance()["chapters"]
    stored = sorted(p.name for p in (root / "chapters").glob(CHAPTER_GLOB))
    assert sorted(chapters) == stored


def test_the_report_says_when_every_probe_matches(comparison):
    reference = {**comparison["reference"], "fingerprints": comparison["here"]}
    lines = probe_report(reference, comparison["here"], comparison["machine"])
    assert any("reproduce the reference bit for bit" in line for line in lines), lines
    assert comparison["machine"]["cpu"] in lines[0], lines


def test_a_changed_bit_is_reported_with_the_machine():
    """The negative control: one changed fingerprint is found, named, and the machines shown."""
    reference = load_provenance()["reference"]
    changed = dict(reference["fingerprints"], matmul_64x64="0" * 16)
    assert differing_probes(reference["fingerprints"], changed) == ["matmul_64x64"]
    other = {**reference["machine"], "cpu": "Some Other CPU", "vendor": "AuthenticAMD"}
    text = "\n".join(probe_report(reference, changed, other))
    assert "1 of 9 differ" in text and "matmul_64x64" in text, text
    assert "Some Other CPU" in text and reference["machine"]["cpu"] in text, text
    assert "every Dense layer" in text, text


def test_the_report_in_portable_mode_says_tagged_cells_are_not_compared():
    reference = load_provenance()["reference"]
    changed = dict(reference["fingerprints"], matmul_64x64="0" * 16)
    text = "\n".join(probe_report(reference, changed, reference["machine"], portable=True))
    assert "not compared (portable mode)" in text and "tolerance" not in text, text


def test_the_report_says_when_the_pins_are_off():
    reference = load_provenance()["reference"]
    changed = dict(reference["fingerprints"], fit_regressor="1" * 16)
    unpinned = {**reference["machine"], "numerics": "TensorFlow's own choice"}
    text = "\n".join(probe_report(reference, changed, unpinned))
    assert "BOOK_PIN_NUMERICS=0" in text, text


def test_a_verification_replaces_the_same_machines_older_one():
    provenance = {"reference": {}, "chapters": {}}
    machine = load_provenance()["reference"]["machine"]
    first = record_verification(provenance, machine, [], 700, 0, "2026-01-01")
    other = {**machine, "cpu": "AMD EPYC", "vendor": "AuthenticAMD"}
    both = record_verification(first, other, ["rsqrt"], 701, 2, "2026-01-02")
    again = record_verification(both, machine, [], 702, 0, "2026-01-03")
    assert [(r["cpu"], r["passed"]) for r in again["verified"]] == [
        ("AMD EPYC", 701),
        (machine["cpu"], 702),
    ]
    assert again["verified"][0]["probes_that_differ"] == ["rsqrt"]


@pytest.mark.slow  # starts processes
def test_without_the_pins_this_cpu_computes_other_numbers(root, comparison):
    """Where the pins matter (AVX-512 or AMX), removing them changes some of this CPU's bits.

    Which probes move differs by CPU: on the Intel Xeon (AMX) of the reference,
    the bare matrix products; on an AMD EPYC (Zen 4, AVX-512), only the trained
    models (oneDNN's fused training ops), while its bare products stay the same.
    """
    isa = isa_class()
    if "AVX-512" not in isa and "AMX" not in isa:
        pytest.skip(
            f"this CPU ({isa}) offers TensorFlow no kernels beyond AVX2, so the "
            "pins change nothing here"
        )
    code = (
        "import json\n"
        "from tfcustom import setup_chapter\n"
        "setup_chapter(verbose=False)\n"
        "from booktools.reference import fingerprints, run_probes\n"
        "print(json.dumps(fingerprints(run_probes())))\n"
    )
    result = run_python(code, root, BOOK_PIN_NUMERICS="0")
    assert result.returncode == 0, result.stderr
    unpinned = json.loads(result.stdout)
    differ = differing_probes(comparison["here"], unpinned)
    assert differ, f"without the pins, this {isa} CPU computed every probe as with them"


def test_probes_are_repeatable_in_one_process(comparison):
    """The report compares bits, so the probes themselves must not vary from call to call."""
    assert fingerprints(run_probes()) == comparison["here"]
