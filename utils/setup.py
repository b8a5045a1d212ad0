"""Chapter setup: quiet logs, pinned numerics, fixed seeds, a line about the environment.

Introduced in Chapter 1 (Tensors); every chapter calls :func:`setup_chapter`
in its first code cell.

*Pinned numerics.* On a CPU, TensorFlow chooses some of its kernels at run
time from what the processor offers (AVX2, AVX-512, AMX) and splits large
sums over as many threads as the machine has cores. Each choice adds
floating-point numbers in another order, which changes the last bits of a
result, and a training run amplifies those bits into different printed
numbers. :data:`PINNED_NUMERICS` fixes the choices. That makes most of the
book's results the same bits on other x86-64 CPUs, not all: on an AMD EPYC
(Zen 4), a few float32 kernels and matrix products still differ from the
reference Intel Xeon in their last bits, though no printed digit of the
chapters does (Chapter 1 and the README say what was measured). Set the environment
variable ``BOOK_PIN_NUMERICS=0`` before starting Python to let TensorFlow
choose again (faster on CPUs with AVX-512 or AMX; the printed numbers then
differ in their last digits).
"""

from __future__ import annotations

import logging
import os
import sys

from .checks import check_int
from .versions import check_versions

# Environment settings that TensorFlow reads once, when it is first imported.
# "3" hides the C++ INFO, WARNING and ERROR lines (oneDNN banners, CUDA
# probing, cpu_feature_guard) that would otherwise land in notebook outputs.
_TF_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "TF_CPP_MAX_VLOG_LEVEL": "-1",
    "KERAS_BACKEND": "tensorflow",
    # Deterministic GPU kernels where TensorFlow has a choice (no effect on CPU).
    "TF_DETERMINISTIC_OPS": "1",
    "TF_CUDNN_DETERMINISTIC": "1",
    # absl/glog lines from XLA and gRPC.
    "GLOG_minloglevel": "3",
    "GRPC_VERBOSITY": "ERROR",
}

DEFAULT_SEED = 42

PINNED_NUMERICS = {
    # oneDNN's rewrites of the graph pick AVX-512 or AMX kernels where the CPU
    # has them: off, so that matrix products go through Eigen, as on CPUs
    # without those instructions.
    "TF_ENABLE_ONEDNN_OPTS": "0",
    # Eigen's matrix products call oneDNN's sgemm, which still picks its
    # kernel from the CPU at run time: capped at AVX2, which every x86-64 CPU
    # that runs TensorFlow 2.21 has.
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    # Large sums and matrix products are cut into one piece per thread, so
    # the thread count changes the order of additions: two threads, whatever
    # the number of cores.
    "TF_NUM_INTRAOP_THREADS": "2",
}
"""Environment variables that fix TensorFlow's CPU kernel choices and thread count (see above)."""

PIN_SWITCH = "BOOK_PIN_NUMERICS"
"""Set this environment variable to ``0`` to leave TensorFlow's CPU choices alone."""


def quiet_tensorflow() -> None:
    """Set the environment so that importing TensorFlow prints nothing.

    Must run before the first ``import tensorflow`` in the process; it is
    harmless afterwards (Python-side loggers are still silenced). Existing
    values set by the user are kept.

    Introduced in Chapter 1.
    """
    for key, value in _TF_ENV.items():
        os.environ.setdefault(key, value)
    for name in ("tensorflow", "absl", "keras", "h5py", "matplotlib"):
        logging.getLogger(name).setLevel(logging.ERROR)


def numerics_pinned() -> bool:
    """Whether this process pins TensorFlow's CPU numerics (see :data:`PINNED_NUMERICS`).

    True unless the environment variable ``BOOK_PIN_NUMERICS`` is ``0``.

    Part of every chapter's setup since Chapter 1; called by name first in
    Chapter 9, whose speed check holds only with the pins.
    """
    value = os.environ.get(PIN_SWITCH, "1").strip().lower()
    if value not in ("0", "1", "false", "true", "no", "yes", "off", "on"):
        raise ValueError(f"{PIN_SWITCH} must be 0 or 1, got {value!r}")
    return value in ("1", "true", "yes", "on")


def pin_numerics() -> dict[str, str]:
    """Set :data:`PINNED_NUMERICS` in the environment; return it.

    TensorFlow reads these variables once, when it is first imported, so
    this must run before ``import tensorflow``. Called again after the
    import (a re-run setup cell), it checks that the pins are in place.

    Raises:
        RuntimeError: TensorFlow was imported before the pins were set.

    Introduced in Chapter 1.
    """
    missing = {k: v for k, v in PINNED_NUMERICS.items() if os.environ.get(k) != v}
    if missing and "tensorflow" in sys.modules:
        raise RuntimeError(
            "TensorFlow was imported before setup_chapter() could pin its numerics "
            f"({', '.join(f'{k}={v}' for k, v in missing.items())}). Restart the kernel "
            "and run the setup cell first, or set BOOK_PIN_NUMERICS=0 to go without."
        )
    os.environ.update(PINNED_NUMERICS)
    return dict(PINNED_NUMERICS)


def numerics_line() -> str:
    """One line saying whether CPU numerics are pinned, e.g. for the setup cell.

    Introduced in Chapter 1.
    """
    if not numerics_pinned():
        return "CPU numerics: TensorFlow's own choice (BOOK_PIN_NUMERICS=0)"
    threads = PINNED_NUMERICS["TF_NUM_INTRAOP_THREADS"]
    return (
        f"CPU numerics: pinned (oneDNN off, {PINNED_NUMERICS['ONEDNN_MAX_CPU_ISA']} "
        f"kernels, {threads} threads)"
    )


def set_seeds(seed: int = DEFAULT_SEED) -> None:
    """Seed Python's ``random``, NumPy and TensorFlow with one call.

    Uses :func:`keras.utils.set_random_seed`, which covers all three, and
    turns on TensorFlow's op determinism so that a re-run repeats every
    printed number.

    Introduced in Chapter 1.
    """
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)  # Python's random, NumPy and TensorFlow
    tf.config.experimental.enable_op_determinism()


def describe_device() -> str:
    """Return ``"CPU"`` or ``"GPU (name)"`` for the device TensorFlow will use.

    Introduced in Chapter 1.
    """
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "CPU"
    try:
        name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
    except Exception:
        name = "GPU"
    return f"{len(gpus)} x GPU ({name})" if len(gpus) > 1 else f"GPU ({name})"


def environment_line() -> str:
    """One short line: TensorFlow, Keras and Python versions and the device.

    Introduced in Chapter 1.
    """
    import keras
    import tensorflow as tf

    py = ".".join(str(p) for p in sys.version_info[:2])
    return (
        f"TensorFlow {tf.__version__} | Keras {keras.__version__} | "
        f"Python {py} | device: {describe_device()}"
    )


def _short_tracebacks() -> None:
    """In IPython, show errors as one line (``%xmode minimal``), asserts with their line.

    Errors that a chapter shows on purpose then read as their message, not
    as a page of library internals. A failing ``assert`` is the exception:
    it shows the statement that failed and the values of the names in it
    (:func:`explain_failed_assert`), so that a reader sees what was expected
    and what came, even from an assert without a message. Run
    ``%xmode context`` to get full tracebacks back while debugging.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with Jupyter
        return
    shell = get_ipython()
    if shell is not None and hasattr(shell, "InteractiveTB"):
        shell.InteractiveTB.set_mode("Minimal")
        shell.set_custom_exc((AssertionError,), _show_failed_assert)


def _show_failed_assert(shell, etype, value, tb, tb_offset=None):
    """IPython's handler for AssertionError: display :func:`explain_failed_assert`."""
    lines = [f"{etype.__name__}: {value}" if str(value) else etype.__name__]
    lines += explain_failed_assert(tb)
    shell._showtraceback(etype, value, lines)
    return lines


def explain_failed_assert(tb, width: int = 160) -> list[str]:
    """Lines saying which assert failed (file, line, statement) and what its names held.

    ``tb`` is the traceback of an :class:`AssertionError`; the innermost
    frame is the one that failed. Each name that the statement reads is
    shown with its value (``repr``, cut to ``width`` characters), so a bare
    ``assert loss < 0.5`` still tells what ``loss`` was.

    Introduced in Chapter 1.
    """
    import ast
    import linecache

    if tb is None:
        return []
    while tb.tb_next is not None:
        tb = tb.tb_next
    frame, lineno = tb.tb_frame, tb.tb_lineno
    filename = frame.f_code.co_filename
    source = "".join(linecache.getlines(filename, frame.f_globals))
    statement = linecache.getline(filename, lineno).strip()
    names: list[str] = []
    try:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Assert) and node.lineno <= lineno <= node.end_lineno:
                statement = ast.get_source_segment(source, node) or statement
                names = [
                    n.id
                    for n in ast.walk(node.test)
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
                ]
                break
    except (SyntaxError, ValueError):
        pass
    where = "this cell" if filename.startswith("<") or "ipykernel" in filename else filename
    lines = [f"  failed at line {lineno} of {where}:"]
    lines += [f"    {line}" for line in statement.splitlines()]
    shown = set()
    for name in names:
        if name in shown:
            continue
        shown.add(name)
        if name in frame.f_locals:
            value = frame.f_locals[name]
        elif name in frame.f_globals:
            value = frame.f_globals[name]
        else:
            continue
        if callable(value) or type(value).__name__ == "module":
            continue
        text = repr(value).replace("\n", " ")
        if len(text) > width:
            text = text[: width - 3] + "..."
        lines.append(f"  where {name} = {text}")
    return lines


def setup_chapter(seed: int = DEFAULT_SEED, *, verbose: bool = True) -> None:
    """Prepare a chapter: check versions, quiet logs, pin numerics, seed, report.

    In a notebook it also applies the book's plot style and switches to
    one-line tracebacks (``%xmode minimal``), so that errors shown as
    lessons stay short; a failing ``assert`` shows its statement and the
    values of its names instead (:func:`explain_failed_assert`).

    Call it in the first code cell of a chapter, *before* importing
    TensorFlow yourself::

        from tfcustom import setup_chapter
        setup_chapter()

    Args:
        seed: the seed for Python, NumPy and TensorFlow.
        verbose: print the environment line, e.g.
            ``TensorFlow 2.21.0 | Keras 3.15.1 | Python 3.11 | device: CPU``
            (see :func:`environment_line`), and :func:`numerics_line`.

    Raises:
        ValueError: a bad seed, or a bad ``BOOK_PIN_NUMERICS``.
        UnsupportedVersionError: TensorFlow or Keras is older than the book
            supports (see :mod:`tfcustom.versions`).
        RuntimeError: TensorFlow was imported before the numerics could be
            pinned (see :func:`pin_numerics`).

    Introduced in Chapter 1.
    """
    seed = check_int("seed", seed, minimum=0)
    _short_tracebacks()  # first, so that a stop below reads as one line
    upgraded = check_versions()
    if upgraded and verbose:
        print(upgraded)
    quiet_tensorflow()
    if numerics_pinned():
        pin_numerics()
    import tensorflow as tf

    tf.get_logger().setLevel(logging.ERROR)
    tf.autograph.set_verbosity(0)
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:  # pragma: no cover
        pass
    set_seeds(seed)
    from .plotting import use_book_style

    use_book_style()
    if verbose:
        print(environment_line())
        print(numerics_line())
