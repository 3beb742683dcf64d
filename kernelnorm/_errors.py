"""User-facing errors: every bad input names the argument it came from."""

from __future__ import annotations

import math
from numbers import Real

import numpy as np


class KernelnormInputError(ValueError):
    """A bad argument. ``str(err)`` is one line: ``argument NAME: what is wrong``."""

    def __init__(self, argument: str, message: str):
        self.argument = argument
        super().__init__(f"argument {argument}: {message}")


def check_finite(argument: str, value) -> np.ndarray:
    """Return ``value`` as a float64 array, raising if any entry is NaN or infinite."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise KernelnormInputError(argument, f"expected a number, got {value!r}") from exc
    if not np.all(np.isfinite(array)):
        raise KernelnormInputError(argument, f"must be finite, got {value!r}")
    return array


def check_positive(argument: str, value: Real) -> float:
    """A finite scalar > 0."""
    number = float(check_finite(argument, value))
    if number <= 0:
        raise KernelnormInputError(argument, f"must be > 0, got {value!r}")
    return number


def check_nonnegative(argument: str, value: Real) -> float:
    """A finite scalar >= 0."""
    number = float(check_finite(argument, value))
    if number < 0:
        raise KernelnormInputError(argument, f"must be >= 0, got {value!r}")
    return number


def check_correlation(argument: str, value) -> np.ndarray:
    """Correlations must lie in [-1, 1] (NaN rejected)."""
    rho = check_finite(argument, value)
    if np.any(np.abs(rho) > 1.0):
        raise KernelnormInputError(argument, f"must lie in [-1, 1], got {value!r}")
    return rho


def check_width(argument: str, value, *, minimum: int = 2) -> int | float:
    """A layer width: an integer >= ``minimum``, or ``math.inf`` for the wide limit."""
    if value is None or (isinstance(value, float) and math.isinf(value) and value > 0):
        return math.inf
    if isinstance(value, bool) or not float(check_finite(argument, value)).is_integer():
        raise KernelnormInputError(argument, f"must be an integer width, got {value!r}")
    width = int(value)
    if width < minimum:
        raise KernelnormInputError(argument, f"must be >= {minimum}, got {value!r}")
    return width
