"""What machine a chapter runs on: the CPU, its instruction sets, the library versions.

:func:`tfcustom.settings_line` prints :func:`describe_machine`'s CPU above
every speed table; the book's maintainer tools record the same description
for the machine that made the stored outputs, and compare it with others.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

# Instruction-set extensions that change which kernels oneDNN and XLA pick.
_ISA_FLAGS = (("amx_tile", "AMX"), ("avx512f", "AVX-512"), ("avx2", "AVX2"))


def cpu_info() -> tuple[str, str, set[str]]:
    """(model name, vendor id, flags) from /proc/cpuinfo, or what :mod:`platform` knows."""
    model, vendor, flags = platform.processor() or platform.machine(), "", set()
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return model, vendor, flags
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "model name" and value:
            model = value
        elif key == "vendor_id":
            vendor = value
        elif key == "flags":
            flags = set(value.split())
        if model and vendor and flags:
            break
    return model, vendor, flags


def isa_class(flags: set[str] | None = None) -> str:
    """The widest vector extensions TensorFlow could use here, e.g. ``"AVX-512, AMX"``."""
    if flags is None:
        flags = cpu_info()[2]
    found = [label for flag, label in _ISA_FLAGS if flag in flags]
    if "AVX-512" in found or "AMX" in found:
        found = [label for label in found if label != "AVX2"]
    return ", ".join(found) or platform.machine()


def describe_machine() -> dict[str, object]:
    """What this machine is, as far as the book's numbers are concerned."""
    import keras
    import tensorflow as tf

    from .setup import PINNED_NUMERICS, numerics_pinned

    model, vendor, flags = cpu_info()
    return {
        "cpu": model,
        "vendor": vendor or platform.machine(),
        "instruction_sets": isa_class(flags),
        "logical_cpus": os.cpu_count(),
        "os": f"{platform.system()} {platform.machine()}",
        "python": ".".join(map(str, sys.version_info[:3])),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numerics": dict(PINNED_NUMERICS) if numerics_pinned() else "TensorFlow's own choice",
    }
