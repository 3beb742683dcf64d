"""User-facing errors and the argument checks every entry point shares (API, CLI, scripts).

Every bad input names the argument it came from: the CLI flag when the value can come from the
command line (``--depth``), else the Python parameter (``pairs``). A :class:`KernelnormInputError`
is a ``ValueError`` (wrong value or range); a :class:`KernelnormTypeError` is also a
``TypeError`` (wrong kind of object). The CLI and the scripts turn both into one line on stderr
and exit code 2 (``kernelnorm._guard``).
"""

from __future__ import annotations

import math
import operator
from numbers import Real

import numpy as np

#: Seeds are 32-bit unsigned integers: every generator here (numpy, JAX keys) takes them.
MAX_SEED = 2**32 - 1


class KernelnormInputError(ValueError):
    """A bad argument. ``str(err)`` is one line: ``argument NAME: what is wrong``."""

    def __init__(self, argument: str, message: str):
        self.argument = argument
        self.message = message
        super().__init__(f"argument {argument}: {message}")

    def renamed(self, argument: str) -> "KernelnormInputError":
        """The same error naming ``argument`` (a script's flag for a library parameter)."""
        return type(self)(argument, self.message)


class KernelnormTypeError(KernelnormInputError, TypeError):
    """An argument of the wrong kind (a string where a scheme object is needed, ...)."""


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_finite(argument: str, value) -> np.ndarray:
    """Return ``value`` as a float64 array, raising if any entry is NaN or infinite."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise KernelnormInputError(argument, f"expected a number, got {_shown(value)}") from exc
    if not np.all(np.isfinite(array)):
        raise KernelnormInputError(argument, f"must be finite, got {_shown(value)}")
    return array


def check_number(argument: str, value, *, low=None, high=None, integer: bool = False,
                 open_low: bool = False, open_high: bool = False):
    """A finite real scalar (an ``int`` when ``integer``) in ``[low, high]`` (open ends when
    asked). Booleans, strings, NaN and infinities are refused. Returns ``float`` or ``int``."""
    if hasattr(value, "__array__") and not isinstance(value, (Real, np.number)):
        array = np.asarray(value)  # a 0-d numpy/JAX array holding one number
        if array.ndim == 0 and array.dtype.kind in "iuf":
            value = array.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (Real, np.number)):
        kind = "an integer" if integer else "a number"
        raise KernelnormTypeError(argument, f"expected {kind}, got {_shown(value)}")
    if integer:
        try:
            number = operator.index(value)
        except TypeError:
            if not (isinstance(value, Real) and math.isfinite(value) and float(value).is_integer()):
                raise KernelnormInputError(argument, f"must be an integer, got {_shown(value)}") from None
            number = int(value)
    else:
        number = float(value)
        if not math.isfinite(number):
            raise KernelnormInputError(argument, f"must be finite, got {_shown(value)}")
    if low is not None and (number <= low if open_low else number < low):
        raise KernelnormInputError(argument, f"must be {'>' if open_low else '>='} {low}, got {_shown(value)}")
    if high is not None and (number >= high if open_high else number > high):
        raise KernelnormInputError(argument, f"must be {'<' if open_high else '<='} {high}, got {_shown(value)}")
    return number


def check_int(argument: str, value, *, low: int | None = 1, high: int | None = None) -> int:
    """An integer in ``[low, high]`` (default ``>= 1``: sizes, depths, counts)."""
    return check_number(argument, value, low=low, high=high, integer=True)


def check_seed(argument: str, value) -> int:
    """A seed: an integer in ``[0, 2**32 - 1]`` (what numpy and JAX both take)."""
    return check_int(argument, value, low=0, high=MAX_SEED)


def check_fraction(argument: str, value, *, open_low: bool = True, open_high: bool = True) -> float:
    """A number in ``(0, 1)`` (ends included on request): confidence levels, test fractions."""
    return check_number(argument, value, low=0.0, high=1.0, open_low=open_low, open_high=open_high)


def check_positive(argument: str, value: Real) -> float:
    """A finite scalar > 0."""
    return check_number(argument, value, low=0.0, open_low=True)


def check_nonnegative(argument: str, value: Real) -> float:
    """A finite scalar >= 0."""
    return check_number(argument, value, low=0.0)


def check_correlation(argument: str, value) -> np.ndarray:
    """Correlations must lie in [-1, 1] (NaN rejected)."""
    rho = check_finite(argument, value)
    if np.any(np.abs(rho) > 1.0):
        raise KernelnormInputError(argument, f"must lie in [-1, 1], got {_shown(value)}")
    return rho


def check_width(argument: str, value, *, minimum: int = 2) -> int | float:
    """A layer width: an integer >= ``minimum``, or ``math.inf`` for the wide limit."""
    if value is None or (isinstance(value, float) and math.isinf(value) and value > 0):
        return math.inf
    return check_int(argument, value, low=minimum)


def check_choice(argument: str, value, choices) -> str:
    """One of ``choices`` (strings)."""
    if not isinstance(value, str) or value not in choices:
        raise KernelnormInputError(argument, f"choose from {', '.join(choices)}, got {_shown(value)}")
    return value


def check_index_pairs(argument: str, pairs, count: int) -> np.ndarray:
    """Index pairs into ``count`` rows: an integer ``(P, 2)`` array with entries in
    ``[0, count)`` (negative or too large indices are errors, never wrapped or clipped)."""
    try:
        array = np.asarray(pairs)
    except (TypeError, ValueError):
        raise KernelnormTypeError(argument, f"expected (P, 2) integer index pairs, got {_shown(pairs)}") from None
    if array.size == 0:
        array = array.reshape(0, 2)
    if array.ndim != 2 or array.shape[1] != 2 or array.shape[0] == 0:
        raise KernelnormInputError(argument, f"expected a non-empty (P, 2) array of index pairs, "
                                             f"got shape {array.shape}")
    if array.dtype.kind not in "iu":
        raise KernelnormTypeError(argument, f"indices must be integers, got dtype {array.dtype}")
    bad = (array < 0) | (array >= count)
    if np.any(bad):
        index = int(array[bad][0])
        raise KernelnormInputError(argument, f"index {index} is out of range for {count} inputs "
                                             f"(valid: 0..{count - 1})")
    return array.astype(np.int64)


def check_block(argument: str, scheme):
    """A :class:`kernelnorm.DenseBlock` (what the analytic core, the NTK and the Monte-Carlo
    engines take); a scheme name gets a hint to build one with :func:`kernelnorm.dense`."""
    from kernelnorm._schemes import DenseBlock

    if isinstance(scheme, DenseBlock):
        return scheme
    hint = " (build one with kernelnorm.dense, e.g. kernelnorm.dense('plain', 'relu'))"
    raise KernelnormTypeError(argument, f"expected a kernelnorm.DenseBlock, got "
                                        f"{type(scheme).__name__} {_shown(scheme)}{hint}")


class KernelnormNumericalError(ArithmeticError):
    """An internal numerical failure: a result that came out NaN or infinite where the theory
    says it is finite. The CLI and the scripts report it on one line with exit code 1."""


def check_finite_result(what: str, value) -> None:
    """Raise :class:`KernelnormNumericalError` if any number in ``value`` (a number, array, or
    nested dicts/lists of them) is NaN. NaN is never an answer; ``inf`` can be (the ``kappa`` of
    a singular NTK, the depth scale at criticality), so engines that can overflow check their
    own magnitudes."""
    bad = _first_nan(value, what)
    if bad is not None:
        raise KernelnormNumericalError(f"{bad} came out NaN: the computation lost all precision")


def _first_nan(value, path: str):
    if isinstance(value, dict):
        for key, item in value.items():
            found = _first_nan(item, f"{path}[{key!r}]" if path else str(key))
            if found is not None:
                return found
        return None
    if isinstance(value, (list, tuple)):
        for item in value:
            found = _first_nan(item, path)
            if found is not None:
                return found
        return None
    if isinstance(value, (float, np.floating)) or (hasattr(value, "dtype") and hasattr(value, "shape")):
        array = np.asarray(value)
        if array.dtype.kind in "fc" and np.isnan(array).any():
            return path or "the result"
    return None


def check_labels(argument: str, labels, n_classes: int) -> np.ndarray:
    """Class labels: integers in ``[0, n_classes)`` (an out-of-range label would be gathered as
    NaN by JAX and a run would look diverged)."""
    labels = np.asarray(labels)
    if labels.size == 0:
        return labels.astype(np.int64)
    if labels.dtype.kind not in "iu":
        raise KernelnormTypeError(argument, f"labels must be integers, got dtype {labels.dtype}")
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= n_classes:
        bad = low if low < 0 else high
        raise KernelnormInputError(argument, f"label {bad} is outside 0..{n_classes - 1} "
                                             f"(the network has {n_classes} classes)")
    return labels.astype(np.int64)


def check_training_data(network, x, y, x_test, y_test) -> None:
    """Training arrays for ``network``: finite inputs, as many labels as inputs, labels in range."""
    for name, inputs, labels in (("x", x, y), ("x_test", x_test, y_test)):
        inputs = np.asarray(inputs)
        if len(inputs) != len(labels):
            raise KernelnormInputError("--data", f"{name} has {len(inputs)} rows but {len(labels)} labels")
        if inputs.dtype.kind not in "biuf":
            raise KernelnormTypeError("--data", f"{name} must be real numbers, got dtype {inputs.dtype}")
        if inputs.size and not np.all(np.isfinite(inputs)):
            raise KernelnormInputError("--data", f"{name} contains NaN or inf")
        check_labels("--data", labels, network.n_classes)
    if len(x) == 0:
        raise KernelnormInputError("--data", "there are no training inputs")


class renamed_arguments:  # noqa: N801 (used as a context manager, reads like one)
    """Within the block, a :class:`KernelnormInputError` naming a library argument names the
    caller's flag instead: ``with renamed_arguments({"--depth": "--power-depth"}): ...``."""

    def __init__(self, mapping: dict):
        self.mapping = dict(mapping)

    def __enter__(self):
        return self

    def __exit__(self, kind, err, traceback):
        if isinstance(err, KernelnormInputError) and err.argument in self.mapping:
            raise err.renamed(self.mapping[err.argument]) from None
        return False
