"""Which TensorFlow and Keras releases the book supports, and a check that stops early.

The chapters use Keras 3 APIs that older releases lack or implement
differently (see the README's table of tested combinations). Rather than
letting a chapter fail halfway with an obscure ``TypeError``, the setup cell
checks the installed releases first and stops with one message that says
what is installed, what is needed and how to get it. On Google Colab, where
TensorFlow comes preinstalled, it also installs the Keras release the book's
outputs were produced with (:data:`TESTED_VERSIONS`, the pin of
``requirements.txt``) in place of whichever Keras Colab ships, older or
newer; elsewhere only the floors of :data:`MIN_VERSIONS` are enforced.

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

TESTED_VERSIONS = {"tensorflow": "2.21.0", "keras": "3.15.1"}
"""The releases that produced the stored outputs: ``requirements.txt``'s pins.

On Colab, :func:`check_versions` installs this Keras (TensorFlow stays as
Colab ships it: it is large, and installing it needs a restart).
"""

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
    """Stop early on unsupported TensorFlow or Keras releases; on Colab, install the tested Keras.

    Returns a line to print when it changed or could not change Keras (on
    Colab), else ``None``.

    Outside Colab only the floors of :data:`MIN_VERSIONS` are enforced:
    any newer release is used as it is. On Colab, when TensorFlow is recent
    enough and the installed Keras is not the tested release
    (:data:`TESTED_VERSIONS`), that release is installed with pip, older or
    newer: Keras is pure Python and installs in seconds, and the chapter
    then runs the Keras its outputs came from. That happens only while
    Keras has not been imported in this runtime; if it has, a supported
    release stays (the returned line says so), and one that is too old is
    replaced but takes effect only after a restart, so the check says so
    and stops. Should pip fail, a supported Keras stays, with a line.

    Set ``BOOK_SKIP_VERSION_CHECK=1`` to skip the check (to try a release
    below the range, as ``scripts/test-stack`` does for a maintainer).

    Raises:
        UnsupportedVersionError: a release is too old (TensorFlow on Colab
            too, since it is not installed here; Keras after a failed
            install), or Colab needs a restart.

    Introduced in Chapter 1.
    """
    if os.environ.get(SKIP_SWITCH) == "1":
        return None
    installed = {name: installed_version(name) for name in MIN_VERSIONS}
    old = too_old(installed)
    if upgrade_on_colab and _on_colab() and "tensorflow" not in old:
        return _tested_keras_on_colab(installed, old)
    if old:
        raise UnsupportedVersionError(message(installed, old))
    return None


def _tested_keras_on_colab(
    installed: dict[str, str | None], old: dict[str, str | None]
) -> str | None:
    """Install the tested Keras on Colab if it is not the one installed (see check_versions)."""
    tested, have = TESTED_VERSIONS["keras"], installed["keras"]
    if have == tested:
        return None
    was_imported = "keras" in sys.modules
    if was_imported and not old:
        return (
            f"Keras {have} was imported before this cell ran, so it stays for this runtime; "
            f"the book's outputs come from Keras {tested} (restart the runtime and run this "
            "cell first to get it)."
        )
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", f"keras=={tested}"], check=False
    )
    importlib.invalidate_caches()
    done = pip.returncode == 0 and (was_imported or installed_version("keras") == tested)
    if not done:
        if old:
            raise UnsupportedVersionError(
                f"pip could not install Keras {tested}; " + message(installed, old)
            )
        return (
            f"pip could not install Keras {tested}, the release of the book's outputs: "
            f"using Keras {have}, which the book supports (an output may differ slightly)."
        )
    if was_imported:
        raise UnsupportedVersionError(
            f"installed Keras {tested} in place of {have} for this runtime; Keras was already "
            "imported, so restart the runtime (Runtime > Restart session) and run this cell "
            "again."
        )
    return (
        f"Colab's Keras {have or '(not installed)'} is not the release of the book's "
        f"outputs: installed Keras {tested} for this runtime (no restart needed: Keras had "
        "not been imported yet)."
    )
