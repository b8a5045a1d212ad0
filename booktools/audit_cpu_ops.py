"""List the TensorFlow ops each chapter runs whose results depend on the CPU's vendor.

Usage (from the repository root, inside the book's environment)::

    python -m booktools.audit_cpu_ops                       # every chapter
    python -m booktools.audit_cpu_ops chapters/08_*.ipynb   # some of them

Why: the book pins TensorFlow's CPU code paths (see ``utils/setup.py``) so
that its numbers are the same on Intel and AMD processors. A few float32
kernels still differ between vendors, because they start from the x86
*estimate* instructions ``vrcpps`` and ``vrsqrtps`` (an approximate
reciprocal and reciprocal square root, refined by one Newton step), whose
results Intel and AMD define differently. In TensorFlow 2.21 those are the
float32 kernels of the ops in :data:`VENDOR_DEPENDENT_OPS`, found by
disassembling ``libtensorflow_cc.so.2`` and listing the functions that
contain such an instruction::

    objdump -d --no-show-raw-insn -C libtensorflow_cc.so.2 | awk \\
      '/^[0-9a-f]+ <.*>:$/ {fn=$0} /vrcp|vrsqrt/ {n[fn]++} END {for (f in n) print f}'

Code that XLA compiles is generated at run time for the host CPU (and uses
``vrsqrtps`` for ``rsqrt``), so XLA clusters are listed too.

The script executes each chapter with TensorFlow's device-placement log on
(every op executed, eagerly or inside a graph, is logged with its type) and
prints, for each code cell that ran a listed op, the ops and their dtypes
are not known from the log, so a listed op is a place to look, not a
verdict: a float64 ``Rsqrt`` is exact, and a ``Softmax`` whose output is
only read through ``argmax`` cannot change what is printed.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from booktools.book import use_default_data_dir
from booktools.cli import add_chapters_argument, chapters

# op type -> why its float32 CPU kernel depends on the CPU vendor
VENDOR_DEPENDENT_OPS = {
    "Rsqrt": "1/sqrt(x) from vrsqrtps + a Newton step (BatchNormalization uses it)",
    "Reciprocal": "1/x from vrcpps + a Newton step",
    "Inv": "1/x from vrcpps + a Newton step",
    "Softmax": "normalises by an approximate reciprocal of the sum (vrcpps)",
    "Atan": "Eigen's atan uses vrcpps",
    "Atan2": "Eigen's atan2 uses vrcpps",
    "LRN": "local response normalisation uses vrsqrtps",
    "FusedBatchNorm": "uses vrsqrtps",
    "FusedBatchNormV2": "uses vrsqrtps",
    "FusedBatchNormV3": "uses vrsqrtps",
    "FusedBatchNormGrad": "uses vrsqrtps",
    "FusedBatchNormGradV2": "uses vrsqrtps",
    "FusedBatchNormGradV3": "uses vrsqrtps",
    "_UnaryOpsComposition": "a grappler fusion whose rsqrt/reciprocal steps use estimates",
    "BesselI0e": "uses vrcpps",
    "BesselI1e": "uses vrcpps",
    "_XlaCompile": "XLA generates code for the host CPU at run time",
    "_XlaRun": "XLA generates code for the host CPU at run time",
    "XlaLaunch": "XLA generates code for the host CPU at run time",
}

OP_PATTERN = re.compile(r"Executing op (\w+)|\((\w+)\): /job:")
MARKER = "@@ code cell {} @@"
PLACEMENT_CELL = "import tensorflow as tf\ntf.debugging.set_log_device_placement(True)"


def ops_per_cell(path: Path) -> dict[int, set[str]]:
    """Execute a chapter with placement logging; return {code cell number: op types}.

    TensorFlow logs from C++ to the kernel's standard error, outside any
    cell's output, so each code cell first writes a marker to that stream.
    """
    nb = nbformat.read(path, as_version=4)
    number = 0
    for cell in nb.cells:
        if cell.cell_type == "code":
            marker = f"import os as _os; _os.write(2, b'\\n{MARKER.format(number)}\\n')\n"
            cell.source = marker + cell.source
            number += 1
    first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    nb.cells.insert(first_code + 1, nbformat.v4.new_code_cell(PLACEMENT_CELL))
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"  # setup_chapter keeps a value set before it
    client = NotebookClient(
        nb,
        timeout=900,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    with tempfile.TemporaryFile(mode="w+") as log:
        client.execute(stderr=log)
        log.seek(0)
        found: dict[int, set[str]] = defaultdict(set)
        current = -1
        for line in log:
            if line.startswith("@@ code cell "):
                current = int(line.split()[3])
                continue
            for eager, placed in OP_PATTERN.findall(line):
                found[current].add(eager or placed)
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_chapters_argument(parser)
    args = parser.parse_args(argv)
    paths = chapters(parser, args.notebooks)
    use_default_data_dir()
    for path in paths:
        per_cell = ops_per_cell(path)
        risky = {
            n: sorted(ops & VENDOR_DEPENDENT_OPS.keys()) for n, ops in sorted(per_cell.items())
        }
        risky = {n: ops for n, ops in risky.items() if ops}
        total = sorted(set().union(*per_cell.values())) if per_cell else []
        print(
            f"== {path.name}: {len(total)} op types; vendor-dependent ones in "
            f"{len(risky)} code cell(s)"
        )
        for number, ops in risky.items():
            print(f"   code cell {number}: {', '.join(ops)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
