"""Re-execute chapters in place, so that their stored outputs are current.

Usage (from the repository root, inside the book's environment)::

    python -m booktools.run_notebooks chapters/01_tensors.ipynb
    python -m booktools.run_notebooks            # every chapter

Each notebook runs top to bottom in a fresh kernel, from its own folder, just
as nbval runs it in the tests. The stored file gets stable metadata
(execution counts 1..n, no timestamps, the ``python3`` kernelspec), so a
re-run of an unchanged notebook changes nothing but inherently variable
outputs (timings). A notebook that raises outside cells tagged
``raises-exception`` is not written back. ``--normalise`` only rewrites
notebooks in that canonical form (for a notebook saved by Jupyter), without
executing anything; ``tests/test_notebooks.py`` checks every chapter is in it.
``--setup-cells`` only rewrites each chapter's setup cell (its first code
cell) from ``booktools/book.py``, without executing anything: the cell names
the helpers' release, ``helpers-`` and the git tree hash of ``utils/``, so
run it after every change to ``utils/`` (``tests/test_notebooks.py`` fails
until then).
``--check`` writes nothing: it lists every chapter that is not in the
canonical form or whose setup cell is stale, and exits with 1 if any is (the
pre-commit hook runs it).

It also reports each notebook's wall time and the peak memory (RSS) of its
kernel, which ``--times FILE`` writes as JSON.

*Provenance.* Before writing anything, the script describes this machine
and computes its probe fingerprints (see ``booktools/reference.py``). It refuses
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
import json
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from booktools.book import ROOT, use_default_data_dir
from booktools.cli import add_chapters_argument, chapters
from booktools.notebooks import canonical_text, refresh_setup_cells, stale_notebooks
from booktools.provenance import (
    PROVENANCE_PATH,
    check_reference,
    fresh_record,
    probe_note,
    record_chapter,
    this_machine,
)


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
        help="only rewrite each chapter's setup cell from booktools/book.py (no execution; "
        "after every change to utils/)",
    )
    args = parser.parse_args(argv)
    use_default_data_dir()
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
            record_chapter(provenance, path.name, here["machine"])
    if args.times:
        args.times.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
