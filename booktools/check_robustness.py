"""Do the chapters' outputs and asserts survive what varies between machines and seeds?

Usage (from the repository root, inside the book's environment)::

    python -m booktools.check_robustness --vendor                    # every chapter
    python -m booktools.check_robustness --vendor chapters/06_*.ipynb
    python -m booktools.check_robustness --seed-offset 1000          # asserts only

``--vendor`` answers: which stored outputs would another CPU vendor change?
``--seed-offset N`` answers: which asserts rest on one seed's luck? Every
``keras.utils.set_random_seed(s)`` in the chapters then seeds with ``s + N``
(new initial weights, dropout masks and shuffles): a cell injected after the
setup cell wraps that function. Chapter 8's NumPy generators are moved by
``tfcustom.finetune``'s own public switch, the environment variable
``BOOK_SEED_OFFSET``, which this script sets to N for the chapters it runs
(every key moves by ``10 * N``: other data splits, pretrained bases, initial
weights, batches and dropout masks; see ``utils/finetune/design.py``). The
chapters run in nbval's lax mode: every cell must run and every assert
hold, but outputs are not compared (they are expected to change).

**--vendor.**
With the book's pinned numerics (``utils/setup.py``), Intel and AMD CPUs run
the same code for every TensorFlow kernel but a few: the float32 kernels of
``Rsqrt`` (``BatchNormalization``), ``Reciprocal`` (the gradients of
``log`` and ``log1p``, so of every cross-entropy) and ``Softmax`` start from
the x86 estimate instructions ``vrsqrtps``/``vrcpps``, which each vendor
defines in its own way. Their results then differ in the last bit for some
inputs (``booktools/audit_cpu_ops.py`` says which chapters run them).

Without a machine of the other vendor at hand, this script does the next
best thing: it recomputes exactly those ops with correctly rounded
arithmetic (``1 / sqrt(x)``, ``1 / x``, ``exp(x - max) / sum``), which
changes the same last bits for about a third of all inputs, and runs nbval
over the chapters so changed. A cell whose stored output still matches does
not depend on how those ops round; a cell that fails does, and must print
something that rounding cannot move (or avoid the op).

The perturbed copies run from a temporary folder (they import the installed
``tfcustom``, as the chapters do); the chapters themselves are not changed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
from tfcustom.finetune.design import SEED_OFFSET_ENV

from booktools.book import ROOT, use_default_data_dir
from booktools.cli import add_chapters_argument, chapters

VENDOR_CELL = """\
# Injected by booktools/check_robustness.py --vendor: the ops whose float32
# results depend on the CPU vendor, recomputed with correctly rounded steps.
import tensorflow as _tf
from tensorflow.python.ops import gen_math_ops as _gm, gen_nn_ops as _gn, math_ops as _mo

def _rsqrt(x, name=None):
    return _gm.real_div(_tf.ones_like(x), _gm.sqrt(x))

def _reciprocal(x, name=None):
    return _gm.real_div(_tf.ones_like(x), x)

def _softmax(logits, name=None):
    e = _tf.exp(logits - _tf.reduce_max(logits, axis=-1, keepdims=True))
    return e / _tf.reduce_sum(e, axis=-1, keepdims=True)

_gm.rsqrt = _rsqrt
_mo.reciprocal = _mo.inv = _tf.math.reciprocal = _reciprocal
_gn.softmax = _softmax
"""


SEED_CELL = """\
# Injected by booktools/check_robustness.py --seed-offset: every seed moves.
import keras as _keras

_set_random_seed = _keras.utils.set_random_seed
_keras.utils.set_random_seed = lambda seed: _set_random_seed(seed + {offset})
_keras.utils.set_random_seed({offset} + 42)
# Chapter 8's own generators read BOOK_SEED_OFFSET, which the script sets.
"""


def perturbed_copy(path: Path, folder: Path, source: str) -> Path:
    """Write ``path`` with the cell ``source`` after its setup cell into ``folder``."""
    nb = nbformat.read(path, as_version=4)
    first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["nbval-ignore-output"]})
    nb.cells.insert(first_code + 1, cell)
    target = folder / path.name
    nbformat.write(nb, target)
    return target


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_chapters_argument(parser)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument(
        "--vendor",
        action="store_true",
        help="recompute the vendor-dependent ops; compare every output",
    )
    mode.add_argument(
        "--seed-offset",
        type=int,
        metavar="N",
        help="shift every seed by N; check that every cell runs and asserts hold",
    )
    args = parser.parse_args(argv)
    source = VENDOR_CELL if args.vendor else SEED_CELL.format(offset=args.seed_offset)
    paths = chapters(parser, args.notebooks)
    use_default_data_dir()
    with tempfile.TemporaryDirectory(prefix="robustness-") as tmp:
        tmp = Path(tmp)
        folder = tmp / "chapters"
        folder.mkdir()
        copies = [perturbed_copy(p, folder, source) for p in paths]
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp),
            "-c",
            os.devnull,
            "--nbval",
            "--nbval-current-env",
            "--nbval-sanitize-with",
            str(ROOT / "tests" / "nbval_sanitize.cfg"),
            "--nbval-cell-timeout",
            "600",
            *(["--nbval-lax"] if not args.vendor else []),
            *map(str, copies),
        ]
        offset = args.seed_offset or 0  # --vendor compares the stored outputs: no offset
        env = {**os.environ, SEED_OFFSET_ENV: str(offset)}
        return subprocess.run(command, cwd=tmp, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
