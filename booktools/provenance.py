"""Who may write the chapters' outputs, and the record of where they were written.

Before :mod:`booktools.run_notebooks` writes anything, it describes this
machine and computes its probe fingerprints (:mod:`booktools.reference`).
:func:`check_reference` refuses to write with the pins off, or on another
Python, TensorFlow or Keras than the reference machine's, so that one book
never mixes outputs of two stacks. Where only the probes differ,
:func:`probe_note` says so and the run writes; :func:`record_chapter`
records each written chapter's machine in ``chapters/provenance.json`` and
in the run-times appendix.
"""

from __future__ import annotations

import json
import subprocess
import sys

from booktools.book import ROOT
from booktools.reference import PROVENANCE_PATH, differing_probes, replace_provenance_section

APPENDIX = ROOT / "appendix" / "run_times.md"
"""The page whose provenance section lists where the outputs came from."""

PROBE = """\
import json
from tfcustom import setup_chapter
setup_chapter(verbose=False)
from booktools.reference import fingerprints, run_probes
from tfcustom.machine import describe_machine
print(json.dumps({"machine": describe_machine(), "fingerprints": fingerprints(run_probes())}))
"""


def this_machine() -> dict:
    """This machine's description and probe fingerprints, as a chapter's kernel would see them."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    if result.returncode != 0:
        raise RuntimeError(f"computing the probes failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout)


def check_reference(
    here: dict, provenance: dict | None, new_reference: bool, all_chapters: bool
) -> str | None:
    """Why this machine may not write outputs, or None when it may."""
    if not isinstance(here["machine"]["numerics"], dict):
        return (
            "the numerics are not pinned here (BOOK_PIN_NUMERICS=0): outputs written "
            "now would verify on no other machine"
        )
    if new_reference:
        return None if all_chapters else "--new-reference re-runs every chapter: name none"
    if provenance is None:
        return (
            f"{PROVENANCE_PATH.name} does not exist yet: run with --new-reference "
            "(every chapter) to make this machine the reference"
        )
    stack = ("python", "tensorflow", "keras")
    reference = provenance["reference"]["machine"]
    if any(here["machine"][key] != reference[key] for key in stack):
        return (
            "this machine runs another Python, TensorFlow or Keras than the reference "
            f"machine ({', '.join(f'{k} {reference[k]}' for k in stack)}): re-running "
            "some chapters here would mix outputs of two stacks. After an upgrade, re-run "
            "every chapter with --new-reference (this machine becomes the reference)"
        )
    return None


def probe_note(here: dict, provenance: dict | None) -> str | None:
    """A note when this machine's probes differ from the reference's (it writes anyway).

    A probe that differs in its last bit need not change a printed digit: the
    outputs written here are checked like any others by ./scripts/test, and
    the provenance record lists the machine of every chapter written here.
    """
    if provenance is None:
        return None
    differ = differing_probes(provenance["reference"]["fingerprints"], here["fingerprints"])
    if not differ:
        return None
    return (
        f"note: this machine's probes {', '.join(differ)} differ from the reference machine's "
        "in their last bits; the chapters written here are recorded as produced on this "
        "machine (chapters/provenance.json and the run-times appendix), and ./scripts/test "
        "checks their outputs as any others"
    )


def fresh_record(here: dict) -> dict:
    """A provenance record that makes ``here`` the reference machine."""
    return {
        "about": "Where the stored outputs of the chapters were produced: written by "
        "booktools/run_notebooks.py (and, for 'verified', by ./scripts/test "
        "--record-verification), read by the probe report (conftest.py) and the "
        "run-times appendix.",
        "reference": here,
        "chapters": {},
    }


def record_chapter(provenance: dict, chapter: str, machine: dict) -> None:
    """Record ``chapter`` (a file name) as written on ``machine``; save the record and appendix."""
    provenance["chapters"][chapter] = machine
    provenance["chapters"] = dict(sorted(provenance["chapters"].items()))
    PROVENANCE_PATH.write_text(json.dumps(provenance, indent=2) + "\n")
    if APPENDIX.is_file():  # the appendix says where the outputs came from
        APPENDIX.write_text(replace_provenance_section(APPENDIX.read_text(), provenance))
