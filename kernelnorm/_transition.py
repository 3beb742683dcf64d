"""Transition operators of deep networks at infinite width (docs/theory.md).

Every function takes a scheme (:mod:`kernelnorm._schemes`) and reads only its ``kernel_map``
and ``derivative_kernel``, so plain, weight-mean and batch-norm networks, with any activation,
share one analysis: length map, correlation map, ``chi_1``, fixed points and their stability,
depth scales, phases, the stable-initialisation solver and the critical line.
"""

from __future__ import annotations

import dataclasses
import functools
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
from kernelnorm._minibatch import (
    block_theory,
    finite_batch,
    minibatch_fixed_points,
    minibatch_summary,
    refuse_correlation_map,
)

#: Lengths scanned for fixed points of the length map: 0 and 10 points per decade.
Q_SCAN = np.concatenate([[0.0], np.logspace(-10, 8, 181)])
#: Beyond this the length counts as divergent (the stated kernel accuracy ends at 1e4).
Q_LIMIT = 1e8
#: The length at which the correlation map is taken when ``q* = 0`` (its ``q -> 0`` limit).
ZERO_LENGTH_SCALE = 1e-10
_SLOPE_TOLERANCE = 1e-9
PHASE_TOLERANCE = 1e-9
#: Correlation fixed points whose gap ``T(rho) - rho`` to ``rho = 1`` stays below this are one.
MAP_RESOLUTION = 1e-13


@dataclass(frozen=True)
class LengthFixedPoint:
    """A fixed point ``q* = q'(q*)`` of the length map.

    Attributes:
        q: the fixed point (``inf`` when the length diverges, homogeneous activations only).
        slope: ``chi_q = dq'/dq`` at ``q*``.
        operating_q: the length at which the correlation map is evaluated: ``q*`` when finite
            and positive, else the scale at which the (then scale-free, or ``q -> 0`` limit)
            map is taken.
        stable: the flow of the length map converges to ``q*`` from a neighbourhood (a
            marginal point, ``chi_q = 1``, is stable when it attracts from both sides).
        basin: ``(low, high)``, the lengths that flow to ``q*`` (an interval, since the length
            map is increasing); ``(q*, q*)`` for an unstable point.
    """

    q: float
    slope: float
    operating_q: float
    stable: bool = True
    basin: tuple[float, float] = (0.0, math.inf)


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
    h = 1e-5 * max(q, 1e-9)
    low = max(q - h, 0.0)
    return float((length_map(scheme, q + h) - length_map(scheme, low)) / (q + h - low))


def bracketed_root(f, low: float, high: float, *, rtol: float = 1e-15) -> float:
    """Root of ``f`` in ``[low, high]`` where ``f`` changes sign.

    Illinois (modified regula falsi) steps, each checked to stay inside the bracket and to
    shrink it by half at least every third step (bisection otherwise), to ``rtol``: on a
    sign-change bracket it cannot fail, and smooth roots take ~10 evaluations instead of
    bisection's ~50 (each may be a quadrature). scipy.optimize is not used: importing it costs
    ~0.5 s, the scalar CLI's whole budget.
    """
    f_low, f_high = f(low), f(high)
    if f_low == 0:
        return low
    if f_high == 0:
        return high
    side, width = 0, high - low
    for step in range(300):
        mid = 0.5 * (low + high)
        if high - low <= rtol * max(abs(mid), 1e-300) or mid in (low, high):
            return mid
        if step % 3 == 2 and high - low > 0.5 * width:
            x = mid  # not shrinking fast enough: bisect
        else:
            x = (low * f_high - high * f_low) / (f_high - f_low)
            if not low < x < high:
                x = mid
        width = high - low
        f_x = f(x)
        if f_x == 0:
            return x
        if (f_x < 0) == (f_low < 0):
            low, f_low = x, f_x
            if side == -1:
                f_high *= 0.5
            side = -1
        else:
            high, f_high = x, f_x
            if side == 1:
                f_low *= 0.5
            side = 1
    return 0.5 * (low + high)


def first_length(scheme, q0: float) -> float:
    """``K_1 = sigma_w2 q0 + sigma_b2``: the first pre-activation length for inputs of length
    ``q0 = K_0(x, x) = x.x / d`` (the first layer is a plain dense map); 1 where the block's
    normaliser fixes the length."""
    q0 = check_nonnegative("--q0", q0)
    if scheme.fixes_length:
        return 1.0
    return float(scheme.input_kernel(q0))


def _affine_length_map(scheme) -> tuple[float, float]:
    """``q' = a q + b`` for positively homogeneous activations (exact)."""
    b = float(length_map(scheme, 0.0))
    return float(length_map(scheme, 1.0)) - b, b


def _flow_label(q: float) -> str:
    return format(q, ".6g")


def length_fixed_points(scheme) -> list[LengthFixedPoint]:
    """All fixed points of the length map (see :func:`_length_fixed_points`)."""
    return list(_length_fixed_points(scheme))


@functools.lru_cache(maxsize=64)
def _length_fixed_points(scheme) -> tuple[LengthFixedPoint, ...]:
    """All fixed points of the length map in ``[0, Q_LIMIT]`` with slope, stability and basin.

    Homogeneous activations: ``q' = a q + b`` is solved exactly. Otherwise ``q' - q`` is scanned
    on :data:`Q_SCAN` (one vectorised call) and every sign change refined by
    :func:`bracketed_root`; ``q = 0`` is a fixed point when ``q'(0) = 0`` (odd-like ``phi``, no
    bias). The length map is increasing in ``q`` (checked on the scan), so the flow moves
    monotonically towards the next fixed point in the direction of ``q' - q``: basins are the
    intervals between unstable points. Lengths above the last point with ``q' > q`` diverge.
    """
    if scheme.fixes_length:
        return (LengthFixedPoint(1.0, 0.0, 1.0, True, (0.0, math.inf)),)
    if scheme.activation_step.homogeneous:
        a, b = _affine_length_map(scheme)
        if abs(a - 1.0) <= 1e-12:
            if b == 0:  # every length is fixed, neutrally
                return (LengthFixedPoint(math.nan, 1.0, 1.0, True, (0.0, math.inf)),)
            return ()
        if a < 1.0:
            q = b / (1.0 - a)
            return (LengthFixedPoint(q, a, q if q > 0 else 1.0, True, (0.0, math.inf)),)
        return (LengthFixedPoint(0.0, a, 1.0, False, (0.0, 0.0)),) if b == 0 else ()
    gap_at = lambda q: float(length_map(scheme, q)) - q  # noqa: E731
    with np.errstate(over="ignore", invalid="ignore"):  # a callable may overflow at q = 1e8
        values = length_map(scheme, Q_SCAN)
    gaps = values - Q_SCAN
    if np.any(np.diff(values) < -1e-12 * np.abs(values[1:])):
        raise KernelnormInputError(
            "--activation", f"the length map of {scheme.activation.name} is not increasing in q: "
            "its fixed points have no interval basins (not supported)")
    roots = [float(q) for q in Q_SCAN[gaps == 0.0]]
    for i in np.flatnonzero(np.sign(gaps[1:-1]) * np.sign(gaps[2:]) < 0) + 1:
        roots.append(bracketed_root(gap_at, Q_SCAN[i], Q_SCAN[i + 1], rtol=1e-14))
    roots.sort()
    points = []
    edges = [0.0] + roots + [math.inf]
    for k, q in enumerate(roots):
        below = _side_sign(gap_at, edges[k], q)    # flow direction just below q
        above = _side_sign(gap_at, q, edges[k + 2])
        slope = _length_slope(scheme, q)
        attracts_below = q == 0.0 or below > 0
        attracts_above = above < 0
        stable = attracts_below and attracts_above
        low = edges[k] if attracts_below else q
        high = edges[k + 2] if attracts_above else q
        operating = q if q > 0 else ZERO_LENGTH_SCALE
        points.append(LengthFixedPoint(float(q), slope, float(operating), stable,
                                       (float(low), float(high))))
    return tuple(points)


def _side_sign(gap_at, low: float, high: float) -> float:
    """Sign of ``q' - q`` strictly between two neighbouring fixed points (or up to infinity)."""
    if math.isinf(high):
        probe = max(2.0 * low, Q_LIMIT) if low > 0 else Q_LIMIT
    elif low == 0.0:
        probe = 0.5 * high
    else:
        probe = math.sqrt(low * high)
    return math.copysign(1.0, gap_at(probe))


def length_fixed_point(scheme, *, q0: float = 1.0) -> LengthFixedPoint:
    """The fixed point of the length map that inputs of length ``q0 = K_0(x, x)`` flow to.

    The flow starts at ``K_1 = sigma_w2 q0 + sigma_b2`` (:func:`first_length`) and follows
    ``q -> q'`` (:func:`length_fixed_points` gives all fixed points and their basins). For
    positively homogeneous activations a divergent length is returned as ``q = inf`` (their
    correlation map does not depend on the length); for any other activation a divergent length
    is a :class:`KernelnormInputError` that says which fixed points exist and from which
    ``q0`` the length converges.
    """
    q1 = first_length(scheme, q0)
    points = length_fixed_points(scheme)
    if scheme.activation_step.homogeneous and not scheme.fixes_length:
        if points and math.isnan(points[0].q):  # a = 1, b = 0: the length stays q1
            return LengthFixedPoint(q1, 1.0, q1 if q1 > 0 else 1.0, True, (0.0, math.inf))
        stable = [p for p in points if p.stable]
        if stable:
            return stable[0]
        a, _ = _affine_length_map(scheme)
        if q1 == 0.0 and points:
            return LengthFixedPoint(0.0, a, 1.0, False, (0.0, 0.0))
        return LengthFixedPoint(math.inf, a, 1.0, False, (0.0, math.inf))
    for point in points:
        low, high = point.basin
        if point.q == q1 or (low <= q1 <= high and point.stable):
            return point
    raise KernelnormInputError("--sigma-w2", _divergence_message(scheme, q0, q1, points))


def _divergence_message(scheme, q0: float, q1: float, points) -> str:
    def describe(p):
        kind = (f"stable, basin [{_flow_label(p.basin[0])}, {_flow_label(p.basin[1])})"
                if p.stable else "unstable")
        return f"q = {_flow_label(p.q)} ({kind})"

    listed = "; ".join(describe(p) for p in points) or "none"
    where = (f"{scheme.name}, {scheme.activation.name}, sigma_w2 = {scheme.sigma_w2:.6g}, "
             f"sigma_b2 = {scheme.sigma_b2:.6g}")
    advice = ""
    stable = [p for p in points if p.stable]
    if stable and scheme.sigma_w2 > 0:
        top = max(p.basin[1] for p in stable)
        bound = (top - scheme.sigma_b2) / scheme.sigma_w2
        if bound > 0:
            advice = f"; inputs with --q0 below {_flow_label(bound)} converge"
    return (f"{where}: the length q diverges from q0 = {_flow_label(q0)} (K_1 = "
            f"{_flow_label(q1)}): q' > q for every q >= {_flow_label(q1)} up to "
            f"{Q_LIMIT:g}; fixed points: {listed}{advice}")


def _operating_scheme(scheme, q0: float = 1.0):
    """The scheme and length at which correlations evolve (a diverging homogeneous net
    forgets its bias: ``sigma_b2 / q -> 0``)."""
    check_block("scheme", scheme)
    fixed = length_fixed_point(scheme, q0=q0)
    if math.isinf(fixed.q) and scheme.activation.homogeneous and scheme.sigma_b2 > 0:
        scheme = dataclasses.replace(scheme, sigma_b2=0.0)
    return scheme, fixed.operating_q


def correlation_map(scheme, rho, *, q: float | None = None, q0: float = 1.0):
    """The correlation map ``rho -> rho' = c'(q, q, q rho) / q'(q)`` at the length fixed point
    that inputs of length ``q0`` flow to (:func:`length_fixed_point`), or at the length ``q``.

    Plain ReLU at stable init: ``sigma_w2 phi_hat(rho) + sigma_b2`` (MimicNorm Eq. 3); weight
    mean at its Theorem-3 init: ``T_bar(rho) = (phi_hat(rho) - phi_hat(0)) / (phi_hat(1) -
    phi_hat(0))``; idealised batch norm: the same ``T_bar`` (Theorem 2, docs/theory.md §2).
    """
    refuse_correlation_map(scheme)  # mini-batch BN: a B x B Gram map (kernelnorm._minibatch)
    rho = check_correlation("--rho", rho)
    if q is None:
        scheme, q = _operating_scheme(scheme, q0)
    q_next, _, c_next = scheme.kernel_map(q, q, q * rho)
    return c_next / q_next


def correlation_map_slope(scheme, rho, *, q: float | None = None, q0: float = 1.0):
    """``d rho'/d rho = q T_dot(q, q, q rho) / q'(q)`` (Price's theorem: ``d E[phi phi]/dc =
    E[phi' phi']``)."""
    refuse_correlation_map(scheme)
    rho = check_correlation("--rho", rho)
    if q is None:
        scheme, q = _operating_scheme(scheme, q0)
    q_next = scheme.kernel_map(q, q, q)[0]
    return q * scheme.derivative_kernel(q, q, q * rho) / q_next


def chi_1(scheme, *, q0: float = 1.0) -> float:
    """``chi_1 = T_dot(q*, q*, q*) = sigma_w2 E[phi'(u)^2]``: the per-layer growth of squared
    gradients and the slope of the correlation map at ``rho = 1`` (docs/theory.md §3), at the
    length fixed point ``q*`` that inputs of length ``q0`` flow to.

    Plain ReLU: ``sigma_w2 / 2`` (Proposition 1); weight mean at its stable init and batch norm:
    ``1 / (2 (phi_hat(1) - phi_hat(0))) = pi / (pi - 1)`` (Theorems 2 and 3). BN over
    mini-batches of ``B``: the white-probe growth ``chi_1(B)`` of :mod:`kernelnorm._minibatch`.
    """
    if finite_batch(scheme):
        return block_theory(scheme).chi_1
    scheme, q = _operating_scheme(scheme, q0)
    if q == ZERO_LENGTH_SCALE and length_fixed_point(scheme, q0=q0).q == 0.0:
        q = 0.0  # the q -> 0 limit itself: sigma_w2 phi'(0)^2
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


def _merge_unresolved(roots: list[float], gap_at) -> list[float]:
    """Neighbouring roots (closer than 1e-3) between which ``|T(rho) - rho|`` never exceeds
    :data:`MAP_RESOLUTION` are one fixed point (at criticality the root at ``rho = 1`` is
    double: rounding would otherwise split it into spurious roots at ``1 - O(1e-8)``); the
    endpoint ``+-1`` is kept when it is one of them."""
    merged: list[float] = []
    for root in sorted(roots):
        if merged and root - merged[-1] <= 1e-3:  # farther apart, the gap is resolved
            between = np.linspace(merged[-1], root, 9)[1:-1]
            if root - merged[-1] <= 1e-9 or np.all(np.abs(gap_at(between)) <= MAP_RESOLUTION):
                if abs(root) == 1.0:
                    merged[-1] = root
                continue
        merged.append(root)
    return merged


def fixed_points(scheme, *, grid: int | None = None, q0: float = 1.0) -> list[FixedPoint]:
    """All fixed points of the correlation map in ``[-1, 1]``, with slope and stability, at the
    length fixed point that inputs of length ``q0`` flow to.

    Roots of ``T(rho) - rho`` are bracketed on a uniform grid (2001 points; 257 when the
    activation needs quadrature) and refined by :func:`bracketed_root`; the endpoints are tested
    exactly, and roots the map cannot tell apart are merged (:func:`_merge_unresolved`). A fixed
    point with ``|slope| = 1`` is ``marginal`` and is called stable when it attracts from both
    sides that exist (e.g. ``rho = 1`` at criticality, where ``xi_c = inf``). BN over
    mini-batches: the symmetric fixed point ``c* = -1/(B - 1)`` of the Gram map.
    """
    check_block("scheme", scheme)
    if finite_batch(scheme):
        return minibatch_fixed_points(scheme)
    if grid is None:  # quadrature activations cost ~1e4 evaluations per grid point
        grid = 2001 if scheme.activation_step.closed_form else 257
    scheme, q = _operating_scheme(scheme, q0)
    if q == ZERO_LENGTH_SCALE and float(scheme.derivative_kernel(0.0, 0.0, 0.0)) > 0:
        raise KernelnormInputError(
            "--sigma-w2", f"{scheme.name}, {scheme.activation.name}, sigma_w2 = "
            f"{scheme.sigma_w2:.6g}: the length flows to q* = 0 from q0 = {q0:g}, where phi is "
            "linear: the correlation map tends to T(rho) = rho, every correlation is a "
            "(marginal) fixed point and none is isolated")
    rhos = np.linspace(-1.0, 1.0, grid)
    gap = correlation_map(scheme, rhos, q=q) - rhos
    if np.all(np.abs(gap) <= MAP_RESOLUTION):
        raise KernelnormInputError(
            "--activation", f"{scheme.name}, {scheme.activation.name}: the correlation map is "
            "the identity, T(rho) = rho (a linear network): every correlation is a (marginal) "
            "fixed point and none is isolated")
    gap_at = lambda r: correlation_map(scheme, r, q=q) - r  # noqa: E731
    roots: list[float] = []
    for i in np.flatnonzero(np.abs(gap) <= 1e-14):
        roots.append(float(rhos[i]))
    for i in np.flatnonzero(gap[:-1] * gap[1:] < 0):
        roots.append(bracketed_root(lambda r: float(gap_at(r)), rhos[i], rhos[i + 1]))
    return [_classify(scheme, q, r) for r in _merge_unresolved(roots, gap_at)]


def stable_fixed_point(scheme, points: list[FixedPoint] | None = None, *,
                       q0: float = 1.0) -> FixedPoint:
    """The attracting fixed point of the correlation map (the one deep nets converge to);
    ``points`` reuses an earlier :func:`fixed_points` result."""
    if points is None:
        points = fixed_points(scheme, q0=q0)
    stable = [p for p in points if p.stable]
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


def depth_scales(scheme, *, q0: float = 1.0) -> tuple[float, float]:
    """``(xi_c, xi_q)``: depth scales of correlation and length convergence (``-1/log chi``)."""
    if finite_batch(scheme):
        summary = summarise(scheme)
        return summary.xi_c, summary.xi_q
    xi_c = correlation_depth_scale(stable_fixed_point(scheme, q0=q0).slope)
    return xi_c, correlation_depth_scale(length_fixed_point(scheme, q0=q0).slope)


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


def critical_line(scheme, *, q0: float = 1.0) -> float:
    """``sigma_w2`` with ``chi_1 = 1`` at the scheme's ``sigma_b2`` (any activation), at the
    length fixed point that inputs of length ``q0`` flow to.

    Homogeneous activations: ``chi_1`` is linear in ``sigma_w2``, so the solve is exact (ReLU:
    ``sigma_w2 = 2``; weight mean: ``2 n / (n - 1)``). Otherwise, with ``M(q)`` the length map
    at ``sigma_w2 = 1`` without bias, ``b`` the bias and ``D(q)`` the derivative kernel at
    ``sigma_w2 = 1``, a critical point is a length ``q*`` with

        sigma_w2 = 1 / D(q*),      q* = M(q*) / D(q*) + b,

    one equation in ``q*`` alone: it is scanned on :data:`Q_SCAN` and refined, which finds every
    critical point (``q* = 0`` included when ``M(0) = 0`` and ``b = 0``); the first (smallest
    ``q*``) that inputs of length ``q0`` actually flow to is returned. Where there is none, the
    error gives the range of ``sigma_b2`` where there is one, ``b = q - M(q)/D(q)``.
    Length-fixing normalisers (LN, GN) are solved in closed form
    (:func:`_fixed_length_critical_line`); batch norm has no ``sigma_w`` (a one-line error).
    """
    check_block("scheme", scheme)
    if not scheme.has_sigma_w:
        raise KernelnormInputError(
            "--norm", f"{scheme.name} has no sigma_w (the scale drops out): chi_1 does not "
            "depend on it")
    if scheme.fixes_length:
        return _fixed_length_critical_line(scheme)
    at = lambda s2: dataclasses.replace(scheme, sigma_w2=s2)  # noqa: E731
    if scheme.activation_step.homogeneous:
        return 1.0 / chi_1(at(1.0), q0=q0)
    unit, bare = at(1.0), dataclasses.replace(scheme, sigma_w2=1.0, sigma_b2=0.0)
    bias = float(length_map(unit, 0.0) - length_map(bare, 0.0))
    def offset(q):
        with np.errstate(divide="ignore", invalid="ignore"):  # D(q) = 0: no critical point
            return q - length_map(bare, q) / unit.derivative_kernel(q, q, q)

    scan = offset(Q_SCAN)
    gap = np.where(np.isfinite(scan), scan - bias, np.nan)
    candidates = [0.0] if bias == 0 and float(length_map(bare, 0.0)) == 0.0 else []
    for i in np.flatnonzero(np.sign(gap[1:-1]) * np.sign(gap[2:]) < 0) + 1:
        candidates.append(bracketed_root(lambda q: float(offset(q)) - bias, Q_SCAN[i],
                                         Q_SCAN[i + 1], rtol=1e-14))
    where = f"{scheme.name}, {scheme.activation.name}, sigma_b2 = {scheme.sigma_b2:g}"
    unreached = []
    for q_c in candidates:
        sigma_w2 = 1.0 / float(unit.derivative_kernel(q_c, q_c, q_c))
        try:
            reached = length_fixed_point(at(sigma_w2), q0=q0).q
        except KernelnormInputError:
            reached = math.inf
        if abs(reached - q_c) <= 1e-6 * q_c or reached == q_c:
            return sigma_w2
        unreached.append(f"sigma_w2 = {sigma_w2:.6g} (q* = {q_c:.6g}; the length from "
                         f"q0 = {q0:g} flows to q = {reached:.6g} instead)")
    if unreached:
        raise KernelnormInputError("--sigma-b2", f"{where}: no critical point reached from "
                                   f"q0 = {q0:g}: {'; '.join(unreached)}")
    valid = scan[np.isfinite(scan)]
    if valid.size == 0:
        raise KernelnormInputError("--activation", f"{where}: phi' vanishes: no critical point")
    low, high = max(float(valid.min()), 0.0), float(valid.max())
    raise KernelnormInputError(
        "--sigma-b2", f"{where}: no critical point (chi_1 = 1 at a fixed point of the length "
        f"map needs sigma_b2 = q - M(q)/D(q), which spans [{low:.6g}, {high:.6g}] for "
        f"q in [0, {Q_LIMIT:g}])")


@dataclass(frozen=True)
class TransitionSummary:
    """Everything the CLI reports about a scheme's transition operator.

    ``q_star`` is the length fixed point that inputs of length ``q0`` flow to; ``lengths``
    lists every fixed point of the length map with its stability and basin.
    """

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
    q0: float = 1.0
    lengths: tuple[LengthFixedPoint, ...] = ()

    def as_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["fixed_points"] = [dataclasses.asdict(p) for p in self.fixed_points]
        out["lengths"] = [dataclasses.asdict(p) for p in self.lengths]
        return out


def summarise(scheme, *, q0: float = 1.0) -> TransitionSummary:
    """Length fixed points (all, and the one inputs of length ``q0`` flow to), ``chi_1``,
    phase, all correlation fixed points, the stable one and depth scales. BN over mini-batches
    of ``B``: the finite-batch theory (:func:`kernelnorm._minibatch.minibatch_summary`)."""
    if finite_batch(scheme):
        return minibatch_summary(scheme)
    length = length_fixed_point(scheme, q0=q0)
    points = tuple(fixed_points(scheme, q0=q0))
    stable = stable_fixed_point(scheme, list(points))
    chi = chi_1(scheme, q0=q0)
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
        q0=float(q0),
        lengths=tuple(p for p in length_fixed_points(scheme) if not math.isnan(p.q)),
    )
