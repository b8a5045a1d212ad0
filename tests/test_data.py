"""Tests of tfcustom.data: the housing loader and the standard split."""

from __future__ import annotations

import gzip
import io
import os
import re
import shlex
import tarfile
import urllib.error
from pathlib import Path

import numpy as np
import pytest
from tfcustom import data as data_mod
from tfcustom.data import HousingDataUnavailable, housing_split, load_california_housing

from booktools import book

# Column means of fetch_california_housing().data, from ../shared/data/README.md.
REFERENCE_MEANS = {
    "MedInc": 3.870671,
    "HouseAge": 28.639486,
    "AveRooms": 5.429000,
    "AveBedrms": 1.096675,
    "Population": 1425.476744,
    "AveOccup": 3.070655,
    "Latitude": 35.631861,
    "Longitude": -119.569704,
}


def test_mirror_matches_reference_statistics(mirror_dir):
    housing = load_california_housing(data_dir=mirror_dir)
    assert housing.data.shape == (20640, 8) and housing.data.dtype == np.float64
    assert housing.target.shape == (20640,)
    assert housing.feature_names == list(REFERENCE_MEANS)
    assert housing.target_names == ["MedHouseVal"]
    assert housing.frame is None
    np.testing.assert_allclose(
        housing.data.mean(axis=0), list(REFERENCE_MEANS.values()), rtol=0, atol=5e-7
    )
    assert round(housing.target.mean(), 6) == 2.068558


def test_mirror_equals_scikit_learn_exactly(mirror_dir, tmp_path, monkeypatch):
    """Feed scikit-learn's own fetcher the mirrored file and compare bit for bit."""
    import sklearn.datasets._california_housing as skl_housing

    raw = gzip.decompress((mirror_dir / "cal_housing.data.gz").read_bytes())

    def fake_fetch_remote(remote, dirname=None, **kwargs):
        archive = tmp_path / "cal_housing.tgz"
        with tarfile.open(archive, "w:gz") as tar:
            info = tarfile.TarInfo("CaliforniaHousing/cal_housing.data")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
        return str(archive)

    monkeypatch.setattr(skl_housing, "_fetch_remote", fake_fetch_remote)
    expected = skl_housing.fetch_california_housing(data_home=tmp_path)
    ours = load_california_housing(data_dir=mirror_dir)
    np.testing.assert_array_equal(ours.data, expected.data)
    np.testing.assert_array_equal(ours.target, expected.target)
    assert ours.feature_names == expected.feature_names
    assert ours.target_names == expected.target_names
    assert ours.DESCR == expected.DESCR
    X, y = load_california_housing(data_dir=mirror_dir, return_X_y=True)
    np.testing.assert_array_equal(X, expected.data)
    np.testing.assert_array_equal(y, expected.target)


def test_environment_variable_selects_the_mirror(mirror_dir, monkeypatch):
    monkeypatch.setenv(data_mod.DATA_DIR_ENV, str(mirror_dir))
    import sklearn.datasets

    def must_not_be_called(*args, **kwargs):
        raise AssertionError("scikit-learn must not be asked when the mirror is set")

    monkeypatch.setattr(sklearn.datasets, "fetch_california_housing", must_not_be_called)
    assert load_california_housing().data.shape == (20640, 8)


def test_the_variable_is_named_once():
    assert book.DATA_DIR_ENV is data_mod.DATA_DIR_ENV == "BOOK_DATA_DIR"
    assert data_mod.CLONE_ROOT == book.ROOT  # the editable install runs from the clone


def test_a_relative_value_is_read_from_the_clone(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the current folder must not matter
    monkeypatch.setenv(data_mod.DATA_DIR_ENV, "../shared/data")
    assert data_mod.env_data_dir() == (book.ROOT.parent / "shared" / "data").resolve()
    monkeypatch.setenv(data_mod.DATA_DIR_ENV, str(tmp_path / "x"))
    assert data_mod.env_data_dir() == tmp_path.resolve() / "x"
    monkeypatch.setenv("HOME", str(tmp_path))  # "~" is expanded, never the real home
    monkeypatch.setenv(data_mod.DATA_DIR_ENV, "~/data")
    assert data_mod.env_data_dir() == tmp_path.resolve() / "data"
    monkeypatch.delenv(data_mod.DATA_DIR_ENV)
    assert data_mod.env_data_dir() is None


def test_without_a_clone_a_relative_value_is_read_from_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(data_mod, "CLONE_ROOT", None)  # as when installed from a wheel
    monkeypatch.setenv(data_mod.DATA_DIR_ENV, "data")
    assert data_mod.env_data_dir() == tmp_path.resolve() / "data"


def test_the_default_is_set_only_when_the_variable_is_unset(tmp_path, monkeypatch):
    monkeypatch.delenv(data_mod.DATA_DIR_ENV)
    assert book.use_default_data_dir() == book.default_data_dir().resolve()
    monkeypatch.setenv(data_mod.DATA_DIR_ENV, str(tmp_path))
    assert book.use_default_data_dir() == tmp_path.resolve()


def test_a_relative_variable_works_from_a_kernel_in_chapters(mirror_dir, tmp_path, monkeypatch):
    """The shell at the root says ../shared/data; the kernel runs elsewhere."""
    relative = os.path.relpath(mirror_dir.resolve(), book.ROOT)
    monkeypatch.setenv(data_mod.DATA_DIR_ENV, relative)
    (tmp_path / "chapters").mkdir()
    monkeypatch.chdir(tmp_path / "chapters")
    import sklearn.datasets

    def must_not_be_called(*args, **kwargs):
        raise AssertionError("scikit-learn must not be asked when the mirror is set")

    monkeypatch.setattr(sklearn.datasets, "fetch_california_housing", must_not_be_called)
    assert load_california_housing().data.shape == (20640, 8)


def suggested_setting(message: str) -> Path:
    """The folder that the message's ``export BOOK_DATA_DIR=...`` example names."""
    match = re.search(r"export BOOK_DATA_DIR=(\S+?);", message)
    assert match, message
    (value,) = shlex.split(match.group(1))
    return Path(value)


def test_a_missing_relative_mirror_is_reported_with_absolute_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(data_mod.DATA_DIR_ENV, "../no-such-book-data")
    with pytest.raises(HousingDataUnavailable) as info:
        load_california_housing()
    message = str(info.value)
    expected = book.ROOT.parent.resolve() / "no-such-book-data" / "cal_housing.data.gz"
    assert "'../no-such-book-data'" in message and f"{expected} does not exist" in message
    assert str(book.ROOT) in message  # what a relative value is read from
    assert suggested_setting(message).is_absolute()  # works from any folder


def test_a_missing_relative_data_dir_is_reported_with_absolute_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(HousingDataUnavailable) as info:
        load_california_housing(data_dir="missing")
    message = str(info.value)
    expected = tmp_path.resolve() / "missing" / "cal_housing.data.gz"
    assert "data_dir is 'missing'" in message and f"{expected} does not exist" in message
    assert suggested_setting(message).is_absolute()


def garbage_cache(path: Path) -> None:
    path.write_bytes(b"this is not what joblib wrote")


def truncated_cache(path: Path) -> None:
    import joblib

    joblib.dump(np.random.default_rng(0).random((2000, 9)), path, compress=6)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize("damage", [garbage_cache, truncated_cache])
def test_a_corrupt_scikit_learn_cache_is_named(damage, tmp_path, monkeypatch):
    import sklearn.datasets._california_housing as skl_housing

    monkeypatch.delenv(data_mod.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path))  # never the real home

    def no_network(*args, **kwargs):
        raise AssertionError("the test must not download anything")

    monkeypatch.setattr(skl_housing, "_fetch_remote", no_network)
    cache = tmp_path / "cal_housing_py3.pkz"
    damage(cache)
    with pytest.raises(HousingDataUnavailable) as info:
        load_california_housing()
    message = str(info.value)
    assert str(cache.resolve()) in message and "Delete it" in message
    assert "could not download" not in message
    assert info.value.__cause__ is None


def test_without_mirror_scikit_learn_is_used(monkeypatch):
    monkeypatch.delenv(data_mod.DATA_DIR_ENV, raising=False)
    import sklearn.datasets
    from sklearn.utils import Bunch

    sentinel = Bunch(data=np.zeros((2, 8)), target=np.ones(2))
    monkeypatch.setattr(sklearn.datasets, "fetch_california_housing", lambda: sentinel)
    assert load_california_housing() is sentinel


def test_offline_without_mirror_gives_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv(data_mod.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path))  # no cached copy there
    import sklearn.datasets

    def offline():
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(sklearn.datasets, "fetch_california_housing", offline)
    with pytest.raises(HousingDataUnavailable) as info:
        load_california_housing()
    message = str(info.value)
    assert "BOOK_DATA_DIR" in message and "internet" in message
    assert suggested_setting(message).is_absolute()
    assert info.value.__cause__ is None  # no traceback from inside scikit-learn


def test_missing_mirror_file(tmp_path):
    with pytest.raises(HousingDataUnavailable, match="does not exist"):
        load_california_housing(data_dir=tmp_path)


def test_corrupt_mirror_is_detected(tmp_path, mirror_dir):
    good = gzip.decompress((mirror_dir / "cal_housing.data.gz").read_bytes())
    tampered = good.replace(b"-122.23", b"-122.24", 1)
    (tmp_path / "cal_housing.data.gz").write_bytes(gzip.compress(tampered))
    with pytest.raises(HousingDataUnavailable, match="corrupt"):
        load_california_housing(data_dir=tmp_path)


def test_mirror_that_is_not_gzip(tmp_path):
    (tmp_path / "cal_housing.data.gz").write_text("not a gzip file")
    with pytest.raises(HousingDataUnavailable, match="not a readable gzip"):
        load_california_housing(data_dir=tmp_path)


def test_standard_split(mirror_dir):
    split = housing_split(data_dir=mirror_dir)
    assert split.sizes() == (12384, 4128, 4128)
    for X in (split.X_train, split.X_valid, split.X_test):
        assert X.dtype == np.float32 and X.shape[1] == 8
    for y in (split.y_train, split.y_valid, split.y_test):
        assert y.dtype == np.float32 and y.ndim == 2 and y.shape[1] == 1
    # Scaled with training statistics only.
    np.testing.assert_allclose(split.X_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(split.X_train.std(axis=0), 1, atol=1e-4)
    assert np.abs(split.X_valid.mean(axis=0)).max() > 1e-4
    np.testing.assert_allclose(split.scaler.transform(split.X_valid_raw), split.X_valid, rtol=1e-6)
    # Disjoint, and together all of the data.
    housing = load_california_housing(data_dir=mirror_dir)
    rows = np.concatenate([split.X_train_raw, split.X_valid_raw, split.X_test_raw])
    assert len(np.unique(rows, axis=0)) == len(np.unique(housing.data, axis=0))
    np.testing.assert_allclose(np.sort(rows, axis=0), np.sort(housing.data, axis=0))


def test_split_is_reproducible_and_seeded(mirror_dir):
    a = housing_split(data_dir=mirror_dir)
    b = housing_split(data_dir=mirror_dir)
    c = housing_split(data_dir=mirror_dir, random_state=0)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert not np.array_equal(a.X_train, c.X_train)


@pytest.mark.parametrize(
    "sizes, message",
    [
        (dict(train=0.6, valid=0.2, test=0.3), "add up to 1"),
        (dict(train=0.5, valid=0.2, test=0.2), "add up to 1"),
        (dict(train=0.0, valid=0.5, test=0.5), r"train must be in \(0, 1\)"),
        (dict(train=1.2, valid=-0.1, test=-0.1), r"train must be in \(0, 1\)"),
        (dict(train="0.6", valid=0.2, test=0.2), "train must be a number"),
    ],
)
def test_split_rejects_sizes_that_do_not_add_up(sizes, message, mirror_dir):
    with pytest.raises(ValueError, match=message):
        housing_split(data_dir=mirror_dir, **sizes)
