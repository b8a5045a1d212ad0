"""Tests of utils.versions: the supported range and the early, clear stop."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from utils import book, versions
from utils.versions import (
    MIN_VERSIONS,
    UnsupportedVersionError,
    check_versions,
    installed_version,
    message,
    parse_version,
    too_old,
)


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


def test_on_colab_an_old_keras_is_upgraded(monkeypatch):
    state = {"keras": "3.10.0"}
    calls = []

    def fake_pip(command, check):
        calls.append(command)
        state["keras"] = "3.15.1"
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(
        versions,
        "installed_version",
        lambda name: "2.19.1" if name == "tensorflow" else state["keras"],
    )
    monkeypatch.setattr(versions, "_on_colab", lambda: True)
    monkeypatch.setattr(versions.subprocess, "run", fake_pip)
    monkeypatch.delitem(sys.modules, "keras", raising=False)
    line = check_versions()
    assert calls and calls[0][-1] == f"keras>={MIN_VERSIONS['keras']},<4"
    assert line.startswith("Keras 3.10.0 is older") and "3.15.1" in line
    assert "no restart needed" in line


def test_on_colab_an_imported_keras_needs_a_restart(monkeypatch):
    monkeypatch.setattr(
        versions, "installed_version", lambda name: "2.19.1" if name == "tensorflow" else "3.10.0"
    )
    monkeypatch.setattr(versions, "_on_colab", lambda: True)
    monkeypatch.setattr(
        versions.subprocess, "run", lambda command, check: subprocess.CompletedProcess(command, 0)
    )
    monkeypatch.setitem(sys.modules, "keras", object())
    with pytest.raises(UnsupportedVersionError, match="restart the runtime"):
        check_versions()


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
