"""Tests of tfcustom.setup: quiet imports, seeding, the environment line."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tests.python_runs import run_python

ENV_LINE = re.compile(
    r"^TensorFlow \d+\.\d+\.\d+\S* \| Keras \d+\.\d+\.\d+\S* \| "
    r"Python 3\.\d+ \| device: (CPU|.*GPU.*)$"
)


@pytest.mark.slow  # starts processes
def test_setup_chapter_prints_two_lines_and_silences_tensorflow(root):
    code = (
        "from tfcustom import setup_chapter\n"
        "setup_chapter()\n"
        "import tensorflow as tf, keras\n"
        "x = tf.constant([[1.0, 2.0]])\n"
        "f = tf.function(lambda t: tf.matmul(t, t, transpose_b=True), jit_compile=True)\n"
        "print(float(f(x)[0, 0]))\n"
        "model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1)])\n"
        "model.compile(loss='mse', optimizer='sgd')\n"
        "model.fit(x, tf.constant([[1.0]]), epochs=1, verbose=0)\n"
    )
    result = run_python(code, root)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and ENV_LINE.match(lines[0]), result.stdout
    assert lines[1] == "CPU numerics: pinned (oneDNN off, AVX2 kernels, 2 threads)"
    assert lines[2] == "5.0"
    assert result.stderr == "", f"TensorFlow wrote to stderr:\n{result.stderr}"


@pytest.mark.slow  # starts processes
def test_without_setup_tensorflow_is_noisy(root):
    """The control: the same work without setup_chapter() does log (so the test above can fail)."""
    code = (
        "import tensorflow as tf\n"
        "f = tf.function(lambda t: t * 2, jit_compile=True)\n"
        "f(tf.constant(1.0))\n"
    )
    result = run_python(code, root)
    assert result.returncode == 0
    assert result.stderr.strip() != ""


@pytest.mark.slow  # starts processes
def test_seeding_repeats_random_numbers(root):
    code = (
        "from tfcustom import setup_chapter, set_seeds\n"
        "setup_chapter(seed=7, verbose=False)\n"
        "import random, numpy as np, tensorflow as tf\n"
        "a = (random.random(), np.random.rand(), float(tf.random.uniform(())))\n"
        "set_seeds(7)\n"
        "b = (random.random(), np.random.rand(), float(tf.random.uniform(())))\n"
        "set_seeds(8)\n"
        "c = (random.random(), np.random.rand(), float(tf.random.uniform(())))\n"
        "assert a == b, (a, b)\n"
        "assert all(x != y for x, y in zip(a, c)), (a, c)\n"
        "print('ok')\n"
    )
    result = run_python(code, root)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"


@pytest.mark.parametrize("bad", [-1, 1.5, "42", True, None, np.int64(-3)])
def test_setup_chapter_rejects_bad_seeds(bad):
    from tfcustom import setup_chapter

    with pytest.raises(ValueError, match="seed"):
        setup_chapter(seed=bad, verbose=False)


def test_environment_line_format():
    from tfcustom import environment_line, quiet_tensorflow

    quiet_tensorflow()
    assert ENV_LINE.match(environment_line())


@pytest.mark.slow  # starts processes
def test_setup_pins_the_numerics_before_tensorflow_starts(root):
    code = (
        "from tfcustom import setup_chapter\n"
        "setup_chapter(verbose=False)\n"
        "import os, tensorflow as tf\n"
        "print(os.environ['TF_ENABLE_ONEDNN_OPTS'], os.environ['ONEDNN_MAX_CPU_ISA'],\n"
        "      os.environ['TF_NUM_INTRAOP_THREADS'])\n"
    )
    result = run_python(code, root)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "AVX2", "2"]


@pytest.mark.slow  # starts processes
def test_pins_can_be_turned_off(root):
    code = (
        "from tfcustom import setup_chapter\n"
        "setup_chapter()\n"
        "import os\n"
        "print(os.environ.get('TF_ENABLE_ONEDNN_OPTS'),\n"
        "      os.environ.get('TF_NUM_INTRAOP_THREADS'))\n"
    )
    result = run_python(code, root, BOOK_PIN_NUMERICS="0")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1] == "CPU numerics: TensorFlow's own choice (BOOK_PIN_NUMERICS=0)"
    assert lines[2] == "None None"


@pytest.mark.slow  # starts processes
def test_pinning_after_tensorflow_was_imported_is_refused(root):
    code = "import tensorflow\nfrom tfcustom import setup_chapter\nsetup_chapter()\n"
    result = run_python(code, root)
    assert result.returncode != 0
    assert "TensorFlow was imported before setup_chapter() could pin its numerics" in result.stderr


@pytest.mark.slow  # starts processes
def test_a_rerun_setup_cell_is_fine(root):
    """Running the setup cell twice in one kernel must not fail."""
    code = (
        "from tfcustom import setup_chapter\n"
        "setup_chapter(verbose=False)\n"
        "import tensorflow as tf\n"
        "tf.constant(1.0) + 1\n"
        "setup_chapter(verbose=False)\n"
        "print('ok')\n"
    )
    result = run_python(code, root)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"


@pytest.mark.parametrize("value", ["2", "maybe"])
def test_a_bad_pin_switch_is_refused(monkeypatch, value):
    from tfcustom import numerics_pinned

    monkeypatch.setenv("BOOK_PIN_NUMERICS", value)
    with pytest.raises(ValueError, match="BOOK_PIN_NUMERICS"):
        numerics_pinned()


def test_setup_chapter_accepts_numpy_seeds():
    """A NumPy integer is a seed like any other (tfcustom.checks decides for every helper)."""
    from tfcustom import setup_chapter

    setup_chapter(seed=np.int64(3), verbose=False)


def test_quiet_tensorflow_leaves_warning_filters_alone(monkeypatch):
    """Logs are silenced, warnings are not: a new Keras deprecation must reach the page.

    The hygiene test fails a chapter whose output holds a warning; that only
    works if the setup does not filter warnings away.
    """
    import warnings

    from tfcustom.setup import quiet_tensorflow

    for key in ("TF_CPP_MIN_LOG_LEVEL", "ABSL_MIN_LOG_LEVEL"):
        monkeypatch.delenv(key, raising=False)
    with warnings.catch_warnings():
        before = list(warnings.filters)
        quiet_tensorflow()
        assert warnings.filters == before
