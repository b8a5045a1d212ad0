"""Showing an error or warning that a lesson expects: the gist, checked.

Introduced in Chapter 2; used by Chapters 3, 4, 5, 6 and 7.

Many lessons are about an error: Keras refusing to load a file, a graph
refusing a Python ``if`` on a tensor. A cell that shows one must not fail, and
its output should be the point of the message, not a page of traceback whose
text (paths, object addresses) changes from run to run. :func:`expect_error`
runs the code, checks that the expected error is raised, and prints its type
and the first sentence of its message (or the part that a pattern picks)::

    with expect_error(TypeError, "Could not locate function '\\w+'"):
        keras.models.load_model(path)

It fails loudly, with an :class:`AssertionError` that says what it expected
and what happened, when the code raises nothing or a message that does not
match; an error of another type propagates unchanged. :func:`expect_warning`
does the same for a warning that the lesson is about.
"""

from __future__ import annotations

import contextlib
import re
import textwrap
import warnings

__all__ = ["ExpectedError", "expect_error", "expect_warning", "gist"]

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_SENTENCE_END = re.compile(r"(?<=[^.\s][.!?])\s+(?=\S)")


def _own_message(error: BaseException) -> str:
    """The error's message on one line: its own line if TensorFlow wrapped it.

    TensorFlow and Keras sometimes wrap a message in a report that repeats
    the error's name (``"... NameError: name 'x' is not defined ..."``); the
    line that starts with the name is the error's own. Object addresses are
    dropped and runs of white space become one space.
    """
    name = type(error).__name__
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return ""
    own = next((line[len(name) + 2 :] for line in lines if line.startswith(name + ": ")), None)
    text = own if own is not None else " ".join(lines)
    return " ".join(_ADDRESS.sub("", text).split())


def gist(
    error: BaseException, match: str | None = None, *, sentences: int = 1, whole: bool = False
) -> str:
    """``"TypeName: ..."``: the error's type and the gist of its message.

    The gist is the part that the regular expression ``match`` finds, or,
    without ``match``, the message's first ``sentences`` sentences; with
    ``whole=True``, the whole message as it is, lines included (for a
    message written to be read whole, such as the book's own
    ``GradientMismatch`` table).

    Raises:
        AssertionError: ``match`` is not found in the message.
        ValueError: ``sentences`` is not a positive int.
    """
    from .checks import check_int

    sentences = check_int("sentences", sentences, minimum=1)
    if whole:
        if match is not None:
            raise ValueError("give match or whole=True, not both")
        text = str(error).strip()
        return f"{type(error).__name__}: {text}" if text else type(error).__name__
    message = _own_message(error)
    if match is not None:
        found = re.search(match, message)
        if found is None:
            raise AssertionError(
                f"expected the {type(error).__name__}'s message to match {match!r}; "
                f"it says: {message!r}"
            )
        shown = found.group()
    else:
        shown = " ".join(_SENTENCE_END.split(message)[:sentences])
    return f"{type(error).__name__}: {shown}" if shown else type(error).__name__


class ExpectedError:
    """Context manager of :func:`expect_error`; ``.error`` and ``.text`` afterwards."""

    def __init__(self, kind, match=None, *, sentences=1, whole=False, width=76):
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not kinds or not all(
            isinstance(k, type) and issubclass(k, BaseException) for k in kinds
        ):
            raise ValueError(f"kind must be an exception class or a tuple of them, got {kind!r}")
        from .checks import check_int

        self.kind = kind
        self.match = match
        self.whole = bool(whole)
        if self.whole and match is not None:
            raise ValueError("give match or whole=True, not both")
        self.sentences = check_int("sentences", sentences, minimum=1)
        self.width = check_int("width", width, minimum=20)
        self.error: BaseException | None = None
        self.text: str | None = None

    def _name(self) -> str:
        kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
        return " or ".join(k.__name__ for k in kinds)

    def __enter__(self) -> ExpectedError:
        return self

    def __exit__(self, kind, error, traceback) -> bool:
        if kind is None:
            raise AssertionError(f"expected {self._name()}, but nothing was raised")
        if not issubclass(kind, self.kind):
            return False  # not the expected error: let it propagate
        self.error = error
        self.text = gist(error, self.match, sentences=self.sentences, whole=self.whole)
        if self.whole:
            print(self.text)
        else:
            print(textwrap.fill(self.text, self.width, break_long_words=False))
        return True


def expect_error(
    kind, match: str | None = None, *, sentences: int = 1, whole: bool = False, width: int = 76
):
    """Run a ``with`` block that must raise ``kind``; print the error's gist.

    ``kind`` is an exception class (or a tuple of them); an error of a
    subclass counts. What is printed is :func:`gist`: the type and the first
    ``sentences`` sentences of the message, or the part that the regular
    expression ``match`` finds, wrapped at ``width`` columns; or, with
    ``whole=True``, the type and the whole message, as it is.

    Raises:
        AssertionError: the block raised nothing, or ``match`` is not found.
        ValueError: ``kind``, ``sentences`` or ``width`` is not valid.
    """
    return ExpectedError(kind, match, sentences=sentences, whole=whole, width=width)


@contextlib.contextmanager
def expect_warning(kind, match: str | None = None, *, sentences: int = 1, width: int = 76):
    """Run a ``with`` block that must warn with ``kind``; print the warning's gist.

    Every warning of the block is recorded (none reaches the output). Those
    of category ``kind`` (or a subclass) whose message contains ``match`` (a
    regular expression) go to the ``with`` target, a list, and each distinct
    gist among them (see :func:`gist`) is printed once, in order, after
    ``warned:`` (without the category's name, which would read as log noise).

    Raises:
        AssertionError: no such warning.
        ValueError: ``kind`` is not a warning class, or bad ``sentences``/``width``.
    """
    from .checks import check_int

    if not (isinstance(kind, type) and issubclass(kind, Warning)):
        raise ValueError(f"kind must be a Warning class, got {kind!r}")
    sentences = check_int("sentences", sentences, minimum=1)
    width = check_int("width", width, minimum=20)
    found: list[Warning] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield found
    for record in caught:
        message = record.message
        if isinstance(message, kind) and (
            match is None or re.search(match, _own_message(message))
        ):
            found.append(message)
    if not found:
        seen = [f"{type(r.message).__name__}: {r.message}" for r in caught]
        wanted = kind.__name__ + (f" matching {match!r}" if match else "")
        raise AssertionError(f"expected a {wanted}; the warnings were: {seen}")
    shown = [gist(w, match, sentences=sentences) for w in found]
    for text in dict.fromkeys(t.split(": ", 1)[-1] for t in shown):  # once each
        print(textwrap.fill(f"warned: {text}", width, break_long_words=False))
