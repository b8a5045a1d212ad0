"""Tests of tfcustom.errors: a lesson's expected error, shown by its gist and checked."""

from __future__ import annotations

import pytest
from tfcustom.errors import expect_error, gist


def test_prints_the_type_and_first_sentence(capsys):
    with expect_error(ValueError) as caught:
        raise ValueError("File not found: x.keras. Please make sure it exists.")
    assert capsys.readouterr().out == "ValueError: File not found: x.keras.\n"
    assert isinstance(caught.error, ValueError)
    assert caught.text == "ValueError: File not found: x.keras."


def test_more_sentences_and_a_pattern(capsys):
    error = TypeError("One. Two? Three.")
    assert gist(error, sentences=2) == "TypeError: One. Two?"
    assert gist(error, sentences=9) == "TypeError: One. Two? Three."
    assert gist(error, r"T\w+") == "TypeError: Two"
    with expect_error(TypeError, r"class '\w+'"):
        raise TypeError("Could not locate class 'Residual'. Make sure ...")
    assert capsys.readouterr().out == "TypeError: class 'Residual'\n"


def test_a_subclass_counts_and_a_tuple_of_kinds(capsys):
    with expect_error(LookupError):
        {}["key"]
    with expect_error((ValueError, KeyError)):
        raise KeyError("k")
    assert capsys.readouterr().out == "KeyError: 'key'\nKeyError: 'k'\n"


def test_wrapped_messages_addresses_and_white_space():
    wrapped = NameError(
        "Exception encountered when calling Lambda.call().\n\n"
        "\x1b[1mname 'tf' is not defined\x1b[0m\n\n"
        "NameError: name 'tf' is not defined. Did you mean: 'tf2'?\n"
    )
    assert gist(wrapped) == "NameError: name 'tf' is not defined."
    spaced = RuntimeError("A  <Foo object at 0x7f00ab12cd>\n   failed. More")
    assert gist(spaced) == "RuntimeError: A <Foo object> failed."
    assert gist(RuntimeError("")) == "RuntimeError"
    assert gist(RuntimeError("e.g.. x")) == "RuntimeError: e.g.. x"


def test_wraps_long_gists(capsys):
    with expect_error(ValueError, width=20):
        raise ValueError("word " * 10)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) > 1 and all(len(line) <= 20 for line in lines)


def test_fails_when_nothing_is_raised():
    with pytest.raises(AssertionError, match="expected ValueError, but nothing was raised"):
        with expect_error(ValueError):
            pass


def test_fails_when_the_pattern_is_not_in_the_message():
    with pytest.raises(AssertionError, match=r"to match 'absent'; it says: 'present'"):
        with expect_error(ValueError, "absent"):
            raise ValueError("present")


def test_another_error_propagates_unchanged():
    with pytest.raises(KeyError, match="other"):
        with expect_error(ValueError):
            raise KeyError("other")


@pytest.mark.parametrize(
    "args, kwargs",
    [
        ((ValueError(),), {}),
        (("ValueError",), {}),
        ((int,), {}),
        (((),), {}),
        ((ValueError,), {"sentences": 0}),
        ((ValueError,), {"width": 5}),
    ],
)
def test_bad_arguments(args, kwargs):
    with pytest.raises(ValueError):
        expect_error(*args, **kwargs)


def test_expect_warning_prints_the_matching_one(capsys):
    import warnings

    from tfcustom.errors import expect_warning

    with expect_warning(UserWarning, r"does not \w+ masking") as found:
        warnings.warn("Other. Words.", DeprecationWarning, stacklevel=1)
        warnings.warn("Layer 'x' was given a mask. It does not support masking.", stacklevel=1)
    assert capsys.readouterr().out == "warned: does not support masking\n"
    assert len(found) == 1 and isinstance(found[0], UserWarning)
    with expect_warning(Warning, sentences=2) as found:
        for _ in range(2):
            warnings.warn("One. Two. Three.", stacklevel=1)
        warnings.warn("Four.", FutureWarning, stacklevel=1)
    assert capsys.readouterr().out == "warned: One. Two.\nwarned: Four.\n"
    assert len(found) == 3


def test_expect_warning_fails_without_one():
    import warnings

    from tfcustom.errors import expect_warning

    with pytest.raises(AssertionError, match=r"expected a UserWarning; the warnings were: \[\]"):
        with expect_warning(UserWarning):
            pass
    with pytest.raises(AssertionError, match="matching 'absent'.*DeprecationWarning: present"):
        with expect_warning(Warning, "absent"):
            warnings.warn("present", DeprecationWarning, stacklevel=1)
    with pytest.raises(ValueError, match="Warning class"):
        with expect_warning(ValueError):
            pass


def test_whole_messages_keep_their_lines(capsys):
    table = "2 entries differ:\n  at [0]: 1 vs 2\n  at [1]: 3 vs 4"
    with expect_error(ArithmeticError, whole=True) as caught:
        raise ArithmeticError(table + "\n")
    assert capsys.readouterr().out == f"ArithmeticError: {table}\n"
    assert caught.text == f"ArithmeticError: {table}"
    with pytest.raises(ValueError, match="not both"):
        expect_error(ValueError, "x", whole=True)
    with pytest.raises(ValueError, match="not both"):
        gist(ValueError("x"), "x", whole=True)
