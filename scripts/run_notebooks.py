"""Re-execute chapters in place, so that their stored outputs are current.

Usage (from the repository root, inside the book's environment)::

    python scripts/run_notebooks.py chapters/01_tensors.ipynb
    python scripts/run_notebooks.py            # every chapter

Each notebook runs top to bottom in a fresh kernel, from its own folder, just
as nbval runs it in the tests. The stored file gets stable metadata
(execution counts 1..n, no timestamps, the ``python3`` kernelspec), so a
re-run of an unchanged notebook changes nothing but inherently variable
outputs (timings). A notebook that raises outside cells tagged
``raises-exception`` is not written back. ``--normalise`` only rewrites
notebooks in that canonical form (for a notebook saved by Jupyter), without
executing anything; ``tests/test_notebooks.py`` checks every chapter is in it.
``--setup-cells`` only rewrites each chapter's setup cell (its first code
cell) from ``utils/book.py``, without executing anything: the cell records
the git tree hash of ``utils/`` (``BOOK_CODE``), so run it after every
change to ``utils/`` (``tests/test_colab.py`` fails until then).
``--check`` writes nothing: it lists every chapter that is not in the
canonical form or whose setup cell is stale, and exits with 1 if any is (the
pre-commit hook runs it).

It also reports each notebook's wall time and the peak memory (RSS) of its
kernel, which ``--times FILE`` writes as JSON.

*Provenance.* Before writing anything, the script describes this machine
and computes its probe fingerprints (see ``utils/reference.py``). It refuses
to write with the pins off, or on another Python, TensorFlow or Keras than
the reference machine's, so that one book never mixes outputs of two stacks;
after an upgrade, ``--new-reference`` re-runs every chapter and makes this
machine the reference. Where only the probes differ (another CPU with the
same stack, whose last bits may differ without changing a printed digit), it
writes and says so; each written chapter's entry in the provenance file
records the machine it ran on, the run-times appendix lists it, and
``./scripts/test`` checks every output as usual.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.cli import add_chapters_argument, chapters  # noqa: E402
from utils.book import DATA_DIR_ENV, default_data_dir, setup_cell  # noqa: E402
from utils.reference import (  # noqa: E402
    PROVENANCE_PATH,
    differing_probes,
    replace_provenance_section,
)

APPENDIX = ROOT / "appendix" / "run_times.md"

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
LANGUAGE_INFO = {
    "codemirror_mode": {"name": "ipython", "version": 3},
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "name": "python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
}


def default_environment() -> None:
    """Point the data loader at ../shared/data when it exists (offline machines)."""
    if DATA_DIR_ENV not in os.environ and default_data_dir() is not None:
        os.environ[DATA_DIR_ENV] = str(default_data_dir())


PROBE = """\
import json
from utils import setup_chapter
setup_chapter(verbose=False)
from utils.reference import describe_machine, fingerprints, run_probes
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
        "scripts/run_notebooks.py (and, for 'verified', by ./scripts/test "
        "--record-verification), read by the probe report (conftest.py) and the "
        "run-times appendix.",
        "reference": here,
        "chapters": {},
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
    """Write :func:`utils.book.setup_cell` into each chapter's setup cell; return those changed.

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


def _kernel_peak_rss_mb(client: NotebookClient) -> float | None:
    """Peak resident memory of the kernel process, in MiB (Linux only)."""
    try:
        pid = client.km.provisioner.process.pid  # type: ignore[union-attr]
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except Exception:
        return None
    return None


def run(path: Path, timeout: int = 900, write: bool = True) -> dict:
    """Execute one notebook in place; return its wall time and peak memory.

    With ``write=False`` the stored notebook is left as it is (for timing).
    """
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    # coalesce_streams: a progress bar that redraws with carriage returns is
    # stored as its final text, as a reader's screen shows it.
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        coalesce_streams=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    peak = None
    start = time.perf_counter()
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
        peak = _kernel_peak_rss_mb(client)
    seconds = time.perf_counter() - start
    if write:
        path.write_text(canonical_text(nb))
    return {
        "notebook": str(path.relative_to(ROOT)),
        "seconds": round(seconds, 1),
        "peak_rss_mib": None if peak is None else round(peak),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_chapters_argument(parser)
    parser.add_argument("--times", type=Path, help="write wall times and memory as JSON")
    parser.add_argument(
        "--no-write",
        action="store_true",
        help="execute only (to measure); leave the stored notebooks unchanged",
    )
    parser.add_argument(
        "--new-reference",
        action="store_true",
        help="re-run every chapter and make this machine the reference "
        "(after upgrading TensorFlow or Keras)",
    )
    parser.add_argument(
        "--normalise",
        action="store_true",
        help="only rewrite the notebooks in the canonical form (no execution)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if a chapter is not in the canonical form or "
        "its setup cell is stale",
    )
    parser.add_argument(
        "--setup-cells",
        action="store_true",
        help="only rewrite each chapter's setup cell from utils/book.py (no execution; "
        "after every change to utils/)",
    )
    args = parser.parse_args(argv)
    default_environment()
    paths = chapters(parser, args.notebooks)
    if args.check:
        problems = stale_notebooks(paths)
        for line in problems:
            print(line, file=sys.stderr)
        return 1 if problems else 0
    if args.normalise:
        for path in paths:
            path.write_text(canonical_text(nbformat.read(path, as_version=4)))
        return 0
    if args.setup_cells:
        try:
            changed = refresh_setup_cells(paths)
        except ValueError as error:
            print(f"not refreshed: {error}", file=sys.stderr)
            return 1
        for path in changed:
            print(f"refreshed the setup cell of {path.relative_to(ROOT)}")
        print(f"{len(changed)} of {len(paths)} setup cells refreshed")
        return 0
    write = not args.no_write
    if write:
        here = this_machine()
        provenance = json.loads(PROVENANCE_PATH.read_text()) if PROVENANCE_PATH.is_file() else None
        refusal = check_reference(here, provenance, args.new_reference, not args.notebooks)
        if refusal:
            print(f"not writing: {refusal}", file=sys.stderr)
            return 1
        note = None if args.new_reference else probe_note(here, provenance)
        if note:
            print(note, file=sys.stderr)
        if provenance is None or args.new_reference:
            provenance = fresh_record(here)
    results = []
    for path in paths:
        path = path.resolve()
        print(f"running {path.relative_to(ROOT)} ...", flush=True)
        result = run(path, write=write)
        print(f"  {result['seconds']} s, kernel peak {result['peak_rss_mib']} MiB", flush=True)
        results.append(result)
        if write:
            provenance["chapters"][path.name] = here["machine"]
            provenance["chapters"] = dict(sorted(provenance["chapters"].items()))
            PROVENANCE_PATH.write_text(json.dumps(provenance, indent=2) + "\n")
            if APPENDIX.is_file():  # the appendix says where the outputs came from
                APPENDIX.write_text(replace_provenance_section(APPENDIX.read_text(), provenance))
    if args.times:
        args.times.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
