"""The California housing data, online or offline, and the book's standard split.

Introduced in Chapter 2 (Custom losses, functions and metrics), section
"The data: California housing, split three ways" (label ``housing-split``);
used by Chapters 2, 3, 4, 6, 7, 9 and 10.

The standard split (:func:`housing_split`): the 20,640 districts are
shuffled with a fixed seed (``random_state=42``) and cut into 60% training,
20% validation and 20% test (12,384, 4,128 and 4,128 samples); every feature
is standardised with a ``StandardScaler`` fitted on the training part only,
so that nothing of the validation and test sets leaks into training.

Where the data comes from:

* If the environment variable ``BOOK_DATA_DIR`` names a folder holding
  ``cal_housing.data.gz`` (the file scikit-learn downloads, see the README's
  "Offline data" section), that file is read, its checksum verified and
  scikit-learn's own transformation applied, so the result is identical to
  :func:`sklearn.datasets.fetch_california_housing`. A relative
  ``BOOK_DATA_DIR`` is read from the book's clone, not from the current
  folder (:func:`env_data_dir`), so that a kernel in ``chapters/`` finds
  what the shell at the root names.
* Otherwise scikit-learn is asked for it, which uses its cache or downloads it.
* If neither works, :class:`HousingDataUnavailable` says what to do, with
  every path in it absolute.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .checks import check_fraction

DATA_DIR_ENV = "BOOK_DATA_DIR"
"""The environment variable that names a folder holding ``cal_housing.data.gz``."""

_SOURCE = Path(__file__).resolve().parent
CLONE_ROOT = _SOURCE.parent if (_SOURCE.parent / "pyproject.toml").is_file() else None
"""The clone when the package runs from its ``utils/`` (``pip install -e .``), else ``None``."""

MIRROR_FILENAME = "cal_housing.data.gz"
MIRROR_SHA256 = "d3d8a1a722ae78f91134862727d27a70b1415e7d512a89140406248687f4b902"
FEATURE_NAMES = [
    "MedInc",
    "HouseAge",
    "AveRooms",
    "AveBedrms",
    "Population",
    "AveOccup",
    "Latitude",
    "Longitude",
]
TARGET_NAMES = ["MedHouseVal"]
N_SAMPLES = 20_640
SKLEARN_CACHE_FILENAME = "cal_housing_py3.pkz"
"""scikit-learn's cached copy, in :func:`sklearn.datasets.get_data_home`."""


class HousingDataUnavailable(RuntimeError):
    """Raised when the housing data can be read neither offline nor online."""


def env_data_dir() -> Path | None:
    """The folder that ``BOOK_DATA_DIR`` names, as an absolute path, or ``None`` when unset.

    ``~`` is expanded first. A relative value is read from the book's
    clone, :data:`CLONE_ROOT`, never from the current folder: a notebook's
    kernel runs in ``chapters/``, a shell in the clone's root, and the same
    setting must name the same folder in both. So ``BOOK_DATA_DIR=../data``
    means ``data`` beside the clone, wherever it is read. Where the package
    was installed from a wheel there is no clone, and a relative value is
    read from the current folder.
    """
    value = os.environ.get(DATA_DIR_ENV)
    if not value:
        return None
    return ((CLONE_ROOT or Path.cwd()) / Path(value).expanduser()).resolve()


def _help_message(reason: str) -> str:
    example = "/absolute/path/to/the/folder"
    base = f"the book's clone, {CLONE_ROOT}" if CLONE_ROOT else "the current folder"
    return (
        f"The California housing data could not be loaded ({reason}).\n"
        "Either run once with internet access, so that scikit-learn downloads and "
        "caches it, or point the environment variable "
        f"{DATA_DIR_ENV} at the absolute path of a folder that contains {MIRROR_FILENAME} "
        f"(for example: export {DATA_DIR_ENV}={example}; a relative path is read from "
        f"{base})."
    )


def _mirror_folder(data_dir) -> tuple[Path, str]:
    """The absolute folder to read, and how it was named (for messages)."""
    if data_dir is not None:  # an argument: relative to the current folder, as usual
        given = Path(data_dir).expanduser()
        folder = given.resolve()
        named = f"data_dir is {str(data_dir)!r}"
        if not given.is_absolute():
            named += f" (relative to the current folder, {Path.cwd()})"
        return folder, named
    value = os.environ[DATA_DIR_ENV]
    folder = env_data_dir()
    named = f"{DATA_DIR_ENV} is {value!r}"
    if not Path(value).expanduser().is_absolute():
        base = f"the book's clone, {CLONE_ROOT}" if CLONE_ROOT else "the current folder"
        named += f" (relative, so read from {base})"
    return folder, named


def _fetch_with_scikit_learn():
    """:func:`sklearn.datasets.fetch_california_housing`, its failures explained."""
    from sklearn.datasets import fetch_california_housing, get_data_home

    try:
        return fetch_california_housing()
    except Exception as exc:
        # scikit-learn reads its cached copy when the file exists, and
        # downloads only when it does not: an existing file is what failed.
        try:
            cache = Path(get_data_home()).resolve() / SKLEARN_CACHE_FILENAME
        except OSError:  # no data folder at all (it could not be created)
            cache = None
        if cache is not None and cache.is_file():
            raise HousingDataUnavailable(
                f"The California housing data could not be loaded: scikit-learn's cached "
                f"copy {cache} exists but could not be read ({type(exc).__name__}: {exc}); "
                f"it is probably damaged (an interrupted download or copy).\n"
                f"Delete it (rm {shlex.quote(str(cache))}) and run again: scikit-learn "
                f"then downloads it afresh (with internet access), or set {DATA_DIR_ENV} "
                f"to the absolute path of a folder that contains {MIRROR_FILENAME}."
            ) from None
        if isinstance(exc, (OSError, ValueError)):  # URLError is an OSError
            raise HousingDataUnavailable(
                _help_message(f"scikit-learn could not download it: {exc}")
            ) from None
        raise


def _read_mirror(path: Path) -> np.ndarray:
    """Read and verify the raw 20640 x 9 table (columns in the file's order)."""
    try:
        raw = gzip.decompress(path.read_bytes())
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise HousingDataUnavailable(
            _help_message(f"{path} is not a readable gzip file: {exc}")
        ) from exc
    digest = hashlib.sha256(raw).hexdigest()
    if digest != MIRROR_SHA256:
        raise HousingDataUnavailable(
            _help_message(
                f"{path} is corrupt: sha256 {digest[:12]}... does not match "
                f"{MIRROR_SHA256[:12]}..."
            )
        )
    table = np.loadtxt(io.BytesIO(raw), delimiter=",")
    if table.shape != (N_SAMPLES, 9):
        raise HousingDataUnavailable(
            _help_message(f"{path} has shape {table.shape}, expected ({N_SAMPLES}, 9)")
        )
    return table


def _bunch_from_table(table: np.ndarray):
    """Apply scikit-learn's transformation to the raw table (see its source)."""
    from sklearn.utils import Bunch

    # Target first, then the features in scikit-learn's order.
    table = table[:, [8, 7, 2, 3, 4, 5, 6, 1, 0]]
    target, data = table[:, 0], table[:, 1:].copy()
    data[:, 2] /= data[:, 5]  # AveRooms = totalRooms / households
    data[:, 3] /= data[:, 5]  # AveBedrms = totalBedrooms / households
    data[:, 5] = data[:, 4] / data[:, 5]  # AveOccup = population / households
    target = target / 100000.0
    try:
        from sklearn.datasets._base import load_descr

        descr = load_descr("california_housing.rst")
    except Exception:
        descr = "California housing dataset (offline mirror)."
    return Bunch(
        data=data,
        target=target,
        frame=None,
        target_names=list(TARGET_NAMES),
        feature_names=list(FEATURE_NAMES),
        DESCR=descr,
    )


def load_california_housing(
    *, return_X_y: bool = False, data_dir: str | os.PathLike | None = None
):
    """Return what :func:`sklearn.datasets.fetch_california_housing` returns.

    Args:
        return_X_y: return ``(data, target)`` instead of the Bunch.
        data_dir: a folder holding ``cal_housing.data.gz`` (a relative one is
            relative to the current folder); defaults to the environment
            variable ``BOOK_DATA_DIR`` (a relative value is relative to the
            book's clone, see :func:`env_data_dir`). When neither
            is set, scikit-learn fetches the data (from its cache or the
            internet).

    Returns:
        A :class:`sklearn.utils.Bunch` with ``data`` (20640 x 8 float64),
        ``target`` (in units of $100,000), ``feature_names``,
        ``target_names``, ``frame`` (None) and ``DESCR``; or ``(X, y)``.

    Raises:
        HousingDataUnavailable: the mirror is missing or corrupt,
            scikit-learn's cached copy is there but unreadable (the message
            names the file to delete), or scikit-learn could not download the
            data. Every path in the message is absolute.

    Introduced in Chapter 2.
    """
    if data_dir is not None or os.environ.get(DATA_DIR_ENV):
        folder, named = _mirror_folder(data_dir)
        path = folder / MIRROR_FILENAME
        if not path.is_file():
            raise HousingDataUnavailable(_help_message(f"{named} but {path} does not exist"))
        bunch = _bunch_from_table(_read_mirror(path))
    else:
        bunch = _fetch_with_scikit_learn()
    if return_X_y:
        return bunch.data, bunch.target
    return bunch


@dataclass(frozen=True)
class HousingSplit:
    """Scaled train/validation/test arrays of the housing data (float32).

    ``scaler`` is the fitted :class:`sklearn.preprocessing.StandardScaler`
    (fitted on the training set only); the ``*_raw`` attributes hold the
    unscaled float64 features, for models that scale inside themselves.
    """

    X_train: np.ndarray
    X_valid: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_valid: np.ndarray
    y_test: np.ndarray
    X_train_raw: np.ndarray
    X_valid_raw: np.ndarray
    X_test_raw: np.ndarray
    scaler: object
    feature_names: tuple

    def sizes(self) -> tuple[int, int, int]:
        """Number of samples in train, validation and test."""
        return len(self.X_train), len(self.X_valid), len(self.X_test)


def housing_split(
    *,
    train: float = 0.6,
    valid: float = 0.2,
    test: float = 0.2,
    random_state: int = 42,
    data_dir=None,
) -> HousingSplit:
    """The book's standard split of California housing, scaled.

    The fractions ``train``, ``valid`` and ``test`` of the 20,640 samples
    must add up to 1. The split is made in two shuffled steps with the same
    ``random_state``: first the ``test`` fraction is set aside, then the
    validation set is cut from the rest (``valid / (train + valid)`` of it).
    Features are standardised with a ``StandardScaler`` fitted on the
    training set only, so the training features have mean 0 and standard
    deviation 1 while the validation and test features only come close;
    targets are column vectors (shape ``(n, 1)``) in float32, as Keras
    expects for regression.

    With the defaults (60/20/20, ``random_state=42``): 12,384 training,
    4,128 validation and 4,128 test samples.

    Raises:
        ValueError: a fraction is not strictly between 0 and 1, or the
            three do not add up to 1.

    Introduced in Chapter 2 (section "The data: California housing, split
    three ways"); used by Chapters 2, 3, 4, 6, 7 and 9.
    """
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    fractions = {"train": train, "valid": valid, "test": test}
    for name, value in fractions.items():
        check_fraction(name, value)
    if abs(sum(fractions.values()) - 1.0) > 1e-9:
        raise ValueError(
            f"train + valid + test must add up to 1, got "
            f"{train} + {valid} + {test} = {sum(fractions.values()):.6g}"
        )
    X, y = load_california_housing(return_X_y=True, data_dir=data_dir)
    X_full, X_test, y_full, y_test = train_test_split(
        X, y, test_size=test, random_state=random_state
    )
    X_train, X_valid, y_train, y_valid = train_test_split(
        X_full, y_full, test_size=valid / (train + valid), random_state=random_state
    )
    if min(len(X_train), len(X_valid), len(X_test)) == 0:
        raise ValueError("the split leaves an empty set; choose other sizes")
    assert len(X_train) + len(X_valid) + len(X_test) == len(X)
    scaler = StandardScaler().fit(X_train)

    def scaled(a):
        return scaler.transform(a).astype(np.float32)

    def column(a):
        return a.astype(np.float32).reshape(-1, 1)

    return HousingSplit(
        X_train=scaled(X_train),
        X_valid=scaled(X_valid),
        X_test=scaled(X_test),
        y_train=column(y_train),
        y_valid=column(y_valid),
        y_test=column(y_test),
        X_train_raw=X_train,
        X_valid_raw=X_valid,
        X_test_raw=X_test,
        scaler=scaler,
        feature_names=tuple(FEATURE_NAMES),
    )
