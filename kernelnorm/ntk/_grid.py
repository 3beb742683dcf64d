"""Fast path: recurse on a 1-D grid of input angles, interpolate onto the Gram matrix.

For inputs of equal norm ``K_0(x, x) = q0`` every layer kernel is a function of the input
correlation ``rho = K_0(x, x') / q0`` alone. We run the exact recursion of
:func:`kernelnorm.ntk.layer_kernels` on ``G`` grid points and interpolate onto the ``m^2``
pairs: cost ``O(L G + m^2)`` instead of ``O(L m^2)``.

The grid is uniform in the angle ``t = arccos(rho)`` over the range the data actually covers.
Why the angle: arc-cosine kernels (ReLU and every positively homogeneous activation) have a
``sqrt(1 - rho)`` singularity at ``rho = 1`` but are analytic in ``t``
(``phi_hat(cos t) = (sin t + (pi - t) cos t) / (2 pi)``), and smooth activations stay smooth in
``t``. A not-a-knot cubic spline then has error ``O(h^4)``.

Error bound (stated and tested): the spline on every other node (spacing ``2h``) is compared
with the exact values on the skipped nodes; for a ``C^4`` function its error ``E_2h`` is ``16x``
that of the spline on all nodes. The stated bound is ``2 E_2h + L eps max|Theta|``: a safety
factor ``32`` on the interpolation error, and room for the rounding of ``L`` layers of the
recursion, which both paths do (at large depth the ``arccos`` of correlations near 1 makes it
the dominant term). The grid doubles until the bound is ``<= rtol * max|Theta|`` beyond the
rounding term, or until halving ``h`` stops paying (the node values' own rounding noise). The diagonal
(``t = 0``) is never interpolated: it is recursed exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from kernelnorm._activations import QUADRATURE_TOLERANCE
from kernelnorm._errors import KernelnormInputError
from kernelnorm.ntk._recursion import check_depth, layer_kernels

#: Relative tolerance of the fast path's stated error bound (``E_2h / max|Theta|``).
DEFAULT_RTOL = 1e-11
MIN_GRID = 65
MAX_GRID = 2**16 + 1
#: Inputs whose ``K_0(x, x)`` differ by more than this (relative) take the exact path.
EQUAL_NORM_TOLERANCE = 1e-10


@dataclass(frozen=True)
class AngleSpline:
    """Piecewise cubic ``f(t) = sum_k c[k, i] (t - t_i)^(3-k)`` on ``t_i = lo + i h``.

    Attributes:
        lo, h: first node and spacing; ``coefficients``: ``(4, G - 1)`` (scipy's ``c``).
        diagonal: exact value at ``t = 0`` of the same-input pair (``K(x, x)``).
        error_bound: stated max error of the interpolant on ``[lo, lo + (G-1) h]``: the
            measured error of the half-resolution spline plus :func:`rounding_allowance`.
        scale: ``max |f|`` over the nodes and the diagonal.
    """

    lo: float
    h: float
    coefficients: np.ndarray
    diagonal: float
    error_bound: float
    scale: float

    @property
    def size(self) -> int:
        return self.coefficients.shape[1] + 1


@dataclass(frozen=True)
class GridKernels:
    """Layer kernels on the angle grid at one depth: NNGP and NTK splines."""

    depth: int
    nngp: AngleSpline
    ntk: AngleSpline


def padded_range(lo: float, hi: float) -> tuple[float, float]:
    """``[t_lo, t_hi]`` covering the data's angles with a small margin, never empty."""
    pad = max(1e-6, 1e-3 * (hi - lo))
    return max(0.0, lo - pad), min(np.pi, hi + pad)


def _recurse_on_angles(scheme, q0: float, angles: np.ndarray, depths) -> dict:
    """``{L: (nngp, ntk)}``: the exact recursion on the nodes plus the diagonal (last entry)."""
    rho = np.append(np.cos(angles), 1.0)
    values = {}
    for layer in layer_kernels(scheme, q0, q0, q0 * rho, max(depths)):
        if layer.depth in depths:
            values[layer.depth] = (np.broadcast_to(layer.nngp, rho.shape).copy(),
                                   np.broadcast_to(layer.ntk, rho.shape).copy())
    return values


def _refine(scheme, q0: float, angles: np.ndarray, values: dict, depths):
    """Halve the spacing: every node is independent through the recursion, so only the new
    midpoints are recursed; the old nodes (and the diagonal) are kept."""
    middle = 0.5 * (angles[:-1] + angles[1:])
    new = _recurse_on_angles(scheme, q0, middle, depths)
    fine = np.empty(2 * len(angles) - 1)
    fine[::2], fine[1::2] = angles, middle
    refined = {}
    for depth, old_pair in values.items():
        pair = []
        for old, mid in zip(old_pair, new[depth]):
            merged = np.empty(len(fine) + 1)
            merged[:-1:2], merged[1:-1:2], merged[-1] = old[:-1], mid[:-1], old[-1]
            pair.append(merged)
        refined[depth] = tuple(pair)
    return fine, refined


def rounding_allowance(depth: int, scale: float) -> float:
    """``L * eps * scale``: the floating-point error of ``L`` layers of the recursion itself.

    Both paths round; at depth ``L`` their node values may differ by about this much even
    with a perfect interpolant, so it is part of the stated bound.
    """
    return depth * np.finfo(np.float64).eps * scale


def _spline(angles, values, diagonal, depth: int) -> AngleSpline:
    from scipy.interpolate import CubicSpline

    fine = CubicSpline(angles, values)
    coarse = CubicSpline(angles[::2], values[::2])
    error = 2.0 * float(np.max(np.abs(coarse(angles[1::2]) - values[1::2])))
    scale = max(abs(float(diagonal)), float(np.max(np.abs(values))))
    h = float(angles[1] - angles[0])
    return AngleSpline(float(angles[0]), h, np.ascontiguousarray(fine.c), float(diagonal),
                       error + rounding_allowance(depth, scale), scale)


def grid_kernels(scheme, q0: float, t_range, depths, *, rtol: float = DEFAULT_RTOL,
                 grid: int | None = None) -> dict[int, GridKernels]:
    """NNGP/NTK splines on ``t in t_range`` for every depth in ``depths``.

    With ``grid=None`` the grid size doubles from :data:`MIN_GRID` (recursing only the new
    midpoints) until every stated bound is ``<= rtol * max|value|`` (``rtol`` is raised to the
    quadrature tolerance for activations without closed-form kernels) or the noise floor is
    reached; past :data:`MAX_GRID` a :class:`KernelnormInputError` tells the caller to use the
    exact path. ``grid`` fixes the size (an odd number ``>= 5``).
    """
    depths = sorted({check_depth(d) for d in np.atleast_1d(depths)})
    if not scheme.activation.closed_form:  # the kernels themselves are only this accurate
        rtol = max(rtol, QUADRATURE_TOLERANCE)
    lo, hi = t_range
    angles = np.linspace(lo, hi, MIN_GRID if grid is None else grid)
    values = _recurse_on_angles(scheme, q0, angles, depths)
    previous = None
    while True:
        result = {}
        for depth, (nngp, ntk) in values.items():
            result[depth] = GridKernels(depth, _spline(angles, nngp[:-1], nngp[-1], depth),
                                        _spline(angles, ntk[:-1], ntk[-1], depth))
        if grid is not None or _accurate(result, rtol) or _at_noise_floor(result, previous):
            return result
        if 2 * len(angles) - 1 > MAX_GRID:
            break
        previous = result
        angles, values = _refine(scheme, q0, angles, values, depths)
    raise KernelnormInputError(
        "--method", f"the angle grid did not reach rtol={rtol:g} with {MAX_GRID} points; "
        "use the exact path (method='exact')")


def _at_noise_floor(result: dict, previous: dict | None) -> bool:
    """Halving ``h`` no longer shrinks the error by ``>= 4`` (``O(h^4)`` predicts ``16``): the
    node values carry the recursion's own rounding noise, which no finer grid removes."""
    if previous is None:
        return False
    for depth, kernels in result.items():
        for name in ("nngp", "ntk"):
            if getattr(kernels, name).error_bound * 4 < getattr(previous[depth], name).error_bound:
                return False
    return True


def _accurate(result: dict, rtol: float) -> bool:
    for kernels in result.values():
        for spline in (kernels.nngp, kernels.ntk):
            allowance = rounding_allowance(kernels.depth, spline.scale)
            if not spline.error_bound <= rtol * spline.scale + allowance:
                return False
    return True


# -- evaluation on the Gram matrix (JAX) -------------------------------------------------------


@lru_cache(maxsize=1)
def _compiled():
    import jax
    import jax.numpy as jnp

    @jax.jit
    def gram_angles(x, q0):
        k0 = x @ x.T / x.shape[1]
        return jnp.arccos(jnp.clip(k0 / q0, -1.0, 1.0))

    @jax.jit
    def off_diagonal_range(angles):
        off = ~jnp.eye(angles.shape[0], dtype=bool)
        return (jnp.min(jnp.where(off, angles, jnp.pi)), jnp.max(jnp.where(off, angles, 0.0)))

    @jax.jit
    def evaluate(angles, lo, h, coefficients, diagonal):
        index = jnp.clip(jnp.floor((angles - lo) / h).astype(jnp.int32), 0,
                         coefficients.shape[1] - 1)
        dt = angles - (lo + index * h)
        c = coefficients[:, index]
        values = ((c[0] * dt + c[1]) * dt + c[2]) * dt + c[3]
        return jnp.fill_diagonal(values, diagonal, inplace=False)

    return gram_angles, off_diagonal_range, evaluate


def gram_angles(x, q0: float):
    """``t_ij = arccos(x_i.x_j / (d q0))`` (JAX, float64) and the off-diagonal range."""
    import jax

    gram_angles_fn, range_fn, _ = _compiled()
    with jax.enable_x64(True):
        angles = gram_angles_fn(np.asarray(x, np.float64), np.float64(q0))
        if angles.shape[0] == 1:
            return angles, (0.0, 0.0)
        lo, hi = range_fn(angles)
    return angles, (float(lo), float(hi))


def evaluate_on_gram(spline: AngleSpline, angles) -> np.ndarray:
    """The spline on every pair, its exact diagonal on ``i = j``: an ``(m, m)`` float64 array."""
    import jax

    _, _, evaluate = _compiled()
    with jax.enable_x64(True):
        out = evaluate(angles, np.float64(spline.lo), np.float64(spline.h),
                       np.asarray(spline.coefficients), np.float64(spline.diagonal))
        return np.asarray(out)


def equal_norms(x) -> tuple[bool, float]:
    """``(all K_0(x, x) equal within EQUAL_NORM_TOLERANCE, their mean)``."""
    x = np.asarray(x, dtype=np.float64)
    q = np.einsum("ij,ij->i", x, x) / x.shape[1]
    mean = float(q.mean())
    return bool(np.all(np.abs(q - mean) <= EQUAL_NORM_TOLERANCE * mean)), mean
