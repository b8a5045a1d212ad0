"""Saving and reloading Keras models, checked: a round trip must not change a prediction.

Introduced in Chapter 2 (Custom losses, functions and metrics); used by
Chapters 3 (Custom layers and models), 4 (Losses and metrics from model
internals), 6 (Custom training loops), 7 (tf.function and graphs) and 10
(Where the time goes).

Importing this module does not import TensorFlow; the functions import Keras
when they are called, after :func:`tfcustom.setup_chapter` has run.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

#: The folder (git-ignored, see .gitignore) under which every run of a chapter
#: gets a folder of its own (:func:`run_dir`).
ARTIFACTS_DIR = Path(__file__).resolve().parents[1] / "chapters" / "artifacts"

KEEP_SWITCH = "BOOK_KEEP_ARTIFACTS"
"""Set this environment variable to ``1`` to keep a run's folder after its process ends."""

_run_dirs: dict[Path, Path] = {}


def run_dir() -> Path:
    """This process's own folder for the files a chapter writes, created on first use.

    ``chapters/artifacts/run-<date>-<time>-<pid>-<random>/``: a kernel, a test
    run or a script gets a folder no other process writes to, so two runs of
    one chapter at the same time (a reader's Jupyter and ``./scripts/test``)
    cannot delete or overwrite each other's files. The folder is removed when
    the process ends, unless the environment variable ``BOOK_KEEP_ARTIFACTS``
    is ``1``; within a process it stays the same, so Restart & Run All starts
    a new folder and a re-run cell finds its files.

    Introduced in Chapter 6.
    """
    if ARTIFACTS_DIR not in _run_dirs:
        ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        folder = Path(tempfile.mkdtemp(prefix=f"run-{stamp}-{os.getpid()}-", dir=ARTIFACTS_DIR))
        if os.environ.get(KEEP_SWITCH, "0").strip() != "1":
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
        _run_dirs[ARTIFACTS_DIR] = folder
    return _run_dirs[ARTIFACTS_DIR]


def artifact_path(name: str | os.PathLike, *, fresh: bool = False) -> Path:
    """Return ``<run folder>/<name>`` (see :func:`run_dir`), creating the folders it needs.

    Everything a chapter writes goes there, so that nothing lands beside the
    sources and no two runs collide. ``name`` is a relative path such as
    ``"ch02/huber.keras"``. With ``fresh=True`` the path is an empty folder:
    whatever an earlier run of the same cell left there is removed first
    (only ever inside this process's own run folder).

    Raises:
        ValueError: ``name`` is empty, absolute, or climbs out with ``..``.

    Introduced in Chapter 2.
    """
    rel = Path(name)
    if not str(name).strip() or rel.is_absolute() or ".." in rel.parts or rel == Path("."):
        raise ValueError(
            "name must be a non-empty relative path inside the artifacts folder, "
            f"got {str(name)!r}"
        )
    path = run_dir() / rel
    if fresh:
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _check_inputs(X) -> None:
    import keras

    leaves = keras.tree.flatten(X)
    if not leaves:
        raise ValueError("X is empty: give at least one sample to compare predictions on")
    for leaf in leaves:
        if np.ndim(leaf) == 0 or len(leaf) == 0:
            raise ValueError("X must hold at least one sample (a non-empty batch)")


def _predictions(model, X) -> list[np.ndarray]:
    import keras

    return [np.asarray(p) for p in keras.tree.flatten(model.predict(X, verbose=0))]


def assert_same_predictions(model, other, X, *, what: str = "the two models") -> None:
    """Assert that ``model`` and ``other`` predict exactly the same on ``X``.

    Exactly means bit for bit (``np.testing.assert_array_equal``): the same
    weights run through the same operations give the same floats, so any
    difference means that something (a weight, a setting) did not survive.
    Works for models with several inputs or outputs.

    Raises:
        ValueError: ``X`` is empty.
        AssertionError: the predictions differ in structure, shape or value.

    Introduced in Chapter 2.
    """
    _check_inputs(X)
    before, after = _predictions(model, X), _predictions(other, X)
    if len(before) != len(after):
        raise AssertionError(
            f"{what} have different numbers of outputs: {len(before)} vs {len(after)}"
        )
    for i, (a, b) in enumerate(zip(before, after, strict=True)):
        np.testing.assert_array_equal(a, b, err_msg=f"output {i}: {what} predict differently")


def assert_roundtrip(model, X, path: str | os.PathLike, **load_kwargs):
    """Save ``model`` in the native ``.keras`` format, reload it, check it, return it.

    The reloaded model must predict exactly what ``model`` predicts on ``X``
    (see :func:`assert_same_predictions`). Keyword arguments go to
    :func:`keras.models.load_model`, e.g. ``custom_objects={...}`` or
    ``safe_mode=False``. Folders in ``path`` are created as needed.

    Example::

        reloaded = assert_roundtrip(model, X_valid[:100], artifact_path("ch02/m.keras"),
                                    custom_objects={"huber_fn": huber_fn})

    Raises:
        ValueError: ``path`` does not end in ``.keras``, or ``X`` is empty.
        AssertionError: the reloaded model predicts differently.

    Introduced in Chapter 2; used by Chapter 3.
    """
    import keras

    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(
            "assert_roundtrip saves in the native format: the path must end in .keras, "
            f"got {str(path)!r}"
        )
    _check_inputs(X)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    reloaded = keras.models.load_model(path, **load_kwargs)
    assert_same_predictions(model, reloaded, X, what=f"the model and its reload from {path.name}")
    return reloaded


def saved_config(path: str | os.PathLike) -> dict:
    """Return the configuration stored in a ``.keras`` file (its ``config.json``).

    A ``.keras`` file is a zip archive of ``config.json`` (the architecture,
    and the ``compile_config``: loss, metrics, optimizer), ``metadata.json``
    and ``model.weights.h5``. Reading the configuration shows what a reload
    will know, and what it will not.

    Raises:
        ValueError: ``path`` does not end in ``.keras`` or is not such an archive.
        FileNotFoundError: ``path`` does not exist.

    Introduced in Chapter 2.
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"expected a .keras file, got {str(path)!r}")
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, KeyError) as exc:
        raise ValueError(f"{path} is not a .keras archive with a config.json: {exc}") from exc
