"""Tests of tfcustom.versions: the supported range and the early, clear stop."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from tfcustom import versions
from tfcustom.versions import (
    MIN_VERSIONS,
    TESTED_VERSIONS,
    UnsupportedVersionError,
    check_versions,
    installed_version,
    message,
    parse_version,
    too_old,
)

from booktools import book


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2.19.1", (2, 19, 1)),
        ("3.13", (3, 13)),
        ("2.21.0rc1", (2, 21, 0)),
        ("3.15.1.dev2026", (3, 15, 1)),
        ("2.20.0-dev20260101", (2, 20, 0)),
        ("10", (10,)),
    ],
)
def test_parse_version(text, expected):
    assert parse_version(text) == expected


@pytest.mark.parametrize("bad", ["", "abc", "v2.19"])
def test_parse_version_rejects_non_versions(bad):
    with pytest.raises(ValueError, match="not a version"):
        parse_version(bad)


def test_the_installed_stack_is_supported():
    installed = {name: installed_version(name) for name in MIN_VERSIONS}
    assert all(installed.values()), installed
    assert too_old(installed) == {}
    assert check_versions() is None


def test_too_old_names_each_old_or_missing_package():
    assert too_old({"tensorflow": "2.21.0", "keras": "3.15.1"}) == {}
    assert too_old({"tensorflow": "2.16.2", "keras": "3.3.3"}) == {
        "tensorflow": "2.16.2",
        "keras": "3.3.3",
    }
    assert too_old({"tensorflow": "2.19.1", "keras": "3.10.0"}) == {"keras": "3.10.0"}
    assert too_old({"tensorflow": None, "keras": "3.15.1"}) == {"tensorflow": None}
    floor = MIN_VERSIONS["keras"]
    assert too_old({"tensorflow": "2.21.0", "keras": floor}) == {}


def test_the_message_says_what_is_installed_needed_and_how_to_fix_it():
    installed = {"tensorflow": "2.16.2", "keras": "3.3.3"}
    text = message(installed, too_old(installed))
    assert "tensorflow 2.16.2" in text and "keras 3.3.3" in text
    for name, floor in MIN_VERSIONS.items():
        assert f"{name} >= {floor}" in text
    assert re.search(r'pip install --upgrade "tensorflow>=[\d.]+,<3" "keras>=[\d.]+,<4"', text)
    assert "restart the kernel" in text


def test_an_old_stack_stops_with_the_message(monkeypatch):
    old = {"tensorflow": "2.16.2", "keras": "3.3.3"}
    monkeypatch.setattr(versions, "installed_version", old.get)
    with pytest.raises(UnsupportedVersionError, match=r"this book needs .*tensorflow 2\.16\.2"):
        check_versions()


def test_the_tested_versions_are_the_pins_of_requirements_txt(root):
    pins = {}
    for line in (root / "requirements.txt").read_text().splitlines():
        match = re.match(r"(tensorflow|tensorflow-cpu|keras)==([\w.]+)", line)
        if match:
            pins.setdefault(match[1].removesuffix("-cpu"), set()).add(match[2])
    assert pins == {name: {version} for name, version in TESTED_VERSIONS.items()}
    assert too_old(TESTED_VERSIONS) == {}


def _colab(monkeypatch, keras: str | None, tensorflow: str = "2.19.1", pip_works=True):
    """Pretend to be on Colab with these releases; returns the pip commands run.

    The stand-in pip "installs" the requested Keras when ``pip_works``.
    """
    state = {"keras": keras, "tensorflow": tensorflow}
    calls = []

    def fake_pip(command, check):
        assert not check  # the check reads the return code itself
        calls.append(command)
        if not pip_works:
            return subprocess.CompletedProcess(command, 1)
        state["keras"] = command[-1].removeprefix("keras==")
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(versions, "installed_version", state.get)
    monkeypatch.setattr(versions, "_on_colab", lambda: True)
    monkeypatch.setattr(versions.subprocess, "run", fake_pip)
    return calls


@pytest.mark.parametrize("colab_keras", ["3.10.0", "3.15.0", "3.16.2", None])
def test_on_colab_the_tested_keras_is_installed(monkeypatch, colab_keras):
    """Older (unsupported or not) or newer than the book's: Colab gets the tested release."""
    calls = _colab(monkeypatch, colab_keras)
    monkeypatch.delitem(sys.modules, "keras", raising=False)
    line = check_versions()
    tested = TESTED_VERSIONS["keras"]
    assert calls == [[sys.executable, "-m", "pip", "install", "--quiet", f"keras=={tested}"]]
    assert f"Keras {colab_keras or '(not installed)'} is not" in line
    assert f"installed Keras {tested}" in line and "no restart needed" in line


def test_on_colab_the_tested_keras_is_kept(monkeypatch):
    calls = _colab(monkeypatch, TESTED_VERSIONS["keras"])
    monkeypatch.delitem(sys.modules, "keras", raising=False)
    assert check_versions() is None
    assert calls == []


def test_on_colab_an_imported_supported_keras_stays(monkeypatch):
    """Installing over an imported Keras would need a restart: a supported one stays."""
    calls = _colab(monkeypatch, "3.16.2")
    monkeypatch.setitem(sys.modules, "keras", object())
    line = check_versions()
    assert calls == []
    assert "Keras 3.16.2 was imported" in line and TESTED_VERSIONS["keras"] in line


def test_on_colab_an_imported_keras_needs_a_restart(monkeypatch):
    calls = _colab(monkeypatch, "3.10.0")
    monkeypatch.setitem(sys.modules, "keras", object())
    with pytest.raises(UnsupportedVersionError, match="restart the runtime"):
        check_versions()
    assert calls  # installed, for after the restart


def test_on_colab_a_failed_install_keeps_a_supported_keras(monkeypatch):
    calls = _colab(monkeypatch, "3.16.2", pip_works=False)
    monkeypatch.delitem(sys.modules, "keras", raising=False)
    line = check_versions()
    assert calls and line.startswith("pip could not install") and "using Keras 3.16.2" in line


def test_on_colab_a_failed_install_of_a_too_old_keras_stops(monkeypatch):
    _colab(monkeypatch, "3.10.0", pip_works=False)
    monkeypatch.delitem(sys.modules, "keras", raising=False)
    with pytest.raises(UnsupportedVersionError, match="pip could not install.*this book needs"):
        check_versions()


def test_outside_colab_only_the_floors_count(monkeypatch):
    monkeypatch.setattr(
        versions, "installed_version", {"tensorflow": "2.19.0", "keras": "3.16.2"}.get
    )
    monkeypatch.setattr(versions, "_on_colab", lambda: False)

    def no_pip(*args, **kwargs):
        raise AssertionError("pip must not run outside Colab")

    monkeypatch.setattr(versions.subprocess, "run", no_pip)
    assert check_versions() is None


def test_on_colab_an_old_tensorflow_is_not_upgraded(monkeypatch):
    monkeypatch.setattr(
        versions, "installed_version", lambda name: "2.16.2" if name == "tensorflow" else "3.3.3"
    )
    monkeypatch.setattr(versions, "_on_colab", lambda: True)

    def no_pip(*args, **kwargs):
        raise AssertionError("pip must not run for TensorFlow")

    monkeypatch.setattr(versions.subprocess, "run", no_pip)
    with pytest.raises(UnsupportedVersionError, match="this book needs"):
        check_versions()


def test_the_readme_states_the_supported_range(root):
    readme = (root / "README.md").read_text()
    for name, floor in MIN_VERSIONS.items():
        label = {"tensorflow": "TensorFlow", "keras": "Keras"}[name]
        assert f"{label} {floor}" in readme, f"the README does not state {label} {floor}"
    assert "scripts/test-stack oldest" in readme
    assert book.ROOT == root


def test_the_check_can_be_skipped_to_try_an_older_release(monkeypatch):
    monkeypatch.setattr(
        versions, "installed_version", {"tensorflow": "2.16.2", "keras": "3.3.3"}.get
    )
    monkeypatch.setenv("BOOK_SKIP_VERSION_CHECK", "1")
    assert check_versions() is None
    monkeypatch.setenv("BOOK_SKIP_VERSION_CHECK", "0")
    with pytest.raises(UnsupportedVersionError):
        check_versions()
