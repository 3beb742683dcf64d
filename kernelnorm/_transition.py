"""Transition operators of deep networks at infinite width (docs/theory.md).

Every function takes a scheme (:mod:`kernelnorm._schemes`) and reads only its ``kernel_map``
and ``derivative_kernel``, so plain, weight-mean and batch-norm networks, with any activation,
share one analysis: length map, correlation map, ``chi_1``, fixed points and their stability,
depth scales, phases, the stable-initialisation solver and the critical line.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from kernelnorm._errors import (
    KernelnormInputError,
    check_block,
    check_correlation,
    check_nonnegative,
    check_number,
)

_Q_ITERATIONS = 500
_Q_TOLERANCE = 1e-13
_SLOPE_TOLERANCE = 1e-9
PHASE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class LengthFixedPoint:
    """Where the length map ``q -> q'`` settles.

    Attributes:
        q: the fixed point ``q*`` (``0`` or ``inf`` when the length vanishes or diverges).
        slope: ``chi_q = dq'/dq`` at ``q*``.
        operating_q: the length at which the correlation map is evaluated: ``q*`` when finite
            and positive, else the scale at which the (then scale-free) map is taken.
    """

    q: float
    slope: float
    operating_q: float


@dataclass(frozen=True)
class FixedPoint:
    """A fixed point ``rho*`` of the correlation map with its slope ``chi_c = T'(rho*)``."""

    rho: float
    slope: float
    stable: bool
    marginal: bool


def length_map(scheme, q):
    """``q -> q'`` (MimicNorm Eq. 2 on the diagonal): ``sigma_w2 E[phi(sqrt(q) z)^2] + sigma_b2``
    for plain nets, the centred second moment for weight mean, ``1`` for batch norm."""
    check_block("scheme", scheme)
    q = np.asarray(q, dtype=np.float64)
    return scheme.kernel_map(q, q, q)[0]


def _length_slope(scheme, q: float) -> float:
    h = 1e-6 * max(q, 1e-6)
    return float((length_map(scheme, q + h) - length_map(scheme, q - h)) / (2 * h))


def bracketed_root(f, low: float, high: float, *, rtol: float = 1e-15) -> float:
    """Root of ``f`` in ``[low, high]`` where ``f`` changes sign, by bisection to ``rtol``.

    Bisection (not scipy.optimize) because importing scipy.optimize costs ~0.5 s, ten times the
    scalar CLI's whole budget; on a sign-change bracket bisection cannot fail.
    """
    f_low = f(low)
    for _ in range(2000):
        mid = 0.5 * (low + high)
        if high - low <= rtol * max(abs(mid), 1e-300) or mid in (low, high):
            return mid
        f_mid = f(mid)
        if f_mid == 0:
            return mid
        if (f_mid < 0) == (f_low < 0):
            low, f_low = mid, f_mid
        else:
            high = mid
    return 0.5 * (low + high)


def _refine_length_root(scheme, q: float) -> float:
    """Bisection on ``q' - q`` around a slowly converging iterate (near criticality the
    iteration approaches ``q*`` only algebraically)."""
    gap = lambda x: float(length_map(scheme, x)) - x  # noqa: E731
    low, high = q / 2, q * 2
    for _ in range(60):
        if gap(low) * gap(high) < 0:
            return bracketed_root(gap, low, high)
        low, high = low / 2, high * 2
    return q


def length_fixed_point(scheme) -> LengthFixedPoint:
    """Fixed point of the length map reached from ``q0 = 1`` (normalised inputs).

    For positively homogeneous activations the length map is affine, ``q' = a q + b``, and is
    solved exactly; otherwise it is iterated from ``q = 1``.
    """
    if scheme.activation.homogeneous:
        b = float(length_map(scheme, 0.0))
        a = float(length_map(scheme, 1.0)) - b
        if abs(a - 1.0) <= 1e-12:
            return LengthFixedPoint(1.0 if b == 0 else math.inf, 1.0, 1.0)
        if a < 1.0:
            q_star = b / (1.0 - a)
            return LengthFixedPoint(q_star, a, q_star if q_star > 0 else 1.0)
        return LengthFixedPoint(math.inf, a, 1.0)
    if float(length_map(scheme, 0.0)) == 0.0:
        # q = 0 is a fixed point (odd-like phi, no bias); it attracts iff its slope
        # sigma_w2 phi'(0)^2 is <= 1, and then the iteration below would creep to it.
        slope_at_zero = float(scheme.derivative_kernel(0.0, 0.0, 0.0))
        if slope_at_zero <= 1.0:
            return LengthFixedPoint(0.0, slope_at_zero, 1e-12)
    q = 1.0
    for _ in range(_Q_ITERATIONS):
        q_next = float(length_map(scheme, q))
        if not math.isfinite(q_next) or q_next > 1e12:
            raise KernelnormInputError(
                "--sigma-w2", "the length q diverges for this activation: no fixed point q*"
            )
        converged = abs(q_next - q) <= _Q_TOLERANCE * max(1.0, q)
        q = q_next
        if converged:
            break
    else:
        q = _refine_length_root(scheme, q)
    if q < 1e-12:
        return LengthFixedPoint(0.0, _length_slope(scheme, 1e-12), 1e-12)
    return LengthFixedPoint(q, _length_slope(scheme, q), q)


def _operating_scheme(scheme):
    """The scheme and length at which correlations evolve (a diverging homogeneous net
    forgets its bias: ``sigma_b2 / q -> 0``)."""
    check_block("scheme", scheme)
    fixed = length_fixed_point(scheme)
    if math.isinf(fixed.q) and scheme.activation.homogeneous and scheme.sigma_b2 > 0:
        scheme = dataclasses.replace(scheme, sigma_b2=0.0)
    return scheme, fixed.operating_q


def correlation_map(scheme, rho, *, q: float | None = None):
    """The correlation map ``rho -> rho' = c'(q, q, q rho) / q'(q)`` at the length fixed point.

    Plain ReLU at stable init: ``sigma_w2 phi_hat(rho) + sigma_b2`` (MimicNorm Eq. 3); weight
    mean at its Theorem-3 init: ``T_bar(rho) = (phi_hat(rho) - phi_hat(0)) / (phi_hat(1) -
    phi_hat(0))``; idealised batch norm: the same ``T_bar`` (Theorem 2, docs/theory.md §2).
    """
    rho = check_correlation("--rho", rho)
    if q is None:
        scheme, q = _operating_scheme(scheme)
    q_next, _, c_next = scheme.kernel_map(q, q, q * rho)
    return c_next / q_next


def correlation_map_slope(scheme, rho, *, q: float | None = None):
    """``d rho'/d rho = q T_dot(q, q, q rho) / q'(q)`` (Price's theorem: ``d E[phi phi]/dc =
    E[phi' phi']``)."""
    rho = check_correlation("--rho", rho)
    if q is None:
        scheme, q = _operating_scheme(scheme)
    q_next = scheme.kernel_map(q, q, q)[0]
    return q * scheme.derivative_kernel(q, q, q * rho) / q_next


def chi_1(scheme) -> float:
    """``chi_1 = T_dot(q*, q*, q*) = sigma_w2 E[phi'(u)^2]``: the per-layer growth of squared
    gradients and the slope of the correlation map at ``rho = 1`` (docs/theory.md §3).

    Plain ReLU: ``sigma_w2 / 2`` (Proposition 1); weight mean at its stable init and batch norm:
    ``1 / (2 (phi_hat(1) - phi_hat(0))) = pi / (pi - 1)`` (Theorems 2 and 3).
    """
    scheme, q = _operating_scheme(scheme)
    return float(scheme.derivative_kernel(q, q, q))


def phase(chi: float, *, tolerance: float = PHASE_TOLERANCE) -> str:
    """Xiao, Pennington & Schoenholz (2019), Theorem 1 in MimicNorm: ``ordered`` (chi_1 < 1),
    ``critical`` (chi_1 = 1), ``chaotic`` (chi_1 > 1)."""
    if chi != math.inf:  # inf is chaotic; NaN and non-numbers are errors
        chi = check_number("chi", chi)
    if abs(chi - 1.0) <= tolerance:
        return "critical"
    return "ordered" if chi < 1.0 else "chaotic"


def _classify(scheme, q, rho: float) -> FixedPoint:
    slope = float(correlation_map_slope(scheme, rho, q=q))
    if abs(abs(slope) - 1.0) > _SLOPE_TOLERANCE:
        return FixedPoint(rho, slope, abs(slope) < 1.0, False)
    delta = 1e-4
    attracting = True
    if rho > -1.0:
        below = max(rho - delta, -1.0)
        attracting &= float(correlation_map(scheme, below, q=q)) - below > 0
    if rho < 1.0:
        above = min(rho + delta, 1.0)
        attracting &= float(correlation_map(scheme, above, q=q)) - above < 0
    return FixedPoint(rho, slope, attracting, True)


def fixed_points(scheme, *, grid: int | None = None) -> list[FixedPoint]:
    """All fixed points of the correlation map in ``[-1, 1]``, with slope and stability.

    Roots of ``T(rho) - rho`` are bracketed on a uniform grid (2001 points; 257 when the
    activation needs quadrature) and refined by bisection;
    the endpoints are tested exactly. A fixed point with ``|slope| = 1`` is ``marginal`` and is
    called stable when it attracts from both sides that exist (e.g. ``rho = 1`` at criticality).
    """
    check_block("scheme", scheme)
    if grid is None:  # quadrature activations cost ~1e4 evaluations per grid point
        grid = 2001 if scheme.activation.closed_form else 257
    scheme, q = _operating_scheme(scheme)
    rhos = np.linspace(-1.0, 1.0, grid)
    gap = correlation_map(scheme, rhos, q=q) - rhos
    roots: list[float] = []
    for i in np.flatnonzero(np.abs(gap) <= 1e-14):
        roots.append(float(rhos[i]))
    for i in np.flatnonzero(gap[:-1] * gap[1:] < 0):
        gap_at = lambda r: float(correlation_map(scheme, r, q=q)) - r  # noqa: E731
        roots.append(bracketed_root(gap_at, rhos[i], rhos[i + 1]))
    unique: list[float] = []
    for root in sorted(roots):
        if not unique or root - unique[-1] > 1e-9:
            unique.append(root)
    return [_classify(scheme, q, r) for r in unique]


def stable_fixed_point(scheme, points: list[FixedPoint] | None = None) -> FixedPoint:
    """The attracting fixed point of the correlation map (the one deep nets converge to);
    ``points`` reuses an earlier :func:`fixed_points` result."""
    stable = [p for p in (points if points is not None else fixed_points(scheme)) if p.stable]
    if not stable:
        raise KernelnormInputError("--norm", "the correlation map has no stable fixed point")
    return min(stable, key=lambda p: abs(p.slope))


def correlation_depth_scale(slope: float) -> float:
    """``xi_c = -1 / log(chi_c*)`` (Schoenholz et al. 2017); infinite at ``chi_c* = 1``."""
    slope = abs(slope)
    if slope >= 1.0 - _SLOPE_TOLERANCE:
        return math.inf
    if slope == 0.0:
        return 0.0
    return -1.0 / math.log(slope)


def depth_scales(scheme) -> tuple[float, float]:
    """``(xi_c, xi_q)``: depth scales of correlation and length convergence (``-1/log chi``)."""
    xi_c = correlation_depth_scale(stable_fixed_point(scheme).slope)
    return xi_c, correlation_depth_scale(length_fixed_point(scheme).slope)


def stable_init(scheme) -> float:
    """``sigma_w2`` with ``q* = 1`` (``T(1) = 1`` on normalised inputs) for the scheme's
    activation, ``sigma_b2`` and width; the scheme's own ``sigma_w2`` is ignored.

    The length map is affine in ``sigma_w2``, ``q'(1) = sigma_w2 kappa + sigma_b2``, so
    ``sigma_w2 = (1 - sigma_b2) / kappa``. Plain ReLU: ``2 (1 - sigma_b2)`` (docs/theory.md §3); weight
    mean with ``sigma_b = 0``: ``2 n / ((n - 1)(1 - 1/pi))`` (MimicNorm Theorem 3). A batch
    normaliser removes the bias (``sigma_b2`` drops out). Schemes whose normaliser fixes the
    length (BN, LN, GN) have no ``sigma_w2`` to solve for: a one-line error says so.
    """
    check_block("scheme", scheme)
    if scheme.fixes_length:
        raise KernelnormInputError(
            "--norm", f"{scheme.name} fixes the length q = 1 at every sigma_w2: there is no "
            "sigma_w2 to solve for")
    sigma_b2 = 0.0 if scheme.scheme.batch_coupled else check_nonnegative("--sigma-b2",
                                                                           scheme.sigma_b2)
    if sigma_b2 >= 1.0:
        raise KernelnormInputError("--sigma-b2", f"must be < 1 for q* = 1, got {sigma_b2}")
    kappa = float(scheme.layer_input_kernel(1.0, 1.0, 1.0))
    return (1.0 - sigma_b2) / kappa


def with_stable_init(scheme):
    """A copy of ``scheme`` whose ``sigma_w2`` is :func:`stable_init`'s."""
    return dataclasses.replace(scheme, sigma_w2=stable_init(scheme))


def _fixed_length_critical_line(scheme) -> float:
    """The critical ``sigma_w2`` of a scheme whose normaliser fixes ``q* = 1`` (LN, GN).

    At ``q = 1``, ``chi_1 = sigma_w2 D / (sigma_w2 K + sigma_b2)`` with ``D`` the derivative
    kernel and ``K`` the layer-input kernel on the diagonal (before ``sigma_w2``), so
    ``chi_1 = 1`` iff ``sigma_w2 (D - K) = sigma_b2``. ReLU (``D = K = 1/2``) without bias is
    critical at every ``sigma_w2``; with a bias it is ordered at every ``sigma_w2``.
    """
    d = scheme.finite_width_factor * float(scheme.activation_step.derivative_dual(1.0, 1.0, 1.0))
    k = float(scheme.layer_input_kernel(1.0, 1.0, 1.0))
    b2 = scheme.sigma_b2
    where = f"{scheme.name}, {scheme.activation.name}, sigma_b2 = {b2:g}"
    if b2 == 0:
        chi = d / k
        if abs(chi - 1.0) <= PHASE_TOLERANCE:
            raise KernelnormInputError(
                "--norm", f"{where}: chi_1 = 1 at every sigma_w2 (the normaliser fixes the "
                "length and the block is scale-free): the whole line is critical")
        raise KernelnormInputError(
            "--sigma-b2", f"{where}: chi_1 = {chi:.6g} at every sigma_w2 ({phase(chi)}): no "
            "critical point without a bias")
    if d - k <= PHASE_TOLERANCE * k:
        raise KernelnormInputError(
            "--sigma-b2", f"{where}: chi_1 < 1 at every sigma_w2 (ordered; chi_1 -> "
            f"{d / k:.6g} as sigma_w2 -> inf): no critical point")
    return b2 / (d - k)


def critical_line(scheme) -> float:
    """``sigma_w2`` with ``chi_1 = 1`` at the scheme's ``sigma_b2`` (any activation).

    Solved by bisection on ``chi_1(sigma_w2) - 1`` after bracketing by doubling; for
    homogeneous activations ``chi_1`` is linear in ``sigma_w2`` and the solve is exact
    (ReLU: ``sigma_w2 = 2``; weight mean: ``2 n / (n - 1)``). Length-fixing normalisers (LN,
    GN) are solved in closed form (:func:`_fixed_length_critical_line`); batch norm has no
    ``sigma_w`` (a one-line error says so).
    """
    check_block("scheme", scheme)
    if not scheme.has_sigma_w:
        raise KernelnormInputError(
            "--norm", f"{scheme.name} has no sigma_w (the scale drops out): chi_1 does not "
            "depend on it")
    if scheme.fixes_length:
        return _fixed_length_critical_line(scheme)
    at = lambda s2: dataclasses.replace(scheme, sigma_w2=s2)  # noqa: E731
    if scheme.activation.homogeneous:
        return 1.0 / chi_1(at(1.0))
    def gap(sigma_w2):
        try:
            return chi_1(at(sigma_w2)) - 1.0
        except KernelnormInputError:
            raise KernelnormInputError(
                "--sigma-b2", f"q diverges at sigma_w2 = {sigma_w2:.6g} before chi_1 reaches 1: "
                f"no critical point for {scheme.activation.name} at this sigma_b2"
            ) from None

    low, high = 0.5, 1.0
    while gap(low) > 0 and low > 1e-6:
        low /= 2
    while gap(high) < 0:
        high *= 2
        if high > 1e4:
            raise KernelnormInputError("--sigma-b2", "chi_1 stays below 1: no critical sigma_w")
    return bracketed_root(gap, low, high, rtol=1e-14)


@dataclass(frozen=True)
class TransitionSummary:
    """Everything the CLI reports about a scheme's transition operator."""

    scheme: str
    activation: str
    sigma_w2: float
    sigma_b2: float
    q_star: float
    chi_1: float
    phase: str
    fixed_points: tuple[FixedPoint, ...]
    rho_star: float
    slope_star: float
    xi_c: float
    xi_q: float

    def as_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["fixed_points"] = [dataclasses.asdict(p) for p in self.fixed_points]
        return out


def summarise(scheme) -> TransitionSummary:
    """Length fixed point, ``chi_1``, phase, all fixed points, the stable one and depth scales."""
    points = tuple(fixed_points(scheme))
    stable = stable_fixed_point(scheme, list(points))
    length = length_fixed_point(scheme)
    chi = chi_1(scheme)
    return TransitionSummary(
        scheme=scheme.name,
        activation=scheme.activation.name,
        sigma_w2=float(scheme.sigma_w2),
        sigma_b2=float(scheme.sigma_b2),
        q_star=length.q,
        chi_1=chi,
        phase=phase(chi),
        fixed_points=points,
        rho_star=stable.rho,
        slope_star=stable.slope,
        xi_c=correlation_depth_scale(stable.slope),
        xi_q=correlation_depth_scale(length.slope),
    )
