"""Activation steps of a conv layer with their infinite-width kernels, in JAX (jit, float64).

A layer's activation step acts channel-wise on the normalised pre-activations ``y``:

* :class:`AffineStep`  ``a(y) = phi(gamma y + beta)`` (Proxy Norm Eq. 4),
* :class:`ProxyStep`   ``a(y) = (phi(gamma y + beta) - m) / sqrt(v + eps)`` (Proxy Norm Eq. 7),

with one ``gamma ~ N(1, gamma_std^2)`` and one ``beta ~ N(0, beta_std^2)`` per channel
(Proxy Norm Definition 1; ``gamma_std = beta_std = 0`` is the plain ``phi``). At infinite
width the next layer averages over channels, so the kernel of the layer input is the average
over ``(gamma, beta)`` of the Gaussian expectation. For a centred Gaussian pair ``(u, v)`` with
``Var u = q1``, ``Var v = q2``, ``Cov = c`` every step gives

* ``dual(q1, q2, c)            = E[a(u) a(v)]``,
* ``derivative_dual(q1, q2, c) = E[a'(u) a'(v)]`` (the NTK factor; ``a' = da/dy``),
* ``mean(q)                    = E[a(u)]`` (weight mean subtracts it).

How ``(gamma, beta)`` is integrated out (derivations in ``docs/conv.md``):

* affine step: given ``gamma``, ``(gamma u + beta, gamma v + beta)`` is a *centred* Gaussian
  pair of covariance ``gamma^2 [[q1, c], [c, q2]] + beta_std^2``: ``beta`` is absorbed exactly
  and only ``gamma`` needs Gauss-Hermite quadrature (``gamma_nodes``; at the paper's
  ``gamma_std = 0.2`` eight nodes are exact to ``4e-9 sqrt(q1 q2)``, tested);
* proxy step: ``m``, ``v`` depend on ``(gamma, beta)`` themselves, so ``beta`` cannot be
  absorbed. For ReLU, ``relu(gamma u + beta) = gamma relu(u + t)`` with ``t = beta/gamma``,
  and ``E[relu(u + t) relu(v + t)]`` has a closed form through the bivariate normal CDF
  (:mod:`kernelnorm.conv._bivariate`); ``(gamma, beta)`` takes a product Gauss-Hermite rule,
  mirror nodes ``+-beta`` sharing one CDF.

ReLU's kernels are evaluated in JAX through the angle ``arccos(rho)`` (a fast float64
``arccos``), the identity's trivially; every other activation calls
:meth:`kernelnorm.Activation.dual` and friends through ``jax.pure_callback`` (correct, slower,
on the host). ``jax_kernels``; equal to ``kernelnorm.Activation`` to 1e-13 in
``tests/test_conv_duals.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from kernelnorm._activations import ACTIVATIONS, Activation, get_activation
from kernelnorm._errors import KernelnormInputError

#: Gauss-Hermite nodes over ``gamma`` in the affine step (error <= 4e-9 sqrt(q1 q2) at std 0.2).
DEFAULT_GAMMA_NODES = 8


# -- JAX kernels of an activation --------------------------------------------------------------


def _safe_rho(q1, q2, c):
    """``(rho, sqrt(q1 q2))``, ``rho = c / sqrt(q1 q2)`` clipped to ``[-1, 1]`` (0 where a
    variance is 0). Dividing by ``sqrt(q1 q2)`` (not multiplying inverse roots) keeps
    ``rho = 1`` exact on the diagonal, where ``sqrt(1 - rho^2)`` would amplify one ulp to 1e-8."""
    import jax.numpy as jnp

    scale = jnp.sqrt(q1 * q2)
    rho = jnp.where(scale > 0, c / jnp.where(scale > 0, scale, 1.0), 0.0)
    return jnp.clip(rho, -1.0, 1.0), scale


#: Degree of the polynomial for ``asin(sqrt z)/sqrt z`` on ``[0, 1/2]`` (error < 1e-16).
ARCSIN_DEGREE = 20


@lru_cache(maxsize=1)
def _arcsin_polynomial() -> tuple[float, ...]:
    """Monomial coefficients (in ``z``) of the Chebyshev economisation on ``[0, 1/2]`` of
    ``f(z) = asin(sqrt z)/sqrt z = sum_n (2n)! / (4^n (n!)^2 (2n + 1)) z^n``.

    Exact rational arithmetic: 80 terms of the series (remainder < 1e-24 on ``[0, 1/2]``), as a
    Chebyshev series in ``t = 4z - 1``, truncated at :data:`ARCSIN_DEGREE` (dropped
    coefficients sum to < 2e-17: they decay like ``(3 - sqrt 8)^k``, ``z = 1`` being ``f``'s
    branch point), back to powers of ``z``, then rounded once to float64."""
    from fractions import Fraction
    from math import comb

    count = 80
    series = [Fraction(1)]
    for n in range(count - 1):
        series.append(series[-1] * Fraction((2 * n + 1) ** 2, (2 * n + 2) * (2 * n + 3)))
    in_t = [Fraction(0)] * count  # z = (t + 1)/4
    for n, a in enumerate(series):
        for j in range(n + 1):
            in_t[j] += a * comb(n, j) / Fraction(4) ** n
    chebyshev = [Fraction(0)] * count  # t^n = 2^(1-n) sum_k C(n, k) T_(n-2k), halved at n = 2k
    for n, c in enumerate(in_t):
        for k in range(n // 2 + 1):
            weight = Fraction(comb(n, k), 2 ** (n - 1)) if n else Fraction(1)
            chebyshev[n - 2 * k] += c * (weight / 2 if n and 2 * k == n else weight)
    basis = [[Fraction(1)], [Fraction(0), Fraction(1)]]  # T_n in powers of t
    for n in range(2, ARCSIN_DEGREE + 1):
        doubled = [Fraction(0)] + [2 * x for x in basis[-1]]
        basis.append([x - (basis[-2][i] if i < len(basis[-2]) else 0) for i, x in enumerate(doubled)])
    powers_t = [Fraction(0)] * (ARCSIN_DEGREE + 1)
    for c, t_poly in zip(chebyshev, basis):
        for i, x in enumerate(t_poly):
            powers_t[i] += c * x
    powers_z = [Fraction(0)] * (ARCSIN_DEGREE + 1)  # t = 4z - 1
    for n, c in enumerate(powers_t):
        for j in range(n + 1):
            powers_z[j] += c * comb(n, j) * Fraction(4) ** j * (-1) ** (n - j)
    return tuple(float(c) for c in powers_z)


def arccos(rho):
    """``arccos(rho)`` in JAX to 2 ulp, several times faster than XLA's ``arccos`` on CPU (it
    dominates the ReLU kernels): ``arccos|rho| = 2 sqrt(z) f(z)``, ``z = (1 - |rho|)/2 <= 1/2``,
    ``f(z) = asin(sqrt z)/sqrt z`` a degree-20 polynomial (:func:`_arcsin_polynomial`)
    evaluated as four interleaved Horner chains in ``z^4`` (independent chains pipeline; one
    long chain is latency-bound), and ``arccos(-a) = pi - arccos(a)``. ``1 - |rho|`` is exact
    near ``|rho| = 1`` (Sterbenz), so small angles keep full relative precision (tested: max
    error 9e-16 against 30-digit values)."""
    import jax.numpy as jnp

    return _arccos_from(rho, (1.0 - jnp.abs(rho)) / 2.0)


def _arccos_from(rho, z):
    """``arccos(rho)`` given ``z = (1 - |rho|)/2`` (computed by the caller to full relative
    precision; :func:`arccos`)."""
    import jax.numpy as jnp

    square = z * z
    fourth = square * square
    coefficients = _arcsin_polynomial()
    chains = []
    for start in range(4):
        terms = coefficients[start::4]
        chain = terms[-1]
        for term in terms[-2::-1]:
            chain = chain * fourth + term
        chains.append(chain)
    total = chains[0] + z * chains[1] + square * (chains[2] + z * chains[3])
    angle = 2.0 * jnp.sqrt(z) * total
    return jnp.where(rho >= 0, angle, jnp.pi - angle)


def relu_angle(q1, q2, c):
    """The angle ``theta = arccos(rho)`` of a centred Gaussian pair (Cho & Saul's ReLU kernels
    are functions of it), accurate to a few ulps even a few ulps away from ``|rho| = 1``:
    ``1 - |rho| = det / (s (s + |c|))`` with ``s = sqrt(q1 q2)`` and ``det = q1 q2 - c^2`` from
    compensated products (``rho`` itself carries one ulp, which ``arccos`` amplifies to
    ``eps / theta`` there)."""
    import jax.numpy as jnp

    from kernelnorm._activations import compensated_determinant

    rho, scale = _safe_rho(q1, q2, c)
    det = jnp.maximum(compensated_determinant(q1, q2, c), 0.0)
    denominator = scale * (scale + jnp.abs(c))
    gap = jnp.where(denominator > 0, det / jnp.where(denominator > 0, denominator, 1.0), 1.0)
    return _arccos_from(rho, jnp.minimum(gap, 1.0) / 2.0)


def relu_from_angle(q1, q2, c, angle):
    """``(E[relu(u) relu(v)], E[step(u) step(v)])`` from the angle (MimicNorm Eq. 3-4):
    ``sqrt(q1 q2) (sin theta + (pi - theta) cos theta)/(2 pi)`` and ``(pi - theta)/(2 pi)``.
    ``sin theta`` from the angle, not ``sqrt(1 - rho^2)``: near ``|rho| = 1`` the rounded
    ``rho`` would lose its digits."""
    import jax.numpy as jnp

    rho, scale = _safe_rho(q1, q2, c)
    slope = (jnp.pi - angle) / (2 * jnp.pi)
    return scale * (jnp.sin(angle) / (2 * jnp.pi) + slope * rho), slope


def _relu_kernels():
    import jax.numpy as jnp

    def both(q1, q2, c):
        return relu_from_angle(q1, q2, c, relu_angle(q1, q2, c))

    def mean(q):
        return jnp.sqrt(q / (2 * jnp.pi))

    return (lambda q1, q2, c: both(q1, q2, c)[0], lambda q1, q2, c: both(q1, q2, c)[1], mean,
            both)


def _pair(dual, derivative_dual):
    return lambda q1, q2, c: (dual(q1, q2, c), derivative_dual(q1, q2, c))


def _identity_kernels():
    import jax.numpy as jnp

    dual = lambda q1, q2, c: c + 0.0 * (q1 + q2)  # noqa: E731
    derivative_dual = lambda q1, q2, c: jnp.ones_like(c + q1 + q2)  # noqa: E731
    return dual, derivative_dual, lambda q: jnp.zeros_like(q), _pair(dual, derivative_dual)


def _callback_kernels(activation: Activation):
    """Host callbacks to the numpy kernels of ``activation`` (any activation kernelnorm has)."""
    import jax
    import jax.numpy as jnp

    def wrap(function, arity):
        def call(*args):
            args = jnp.broadcast_arrays(*args)
            shape = jax.ShapeDtypeStruct(args[0].shape, args[0].dtype)
            host = lambda *a: np.asarray(function(*a), dtype=args[0].dtype)  # noqa: E731
            return jax.pure_callback(host, shape, *args, vmap_method="broadcast_all")
        return call

    dual, derivative_dual = wrap(activation.dual, 3), wrap(activation.derivative_dual, 3)
    return dual, derivative_dual, wrap(activation.mean, 1), _pair(dual, derivative_dual)


def jax_kernels(activation) -> tuple:
    """``(dual, derivative_dual, mean, both)`` of ``activation`` as JAX-traceable functions
    (``both`` returns the dual and the derivative dual from one evaluation).

    The registry's ReLU (through its angle, :func:`relu_angle`) and identity are evaluated in
    JAX; any other activation by its own numpy kernels (:class:`kernelnorm.Activation`) through
    a host callback.
    """
    activation = get_activation(activation)
    closed = {"relu": _relu_kernels, "identity": _identity_kernels}
    if activation.name in closed and ACTIVATIONS.get(activation.name) is activation:
        return closed[activation.name]()
    return _callback_kernels(activation)


# -- the activation steps ----------------------------------------------------------------------


def _check_std(argument, value):
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
        raise KernelnormInputError(argument, f"must be a number >= 0, got {value!r}")
    return float(value)


@lru_cache(maxsize=16)
def _hermite(order: int):
    nodes, weights = np.polynomial.hermite_e.hermegauss(order)
    return nodes, weights / weights.sum()


@dataclass(frozen=True)
class AffineStep:
    """``phi(gamma y + beta)`` with ``gamma ~ N(gamma_mean, gamma_std^2)``, ``beta ~ N(0,
    beta_std^2)`` per channel, integrated out (Proxy Norm Eq. 4 and Definition 1).

    Formula: with ``gamma_i, w_i`` the Gauss-Hermite nodes and weights of ``gamma`` and
    ``s2 = beta_std^2``,

        dual(q1, q2, c)   = sum_i w_i E_phi[gamma_i^2 q1 + s2, gamma_i^2 q2 + s2, gamma_i^2 c + s2]
        derivative_dual   = sum_i w_i gamma_i^2 E_phi'[same covariance]
        mean(q)           = sum_i w_i E[phi(u)], u ~ N(0, gamma_i^2 q + s2)

    exact in ``beta`` (absorbed into the covariance), quadrature in ``gamma`` only.

    Example: ``AffineStep(get_activation("relu")).dual(1., 1., 0.)`` is ``1/(2 pi)``.
    """

    activation: Activation
    gamma_std: float = 0.0
    beta_std: float = 0.0
    gamma_mean: float = 1.0
    gamma_nodes: int = DEFAULT_GAMMA_NODES
    _kernels: tuple = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "activation", get_activation(self.activation))
        object.__setattr__(self, "gamma_std", _check_std("--gamma-std", self.gamma_std))
        object.__setattr__(self, "beta_std", _check_std("--beta-std", self.beta_std))
        object.__setattr__(self, "_kernels", jax_kernels(self.activation))

    @property
    def name(self) -> str:
        return self.activation.name

    def gamma_quadrature(self) -> tuple[np.ndarray, np.ndarray]:
        """``(gamma^2 nodes, weights)``; one node ``gamma_mean`` when ``gamma_std = 0``."""
        if self.gamma_std == 0:
            return np.array([self.gamma_mean**2]), np.ones(1)
        nodes, weights = _hermite(self.gamma_nodes)
        return (self.gamma_mean + self.gamma_std * nodes) ** 2, weights

    def _average(self, kernel, q1, q2, c, *, slope: bool):
        g2, w = self.gamma_quadrature()
        s2 = self.beta_std**2
        total = 0.0
        for g, weight in zip(g2, w):
            value = kernel(g * q1 + s2, g * q2 + s2, g * c + s2)
            total = total + weight * (g * value if slope else value)
        return total

    def dual(self, q1, q2, c):
        return self._average(self._kernels[0], q1, q2, c, slope=False)

    def derivative_dual(self, q1, q2, c):
        return self._average(self._kernels[1], q1, q2, c, slope=True)

    @property
    def splits(self) -> bool:
        """ReLU: the NTK's two kernels share one angle per node, computed by :meth:`angles` in a
        separately compiled call (XLA would otherwise recompute it for each output)."""
        return self.activation is ACTIVATIONS["relu"]

    def _nodes(self, q1, q2, c):
        g2, w = self.gamma_quadrature()
        s2 = self.beta_std**2
        return [(g * q1 + s2, g * q2 + s2, g * c + s2, g, weight) for g, weight in zip(g2, w)]

    def angles(self, q1, q2, c):
        """ReLU angles of every ``gamma`` node, stacked: ``(nodes, *shape)``."""
        import jax.numpy as jnp

        return jnp.stack([relu_angle(a, b, k) for a, b, k, _, _ in self._nodes(q1, q2, c)])

    def dual_and_derivative_from_angles(self, q1, q2, c, angles):
        dual = slope = 0.0
        for (a, b, k, g, weight), angle in zip(self._nodes(q1, q2, c), angles):
            value, derivative = relu_from_angle(a, b, k, angle)
            dual = dual + weight * value
            slope = slope + weight * g * derivative
        return dual, slope

    def dual_and_derivative(self, q1, q2, c):
        """``(dual, derivative_dual)`` sharing one evaluation per node (the NTK needs both)."""
        g2, w = self.gamma_quadrature()
        s2 = self.beta_std**2
        dual = slope = 0.0
        for g, weight in zip(g2, w):
            value, derivative = self._kernels[3](g * q1 + s2, g * q2 + s2, g * c + s2)
            dual = dual + weight * value
            slope = slope + weight * g * derivative
        return dual, slope

    def mean(self, q):
        g2, w = self.gamma_quadrature()
        return sum(weight * self._kernels[2](g * q + self.beta_std**2) for g, weight in zip(g2, w))


@dataclass(frozen=True)
class ProxyNodes:
    """Product Gauss-Hermite quadrature of the proxy step over ``(gamma, beta)`` (numpy).

    ``t``: the shifts ``beta_j / gamma_i`` of the nodes with ``beta_j > 0`` (``(T,)``; the
    ``beta_j < 0`` nodes are their mirror images ``-t`` and ``beta = 0`` nodes are ``t = 0``);
    for each mirrored pair the weights of the ``+t`` and ``-t`` nodes, and of the ``t = 0``
    nodes (one entry, summed), of the three factors ``a^2 gamma^2``, ``a^2 m gamma``, ``a gamma``
    (``a = 1/sqrt(v + eps)``), plus the constants ``E[a^2 m^2]``, ``E[a m]``.
    """

    t: np.ndarray
    plus: np.ndarray  # (3, T)
    minus: np.ndarray  # (3, T)
    zero: np.ndarray  # (3,)
    second_constant: float
    mean_constant: float


@lru_cache(maxsize=16)
def proxy_nodes(activation_name: str, gamma_mean: float, gamma_std: float, beta_std: float,
                eps: float, n_quantiles: int, gamma_nodes: int, beta_nodes: int) -> ProxyNodes:
    """The quadrature of :class:`ProxyStep` (computed once per configuration)."""
    from kernelnorm._proxy import proxy_moments

    if gamma_std == 0:
        gammas, w_gamma = np.array([gamma_mean]), np.ones(1)
    else:
        z, w_gamma = _hermite(gamma_nodes)
        gammas = gamma_mean + gamma_std * z
    if np.any(gammas <= 0):
        raise KernelnormInputError("--gamma-std", "the proxy step's gamma nodes must be > 0 "
                                   f"(gamma_mean {gamma_mean}, std {gamma_std})")
    if beta_std == 0:
        betas, w_beta = np.zeros(1), np.ones(1)
    else:
        z, w_beta = _hermite(beta_nodes)
        betas = beta_std * z
    g, b = np.meshgrid(gammas, betas, indexing="ij")
    weight = w_gamma[:, None] * w_beta[None, :]
    m, v = proxy_moments(g.ravel(), b.ravel(), activation_name, n_quantiles=n_quantiles)
    m, a = m.reshape(g.shape), (v.reshape(g.shape) + eps) ** -0.5
    factors = np.stack([a * a * g * g, a * a * m * g, a * g]) * weight  # (3, G, B)
    positive = betas > 0
    mirror = [int(np.argmin(np.abs(betas + beta))) for beta in betas[positive]]
    t = (b[:, positive] / g[:, positive]).ravel()
    return ProxyNodes(
        t=t, plus=factors[:, :, positive].reshape(3, -1),
        minus=factors[:, :, mirror].reshape(3, -1), zero=factors[:, :, betas == 0].sum(axis=(1, 2)),
        second_constant=float((weight * a * a * m * m).sum()),
        mean_constant=float((weight * a * m).sum()))


@dataclass(frozen=True)
class ProxyStep:
    """Proxy-normalised activation step (Proxy Norm Eq. 7) with random ``(gamma, beta)``
    integrated out; ReLU only (its moments under a shifted Gaussian have closed forms).

    With ``a = 1/sqrt(v + eps)`` and ``m, v`` the proxy moments of
    :func:`kernelnorm.proxy_moments` at ``(gamma, beta)``, ``relu(gamma u + beta) = gamma
    relu(u + t)``, ``t = beta/gamma`` (``gamma > 0`` at every node), so::

        dual            = E[a^2 gamma^2 N2(t) - a^2 m gamma (N1(t; q1) + N1(t; q2)) + a^2 m^2]
        derivative_dual = E[a^2 gamma^2 L(t)]
        mean(q)         = E[a gamma N1(t; q)] - E[a m]

    (``N2``, ``N1``, ``L``: :mod:`kernelnorm.conv._bivariate`), the expectation a product
    Gauss-Hermite rule over ``(gamma, beta)``. The proxy moments, sums over 200 quantiles, have
    kinks in ``beta/gamma``, so the rule converges only algebraically: at (6, 8) nodes the
    kernel is exact to ``~1e-5`` (tested against a 300 x 60 rule). Mirror nodes ``+-beta`` share
    one bivariate CDF: ``N2(-t) = N2(t) + c + t^2 - c (Phi(t/s1) + Phi(t/s2)) - t (N1(t; q1) +
    N1(t; q2))`` and ``L(-t) = L(t) + 1 - Phi(t/s1) - Phi(t/s2)`` (from ``relu(x) = x +
    relu(-x)``, the symmetry of ``(u, v)`` and Stein's lemma).
    """

    activation: Activation
    gamma_std: float = 0.0
    beta_std: float = 0.0
    eps: float = 0.03
    n_quantiles: int = 200
    gamma_mean: float = 1.0
    gamma_nodes: int = 6
    beta_nodes: int = 8

    def __post_init__(self):
        object.__setattr__(self, "activation", get_activation(self.activation))
        if self.activation is not ACTIVATIONS["relu"]:
            raise KernelnormInputError(
                "--activation", f"the proxy-normalised step has a closed-form kernel for relu "
                f"only, got {self.activation.name!r}")
        object.__setattr__(self, "gamma_std", _check_std("--gamma-std", self.gamma_std))
        object.__setattr__(self, "beta_std", _check_std("--beta-std", self.beta_std))

    @property
    def name(self) -> str:
        return f"pn({self.activation.name})"

    def nodes(self) -> ProxyNodes:
        return proxy_nodes(self.activation.name, self.gamma_mean, self.gamma_std, self.beta_std,
                           self.eps, self.n_quantiles, self.gamma_nodes, self.beta_nodes)

    def _moments(self, q1, q2, c, t):
        """``N2, L, N1(q1) + N1(q2)`` at ``+t`` and ``-t`` (one bivariate CDF)."""
        from kernelnorm.conv._bivariate import relu_shifted_mean, relu_shifted_moments

        second, orthant = relu_shifted_moments(t, q1, q2, c)
        first = relu_shifted_mean(t, q1) + relu_shifted_mean(t, q2)
        cdf = _standard_cdf(t, q1) + _standard_cdf(t, q2)
        mirror_second = second + c + t * t - c * cdf - t * first
        mirror_orthant = orthant + 1.0 - cdf
        return (second, orthant, first), (mirror_second, mirror_orthant, _mirror_mean(first, t))

    def _sum(self, q1, q2, c, pick):
        """``sum_nodes pick(weights, moments)`` over the mirrored pairs and the ``t = 0`` nodes,
        as one compiled loop over the pairs."""
        import jax
        import jax.numpy as jnp

        p = self.nodes()
        shape = jnp.broadcast_shapes(*(jnp.shape(a) for a in (q1, q2, c)))
        total = pick(p.zero, self._moments(q1, q2, c, 0.0)[0]) * jnp.ones(shape)
        if len(p.t) == 0:
            return total

        def body(carry, node):
            t, plus, minus = node
            here, there = self._moments(q1, q2, c, t)
            return carry + pick(plus, here) + pick(minus, there), None

        nodes = (jnp.asarray(p.t), jnp.asarray(p.plus.T), jnp.asarray(p.minus.T))
        return jax.lax.scan(body, total, nodes)[0]

    def dual(self, q1, q2, c):
        p = self.nodes()
        return self._sum(q1, q2, c, lambda w, m: w[0] * m[0] - w[1] * m[2]) + p.second_constant

    def derivative_dual(self, q1, q2, c):
        return self._sum(q1, q2, c, lambda w, m: w[0] * m[1])

    def dual_and_derivative(self, q1, q2, c):
        return self.dual(q1, q2, c), self.derivative_dual(q1, q2, c)

    def mean(self, q):
        from kernelnorm.conv._bivariate import relu_shifted_mean

        p = self.nodes()
        total = p.zero[2] * relu_shifted_mean(0.0, q)
        for t, plus, minus in zip(p.t, p.plus[2], p.minus[2]):
            here = relu_shifted_mean(t, q)
            total = total + plus * here + minus * (here - t)  # N1(-t) = N1(t) - t
        return total - p.mean_constant


def _standard_cdf(t, q):
    import jax.numpy as jnp
    from jax.scipy.special import ndtr

    return ndtr(t / jnp.sqrt(jnp.maximum(q, 1e-300)))


def _mirror_mean(first, t):
    """``N1(-t; q1) + N1(-t; q2) = N1(t; q1) + N1(t; q2) - 2t`` (``relu(x) = x + relu(-x)``)."""
    return first - 2.0 * t
