"""Running code in a fresh Python process, as a new kernel would: shared by tests."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from booktools.book import ROOT


def run_python(code: str, root, **env_changes) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh Python, without the TensorFlow settings of this process.

    Every ``TF_*``, ``ONEDNN*``, ``GLOG*``, ``GRPC*`` and ``BOOK_PIN*`` variable
    is dropped (so the pins come from the code run, or not at all), then
    ``env_changes`` are applied.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TF_", "GLOG", "GRPC", "ONEDNN", "BOOK_PIN"))
    }
    env.update(env_changes)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@contextlib.contextmanager
def scratch_folder(prefix: str):
    """A fresh folder under ``_build/`` (git-ignored), removed afterwards.

    Inside the repository, so that the root ``conftest.py`` applies to a
    pytest run on notebooks written there; one per run, so that concurrent
    test runs never share it.
    """
    (ROOT / "_build").mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=ROOT / "_build"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_pytest(*args: str) -> subprocess.CompletedProcess:
    """``pytest -v ARGS`` in a fresh process at the repository root (``pytest.ini`` applies)."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-v", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
