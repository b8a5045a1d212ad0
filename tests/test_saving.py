"""Tests for utils/saving.py: checked save/load round trips (Chapters 2 and 3)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from tfcustom import quiet_tensorflow

from booktools.book import ROOT

quiet_tensorflow()

import keras  # noqa: E402
from tfcustom import saving  # noqa: E402
from tfcustom.saving import (  # noqa: E402
    artifact_path,
    assert_roundtrip,
    assert_same_predictions,
    saved_config,
)

X = np.linspace(-1.0, 1.0, 24, dtype="float32").reshape(6, 4)


def small_model(seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [keras.Input(shape=(4,)), keras.layers.Dense(3, activation="relu"), keras.layers.Dense(1)]
    )


class ForgetfulScale(keras.layers.Layer):
    """Multiplies by ``factor`` but forgets to save it: a reload uses 1.0."""

    def __init__(self, factor: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, inputs):
        return inputs * self.factor

    def get_config(self):  # overriding it turns off Keras 3's automatic config
        return super().get_config()  # ... and forgets "factor"


def test_roundtrip_returns_an_identical_model(tmp_path):
    model = small_model()
    reloaded = assert_roundtrip(model, X, tmp_path / "sub" / "m.keras")
    assert (tmp_path / "sub" / "m.keras").is_file()
    assert reloaded is not model
    np.testing.assert_array_equal(model.predict(X, verbose=0), reloaded.predict(X, verbose=0))


def test_roundtrip_passes_load_kwargs(tmp_path):
    def double(z):
        return 2.0 * z

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(2, activation=double)])
    with pytest.raises(TypeError, match="double"):
        assert_roundtrip(model, X, tmp_path / "f.keras")
    reloaded = assert_roundtrip(model, X, tmp_path / "f.keras", custom_objects={"double": double})
    assert reloaded.layers[0].activation is double


def test_roundtrip_handles_several_inputs_and_outputs(tmp_path):
    a, b = keras.Input(shape=(4,)), keras.Input(shape=(4,))
    model = keras.Model([a, b], [keras.layers.Add()([a, b]), keras.layers.Dense(2)(a)])
    reloaded = assert_roundtrip(model, [X, 2 * X], tmp_path / "multi.keras")
    assert len(reloaded.outputs) == 2


@pytest.mark.parametrize("name", ["m.h5", "m.weights.h5", "m", "m.keras.bak", "m.tf"])
def test_roundtrip_rejects_paths_that_are_not_keras_files(tmp_path, name):
    with pytest.raises(ValueError, match=r"\.keras"):
        assert_roundtrip(small_model(), X, tmp_path / name)
    assert not (tmp_path / name).exists()


def test_roundtrip_fails_when_the_reload_predicts_differently(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(2), ForgetfulScale(3.0)])
    with pytest.raises(AssertionError, match="predict differently"):
        assert_roundtrip(
            model,
            X,
            tmp_path / "forgetful.keras",
            custom_objects={"ForgetfulScale": ForgetfulScale},
        )


@pytest.mark.parametrize("bad", [X[:0], [X[:0], X[:0]], []])
def test_roundtrip_rejects_empty_inputs(tmp_path, bad):
    with pytest.raises(ValueError, match="sample|empty"):
        assert_roundtrip(small_model(), bad, tmp_path / "m.keras")


def test_same_predictions_detects_a_single_changed_weight():
    model, other = small_model(), small_model()
    assert_same_predictions(model, other, X)
    kernel = other.layers[-1].kernel
    kernel.assign(kernel.numpy() + np.float32(1e-3))
    with pytest.raises(AssertionError):
        assert_same_predictions(model, other, X)


def test_same_predictions_detects_a_different_number_of_outputs():
    inputs = keras.Input(shape=(4,))
    one = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    two = keras.Model(inputs, [keras.layers.Dense(1)(inputs), keras.layers.Dense(1)(inputs)])
    with pytest.raises(AssertionError, match="numbers of outputs"):
        assert_same_predictions(one, two, X)


def test_saved_config_reads_the_compile_config(tmp_path):
    model = small_model()
    model.compile(loss="mae", optimizer="sgd")
    model.save(tmp_path / "c.keras")
    config = saved_config(tmp_path / "c.keras")
    assert config["class_name"] == "Sequential"
    assert config["compile_config"]["loss"] == "mae"


def test_saved_config_rejects_bad_files(tmp_path):
    with pytest.raises(ValueError, match=r"\.keras"):
        saved_config(tmp_path / "m.h5")
    with pytest.raises(FileNotFoundError):
        saved_config(tmp_path / "missing.keras")
    (tmp_path / "fake.keras").write_text("not a zip archive")
    with pytest.raises(ValueError, match="not a .keras archive"):
        saved_config(tmp_path / "fake.keras")


def test_artifact_path_creates_folders_inside_this_runs_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(saving, "ARTIFACTS_DIR", tmp_path / "artifacts")
    path = artifact_path("ch02/model.keras")
    run = saving.run_dir()
    assert run.parent == tmp_path / "artifacts" and run.name.startswith("run-")
    assert path == run / "ch02" / "model.keras"
    assert path.parent.is_dir()
    assert artifact_path("ch02/other.keras").parent == path.parent  # one folder per process


def test_a_fresh_folder_is_emptied_only_inside_this_run(tmp_path, monkeypatch):
    monkeypatch.setattr(saving, "ARTIFACTS_DIR", tmp_path / "artifacts")
    folder = artifact_path("ch06/logs", fresh=True)
    (folder / "events.1").write_text("old")
    assert list(artifact_path("ch06/logs", fresh=True).iterdir()) == []


CONCURRENT = """\
import time
from tfcustom import saving
saving.ARTIFACTS_DIR = saving.Path({artifacts!r})
folder = saving.artifact_path("ch06/checkpoints", fresh=True)
(folder / "ckpt-1").write_text("mine")
time.sleep(1.5)  # the other run starts afresh meanwhile
assert (folder / "ckpt-1").read_text() == "mine", "another run removed this run's file"
print(folder)
"""


@pytest.mark.slow  # starts processes
def test_two_runs_at_once_keep_their_own_files(tmp_path):
    """Two processes run the same 'start afresh' cell at the same time: neither loses a file."""
    code = CONCURRENT.format(artifacts=str(tmp_path / "artifacts"))
    runs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    folders = []
    for run in runs:
        out, _ = run.communicate(timeout=60)
        assert run.returncode == 0
        folders.append(out.strip())
    assert folders[0] != folders[1]
    assert not (tmp_path / "artifacts").exists() or not any((tmp_path / "artifacts").iterdir()), (
        "a run's folder was left behind after its process ended"
    )


def test_default_artifacts_dir_is_git_ignored():
    assert saving.ARTIFACTS_DIR == ROOT / "chapters" / "artifacts"
    assert "chapters/artifacts/" in (ROOT / ".gitignore").read_text().splitlines()


@pytest.mark.parametrize("bad", ["", "  ", "/tmp/x.keras", "../x.keras", "a/../../x.keras", "."])
def test_artifact_path_rejects_names_outside_the_folder(bad, tmp_path, monkeypatch):
    monkeypatch.setattr(saving, "ARTIFACTS_DIR", tmp_path / "artifacts")
    with pytest.raises(ValueError, match="relative path"):
        artifact_path(bad)
