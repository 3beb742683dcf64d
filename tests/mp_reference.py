"""Independent high-precision reference for activation kernels.

Not a test module: ``tests/test_kernel_accuracy.py`` and ``benchmarks/kernel_accuracy.py``
import it. The method is deliberately unlike the library's (adaptive sinh-trapezoid rule in
standard variables, float64): composite Gauss-Legendre in the activations' own variables
``x = u`` and ``y = v``, on panels that tile the Gaussian in steps of one standard deviation
and grade geometrically towards the activation's feature at 0, evaluated in x86 extended
precision (``numpy.longdouble``, 64-bit mantissa, eps = 1.1e-19) with nodes and weights
computed by mpmath::

    E[f(u) g(v)] = int f(x) N(x; 0, q1) int g(y) N(y; c x / q1, q2 - c^2 / q1) dy dx

and the one-dimensional form at ``rho = +-1``. ``mpmath`` itself gives the reference for the
one-dimensional kernels (:func:`mp_line`) and checks the rule on kernels with mpmath closed
forms (``tests/test_kernel_accuracy.py::test_reference_rule_is_accurate``).
"""

from __future__ import annotations

import functools

import mpmath as mp
import numpy as np

LD = np.longdouble
Z_MAX = 10  # Gaussian mass beyond 10 sd: < 1e-23 relative, with polynomial growth
ORDER = 12


def extended_precision_available() -> bool:
    return float(np.finfo(LD).eps) < 1e-18


@functools.lru_cache(maxsize=4)
def legendre_rule(order: int = ORDER):
    """Gauss-Legendre nodes/weights on [-1, 1] to 30 digits (Newton from numpy's), as longdouble."""
    nodes, _ = np.polynomial.legendre.leggauss(order)
    out_x, out_w = [], []
    with mp.workdps(40):
        for guess in nodes:
            x = mp.findroot(lambda t: mp.legendre(order, t), mp.mpf(guess))
            w = 2 / ((1 - x * x) * mp.diff(lambda t: mp.legendre(order, t), x) ** 2)
            out_x.append(LD(mp.nstr(x, 25)))
            out_w.append(LD(mp.nstr(w, 25)))
    return np.array(out_x, dtype=LD), np.array(out_w, dtype=LD)


_GRADED = np.array([2.0 ** k for k in range(-8, 16)], dtype=LD)


def _standard_nodes(centre, sd, scales):
    """Composite rule in the standard variable ``w`` of ``y = centre + sd w``: panels
    ``[k, k + 1]`` for ``|k| < Z_MAX`` split at the points where ``y = +-2^j s`` (the geometric
    grading towards the activation's feature at ``y = 0``, for each feature scale ``s``).
    Returns ``w`` and the weights ``phi(w) dw`` per row."""
    x, w = legendre_rule()
    centre, sd = np.asarray(centre, LD)[..., None], np.asarray(sd, LD)[..., None]
    tiles = np.broadcast_to(np.arange(-Z_MAX, Z_MAX + 1, dtype=LD),
                            centre.shape[:-1] + (2 * Z_MAX + 1,))
    graded = np.concatenate([g * LD(s) for s in scales for g in (_GRADED, -_GRADED)]
                            + [np.zeros(1, LD)])
    graded = np.clip((graded - centre) / sd, LD(-Z_MAX), LD(Z_MAX))
    points = np.sort(np.concatenate([tiles, graded], axis=-1), axis=-1)
    a, b = points[..., :-1, None], points[..., 1:, None]
    half = (b - a) / 2
    nodes = (a + b) / 2 + half * x
    weights = half * w * np.exp(-nodes * nodes / 2) / np.sqrt(2 * LD(np.pi))
    shape = nodes.shape[:-2] + (-1,)
    return nodes.reshape(shape), weights.reshape(shape)


def expect_line(f, q, slope=None, g=None):
    """``E[f(u)]`` or ``E[f(u) g(slope u)]``, ``u ~ N(0, q)``: scalar ``q``."""
    q = LD(q)
    scales = (1,) if slope is None or slope == 0 else (1, 1 / abs(LD(slope)))
    z, w = _standard_nodes(LD(0), np.sqrt(q), scales)
    x = np.sqrt(q) * z
    values = f(x) if g is None else f(x) * g(LD(slope) * x)
    return np.sum(values * w)


def expect_pair(f, g, q1, q2, c):
    """``E[f(u) g(v)]`` for the covariance ``[[q1, c], [c, q2]]`` (scalars)."""
    q1, q2, c = LD(q1), LD(q2), LD(c)
    conditional = q2 - c * c / q1
    if conditional <= q2 * LD(1e-24):
        return expect_line(f, q1, c / q1, g)
    sd1, sd2 = np.sqrt(q1), np.sqrt(conditional)
    z1, w1 = _standard_nodes(LD(0), sd1, (1,) if c == 0 else (1, q1 / abs(c)))
    x = sd1 * z1
    mean = c * x / q1
    z2, w2 = _standard_nodes(mean, np.full(mean.shape, sd2, dtype=LD), (1,))
    inner = np.sum(g(mean[:, None] + sd2 * z2) * w2, axis=-1)
    return np.sum(f(x) * w1 * inner)


def _sigmoid(x):
    return 1 / (1 + np.exp(-np.clip(x, LD(-11000), None)))


#: Activations and derivatives in extended precision (only functions numpy evaluates in
#: longdouble: tanh, exp, cosh).
FUNCTIONS = {
    "tanh": (np.tanh, lambda x: 1 / np.cosh(np.clip(x, LD(-11000), LD(11000))) ** 2),
    "silu": (lambda x: x * _sigmoid(x),
             lambda x: _sigmoid(x) * (1 + x * (1 - _sigmoid(x)))),
    "erf'": (lambda x: 2 / np.sqrt(LD(np.pi)) * np.exp(-x * x), None),
}


def reference(name, kind, q1, q2=None, c=None):
    """Reference ``dual``/``derivative_dual``/``mean`` of ``name`` as a Python float pair
    ``(value, scale)``: ``scale`` is the Cauchy-Schwarz scale of the kernel."""
    phi, dphi = FUNCTIONS[name]
    fn = phi if kind in ("dual", "mean") else dphi
    if kind == "mean":
        return float(expect_line(fn, q1)), float(np.sqrt(expect_line(lambda x: fn(x) ** 2, q1)))
    value = expect_pair(fn, fn, q1, q2, c)
    scale = np.sqrt(expect_line(lambda x: fn(x) ** 2, q1) * expect_line(lambda x: fn(x) ** 2, q2))
    return float(value), float(scale)


# -- mpmath, one dimension ---------------------------------------------------------------------


MP_FUNCTIONS = {
    "tanh": (mp.tanh, lambda x: mp.sech(x) ** 2),
    "silu": (lambda x: x / (1 + mp.exp(-x)),
             lambda x: (1 + mp.exp(-x) + x * mp.exp(-x)) / (1 + mp.exp(-x)) ** 2),
    "gelu": (lambda x: x * mp.ncdf(x), lambda x: mp.ncdf(x) + x * mp.npdf(x)),
}


def mp_line(name, kind, q, sign=1, dps=30):
    """mpmath ``E[f(u) f(sign u)]`` (``kind`` ``dual``/``derivative_dual``) or ``E[f(u)]``
    (``mean``), ``u ~ N(0, q)``, by tanh-sinh quadrature split at the feature scales."""
    phi, dphi = MP_FUNCTIONS[name]
    fn = phi if kind in ("dual", "mean") else dphi
    with mp.workdps(dps):
        q = mp.mpf(q)
        sd = mp.sqrt(q)
        integrand = (lambda x: fn(x)) if kind == "mean" else (lambda x: fn(x) * fn(sign * x))
        points = sorted({-Z_MAX * sd, Z_MAX * sd, mp.mpf(0)}
                        | {s * p for s in (-1, 1) for p in (mp.mpf(1), mp.mpf(8), sd)
                           if p < Z_MAX * sd})
        return mp.quad(lambda x: integrand(x) * mp.npdf(x, 0, sd), points)


def mp_closed_form(name, kind, q1, q2, c):
    """The library's closed forms (ReLU, erf, GELU; dual or derivative dual) in mpmath at the
    current precision, at the same float inputs: the reference for their rounding."""
    q1, q2, c = mp.mpf(q1), mp.mpf(q2), mp.mpf(c)
    det = max(q1 * q2 - c * c, mp.mpf(0))
    if name == "relu":
        angle = mp.atan2(mp.sqrt(det), -c)  # pi - arccos(rho)
        return (mp.sqrt(det) + c * angle) / (2 * mp.pi) if kind == "dual" else angle / (2 * mp.pi)
    if name == "erf":
        radicand = (1 + 2 * q1) * (1 + 2 * q2)
        if kind == "dual":
            return 2 / mp.pi * mp.asin(2 * c / mp.sqrt(radicand))
        return 4 / mp.pi / mp.sqrt(radicand - 4 * c * c)
    d, p = (1 + q1) * (1 + q2) - c * c, (1 + q1) * (1 + q2)
    alpha = mp.pi / 2 + mp.asin(c / mp.sqrt(p))
    if kind == "dual":
        return c * alpha / (2 * mp.pi) + (q1 * q2 * d + c * c) / (2 * mp.pi * p * mp.sqrt(d))
    return alpha / (2 * mp.pi) + c * (d * (3 + q1 + q2) + c * c) / (2 * mp.pi * p * d ** 1.5)
