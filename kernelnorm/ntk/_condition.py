"""NTK Gram matrices on data sets, their condition numbers, and the phase of a scheme.

The trainability criterion (Xiao, Pennington & Schoenholz 2019; MimicNorm Theorem 1) is the
condition number ``kappa = lambda_max / lambda_min`` of the NTK Gram matrix ``Theta_L`` on the
training inputs: ordered phase (``chi_1 < 1``) ``kappa -> inf`` with depth, critical line
(``chi_1 = 1``) ``kappa ~ m``, chaotic phase (``chi_1 > 1``) ``kappa -> 1``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from kernelnorm._costs import check_ntk_request
from kernelnorm._errors import KernelnormInputError, check_block
from kernelnorm._transition import chi_1, phase
from kernelnorm.ntk._grid import (
    DEFAULT_RTOL,
    equal_norms,
    evaluate_on_gram,
    gram_angles,
    grid_kernels,
    padded_range,
)
from kernelnorm.ntk._recursion import check_depth, exact_gram_kernels, input_gram_error

METHODS = ("auto", "grid", "exact")


#: Past this relative size the first-order error analysis is no bound: it is not stated.
UNBOUNDED_RELATIVE_ERROR = 1e-3


@dataclass(frozen=True)
class NTKGram:
    """NNGP ``K_L`` and NTK ``Theta_L`` on ``m`` inputs.

    Attributes:
        depth: ``L``; method: ``"grid"`` or ``"exact"``; nngp, ntk: ``(m, m)`` float64.
        error_bound: bound on ``max |Theta_L - Theta_L exact|`` over the pairs, the exact
            ``Theta`` being that of the given float inputs: the activation kernels' own error
            bounds and every rounding (input Gram included), propagated through the recursion
            (:func:`kernelnorm.ntk.layer_kernels`), plus, on the grid path, the interpolation
            error (:mod:`kernelnorm.ntk._grid`). ``inf`` when it cannot be bounded (then
            ``bound_note`` says why).
        grid_size: angle-grid points (0 on the exact path).
        bound_note: empty, or why there is no bound.
    """

    depth: int
    method: str
    nngp: np.ndarray
    ntk: np.ndarray
    error_bound: float = 0.0
    grid_size: int = 0
    bound_note: str = ""


def _stated_bound(bound: float, ntk) -> tuple[float, str]:
    """The bound, or ``inf`` and the reason where the first-order analysis does not hold."""
    scale = float(np.max(np.abs(ntk)))
    if not np.isfinite(bound):
        return math.inf, "the running error bound overflowed"
    if bound > UNBOUNDED_RELATIVE_ERROR * scale:
        return math.inf, (f"the first-order error analysis gives {bound / scale:.2g} of "
                          f"max|Theta|, beyond {UNBOUNDED_RELATIVE_ERROR:g}, where it stops "
                          "being a bound")
    return bound, ""


@dataclass(frozen=True)
class Spectrum:
    """Extreme eigenvalues of a symmetric PSD matrix and ``kappa = lambda_max / lambda_min``
    (``inf`` when ``lambda_min <= 0`` numerically)."""

    kappa: float
    lambda_min: float
    lambda_max: float
    seconds: float


def check_inputs(x) -> np.ndarray:
    """Inputs ``(m, d)``: non-empty, finite, no zero rows (they have no correlation)."""
    from kernelnorm.data import check_data_matrix

    x = check_data_matrix(x)
    zero = np.flatnonzero(~np.any(x != 0, axis=1))
    if zero.size:
        raise KernelnormInputError("--data", f"rows {zero[:5].tolist()} are zero")
    return x


def ntk_grams(scheme, x, depths, *, method: str = "auto", rtol: float = DEFAULT_RTOL,
              grid: int | None = None) -> dict[int, NTKGram]:
    """``{L: NTKGram}`` for every depth in ``depths`` from one pass of the recursion.

    ``method="grid"`` (inputs of equal norm only) recurses on the angle grid and interpolates
    (:mod:`kernelnorm.ntk._grid`, interpolation error ``<= rtol * max|Theta|`` beyond the
    float64 floor); ``"exact"`` recurses on the ``m x m`` Gram matrix; ``"auto"`` picks the
    grid when the norms are equal. Both state a bound on the error of ``Theta``
    (:class:`NTKGram`).
    """
    check_block("scheme", scheme)
    x = check_inputs(x)
    depths = sorted({check_depth(d) for d in np.atleast_1d(depths)})
    if method not in METHODS:
        raise KernelnormInputError("--method", f"choose from {', '.join(METHODS)}, got {method!r}")
    equal, q0 = equal_norms(x)
    check_ntk_request(scheme, x.shape[0], depths, grid=equal and method != "exact")
    if method == "grid" and not equal:
        raise KernelnormInputError("--method", "the grid path needs inputs of equal norm "
                                   "(normalise the rows or use method='exact')")
    if method == "exact" or not equal:
        layers = exact_gram_kernels(scheme, x, max(depths), depths=depths, track_error=True)
        out = {}
        for d, k in layers.items():
            ntk = np.broadcast_to(k.ntk, k.ntk.shape)
            bound, note = _stated_bound(float(np.max(k.ntk_error)), ntk)
            out[d] = NTKGram(d, "exact", np.asarray(k.nngp), np.asarray(k.ntk), bound, 0, note)
        return out
    angles, (lo, hi) = gram_angles(x, q0)
    input_error = float(np.max(input_gram_error(x)))
    splines = grid_kernels(scheme, q0, padded_range(lo, hi), depths, rtol=rtol, grid=grid,
                           input_error=input_error)
    out = {}
    for d, s in splines.items():
        ntk = evaluate_on_gram(s.ntk, angles)
        # the data's K_0 rounding entered every node's error bound as an input error
        bound, note = _stated_bound(s.ntk.error_bound, ntk)
        out[d] = NTKGram(d, "grid", evaluate_on_gram(s.nngp, angles), ntk, bound, s.ntk.size,
                         note)
    return out


def ntk_gram(scheme, x, depth: int, **options) -> NTKGram:
    """NNGP and NTK Gram matrices of a depth-``L`` network on inputs ``x`` (see :func:`ntk_grams`)."""
    depth = check_depth(depth)
    return ntk_grams(scheme, x, [depth], **options)[depth]


def spectrum(matrix) -> Spectrum:
    """``lambda_min``, ``lambda_max`` (LAPACK ``syevd``) and ``kappa`` of a symmetric matrix."""
    from scipy.linalg import eigvalsh

    start = time.perf_counter()
    eigenvalues = eigvalsh(np.asarray(matrix, dtype=np.float64), check_finite=False, driver="evd")
    seconds = time.perf_counter() - start
    low, high = float(eigenvalues[0]), float(eigenvalues[-1])
    kappa = high / low if low > 0 else float("inf")
    return Spectrum(kappa, low, high, seconds)


def scheme_phase(scheme) -> tuple[float, str]:
    """``(chi_1, phase)`` from :func:`kernelnorm.chi_1` and :func:`kernelnorm.phase`."""
    chi = chi_1(scheme)
    return chi, phase(chi)


@dataclass(frozen=True)
class ConditionReport:
    """What ``kernelnorm ntk`` prints."""

    scheme: str
    activation: str
    depth: int
    m: int
    kappa: float
    lambda_min: float
    lambda_max: float
    chi_1: float
    phase: str
    method: str
    error_bound: float
    relative_error_bound: float
    kernel_seconds: float
    eigen_seconds: float
    bound_note: str = ""

    def as_dict(self) -> dict:
        import dataclasses

        return dataclasses.asdict(self)


def ntk_condition(scheme, x, depth: int, *, eigen: str = "auto", tol: float | None = None,
                  **options) -> ConditionReport:
    """``kappa`` of the depth-``L`` NTK on ``x`` with the scheme's ``chi_1`` and phase.

    ``eigen``: ``"dense"`` (the Gram matrix, LAPACK), ``"matrix_free"`` (no Gram matrix:
    :func:`kernelnorm.ntk.ntk_extreme_eigenvalues`, eigenvalues to relative ``tol``) or
    ``"auto"`` (dense up to ``m = 4000`` when it fits)."""
    from kernelnorm.ntk._matrix_free import (
        DEFAULT_EIGEN_TOL,
        choose_eigen_method,
        matrix_free_condition,
    )

    x = check_inputs(x)
    if choose_eigen_method(eigen, x.shape[0]) == "matrix_free":
        if options.get("method", "auto") == "grid":
            raise KernelnormInputError("--method", "the matrix-free eigen-solver recurses on "
                                       "pairs (use --method exact or auto)")
        return matrix_free_condition(scheme, x, depth,
                                     tol=DEFAULT_EIGEN_TOL if tol is None else tol)
    return kappa_vs_depth(scheme, x, [depth], **options)[0]


def kappa_vs_depth(scheme, x, depths, *, progress=None, **options) -> list[ConditionReport]:
    """One :class:`ConditionReport` per depth (one recursion pass; an eigen-solve per depth).

    ``progress`` optionally wraps the iterable of depths (e.g. a tqdm bar).
    """
    start = time.perf_counter()
    grams = ntk_grams(scheme, x, depths, **options)
    kernel_seconds = time.perf_counter() - start
    chi, name = scheme_phase(scheme)
    ordered = sorted(grams)
    rows = []
    for depth in progress(ordered) if progress else ordered:
        gram = grams[depth]
        spec = spectrum(gram.ntk)
        rows.append(ConditionReport(
            scheme.name, scheme.activation.name, depth, gram.ntk.shape[0], spec.kappa,
            spec.lambda_min, spec.lambda_max, chi, name, gram.method, gram.error_bound,
            gram.error_bound / np.max(np.abs(gram.ntk)), kernel_seconds, spec.seconds,
            gram.bound_note))
    return rows


def kappa_vs_size(scheme, x, depth: int, sizes, **options) -> list[ConditionReport]:
    """``kappa`` on the first ``m`` rows of ``x`` for each ``m`` in ``sizes`` (Theorem 1's
    critical-line statement ``kappa ~ m`` is a statement about this curve)."""
    x = check_inputs(x)
    sizes = [int(m) for m in sizes]
    if not sizes or not all(1 <= m <= x.shape[0] for m in sizes):
        raise KernelnormInputError("--sizes", f"each size must be in [1, {x.shape[0]}], got {sizes}")
    x = x[: max(sizes)]
    start = time.perf_counter()
    gram = ntk_gram(scheme, x, depth, **options)  # a Gram entry depends on its pair only
    kernel_seconds = time.perf_counter() - start
    chi, name = scheme_phase(scheme)
    rows = []
    for m in sizes:
        spec = spectrum(gram.ntk[:m, :m])
        rows.append(ConditionReport(
            scheme.name, scheme.activation.name, gram.depth, m, spec.kappa, spec.lambda_min,
            spec.lambda_max, chi, name, gram.method, gram.error_bound,
            gram.error_bound / np.max(np.abs(gram.ntk)), kernel_seconds, spec.seconds,
            gram.bound_note))
    return rows
