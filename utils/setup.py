"""Chapter setup: quiet logs, fixed seeds, one line about the environment.

Introduced in Chapter 1 (Tensors); every chapter calls :func:`setup_chapter`
in its first code cell.
"""

from __future__ import annotations

import logging
import os
import random
import sys
import warnings

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
    # Deprecation chatter from third-party packages is not part of the lesson.
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)


def set_seeds(seed: int = DEFAULT_SEED) -> None:
    """Seed Python's ``random``, NumPy and TensorFlow with one call.

    Uses :func:`keras.utils.set_random_seed`, which covers all three, and
    turns on TensorFlow's op determinism so that a re-run repeats every
    printed number.

    Introduced in Chapter 1.
    """
    import keras
    import tensorflow as tf

    random.seed(seed)
    keras.utils.set_random_seed(seed)
    try:
        tf.config.experimental.enable_op_determinism()
    except AttributeError:  # pragma: no cover - very old TensorFlow
        pass


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
    except Exception:  # noqa: BLE001 - details are optional, the count is not
        name = "GPU"
    return f"{len(gpus)} x GPU ({name})" if len(gpus) > 1 else f"GPU ({name})"


def environment_line() -> str:
    """One short line: TensorFlow, Keras and Python versions and the device.

    Introduced in Chapter 1.
    """
    import keras
    import tensorflow as tf

    py = ".".join(str(p) for p in sys.version_info[:2])
    return (f"TensorFlow {tf.__version__} | Keras {keras.__version__} | "
            f"Python {py} | device: {describe_device()}")


def _short_tracebacks() -> None:
    """In IPython, show errors as one line (``%xmode minimal``).

    Errors that a chapter shows on purpose then read as their message, not
    as a page of library internals. Run ``%xmode context`` to get full
    tracebacks back while debugging.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with Jupyter
        return
    shell = get_ipython()
    if shell is not None and hasattr(shell, "InteractiveTB"):
        shell.InteractiveTB.set_mode("Minimal")


def setup_chapter(seed: int = DEFAULT_SEED, *, verbose: bool = True) -> None:
    """Prepare a chapter: quiet logs, seed everything, report the environment.

    In a notebook it also applies the book's plot style and switches to
    one-line tracebacks (``%xmode minimal``), so that errors shown as
    lessons stay short.

    Call it in the first code cell of a chapter, *before* importing
    TensorFlow yourself::

        from utils import setup_chapter
        setup_chapter()

    Args:
        seed: the seed for Python, NumPy and TensorFlow.
        verbose: print the environment line, e.g.
            ``TensorFlow 2.21.0 | Keras 3.15.1 | Python 3.11 | device: CPU``
            (see :func:`environment_line`).

    Introduced in Chapter 1.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    quiet_tensorflow()
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
    _short_tracebacks()
    if verbose:
        print(environment_line())
