"""Activations and their dual kernels (MimicNorm Eq. 3-4; Cho & Saul 2009).

For a centred Gaussian pair ``(u, v)`` with ``Var u = q1``, ``Var v = q2`` and ``Cov(u, v) = c``
an activation ``phi`` has

* the dual kernel             ``dual(q1, q2, c)            = E[phi(u) phi(v)]``,
* the derivative dual kernel  ``derivative_dual(q1, q2, c) = E[phi'(u) phi'(v)]``,
* the mean                    ``mean(q)                    = E[phi(u)]``, ``u ~ N(0, q)``.

ReLU, erf and the identity have closed forms; every other activation (tanh, GELU, SiLU, a user
callable) is integrated by tensor-product Gauss-Hermite quadrature. The nonlinearity and its
kernels are defined side by side, so one generic Monte-Carlo test checks them all.

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

#: Gauss-Hermite order used for activations without a closed form. At this order the dual of
#: ``erf`` matches its arcsine closed form to ``QUADRATURE_TOLERANCE`` for variances up to 2
#: (``tests/test_activations.py`` asserts it).
DEFAULT_QUADRATURE_ORDER = 96
QUADRATURE_TOLERANCE = 1e-10


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


# -- closed-form kernels ------------------------------------------------------------------------


def _safe_correlation(q1, q2, c):
    """``rho = c / sqrt(q1 q2)``, clipped to [-1, 1] against rounding; 0 where a variance is 0."""
    scale = np.sqrt(q1 * q2)
    rho = np.divide(c, scale, out=np.zeros(np.broadcast(q1, q2, c).shape), where=scale > 0)
    return np.clip(rho, -1.0, 1.0), scale


def relu_dual(rho):
    """Normalised ReLU dual ``phi_hat(rho)`` (MimicNorm Eq. 3; arc-cosine kernel of degree 1).

    ``phi_hat(rho) = (sqrt(1 - rho^2) + (pi - arccos rho) rho) / (2 pi)`` for unit variances;
    ``phi_hat(1) = 1/2``, ``phi_hat(0) = 1/(2 pi)``, ``phi_hat(-1) = 0``.
    """
    rho = np.clip(np.asarray(rho, dtype=np.float64), -1.0, 1.0)
    return (np.sqrt(1.0 - rho * rho) + (np.pi - np.arccos(rho)) * rho) / (2.0 * np.pi)


def relu_derivative_dual(rho):
    """``phi_hat'(rho) = E[step(u) step(v)] = (pi - arccos rho) / (2 pi)`` (MimicNorm Eq. 4)."""
    rho = np.clip(np.asarray(rho, dtype=np.float64), -1.0, 1.0)
    return (np.pi - np.arccos(rho)) / (2.0 * np.pi)


def _relu_dual(q1, q2, c):
    rho, scale = _safe_correlation(q1, q2, c)
    return scale * relu_dual(rho)


def _relu_derivative_dual(q1, q2, c):
    rho, _ = _safe_correlation(q1, q2, c)
    return relu_derivative_dual(rho)


def _relu_mean(q):
    return np.sqrt(q / (2.0 * np.pi))


def _erf_dual(q1, q2, c):
    """``E[erf(u) erf(v)] = (2/pi) arcsin(2c / sqrt((1 + 2 q1)(1 + 2 q2)))`` (Williams 1997)."""
    ratio = 2.0 * c / np.sqrt((1.0 + 2.0 * q1) * (1.0 + 2.0 * q2))
    return (2.0 / np.pi) * np.arcsin(np.clip(ratio, -1.0, 1.0))


def _erf_derivative_dual(q1, q2, c):
    """``E[erf'(u) erf'(v)] = (4/pi) / sqrt((1 + 2 q1)(1 + 2 q2) - 4 c^2)``."""
    return (4.0 / np.pi) / np.sqrt((1.0 + 2.0 * q1) * (1.0 + 2.0 * q2) - 4.0 * c * c)


def _zero_mean(q):
    return np.zeros_like(q)


def _identity_dual(q1, q2, c):
    return c + 0.0 * (q1 + q2)


def _unit_derivative_dual(q1, q2, c):
    return np.ones(np.broadcast(q1, q2, c).shape)


# -- quadrature ---------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def gauss_hermite(order: int) -> tuple[Array, Array]:
    """Nodes and weights with ``sum_i w_i f(z_i) ~ E[f(z)]``, ``z ~ N(0, 1)``."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(order)
    return nodes, weights / weights.sum()


def _pair_expectation(f, g, q1, q2, c, order):
    """``E[f(u) g(v)]`` for ``(u, v)`` centred Gaussian with covariance ``[[q1, c], [c, q2]]``.

    Uses ``u = sqrt(q1) z1``, ``v = sqrt(q2) (rho z1 + sqrt(1 - rho^2) z2)``: exact at
    ``rho = +-1`` (the second node set then carries weight but no displacement).
    """
    q1, q2, c = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (q1, q2, c)))
    rho, _ = _safe_correlation(q1, q2, c)
    z, w = gauss_hermite(order)
    s1, s2, r = (a[..., None, None] for a in (np.sqrt(q1), np.sqrt(q2), rho))
    z1, z2 = z[:, None], z[None, :]
    u = s1 * z1 + 0.0 * z2
    v = s2 * (r * z1 + np.sqrt(1.0 - r * r) * z2)
    values = f(u) * g(v)
    return np.einsum("...ij,i,j->...", values, w, w)


def _single_expectation(f, q, order):
    q = np.asarray(q, dtype=np.float64)
    z, w = gauss_hermite(order)
    return f(np.sqrt(q)[..., None] * z) @ w


# -- the Activation description -----------------------------------------------------------------


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
        quadrature_order: Gauss-Hermite order per dimension when no closed form is known.
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

    def dual(self, q1, q2, c) -> Array:
        """``E[phi(u) phi(v)]`` for ``Var u = q1``, ``Var v = q2``, ``Cov = c`` (broadcasting)."""
        q1, q2, c = (np.asarray(a, dtype=np.float64) for a in (q1, q2, c))
        if self._dual is not None:
            return self._dual(q1, q2, c)
        if np.array_equal(q1, q2) and np.array_equal(q1, c):  # diagonal: a 1-D integral
            return _single_expectation(lambda u: self.function(u) ** 2, q1, self.quadrature_order)
        return _pair_expectation(self.function, self.function, q1, q2, c, self.quadrature_order)

    def derivative_dual(self, q1, q2, c) -> Array:
        """``E[phi'(u) phi'(v)]``, the derivative kernel ``T_dot / sigma_w^2`` of MimicNorm Eq. 7."""
        q1, q2, c = (np.asarray(a, dtype=np.float64) for a in (q1, q2, c))
        if self._derivative_dual is not None:
            return self._derivative_dual(q1, q2, c)
        if np.array_equal(q1, q2) and np.array_equal(q1, c):
            return _single_expectation(lambda u: self.derivative(u) ** 2, q1, self.quadrature_order)
        return _pair_expectation(
            self.derivative, self.derivative, q1, q2, c, self.quadrature_order
        )

    def mean(self, q) -> Array:
        """``E[phi(u)]`` for ``u ~ N(0, q)`` (ReLU: ``sqrt(q / (2 pi))``)."""
        q = np.asarray(q, dtype=np.float64)
        if self._mean is not None:
            return self._mean(q)
        return _single_expectation(self.function, q, self.quadrature_order)

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
    t = _namespace(x).tanh(x)
    return 1.0 - t * t


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
    return 1.0 / (1.0 + _namespace(x).exp(-x))


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
TANH = Activation("tanh", _tanh, _tanh_derivative)
GELU = Activation("gelu", _gelu, _gelu_derivative)
SILU = Activation("silu", _silu, _silu_derivative)

ACTIVATIONS: dict[str, Activation] = {
    a.name: a for a in (RELU, ERF, TANH, GELU, SILU, IDENTITY)
}


def _numeric_derivative(function: Callable) -> Callable:
    def derivative(x):
        h = 1e-5 * (1.0 + abs(x))
        return (function(x + h) - function(x - h)) / (2.0 * h)

    return derivative


def get_activation(activation, *, derivative: Callable | None = None) -> Activation:
    """Resolve a name (``"relu"``, ``"tanh"``, ...), an :class:`Activation`, or a callable.

    A user callable must accept numpy arrays; its kernels are computed by Gauss-Hermite
    quadrature, and without an explicit ``derivative`` by central differences (step ``1e-5``).
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
