"""Which TensorFlow and Keras releases the book supports, and a check that stops early.

The chapters use Keras 3 APIs that older releases lack or implement
differently (see the README's table of tested combinations). Rather than
letting a chapter fail halfway with an obscure ``TypeError``, the setup cell
checks the installed releases first and stops with one message that says
what is installed, what is needed and how to get it. On Google Colab, where
TensorFlow comes preinstalled, it upgrades Keras by itself when only Keras
is too old.

Introduced in Chapter 1 (the setup cell); the README lists the tested
combinations.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys

MIN_VERSIONS = {"tensorflow": "2.19", "keras": "3.15"}
"""The oldest releases the book is tested on (``scripts/test-stack oldest``)."""

SKIP_SWITCH = "BOOK_SKIP_VERSION_CHECK"
"""Set to ``1`` to run on releases below the range anyway (to try one out)."""


class UnsupportedVersionError(RuntimeError):
    """The installed TensorFlow or Keras is older than the book supports."""


def parse_version(text: str) -> tuple[int, ...]:
    """The leading numeric parts of a version string: ``"2.19.1rc0"`` -> ``(2, 19, 1)``.

    Raises:
        ValueError: the string does not start with a number.
    """
    parts = []
    for piece in str(text).split("."):
        match = re.match(r"\d+", piece)
        if not match:
            break
        parts.append(int(match.group()))
        if match.end() != len(piece):  # "1rc0": the number ends inside this piece
            break
    if not parts:
        raise ValueError(f"not a version: {text!r}")
    return tuple(parts)


def installed_version(package: str) -> str | None:
    """The installed release of ``tensorflow`` or ``keras``, without importing it.

    TensorFlow ships under several distribution names (``tensorflow``,
    ``tensorflow-cpu``, ``tensorflow-macos``, ...): any distribution that
    provides the importable package counts. Returns ``None`` if none does.
    """
    module = sys.modules.get(package)
    if module is not None and hasattr(module, "__version__"):
        return str(module.__version__)
    names = importlib.metadata.packages_distributions().get(package, [])
    for name in [package, *names]:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def too_old(
    installed: dict[str, str | None], minimum: dict[str, str] = MIN_VERSIONS
) -> dict[str, str | None]:
    """The packages of ``installed`` that are missing or older than ``minimum``."""
    return {
        name: installed.get(name)
        for name, floor in minimum.items()
        if installed.get(name) is None or parse_version(installed[name]) < parse_version(floor)
    }


def requirements(names) -> list[str]:
    """pip requirements for supported releases: ``["keras>=3.15,<4"]``."""
    return [
        f"{name}>={MIN_VERSIONS[name]},<{parse_version(MIN_VERSIONS[name])[0] + 1}"
        for name in names
    ]


def upgrade_command(old: dict[str, str | None]) -> str:
    """The pip command that installs supported releases of ``old``'s packages."""
    return "pip install --upgrade " + " ".join(f'"{spec}"' for spec in requirements(old))


def message(installed: dict[str, str | None], old: dict[str, str | None]) -> str:
    """The one message the setup cell stops with."""
    have = ", ".join(f"{name} {installed.get(name) or '(not installed)'}" for name in MIN_VERSIONS)
    need = ", ".join(f"{name} >= {floor}" for name, floor in MIN_VERSIONS.items())
    return (
        f"this book needs {need}; this environment has {have}. Upgrade with\n"
        f"    {upgrade_command(old)}\n"
        "then restart the kernel and run this cell again."
    )


def _on_colab() -> bool:
    return "google.colab" in sys.modules


def check_versions(*, upgrade_on_colab: bool = True) -> str | None:
    """Stop early on unsupported TensorFlow or Keras releases.

    Returns a line to print when it upgraded Keras (on Colab), else ``None``.

    On Colab, when TensorFlow is recent enough but Keras is not, Keras is
    upgraded with pip: Keras is pure Python and installs in seconds. If
    Keras was already imported in this runtime, the new release takes effect
    only after a restart, and the check says so and stops.

    Set ``BOOK_SKIP_VERSION_CHECK=1`` to skip the check (to try a release
    below the range, as ``scripts/test-stack`` does for a maintainer).

    Raises:
        UnsupportedVersionError: a release is too old (after the upgrade
            attempt on Colab), or Colab needs a restart.

    Introduced in Chapter 1.
    """
    if os.environ.get(SKIP_SWITCH) == "1":
        return None
    installed = {name: installed_version(name) for name in MIN_VERSIONS}
    old = too_old(installed)
    if not old:
        return None
    if not (upgrade_on_colab and _on_colab() and list(old) == ["keras"]):
        raise UnsupportedVersionError(message(installed, old))
    keras_was_imported = "keras" in sys.modules
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", *requirements(old)], check=True
    )
    importlib.invalidate_caches()
    new = installed_version("keras") if not keras_was_imported else None
    if keras_was_imported or new is None or too_old({**installed, "keras": new}):
        raise UnsupportedVersionError(
            f"upgraded Keras from {installed['keras']} for this runtime; Keras was already "
            "imported, so restart the runtime (Runtime > Restart session) and run this cell "
            "again."
        )
    return (
        f"Keras {installed['keras']} is older than this book supports: upgraded it to "
        f"{new} for this runtime (no restart needed: Keras had not been imported yet)."
    )
