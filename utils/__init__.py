"""Helpers shared by the chapters of *Custom Models and Training with TensorFlow*.

Importing this package does not import TensorFlow: call
:func:`setup_chapter` first, so that TensorFlow's log settings apply.
Each helper's docstring names the chapter that introduces it.
"""

from .data import (
    DATA_DIR_ENV,
    HousingDataUnavailable,
    HousingSplit,
    housing_split,
    load_california_housing,
)
from .plotting import PALETTE, use_book_style
from .setup import (
    PINNED_NUMERICS,
    environment_line,
    numerics_line,
    numerics_pinned,
    pin_numerics,
    quiet_tensorflow,
    set_seeds,
    setup_chapter,
)
from .timing import (
    PASS_SECONDS,
    PASSES,
    Timing,
    plot_throughput,
    resolved_ratio,
    settings_line,
    speed_table,
    time_it,
    verdict,
)

__all__ = [
    "DATA_DIR_ENV",
    "HousingDataUnavailable",
    "HousingSplit",
    "PALETTE",
    "PASSES",
    "PASS_SECONDS",
    "PINNED_NUMERICS",
    "Timing",
    "environment_line",
    "housing_split",
    "load_california_housing",
    "numerics_line",
    "numerics_pinned",
    "pin_numerics",
    "plot_throughput",
    "quiet_tensorflow",
    "resolved_ratio",
    "set_seeds",
    "settings_line",
    "setup_chapter",
    "speed_table",
    "time_it",
    "use_book_style",
    "verdict",
]
