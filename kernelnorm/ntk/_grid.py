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

Error bound (stated and tested): ``error_bound = E_interp + E_nodes``.

* ``E_nodes``: the largest bound on the node values' own error, from the running forward error
  analysis of the recursion (:func:`kernelnorm.ntk.layer_kernels` with ``track_error``): the
  activation kernels' error bounds, rounding, the input Gram's rounding, all propagated through
  ``kernel_map``, ``T_dot`` and the NTK recursion. This is the float64 floor (at large depth on
  the critical line the ``arccos`` sensitivity near ``rho = 1`` makes it dominant).
* ``E_interp = 2 E_2h``: the spline on every other node (spacing ``2h``) compared with the
  values on the skipped nodes; for a ``C^4`` function its error is ``16x`` that of the spline
  on all nodes, so this is a safety factor 32 on the interpolation error.

The grid doubles until ``E_interp <= rtol * max|Theta| + E_nodes``, or until halving ``h``
stops paying (the node values' own noise). The diagonal (``t = 0``) is never interpolated: it
is recursed exactly, with ``rho = 1`` kept exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from kernelnorm._errors import KernelnormInputError
from kernelnorm.ntk._recursion import check_depth, layer_kernels

#: Relative tolerance of the fast path's stated error bound (``E_2h / max|Theta|``).
DEFAULT_RTOL = 1e-11
MIN_GRID = 65
MAX_GRID = 2**16 + 1
#: Inputs whose ``K_0(x, x)`` differ by more than this (relative) take the exact path.
EQUAL_NORM_TOLERANCE = 1e-10


_EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class AngleSpline:
    """Piecewise cubic ``f(t) = sum_k c[k, i] (t - t_i)^(3-k)`` on ``t_i = lo + i h``.

    Attributes:
        lo, h: first node and spacing; ``coefficients``: ``(4, G - 1)`` (scipy's ``c``).
        diagonal: exact value at ``t = 0`` of the same-input pair (``K(x, x)``).
        error_bound: bound on ``|f - f_exact|`` on ``[lo, lo + (G-1) h]`` and at the diagonal:
            ``interpolation_error + propagated_error``.
        scale: ``max |f|`` over the nodes and the diagonal.
        interpolation_error: ``2 E_2h`` (module docstring).
        propagated_error: the largest error bound of the node values (and the diagonal) from
            the recursion's running error analysis, plus the spline evaluation's rounding.
    """

    lo: float
    h: float
    coefficients: np.ndarray
    diagonal: float
    error_bound: float
    scale: float
    interpolation_error: float = 0.0
    propagated_error: float = 0.0

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


def _recurse_on_angles(scheme, q0: float, angles: np.ndarray, depths, input_error) -> dict:
    """``{L: (nngp, ntk, nngp_error, ntk_error)}``: the recursion with its running error bound
    on the nodes plus the diagonal (last entry)."""
    rho = np.append(np.cos(angles), 1.0)
    same = np.zeros(rho.shape, dtype=bool)
    same[-1] = True
    k0 = q0 * rho
    values = {}
    for layer in layer_kernels(scheme, q0, q0, k0, max(depths), track_error=True,
                               input_error=input_error + 2 * _EPS * np.abs(k0),
                               same_input=same):
        if layer.depth in depths:
            values[layer.depth] = tuple(np.broadcast_to(a, rho.shape).copy() for a in (
                layer.nngp, layer.ntk, layer.nngp_error, layer.ntk_error))
    return values


def _refine(scheme, q0: float, angles: np.ndarray, values: dict, depths, input_error):
    """Halve the spacing: every node is independent through the recursion, so only the new
    midpoints are recursed; the old nodes (and the diagonal) are kept."""
    middle = 0.5 * (angles[:-1] + angles[1:])
    new = _recurse_on_angles(scheme, q0, middle, depths, input_error)
    fine = np.empty(2 * len(angles) - 1)
    fine[::2], fine[1::2] = angles, middle
    refined = {}
    for depth, old_arrays in values.items():
        arrays = []
        for old, mid in zip(old_arrays, new[depth]):
            merged = np.empty(len(fine) + 1)
            merged[:-1:2], merged[1:-1:2], merged[-1] = old[:-1], mid[:-1], old[-1]
            arrays.append(merged)
        refined[depth] = tuple(arrays)
    return fine, refined


def _spline(angles, values, errors) -> AngleSpline:
    """Spline through ``values[:-1]`` (the nodes), ``values[-1]`` the exact diagonal."""
    from scipy.interpolate import CubicSpline

    nodes, diagonal = values[:-1], float(values[-1])
    fine = CubicSpline(angles, nodes)
    coarse = CubicSpline(angles[::2], nodes[::2])
    interpolation = 2.0 * float(np.max(np.abs(coarse(angles[1::2]) - nodes[1::2])))
    scale = max(abs(diagonal), float(np.max(np.abs(nodes))))
    propagated = float(np.max(errors)) + 8 * _EPS * scale  # + the cubic's evaluation
    h = float(angles[1] - angles[0])
    return AngleSpline(float(angles[0]), h, np.ascontiguousarray(fine.c), diagonal,
                       interpolation + propagated, scale, interpolation, propagated)


def grid_kernels(scheme, q0: float, t_range, depths, *, rtol: float = DEFAULT_RTOL,
                 grid: int | None = None, input_error: float = 0.0) -> dict[int, GridKernels]:
    """NNGP/NTK splines on ``t in t_range`` for every depth in ``depths``.

    With ``grid=None`` the grid size doubles from :data:`MIN_GRID` (recursing only the new
    midpoints) until every spline's interpolation error is ``<= rtol * max|value|`` beyond its
    nodes' own propagated error, or the noise floor is reached; past :data:`MAX_GRID` a
    :class:`KernelnormInputError` tells the caller to use the exact path. ``grid`` fixes the
    size (an odd number ``>= 5``). ``input_error`` bounds the rounding of the data's ``K_0``
    (:func:`kernelnorm.ntk.input_gram_error`).
    """
    depths = sorted({check_depth(d) for d in np.atleast_1d(depths)})
    lo, hi = t_range
    angles = np.linspace(lo, hi, MIN_GRID if grid is None else grid)
    values = _recurse_on_angles(scheme, q0, angles, depths, input_error)
    previous = None
    while True:
        result = {}
        for depth, (nngp, ntk, nngp_error, ntk_error) in values.items():
            result[depth] = GridKernels(depth, _spline(angles, nngp, nngp_error),
                                        _spline(angles, ntk, ntk_error))
        if grid is not None or _accurate(result, rtol) or _at_noise_floor(result, previous):
            return result
        if 2 * len(angles) - 1 > MAX_GRID:
            break
        previous = result
        angles, values = _refine(scheme, q0, angles, values, depths, input_error)
    raise KernelnormInputError(
        "--method", f"the angle grid did not reach rtol={rtol:g} with {MAX_GRID} points; "
        "use the exact path (method='exact')")


def _at_noise_floor(result: dict, previous: dict | None) -> bool:
    """Halving ``h`` no longer shrinks the interpolation error by ``>= 4`` (``O(h^4)``
    predicts ``16``): the node values carry the recursion's own rounding noise, which no finer
    grid removes."""
    if previous is None:
        return False
    for depth, kernels in result.items():
        for name in ("nngp", "ntk"):
            now = getattr(kernels, name).interpolation_error
            if now * 4 < getattr(previous[depth], name).interpolation_error:
                return False
    return True


def _accurate(result: dict, rtol: float) -> bool:
    for kernels in result.values():
        for spline in (kernels.nngp, kernels.ntk):
            if not spline.interpolation_error <= rtol * spline.scale + spline.propagated_error:
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
