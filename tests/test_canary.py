"""The canary: does this machine compute the book's reference numbers, bit for bit?

It runs first (see ``conftest.py``). The strict comparison of the chapters'
outputs is only meaningful on a machine that computes what the reference
machine computed; where this one does not, the canary stops the run with one
message that says why and what to run instead, rather than letting dozens of
cells fail with digit-by-digit diffs.
"""

from __future__ import annotations

import json

import pytest

from tests.python_runs import run_python
from utils.reference import (
    PROVENANCE_PATH,
    describe_machine,
    differing_probes,
    fingerprints,
    isa_class,
    load_provenance,
    run_probes,
)

# What each probe stands for in the chapters, for the canary's message.
STANDS_FOR = {
    "matmul": "every Dense layer, so every trained model (chapters 2-8)",
    "reduce": "losses, metrics and statistics (chapters 1-8)",
    "exp": "activations and losses (chapters 2-8)",
    "softplus": "activations and losses (chapters 2-8)",
    "fit": "every model trained with fit() (chapters 2-4, 6, 7)",
    "loop": "the custom training loops (chapters 6-8)",
}


def canary_message(differ: list[str], reference: dict, here: dict) -> str:
    """The explanation printed when this machine does not reproduce the reference."""

    def machine(m):
        return (
            f"{m['cpu']} ({m['instruction_sets']}, {m['logical_cpus']} logical CPUs), "
            f"TensorFlow {m['tensorflow']}, Keras {m['keras']}, Python {m['python']}, "
            f"numerics: {'pinned' if isinstance(m['numerics'], dict) else m['numerics']}"
        )

    affected = sorted(
        {why for name in differ for key, why in STANDS_FOR.items() if name.startswith(key)}
    )
    lines = [
        "This machine does not compute the book's reference numbers bit for bit.",
        f"  probes that differ: {', '.join(differ)}",
        *(f"  so the printed numbers of {why} will differ" for why in affected),
        f"  stored outputs produced on: {machine(reference)}",
        f"  this machine:               {machine(here)}",
        "Comparing the stored outputs digit for digit here would fail in dozens of cells",
        "without saying anything about the book's code. Run the portable mode instead: it",
        "executes every chapter with all its asserts and compares only the outputs that",
        "do not depend on the platform:",
        "    ./scripts/test --portable",
    ]
    if not isinstance(here["numerics"], dict):
        lines.insert(
            -5, "The pins are off here (BOOK_PIN_NUMERICS=0): unset it to compare strictly."
        )
    return "\n".join(lines)


@pytest.fixture(scope="module")
def here() -> dict[str, str]:
    """This machine's probe fingerprints (computed once)."""
    return fingerprints(run_probes())


def test_this_machine_computes_the_reference_numbers(portable_mode, here):
    if portable_mode:
        pytest.skip("portable mode: outputs that depend on the platform are not compared")
    reference = load_provenance()["reference"]
    differ = differing_probes(reference["fingerprints"], here)
    if differ:
        pytest.exit(canary_message(differ, reference["machine"], describe_machine()), returncode=1)


def test_the_reference_covers_every_probe(here):
    reference = load_provenance()["reference"]
    assert sorted(reference["fingerprints"]) == sorted(here), (
        f"{PROVENANCE_PATH.name} lists other probes than utils.reference.run_probes() "
        "computes: re-run scripts/run_notebooks.py --new-reference"
    )


def test_every_chapter_has_provenance(root):
    chapters = load_provenance()["chapters"]
    stored = sorted(p.name for p in (root / "chapters").glob("[0-9][0-9]_*.ipynb"))
    assert sorted(chapters) == stored


def test_a_changed_bit_is_reported():
    """The negative control: one changed fingerprint is found and named."""
    reference = load_provenance()["reference"]
    changed = dict(reference["fingerprints"], matmul_64x64="0" * 16)
    differ = differing_probes(reference["fingerprints"], changed)
    assert differ == ["matmul_64x64"]
    message = canary_message(differ, reference["machine"], reference["machine"])
    assert "matmul_64x64" in message and "./scripts/test --portable" in message
    assert "every Dense layer" in message


def test_without_the_pins_this_cpu_computes_other_numbers(root):
    """Where the pins matter (AVX-512 or AMX), removing them must trip the canary."""
    isa = isa_class()
    if "AVX-512" not in isa and "AMX" not in isa:
        pytest.skip(
            f"this CPU ({isa}) offers TensorFlow no kernels beyond AVX2, so the "
            "pins change nothing here"
        )
    code = (
        "import json\n"
        "from utils import setup_chapter\n"
        "setup_chapter(verbose=False)\n"
        "from utils.reference import fingerprints, run_probes\n"
        "print(json.dumps(fingerprints(run_probes())))\n"
    )
    result = run_python(code, root, BOOK_PIN_NUMERICS="0")
    assert result.returncode == 0, result.stderr
    unpinned = json.loads(result.stdout)
    reference = load_provenance()["reference"]["fingerprints"]
    differ = differing_probes(reference, unpinned)
    assert any(name.startswith("matmul") for name in differ), (
        f"without the pins, this {isa} CPU still computed the reference matrix products"
    )
