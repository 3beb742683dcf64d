"""Activations and their dual kernels (MimicNorm Eq. 3-4; Cho & Saul 2009), with stated accuracy.

For a centred Gaussian pair ``(u, v)`` with ``Var u = q1``, ``Var v = q2`` and ``Cov(u, v) = c``
an activation ``phi`` has

* the dual kernel             ``dual(q1, q2, c)            = E[phi(u) phi(v)]``,
* the derivative dual kernel  ``derivative_dual(q1, q2, c) = E[phi'(u) phi'(v)]``,
* the mean                    ``mean(q)                    = E[phi(u)]``, ``u ~ N(0, q)``.

**Accuracy (stated, tested against mpmath in tests/test_kernel_accuracy.py).** For
``q1, q2 in [1e-6, 1e4]`` and every ``|c| <= sqrt(q1 q2)`` (``rho = +-1`` included) each kernel
value ``K`` of a built-in activation satisfies ``|K - K_exact| <= KERNEL_RTOL |K_exact| +
KERNEL_ATOL S`` with ``KERNEL_RTOL = 1e-10``, ``KERNEL_ATOL = 1e-14`` and ``S`` the kernel's
Cauchy-Schwarz scale (``sqrt(E phi(u)^2 E phi(v)^2)`` for the dual, the same with ``phi'`` for
the derivative dual, ``sqrt(E phi(u)^2)`` for the mean; ``S <= 1`` for bounded activations, so
the absolute part is at most ``1e-14`` there). Every value also comes with its own a-posteriori
error bound (``*_with_error`` methods), which the NTK engine propagates.

* **Closed forms**: ReLU (arc-cosine kernel), erf (arcsine kernel), GELU (below), identity.
  They are written in terms of the covariance determinant ``det = q1 q2 - c^2`` computed with
  a compensated (Dekker) product, so ``rho = +-1`` and its neighbourhood lose no digits
  (``arccos(rho)`` near ``+-1`` would lose half of them); their error is a few ulps of the
  terms summed.
* **Quadrature** (tanh, SiLU, user callables): an adaptive, nested trapezoid rule after a sinh
  change of variables (below).

Only numpy is imported here; the JAX versions of the nonlinearities are looked up lazily.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

import numpy as np

from kernelnorm._errors import KernelnormInputError

Array = np.ndarray

#: Stated accuracy of every kernel value (module docstring): relative part.
KERNEL_RTOL = 1e-10
#: Stated accuracy: absolute part, in units of the kernel's Cauchy-Schwarz scale.
KERNEL_ATOL = 1e-14
#: Unused by the adaptive rule; kept so that ``Activation(..., quadrature_order=n)`` still works.
DEFAULT_QUADRATURE_ORDER = 96

_EPS = float(np.finfo(np.float64).eps)
_TWO_PI = 2.0 * math.pi


def _namespace(x):
    """numpy for numpy input, ``jax.numpy`` for JAX arrays/tracers (imported only then)."""
    if type(x).__module__.startswith("jax"):
        import jax.numpy as jnp

        return jnp
    return np


def _erf(x):
    if type(x).__module__.startswith("jax"):
        from jax.scipy.special import erf

        return erf(x)
    from scipy.special import erf

    return erf(x)


# -- exact covariance geometry ------------------------------------------------------------------


def _split(a):
    t = 134217729.0 * a  # 2^27 + 1: Dekker's splitter for float64
    high = t - (t - a)
    return high, a - high


def _two_product(a, b):
    """``a * b = p + e`` exactly (Dekker 1971): ``p`` the rounded product, ``e`` its error."""
    p = a * b
    a_high, a_low = _split(a)
    b_high, b_low = _split(b)
    e = ((a_high * b_high - p) + a_high * b_low + a_low * b_high) + a_low * b_low
    return p, e


def covariance_determinant(q1, q2, c):
    """``det = q1 q2 - c^2`` (clipped at 0) with a compensated product.

    Near ``rho = +-1`` the naive difference cancels to a relative error ``eps / (1 - rho^2)``;
    with both products split exactly (Dekker) the error stays a few ulps of ``det`` itself,
    so ``sqrt(1 - rho^2) = sqrt(det / (q1 q2))`` and the angles built from it are accurate to
    the last digits even a few ulps away from ``|rho| = 1``.
    """
    return np.maximum(compensated_determinant(q1, q2, c), 0.0)


def compensated_determinant(q1, q2, c):
    """``q1 q2 - c^2`` from Dekker-split products (pure arithmetic: numpy or JAX arrays; not
    clipped). The one statement of the compensated difference (:func:`covariance_determinant`;
    the conv engine's ReLU angle)."""
    p, ep = _two_product(q1, q2)
    s, es = _two_product(c, c)
    return (p - s) + (ep - es)


def _broadcast(*arrays):
    return np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in arrays))


def _clip_covariance(q1, q2, c):
    """Variances clipped at 0 and ``|c| <= sqrt(q1 q2)`` (rounding can push it past)."""
    q1, q2, c = _broadcast(q1, q2, c)
    q1, q2 = np.maximum(q1, 0.0), np.maximum(q2, 0.0)
    bound = np.sqrt(q1 * q2)
    return q1, q2, np.clip(c, -bound, bound)


# -- closed forms (each returns value, error bound) ----------------------------------------------


def _angle_complement(q1, q2, c, det):
    """``pi - arccos(rho) = atan2(sqrt(det), -c)`` in ``[0, pi]``, exact at ``rho = +-1``; pi/2
    where a variance vanishes (the pair is then independent)."""
    angle = np.arctan2(np.sqrt(det), -c)
    return np.where(q1 * q2 > 0, angle, 0.5 * math.pi)


def _x_minus_arctan(r):
    """``r - arctan(r)`` for ``r >= 0`` without cancellation (series below 1/2)."""
    shape = np.shape(r)
    r = np.atleast_1d(np.asarray(r, dtype=np.float64))
    small = r < 0.5
    out = r - np.arctan(r)
    if np.any(small):
        x = r[small]
        x2 = x * x
        series = np.zeros_like(x)
        for k in range(39, -1, -1):  # x^3 sum_k (-1)^k x^(2k) / (2k + 3); 0.5^80 < 1e-24
            series = (-1.0) ** k / (2 * k + 3) + series * x2
        out[small] = x * x2 * series
    return out.reshape(shape)


def relu_dual(rho):
    """Normalised ReLU dual ``phi_hat(rho)`` (MimicNorm Eq. 3; arc-cosine kernel of degree 1).

    ``phi_hat(rho) = (sqrt(1 - rho^2) + (pi - arccos rho) rho) / (2 pi)`` for unit variances;
    ``phi_hat(1) = 1/2``, ``phi_hat(0) = 1/(2 pi)``, ``phi_hat(-1) = 0``.
    """
    rho = np.clip(np.asarray(rho, dtype=np.float64), -1.0, 1.0)
    return _relu_dual(1.0, 1.0, rho)[0]


def relu_derivative_dual(rho):
    """``phi_hat'(rho) = E[step(u) step(v)] = (pi - arccos rho) / (2 pi)`` (MimicNorm Eq. 4)."""
    rho = np.clip(np.asarray(rho, dtype=np.float64), -1.0, 1.0)
    return _relu_derivative_dual(1.0, 1.0, rho)[0]


def _relu_dual(q1, q2, c):
    """``E[relu(u) relu(v)] = (sqrt(det) + c (pi - arccos rho)) / (2 pi)`` (= ``sqrt(q1 q2)
    phi_hat(rho)``). For ``c < 0`` the two terms cancel; with ``r = sqrt(det)/(-c) =
    tan(pi - arccos rho)`` the value is ``(-c)(r - arctan r)/(2 pi)``, evaluated by series."""
    q1, q2, c = _clip_covariance(q1, q2, c)
    det = covariance_determinant(q1, q2, c)
    root = np.sqrt(det)
    angle = _angle_complement(q1, q2, c, det)
    negative = c < 0
    r = np.divide(root, -c, out=np.zeros_like(c), where=negative)
    value = np.where(negative, -c * _x_minus_arctan(r), root + c * angle) / _TWO_PI
    return value, 8 * _EPS * np.abs(value)


def _relu_derivative_dual(q1, q2, c):
    q1, q2, c = _clip_covariance(q1, q2, c)
    value = _angle_complement(q1, q2, c, covariance_determinant(q1, q2, c)) / _TWO_PI
    return value, 4 * _EPS * value


def _relu_mean(q):
    value = np.sqrt(np.maximum(q, 0.0) / _TWO_PI)
    return value, 2 * _EPS * value


def _erf_radicand(q1, q2, c):
    """``(1 + 2 q1)(1 + 2 q2) - 4 c^2 = 1 + 2 q1 + 2 q2 + 4 det`` (no cancellation)."""
    return 1.0 + 2.0 * q1 + 2.0 * q2 + 4.0 * covariance_determinant(q1, q2, c)


def _erf_dual(q1, q2, c):
    """``E[erf(u) erf(v)] = (2/pi) arcsin(2c / sqrt((1 + 2 q1)(1 + 2 q2)))`` (Williams 1997),
    evaluated as ``(2/pi) atan2(2c, sqrt(1 + 2 q1 + 2 q2 + 4 det))``."""
    q1, q2, c = _clip_covariance(q1, q2, c)
    value = (2.0 / math.pi) * np.arctan2(2.0 * c, np.sqrt(_erf_radicand(q1, q2, c)))
    return value, 6 * _EPS * np.abs(value)


def _erf_derivative_dual(q1, q2, c):
    """``E[erf'(u) erf'(v)] = (4/pi) / sqrt((1 + 2 q1)(1 + 2 q2) - 4 c^2)``."""
    q1, q2, c = _clip_covariance(q1, q2, c)
    value = (4.0 / math.pi) / np.sqrt(_erf_radicand(q1, q2, c))
    return value, 6 * _EPS * value


def _gelu_parts(q1, q2, c):
    q1, q2, c = _clip_covariance(q1, q2, c)
    d = 1.0 + q1 + q2 + covariance_determinant(q1, q2, c)  # (1 + q1)(1 + q2) - c^2
    p = (1.0 + q1) * (1.0 + q2)
    return q1, q2, c, d, p, np.arctan2(np.sqrt(d), -c)


def _gelu_dual(q1, q2, c):
    """``E[gelu(u) gelu(v)]``, ``gelu(x) = x Phi(x)``, in closed form (derived in
    docs/theory.md §1; the kernel of neural-tangents' ``stax.Gelu``)::

        D = (1 + q1)(1 + q2) - c^2,   P = (1 + q1)(1 + q2),   alpha = pi/2 + arcsin(c / sqrt P)
        E = c alpha / (2 pi) + (q1 q2 D + c^2) / (2 pi P sqrt D)

    ``alpha = atan2(sqrt D, -c)`` and ``D = 1 + q1 + q2 + det`` keep every digit at ``rho = +-1``.
    For ``c < 0`` and large variances the two terms cancel to ``O(q^-1/2)``: the stated error is
    a few ulps of the terms, relative ``~ q eps``.
    """
    q1, q2, c, d, p, alpha = _gelu_parts(q1, q2, c)
    first = c * alpha / _TWO_PI
    second = (q1 * q2 * d + c * c) / (_TWO_PI * p * np.sqrt(d))
    return first + second, 8 * _EPS * (np.abs(first) + np.abs(second))


def _gelu_derivative_dual(q1, q2, c):
    """``E[gelu'(u) gelu'(v)] = d/dc E[gelu(u) gelu(v)]`` (Price's theorem)::

        alpha / (2 pi) + c (D (3 + q1 + q2) + c^2) / (2 pi P D^(3/2))
    """
    q1, q2, c, d, p, alpha = _gelu_parts(q1, q2, c)
    first = alpha / _TWO_PI
    second = c * (d * (3.0 + q1 + q2) + c * c) / (_TWO_PI * p * d * np.sqrt(d))
    return first + second, 10 * _EPS * (np.abs(first) + np.abs(second))


def _gelu_mean(q):
    """``E[u Phi(u)] = q E[phi(u)] = q / sqrt(2 pi (1 + q))`` (Stein's lemma)."""
    q = np.maximum(q, 0.0)
    value = q / np.sqrt(_TWO_PI * (1.0 + q))
    return value, 4 * _EPS * value


def _zero_mean(q):
    zero = np.zeros_like(q)
    return zero, zero


def _identity_dual(q1, q2, c):
    value = c + 0.0 * (q1 + q2)
    return value, 0.0 * value


def _unit_derivative_dual(q1, q2, c):
    value = np.ones(np.broadcast(q1, q2, c).shape)
    return value, 0.0 * value


# -- error-controlled quadrature ------------------------------------------------------------------
#
# Why this rule. A smooth activation has its nonlinearity within |x| <~ 1 (tanh, SiLU: poles at
# x = +-i pi/2, +-i pi). In the standard variable z = x / sqrt(q) that feature has width
# 1/sqrt(q): a fixed Gauss-Hermite rule resolves it only while q <~ 1 (error 2e-6 at q = 2,
# 10 % at q = 16 with 96 nodes). We substitute z = z_c + d sinh(t), with d the feature width in
# z and z_c its position, and apply the trapezoid rule in t:
#   * the poles at distance ~d from z_c move to Im t = pi/2 whatever d is, so the trapezoid rule
#     converges geometrically in 1/h uniformly in q (sinh transformation, Elliott & Johnston
#     2007; the Gaussian confines the useful strip to Im t < pi/4, hence steps ~0.1 for 1e-13);
#   * nodes are graded geometrically away from the feature, so the Gaussian tails (out to
#     |z| = 9.5, beyond which phi(z) z^2 < 1e-18) cost only log(1/d) more nodes;
#   * the rules for h, 2h, 4h are nested (each level is re-evaluated in full, a third more work
#     than adding midpoints), and the last three give an a-posteriori error estimate:
#     e1 = |T_h - T_2h|, e2 = |T_2h - T_4h|, error(T_h) <~ e1^2/e2 while the rule converges
#     geometrically (e1 < e2 / 10, and never with the pre-asymptotic h = 0.8 rule), else
#     2 max(e1, e2) (algebraic convergence at a kink or jump of a user callable: the estimate
#     then reports it). The step is halved per kernel value
#     until the estimate is <= 1e-12 |K| + 1e-15 S (100x inside the stated accuracy).
# Two dimensions: u = sqrt(q1) z1, v = sqrt(q2)(rho z1 + r z2), r = sqrt(1 - rho^2), with the
# inner integral over the variable of smaller variance. Outer feature at z1 = 0 (phi's, and
# where the conditional mean of v crosses 0); inner feature where v = 0, z2 = -rho z1 / r, of
# width 1 / (sqrt(q2) r) when that is < 1. rho = +-1 is a one-dimensional integral.

_Z_MAX = 9.5
_STEPS = (0.8, 0.4, 0.2, 0.1, 0.05, 0.025)
_MIN_LEVEL = 2  # three rules before the first estimate
_TARGET_RTOL = 1e-12
_TARGET_ATOL = 1e-15
_BLOCK = 1 << 21  # values per array block (~16 MB)


@lru_cache(maxsize=16)
def gauss_hermite(order: int) -> tuple[Array, Array]:
    """Nodes and weights with ``sum_i w_i f(z_i) ~ E[f(z)]``, ``z ~ N(0, 1)``."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(order)
    return nodes, weights / weights.sum()


def _sinh_rule(centre, width, h):
    """Nodes ``z = centre + width sinh(t)``, ``t = h j``, on ``|z| <= _Z_MAX``, with normalised
    weights ``cosh(t) phi(z)`` (sum 1: constants are integrated exactly).

    ``centre``, ``width``: arrays of one shape ``B``; returns ``z, w`` of shape ``B + (N,)``.
    """
    lo = np.arcsinh((-_Z_MAX - centre) / width)
    hi = np.arcsinh((_Z_MAX - centre) / width)
    j_lo, j_hi = int(np.floor(lo.min() / h)), int(np.ceil(hi.max() / h))
    t = h * np.arange(j_lo, j_hi + 1, dtype=np.float64)
    inside = (t >= lo[..., None]) & (t <= hi[..., None])
    tc = np.clip(t, lo[..., None], hi[..., None])
    z = centre[..., None] + width[..., None] * np.sinh(tc)
    w = np.where(inside, np.cosh(tc) * np.exp(-0.5 * z * z), 0.0)
    return z, w / w.sum(axis=-1, keepdims=True)


def _feature_width(scale):
    """Width in ``z`` of an activation feature of unit width seen at standard deviation
    ``scale``: ``1/scale``, capped at the Gaussian's own width 1."""
    return 1.0 / np.maximum(scale, 1.0)


@lru_cache(maxsize=512)
def _centred_rule(width: float, h: float):
    """:func:`_sinh_rule` centred at 0 for one width (scalar kernel calls, e.g. root finding,
    ask for the same few rules again and again)."""
    z, w = _sinh_rule(np.zeros(1), np.array([width]), h)
    z.setflags(write=False)
    w.setflags(write=False)
    return z, w


def _expect_line(f, g, a, b, h):
    """``E[f(a z) g(b z)]``, ``z ~ N(0, 1)`` (``g = None``: ``E[f(a z)]``). Returns the rule
    value and the integral of the absolute integrand."""
    width = np.minimum(_feature_width(np.abs(a)), _feature_width(np.abs(b)))
    if width.size == 1:
        z, w = _centred_rule(float(width[0]), h)
    else:
        z, w = _sinh_rule(np.zeros_like(a), width, h)
    values = f(a[:, None] * z)
    if g is not None:
        values = values * g(b[:, None] * z)
    return np.sum(values * w, axis=-1), np.sum(np.abs(values) * w, axis=-1)


def _expect_plane(f, s1, s2, rho, r, h):
    """``E[f(u) f(v)]`` with ``u = s1 z1``, ``v = s2 (rho z1 + r z2)`` (inner over ``z2``)."""
    inner_sd = s2 * r
    conditional_width = np.maximum(1.0 / s2, r) / np.maximum(np.abs(rho), 1e-300)
    outer_width = np.minimum(_feature_width(s1), np.minimum(1.0, conditional_width))
    z1, w1 = _sinh_rule(np.zeros_like(s1), outer_width, h)                   # (n, N1)
    sharp = (inner_sd > 1.0)[:, None]
    centre = np.where(sharp, np.clip(-rho[:, None] * z1 / np.maximum(r, 1e-300)[:, None],
                                     -_Z_MAX, _Z_MAX), 0.0)
    width = np.broadcast_to(_feature_width(inner_sd)[:, None], centre.shape)
    z2, w2 = _sinh_rule(centre, width, h)                                      # (n, N1, N2)
    v = s2[:, None, None] * (rho[:, None, None] * z1[..., None] + r[:, None, None] * z2)
    gv = f(v)
    inner = np.sum(gv * w2, axis=-1)
    inner_abs = np.sum(np.abs(gv) * w2, axis=-1)
    fu = f(s1[:, None] * z1)
    return np.sum(fu * inner * w1, axis=-1), np.sum(np.abs(fu) * inner_abs * w1, axis=-1)


def _nodes_per_value(s1, s2, h, plane: bool) -> int:
    """Upper bound on the nodes per value of a block (cuts the work into blocks)."""
    width = _feature_width(np.minimum(s1, s2) if plane else s1)
    per_axis = 2 * (np.arcsinh(2 * _Z_MAX / np.min(width)) / h + 1)
    return int(per_axis ** 2 if plane else per_axis)


def _adaptive(evaluate, n: int, cost) -> tuple[Array, Array]:
    """Halve the step per value until its error estimate meets the target (see above).

    ``evaluate(index, h) -> (value, absolute)`` on the values ``index``; ``cost(index, h)``
    the number of nodes per value, used to cut the work into blocks.
    """
    value = np.zeros(n)
    error = np.full(n, np.inf)
    history: list[Array] = []
    active = np.arange(n)
    for level, h in enumerate(_STEPS):
        if active.size == 0:
            break
        per_value = max(1, cost(active, h))
        block = max(1, _BLOCK // per_value)
        current = np.empty(active.size)
        absolute = np.empty(active.size)
        for start in range(0, active.size, block):
            part = slice(start, start + block)
            current[part], absolute[part] = evaluate(active[part], h)
        history = [old for old in history][-2:] + [current]
        value[active] = current
        # pairwise summation (numpy): rounding <~ log2(N) ulps of the absolute integral
        floor = 2 * _EPS * (math.log2(per_value) + 4) * absolute
        if level < _MIN_LEVEL:
            error[active] = np.inf
            continue
        e1 = np.abs(history[-1] - history[-2])
        e2 = np.abs(history[-2] - history[-3])
        # the coarsest rule (h = 0.8) is not yet geometric: e1^2/e2 with it can be optimistic
        # (seen: 2e-11 actual vs 1e-13 estimated), so the first estimate is e1 itself
        converging = (e1 < 0.1 * e2) & (level > _MIN_LEVEL)
        estimate = np.where(converging, e1 * e1 / np.where(converging, e2, 1.0),
                            2 * np.maximum(e1, e2)) + floor
        error[active] = estimate
        done = estimate <= _TARGET_RTOL * np.abs(current) + _TARGET_ATOL * absolute + floor
        keep = ~done
        active = active[keep]
        history = [old[keep] for old in history]
    return value, error


def _quadrature_mean(function, q):
    q = np.maximum(np.asarray(q, dtype=np.float64), 0.0)
    shape, scale = q.shape, np.sqrt(q).ravel()
    value, error = _adaptive(
        lambda i, h: _expect_line(function, None, scale[i], scale[i], h), scale.size,
        lambda i, h: _nodes_per_value(scale[i], scale[i], h, plane=False))
    return value.reshape(shape), error.reshape(shape)


def _quadrature_pair(function, q1, q2, c):
    """``E[f(u) f(v)]`` for the covariance ``[[q1, c], [c, q2]]`` (any broadcastable shapes)."""
    q1, q2, c = _clip_covariance(q1, q2, c)
    shape = q1.shape
    big, small = np.maximum(q1, q2).ravel(), np.minimum(q1, q2).ravel()
    c = c.ravel()
    s1, s2 = np.sqrt(big), np.sqrt(small)
    scale = s1 * s2
    rho = np.divide(c, scale, out=np.zeros_like(c), where=scale > 0)
    r = np.sqrt(np.divide(covariance_determinant(big, small, c), big * small,
                          out=np.ones_like(c), where=scale > 0))
    line = (r == 0) | (scale == 0)
    value, error = np.empty(c.size), np.empty(c.size)
    if np.any(line):  # rho = +-1, or a vanishing variance: one dimension
        i = np.flatnonzero(line)
        b = np.where(scale[i] > 0, np.sign(rho[i]) * s2[i], s2[i])
        independent = scale[i] == 0
        value[i], error[i] = _adaptive(
            lambda k, h: _line_or_product(function, s1[i][k], b[k], independent[k], h), i.size,
            lambda k, h: _nodes_per_value(s1[i][k], np.abs(b[k]), h, plane=False))
    if not np.all(line):
        i = np.flatnonzero(~line)
        value[i], error[i] = _adaptive(
            lambda k, h: _expect_plane(function, s1[i][k], s2[i][k], rho[i][k], r[i][k], h),
            i.size, lambda k, h: _nodes_per_value(s1[i][k], s2[i][k], h, plane=True))
    return value.reshape(shape), error.reshape(shape)


def _line_or_product(function, a, b, independent, h):
    """``E[f(a z) f(b z)]``, or ``E[f(a z)] E[f(b z')]`` where the pair is independent."""
    joint, joint_abs = _expect_line(function, function, a, b, h)
    if not np.any(independent):
        return joint, joint_abs
    first, first_abs = _expect_line(function, None, a, a, h)
    second, second_abs = _expect_line(function, None, b, b, h)
    return (np.where(independent, first * second, joint),
            np.where(independent, first_abs * second_abs, joint_abs))


# -- the Activation description -----------------------------------------------------------------


def _value_and_error(result, like):
    """Closed-form callables may return a value or ``(value, error)``; a bare value gets a
    rounding estimate of 16 ulps."""
    if isinstance(result, tuple):
        value, error = result
    else:
        value = np.asarray(result, dtype=np.float64)
        error = 16 * _EPS * np.abs(value)
    value = np.asarray(value, dtype=np.float64) + np.zeros_like(like)
    return value, np.asarray(error, dtype=np.float64) + np.zeros_like(like)


@dataclass(frozen=True, eq=False)
class Activation:
    """A nonlinearity together with its infinite-width kernels.

    Attributes:
        name: registry name (``relu``, ``erf``, ``tanh``, ``gelu``, ``silu``, ``identity``) or
            the callable's name.
        function: ``phi``, elementwise, accepting numpy or JAX arrays.
        derivative: ``phi'`` (used for the derivative dual by quadrature).
        homogeneous: ``phi(a x) = a phi(x)`` for ``a > 0`` (ReLU, identity). Such maps make the
            correlation map independent of the length ``q``.
        quadrature_order: accepted for compatibility, unused: the adaptive rule (module
            docstring) picks its own nodes per kernel value.

    Kernels without a closed form are computed by the adaptive sinh-trapezoid rule; every
    kernel has a ``*_with_error`` twin returning ``(value, error_bound)``.
    """

    name: str
    function: Callable
    derivative: Callable
    homogeneous: bool = False
    quadrature_order: int = DEFAULT_QUADRATURE_ORDER
    _dual: Callable | None = field(default=None, repr=False)
    _derivative_dual: Callable | None = field(default=None, repr=False)
    _mean: Callable | None = field(default=None, repr=False)

    def __call__(self, x):
        return self.function(x)

    @property
    def closed_form(self) -> bool:
        return self._dual is not None

    def dual_with_error(self, q1, q2, c) -> tuple[Array, Array]:
        """``(E[phi(u) phi(v)], error bound)`` for ``Var u = q1``, ``Var v = q2``, ``Cov = c``."""
        q1, q2, c = _broadcast(q1, q2, c)
        if self._dual is not None:
            return _value_and_error(self._dual(q1, q2, c), c)
        return _quadrature_pair(self.function, q1, q2, c)

    def derivative_dual_with_error(self, q1, q2, c) -> tuple[Array, Array]:
        """``(E[phi'(u) phi'(v)], error bound)``."""
        q1, q2, c = _broadcast(q1, q2, c)
        if self._derivative_dual is not None:
            return _value_and_error(self._derivative_dual(q1, q2, c), c)
        return _quadrature_pair(self.derivative, q1, q2, c)

    def mean_with_error(self, q) -> tuple[Array, Array]:
        """``(E[phi(u)], error bound)``, ``u ~ N(0, q)``."""
        q = np.asarray(q, dtype=np.float64)
        if self._mean is not None:
            return _value_and_error(self._mean(q), q)
        return _quadrature_mean(self.function, q)

    def dual(self, q1, q2, c) -> Array:
        """``E[phi(u) phi(v)]`` for ``Var u = q1``, ``Var v = q2``, ``Cov = c`` (broadcasting)."""
        return self.dual_with_error(q1, q2, c)[0]

    def derivative_dual(self, q1, q2, c) -> Array:
        """``E[phi'(u) phi'(v)]``, the derivative kernel ``T_dot / sigma_w^2`` of MimicNorm Eq. 7."""
        return self.derivative_dual_with_error(q1, q2, c)[0]

    def mean(self, q) -> Array:
        """``E[phi(u)]`` for ``u ~ N(0, q)`` (ReLU: ``sqrt(q / (2 pi))``)."""
        return self.mean_with_error(q)[0]

    def second_moment(self, q) -> Array:
        """``E[phi(u)^2]``, ``u ~ N(0, q)``: the dual on the diagonal."""
        return self.dual(q, q, q)

    def centred_dual(self, q1, q2, c) -> Array:
        """``E[phi(u) phi(v)] - E[phi(u)] E[phi(v)]``: the kernel of a unit-centred layer input.

        This is the wide-width kernel behind weight mean (docs/theory.md §2) and the idealised batch
        norm (docs/theory.md §2); ReLU at unit variance gives ``phi_hat(rho) - phi_hat(0)``.
        """
        return self.dual(q1, q2, c) - self.mean(q1) * self.mean(q2)


# -- the nonlinearities -------------------------------------------------------------------------


def _relu(x):
    return x * (x > 0)


def _step(x):
    return (x > 0) * 1.0


def _tanh(x):
    return _namespace(x).tanh(x)


def _tanh_derivative(x):
    cosh = _namespace(x).cosh(_namespace(x).minimum(abs(x), 350.0))
    return 1.0 / (cosh * cosh)


def _erf_derivative(x):
    return (2.0 / math.sqrt(math.pi)) * _namespace(x).exp(-x * x)


def _gaussian_cdf(x):
    return 0.5 * (1.0 + _erf(x / math.sqrt(2.0)))


def _gelu(x):
    return x * _gaussian_cdf(x)


def _gelu_derivative(x):
    density = _namespace(x).exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    return _gaussian_cdf(x) + x * density


def _sigmoid(x):
    """Logistic sigmoid without overflow and without cancellation in either tail (numpy:
    ``e^(-|x|)`` forms; importing scipy.special would cost the scalar CLI ~0.2 s)."""
    if type(x).__module__.startswith("jax"):
        import jax

        return jax.nn.sigmoid(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0, e) / (1.0 + e)


def _silu(x):
    return x * _sigmoid(x)


def _silu_derivative(x):
    s = _sigmoid(x)
    return s * (1.0 + x * (1.0 - s))


def _identity(x):
    return x


def _one(x):
    return 0.0 * x + 1.0


RELU = Activation(
    "relu", _relu, _step, homogeneous=True,
    _dual=_relu_dual, _derivative_dual=_relu_derivative_dual, _mean=_relu_mean,
)
ERF = Activation(
    "erf", _erf, _erf_derivative,
    _dual=_erf_dual, _derivative_dual=_erf_derivative_dual, _mean=_zero_mean,
)
IDENTITY = Activation(
    "identity", _identity, _one, homogeneous=True,
    _dual=_identity_dual, _derivative_dual=_unit_derivative_dual, _mean=_zero_mean,
)
GELU = Activation(
    "gelu", _gelu, _gelu_derivative,
    _dual=_gelu_dual, _derivative_dual=_gelu_derivative_dual, _mean=_gelu_mean,
)
#: tanh is odd: its mean is exactly 0; the dual and derivative dual are by quadrature.
TANH = Activation("tanh", _tanh, _tanh_derivative, _mean=_zero_mean)
SILU = Activation("silu", _silu, _silu_derivative)

ACTIVATIONS: dict[str, Activation] = {
    a.name: a for a in (RELU, ERF, TANH, GELU, SILU, IDENTITY)
}


def _numeric_derivative(function: Callable) -> Callable:
    """Five-point central difference, step ``7e-4 (1 + |x|)``: truncation ``h^4 f^(5) / 30``
    and rounding ``~1.5 eps |f| / h``, both ``~1e-13`` relative for unit-scale ``f``."""
    def derivative(x):
        h = 7e-4 * (1.0 + abs(x))
        return (function(x - 2 * h) - 8 * function(x - h) + 8 * function(x + h)
                - function(x + 2 * h)) / (12.0 * h)

    return derivative


def get_activation(activation, *, derivative: Callable | None = None) -> Activation:
    """Resolve a name (``"relu"``, ``"tanh"``, ...), an :class:`Activation`, or a callable.

    A user callable must accept numpy arrays; its kernels are computed by the adaptive
    quadrature (module docstring), its derivative, without an explicit ``derivative``, by a
    five-point central difference (``~1e-13`` relative for smooth unit-scale functions; the
    derivative kernels of such a callable are no more accurate than that).
    """
    if isinstance(activation, Activation):
        return activation
    if isinstance(activation, str):
        try:
            return ACTIVATIONS[activation.lower()]
        except KeyError:
            known = ", ".join(sorted(ACTIVATIONS))
            raise KernelnormInputError(
                "--activation", f"unknown activation {activation!r} (choose from {known})"
            ) from None
    if callable(activation):
        name = getattr(activation, "__name__", "custom")
        return Activation(name, activation, derivative or _numeric_derivative(activation))
    raise KernelnormInputError("--activation", f"expected a name or callable, got {activation!r}")
