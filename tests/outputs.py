"""How a fresh run's output is compared with a stored one in a ``platform-dependent`` cell.

nbval compares every stored output of every chapter with a fresh run, text
for text. Most cells print what no CPU can change (shapes, dtypes, exact
integers, messages). A few print numbers whose last bits move with the
processor: a trained loss, a score, a table of effects. The book tags those
cells ``platform-dependent`` (``conftest.py`` applies this module to them):

1. They are compared text for text first, like every other cell; on the
   reference machine, and on every machine that computes the same bits,
   that is all that happens.
2. Where the texts differ, they are compared **number by number**: the text
   around the numbers must be the same (runs of spaces may differ, since a
   table's columns widen with a digit or a sign), there must be as many
   numbers, and each fresh number must lie within the cell's *tolerance* of
   the stored one. The tolerance is counted in **units of the last printed
   digit** (of the coarser of the two numbers): ``0.034`` against ``0.035``
   is one unit (0.001) apart, ``1.5e-03`` against ``1.7e-03`` two (1e-04 each).
   The default is :data:`DEFAULT_UNITS`, the smallest tolerance that lets a
   value which moved by far less than a printed digit round the other way;
   a cell may state another in its metadata (``"tolerance": 3``).
3. A cell whose output *describes the machine* (the setup cell: versions,
   device, numerics) states ``"tolerance": "describes-machine"``: a
   difference there is reported, never a failure, because it is a fact
   about the machine, not about the book's code.

Every difference that was tolerated is listed at the end of the test run
(cell, stored, got), so nothing passes unseen.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

PLATFORM_TAG = "platform-dependent"
"""Cells whose printed numbers may move in their last digits with the platform."""

TOLERANCE_KEY = "tolerance"
"""The cell-metadata key that states a ``platform-dependent`` cell's tolerance."""

DEFAULT_UNITS = 1
"""Tolerance of a ``platform-dependent`` cell that states none: one unit of the last digit."""

DESCRIBES_MACHINE = "describes-machine"
"""The tolerance of a cell whose output describes the machine: differences are reported only."""

# A number standing on its own: not part of a name (float32, matmul_64x64,
# ckpt-1 keeps its 1 as a number, which is fine) nor of a version (2.21.0).
NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w.])")
_SPACES = re.compile(r"[ \t]+")


def cell_tolerance(metadata: dict) -> float | str:
    """The tolerance a cell states (units of the last digit, or :data:`DESCRIBES_MACHINE`).

    Raises:
        ValueError: the stated tolerance is neither a positive number nor
            :data:`DESCRIBES_MACHINE`, or the cell is not tagged
            ``platform-dependent``.
    """
    value = metadata.get(TOLERANCE_KEY, DEFAULT_UNITS)
    if TOLERANCE_KEY in metadata and PLATFORM_TAG not in metadata.get("tags", []):
        raise ValueError(
            f"a cell states a tolerance ({value!r}) but is not tagged {PLATFORM_TAG}: "
            "only platform-dependent cells are compared within a tolerance"
        )
    if value == DESCRIBES_MACHINE:
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(
            f"a cell's tolerance must be a positive number of last-digit units or "
            f"{DESCRIBES_MACHINE!r}, got {value!r}"
        )
    return float(value)


def last_digit_unit(token: str) -> float:
    """The value of one unit in the last printed digit: ``"0.034"`` -> 0.001."""
    mantissa, _, exponent = token.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (int(exponent or 0) - decimals)


@dataclass
class Difference:
    """One number that differs: stored and fresh text, and the tolerance it was held to."""

    stored: str
    got: str
    allowed: float

    @property
    def within(self) -> bool:
        return abs(float(self.got) - float(self.stored)) <= self.allowed * (1 + 1e-9)

    def __str__(self) -> str:
        return f"{self.stored} -> {self.got} (allowed ±{self.allowed:.3g})"


@dataclass
class Verdict:
    """The outcome of comparing one stored output text with a fresh one."""

    ok: bool
    differences: list[Difference] = field(default_factory=list)
    reason: str = ""


def compare_text(stored: str, got: str, tolerance: float | str) -> Verdict:
    """Compare two output texts number by number (see the module's docstring).

    Returns a :class:`Verdict`: ``ok`` when the texts are equal or every
    difference is tolerated; ``differences`` lists the numbers that differ
    (for a cell that describes the machine: the whole texts, as one entry);
    ``reason`` says why a comparison failed.
    """
    if stored == got:
        return Verdict(ok=True)
    if tolerance == DESCRIBES_MACHINE:
        return Verdict(ok=True, differences=[Difference(stored, got, math.inf)])
    stored_text, stored_numbers = _split(stored)
    got_text, got_numbers = _split(got)
    if stored_text != got_text:
        return Verdict(ok=False, reason="the text around the numbers differs")
    if len(stored_numbers) != len(got_numbers):  # pragma: no cover - implied by the text
        return Verdict(ok=False, reason="another count of numbers")
    differences = [
        Difference(a, b, tolerance * max(last_digit_unit(a), last_digit_unit(b)))
        for a, b in zip(stored_numbers, got_numbers, strict=True)
        if a != b
    ]
    beyond = [d for d in differences if not d.within]
    if beyond:
        units = f"{tolerance:g} unit{'s' if tolerance != 1 else ''} of the last digit"
        return Verdict(
            ok=False,
            differences=differences,
            reason=f"beyond the cell's tolerance ({units}): "
            + ", ".join(str(d) for d in beyond[:5]),
        )
    return Verdict(ok=True, differences=differences)


def _split(text: str) -> tuple[list[str], list[str]]:
    """The text between the numbers (spaces collapsed) and the numbers, in order."""
    pieces = NUMBER.split(text)
    return [_SPACES.sub(" ", piece) for piece in pieces], NUMBER.findall(text)


def flatten(outputs, skip: tuple[str, ...], sanitize) -> dict[str, list]:
    """Output values by key, as nbval compares them (stream name or MIME type -> texts)."""
    flat: dict[str, list] = {}
    for output in outputs:
        for key, value in output.items():
            if key in skip:
                continue
            if key == "data":
                for mime, data in value.items():
                    if mime not in skip:
                        flat.setdefault(mime, []).append(sanitize(data))
            else:
                flat.setdefault(key, []).append(sanitize(value))
    return flat


def compare_outputs(stored: dict[str, list], got: dict[str, list], tolerance) -> Verdict:
    """Compare flattened outputs (see :func:`flatten`) within ``tolerance``."""
    if stored.keys() != got.keys():
        return Verdict(ok=False, reason=f"other outputs: {sorted(stored)} vs {sorted(got)}")
    differences: list[Difference] = []
    for key, stored_values in stored.items():
        if len(stored_values) != len(got[key]):
            return Verdict(ok=False, reason=f"another number of {key!r} outputs")
        for a, b in zip(stored_values, got[key], strict=True):
            if not (isinstance(a, str) and isinstance(b, str)):
                if a != b:
                    return Verdict(ok=False, reason=f"a {key!r} output differs")
                continue
            verdict = compare_text(a, b, tolerance)
            if not verdict.ok:
                return verdict
            differences += verdict.differences
    return Verdict(ok=True, differences=differences)
