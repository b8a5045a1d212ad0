"""Re-execute chapters in place, so that their stored outputs are current.

Usage (from the repository root, inside the book's environment)::

    python scripts/run_notebooks.py chapters/01_tensors.ipynb
    python scripts/run_notebooks.py            # every chapter

Each notebook runs top to bottom in a fresh kernel, from its own folder, just
as nbval runs it in the tests. The stored file gets stable metadata
(execution counts 1..n, no timestamps, the ``python3`` kernelspec), so a
re-run of an unchanged notebook changes nothing but inherently variable
outputs (timings). A notebook that raises outside cells tagged
``raises-exception`` is not written back.

It also reports each notebook's wall time and the peak memory (RSS) of its
kernel, which ``--times FILE`` writes as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
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
    mirror = ROOT.parent / "shared" / "data"
    if "BOOK_DATA_DIR" not in os.environ and (mirror / "cal_housing.data.gz").is_file():
        os.environ["BOOK_DATA_DIR"] = str(mirror)


def normalise(nb: nbformat.NotebookNode) -> None:
    """Give a notebook stable, minimal metadata."""
    nb.metadata = nbformat.from_dict({"kernelspec": KERNELSPEC, "language_info": LANGUAGE_INFO})
    count = 0
    for cell in nb.cells:
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


def _kernel_peak_rss_mb(client: NotebookClient) -> float | None:
    """Peak resident memory of the kernel process, in MiB (Linux only)."""
    try:
        pid = client.km.provisioner.process.pid  # type: ignore[union-attr]
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except Exception:  # noqa: BLE001 - memory is reported where it can be
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
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", coalesce_streams=True,
                            resources={"metadata": {"path": str(path.parent)}})
    peak = None
    start = time.perf_counter()
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
        peak = _kernel_peak_rss_mb(client)
    seconds = time.perf_counter() - start
    if write:
        normalise(nb)
        nbformat.write(nb, path)
    return {"notebook": str(path.relative_to(ROOT)), "seconds": round(seconds, 1),
            "peak_rss_mib": None if peak is None else round(peak)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--times", type=Path, help="write wall times and memory as JSON")
    parser.add_argument("--no-write", action="store_true",
                        help="execute only (to measure); leave the stored notebooks unchanged")
    args = parser.parse_args(argv)
    default_environment()
    paths = args.notebooks or sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
    results = []
    for path in paths:
        path = path.resolve()
        print(f"running {path.relative_to(ROOT)} ...", flush=True)
        result = run(path, write=not args.no_write)
        print(f"  {result['seconds']} s, kernel peak {result['peak_rss_mib']} MiB", flush=True)
        results.append(result)
    if args.times:
        args.times.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
