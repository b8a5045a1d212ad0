"""Running code in a fresh Python process, as a new kernel would: shared by tests."""

from __future__ import annotations

import os
import subprocess
import sys


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
