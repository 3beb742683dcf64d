"""argparse types built on the library's checks (:mod:`kernelnorm._errors`, :mod:`kernelnorm.io`).

One definition serves the CLI (re-exported by ``kernelnorm.cli._common``) and the scripts
(re-exported by :mod:`kernelnorm.io`). A refused value is an ``ArgumentTypeError`` whose message
argparse prefixes with the flag the user typed: ``argument --depth: must be >= 1, got '0'``.
"""

from __future__ import annotations

import argparse
import math

from kernelnorm._errors import (
    MAX_SEED,
    KernelnormInputError,
    check_correlation,
    check_number,
)

#: Largest count any size argument takes: XLA indexes arrays with 32-bit integers. The real
#: limit of a request is what its arrays need (``kernelnorm._resources``).
MAX_COUNT = 2**31 - 1
#: Largest variance-like argument: kernels multiply two variances, and q^2 must stay finite
#: (float64 overflows at 1.8e308).
MAX_VARIANCE = 1e150


def _typed(name: str, check):
    """An argparse type calling ``check(text)``; its ``KernelnormInputError`` becomes argparse's
    one-line error (the flag is added by argparse)."""
    def parse(text: str):
        try:
            return check(text)
        except KernelnormInputError as err:
            raise argparse.ArgumentTypeError(err.message) from None

    parse.__name__ = name
    return parse


def _to_int(text: str) -> int:
    """``"12"``, ``"1_000"`` or ``"1e6"`` (an integral float below 2**53) as an int."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise KernelnormInputError("", f"expected an integer, got {text!r}") from None
    if not (math.isfinite(value) and value.is_integer() and abs(value) < 2**53):
        raise KernelnormInputError("", f"expected an integer, got {text!r}")
    return int(value)


def _to_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise KernelnormInputError("", f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise KernelnormInputError("", f"must be finite, got {text!r}")
    return value


def integer(low: int | None = 1, high: int | None = MAX_COUNT, *, name: str = "integer"):
    """An integer in ``[low, high]``."""
    return _typed(name, lambda text: check_number("", _to_int(text), low=low, high=high, integer=True))


def number(low: float | None = None, high: float | None = None, *, open_low: bool = False,
           open_high: bool = False, name: str = "number", note: str = ""):
    """A finite number in ``[low, high]`` (open ends on request); ``note`` explains why a value
    above ``high`` is refused."""
    def check(text: str) -> float:
        value = _to_float(text)
        try:
            return check_number("", value, low=low, high=high, open_low=open_low, open_high=open_high)
        except KernelnormInputError as err:
            if note and high is not None and value >= high:
                raise KernelnormInputError("", err.message + note) from None
            raise

    return _typed(name, check)


positive_int = integer(1, name="positive_int")
seed = integer(0, MAX_SEED, name="seed")
finite_float = number(name="finite_float")
positive_float = number(0.0, open_low=True, name="positive_float")
nonnegative_float = number(0.0, name="nonnegative_float")
#: A variance (sigma_w^2, sigma_b^2): finite, >= 0, at most :data:`MAX_VARIANCE`.
_SQUARED = " (the kernels multiply two variances, which must stay finite)"
variance = number(0.0, MAX_VARIANCE, name="variance", note=_SQUARED)
positive_variance = number(0.0, MAX_VARIANCE, open_low=True, name="positive_variance", note=_SQUARED)
#: A scale whose square is a variance (sigma_w).
positive_scale = number(0.0, math.sqrt(MAX_VARIANCE), open_low=True, name="positive_scale",
                        note=_SQUARED)
#: A confidence level or any other probability strictly between 0 and 1.
level = number(0.0, 1.0, open_low=True, open_high=True, name="level")
correlation = _typed("correlation", lambda text: float(check_correlation("", _to_float(text))))


def _width(text: str):
    if text.strip().lower() in ("inf", "infinity"):
        return math.inf
    try:
        return check_number("", _to_int(text), low=2, high=MAX_COUNT, integer=True)
    except KernelnormInputError as err:
        raise KernelnormInputError("", f"{err.message} (an integer >= 2, or 'inf')") from None


#: A layer width: an integer >= 2, or ``inf`` for the wide limit.
width = _typed("width", _width)


def int_list(low: int = 1, high: int = MAX_COUNT, *, max_count: int = 10_000, name: str = "int_list"):
    """``10,20,50`` or ``start:stop:step`` (inclusive stop): at most ``max_count`` integers in
    ``[low, high]``, counted before any list is built."""
    def parse(text: str) -> list[int]:
        parts = text.split(":")
        if len(parts) == 3:
            start, stop, step = (_to_int(p) for p in parts)
            if step < 1:
                raise KernelnormInputError("", f"step must be >= 1, got {text!r}")
            values = range(start, stop + 1, step)
        elif len(parts) == 1:
            values = [_to_int(p) for p in text.split(",") if p.strip()]
        else:
            raise KernelnormInputError("", f"expected 10,20,50 or start:stop:step, got {text!r}")
        if len(values) == 0:
            raise KernelnormInputError("", f"names no value: {text!r}")
        if len(values) > max_count:
            raise KernelnormInputError("", f"names {len(values)} values, more than {max_count}")
        if min(values) < low or max(values) > high:
            raise KernelnormInputError("", f"values must lie in [{low}, {high}], got {text!r}")
        return list(values)

    return _typed(name, parse)


def output_file(suffixes=None, *, name: str = "output_file"):
    """A path the command may write: a regular file or a new path in a writable folder (see
    :func:`kernelnorm.io.check_output_path`); ``suffixes`` restricts the extension (``"image"``:
    the formats matplotlib writes)."""
    def check(text: str) -> str:
        from kernelnorm.io import check_output_path

        return check_output_path(text, "", suffixes=suffixes)

    parse = _typed(name, check)
    parse.output = True  # kernelnorm.io.ArgumentParser records which flag names the path
    return parse


#: Where a figure goes: an output file with an extension matplotlib writes (none: PNG).
image_file = output_file("image", name="image_file")
