"""Batch norm over mini-batches of ``B`` inputs at infinite width: the ``B x B`` Gram map, its
symmetric fixed point, the forward rates and the per-layer gradient growth (docs/minibatch.md).

MimicNorm's Theorem 2 idealises BN as the full-batch operator, which gives weight mean's map
``T_bar`` and ``chi_1 = pi/(pi - 1)`` for ReLU. Real BN normalises each unit over a batch of
``B`` inputs (Yang, Pennington, Rao, Sohl-Dickstein, Schoenholz, *A Mean Field Theory of Batch
Normalization*, ICLR 2019); everything below is derived for this project's block order and
checked against finite networks (``tests/test_mc_minibatch.py``).

**Setting.** One block maps the pre-activations ``h`` (per unit a batch vector in ``R^B``) to
``x = phi(h)``, ``z = sqrt(sigma_w^2/n) W x``, ``h' = BN(z) = sqrt(B) G z / ||G z||`` with the
centring matrix ``G = I - 11^T/B`` (population variance, as ``kernelnorm._ops.standardise``).
At infinite width each unit's ``z`` is Gaussian, ``N(0, K)``, ``K = sigma_w^2 E[phi(h) phi(h)^T]``,
so the Markov state of the network is the ``B x B`` covariance ``K`` of the normaliser's input;
``sigma_w`` drops out. With ``y = G z ~ N(0, C)``, ``C = G K G``, the output is ``h' = sqrt(B)
y/||y||``: a point of the sphere of radius ``sqrt(B)`` in ``V = 1^perp`` (``k = B - 1``
dimensions), and the measured Gram is ``Sigma = E[h' h'^T] = B E[y y^T/||y||^2]``.

**Laplace reduction of the Gram map** (:func:`minibatch_kernel_map`, :func:`bn_output_gram`).
``1/||y||^2 = int_0^inf exp(-s ||y||^2) ds`` and ``E[f(y) e^{-s||y||^2}] = det(I + 2sC)^{-1/2}
E_{N(0, C_s)}[f]`` with ``C_s = C (I + 2 s C)^{-1}``. For a degree-1 positively homogeneous
``phi`` (ReLU, identity) ``phi(h')phi(h')^T = B phi(y)phi(y)^T/||y||^2``, hence

    E[phi(h'_a) phi(h'_b)] = B int_0^inf det(I + 2sC)^{-1/2} dual_phi(C_s)_ab ds,

a 1-D integral of the Gaussian dual (ReLU: arc-cosine kernel), done by Gauss-Jacobi in
``v = 1/(1 + 2 s lambda_bar)`` (weight ``v^{k/2-1}``) with node doubling to ``1e-12``.

**The symmetric fixed point** (:func:`fixed_point_gram`). If ``K = a I + b 11^T`` then ``C = a G``
is isotropic on ``V``, ``y/||y||`` is uniform on the unit sphere of ``V`` and ``E[y y^T/||y||^2] =
G/k``: ``Sigma* = B/(B-1) G``, i.e. ``q* = 1``, ``c* = -1/(B - 1)``, and ``phi(h')`` is again
exchangeable, so ``K`` keeps the form ``a I + b 11^T``. This holds for every activation; inputs
with an exchangeable Gram (e.g. orthogonal) are at the fixed point from the first BN layer on.

**Reduction to 2-D integrals.** At the fixed point ``h = sqrt(B) u``, ``u`` uniform on the unit
sphere of ``V``. Every quantity below is an exchangeable sum over coordinates, so it needs only
the law of one pair ``(h_a, h_b)``: writing ``u_{a,b} = (G e_a, G e_b)^T u`` in an orthonormal
basis of their span, ``(h_a, h_b) = r (cos t, cos(t - t0))`` with ``t`` uniform, ``cos t0 = c*``
and ``r^2 = k tau``, ``tau ~ Beta(1, (k - 2)/2)`` (the projection of a uniform point of
``S^{k-1}`` on a plane); ``B = 3``: ``r^2 = 2``; ``B -> inf``: ``r^2 ~ chi^2_2`` (Gaussian). The
nine pair moments of :class:`SphereMoments` (``u0 = E phi_a^2``, ``v0 = E phi_a phi_b``, ``u2 =
E phi_a^2 h_a^2``, ``v20 = E phi_a phi_b h_a^2``, ``v11 = E phi_a phi_b h_a h_b``, and ``m0, p0,
m2, p2`` the same with ``phi'`` for ``m0 = E phi'^2_a``, ``p0 = E phi'_a phi'_b``, ``m2 = E
phi'^2_a h_a^2``, ``p2 = E phi'_a phi'_b h_a h_b``) give everything; ``alpha = u0 - v0`` is the
per-unit variance of ``phi(h)`` across the batch (``C = sigma_w^2 alpha G``).

* ReLU and the identity: a degree-``p`` homogeneous moment is ``E[r^p]`` times an angular integral
  (``E r^2 = 2``, ``E r^4 = 8k/(k + 2)``), and the angular integrals of trig polynomials over the
  arcs between the kinks are done by Gauss-Legendre (exact to rounding): closed form.
* Other activations (tanh, erf, GELU, SiLU, callables): ``r^2 = -k expm1(-E/beta)``, ``E ~
  Exp(1)``, ``beta = (k - 2)/2`` (exact for all ``B``, Gaussian as ``B -> inf``), Gauss-Laguerre
  in ``E`` (Golub-Welsch) times the trapezoidal rule in ``t``, both doubled until the results move
  by less than ``1e-11``; the last change is reported as ``quadrature_error``.

**Backward map.** With ``P = G - u u^T`` (projection off ``1`` and ``h'``) the BN Jacobian is
``sqrt(B)/||y|| P``. Under the gradient-independence assumption the covariance ``Pi`` of the
gradient with respect to ``x`` obeys ``Pi -> (B/(alpha (B - 3))) E[P D Pi D P]``, ``D =
diag phi'(h')``, because ``||y||^2 = sigma_w^2 alpha chi^2_{B-1}`` independently of ``u`` and
``E[1/chi^2_k] = 1/(k - 2)``. The map preserves the PSD cone and commutes with permutations, so
its spectral radius is attained at the only invariant direction ``Pi = G``, which one BN step
reaches from any white probe. Expanding ``tr(P D G D P)`` in pair moments:

    lambda(B) = ((B - 1) m0 - m2 + p0 + p2) / (alpha (B - 3))       gradient growth per layer
    chi_1(B)  = (B - 2) m0 / (alpha (B - 3))                        white-probe growth

``chi_1(B)`` is the mean squared singular value of one layer's Jacobian on the whole batch, the
limit of :attr:`kernelnorm.montecarlo.GradientStatistics.chi`; ``lambda(B)`` is the growth of a
back-propagated gradient below the top layer, the limit of the ratios of consecutive
``GradientStatistics.backprop`` entries. ReLU: ``m0 = m2 = 1/2``, ``p0 = phi_hat'(c*)``, ``p2 =
phi_hat(c*)``, ``alpha = 1/2 - phi_hat(c*)``; identity: ``lambda = (B-2)/(B-3)``, ``chi_1 =
(B-1)(B-2)/(B(B-3))``. Both tend to ``m0/alpha`` (ReLU: ``pi/(pi - 1)``) as ``B -> inf``.

**Forward rates.** Tangent to the fixed point the map acts on traceless symmetric matrices on
``V``, which split under permutations into two irreducible parts, so its Jacobian has two
eigenvalues. By Stein's identity ``d E_K[F]/dK [E] = E[F z^T E z]/2`` for traceless ``E`` at
``K = G``, and projecting ``phi phi^T`` and ``h h^T`` on the two parts:

    lambda_(B-1,1) = ((B-2)(u2 - u0) - 2(B-1)(v20 - v0)) / (2 alpha (B-2))     lengths
    lambda_(B-2,2) = (B-1)(u2 + (B-1) v11 - alpha - 2 alpha lambda_(B-1,1)) / (alpha B (B-3))

``lambda_(B-1,1)`` moves individual lengths ``q_a`` (and row sums), ``lambda_(B-2,2)`` pair
correlations at fixed lengths (-> ``T_bar'(0)`` as ``B -> inf``); identity: both ``(B-1)/(B+1)``.
The fixed point attracts iff both are ``< 1``.

**Edge cases.** ``B = 2``: ``h' = +-(1, -1)`` whatever ``z``: the Jacobian vanishes, ``chi_1 =
lambda = 0`` and the fixed point is reached in one step. ``B = 3``: ``E[1/chi^2_2] = inf``, so
``chi_1 = lambda = inf`` (the per-layer gradient has infinite mean); the forward map is smooth
(one eigenvalue). For ``B = 4, 5`` the per-unit factor ``1/chi^2_{B-1}`` has infinite variance:
Monte-Carlo means converge slowly there (docs/minibatch.md).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from kernelnorm._activations import Activation, get_activation
from kernelnorm._errors import KernelnormInputError, check_width

#: Target of the quadrature of non-homogeneous activations: the last change of every rate,
#: relative to ``max(1, |rate|)``.
QUADRATURE_TOLERANCE = 1e-11
_RADIAL_ORDERS = (16, 32, 64, 128, 256, 512)
_ANGULAR_ORDERS = (64, 128, 256, 512, 1024, 1024)
_ARC_ORDER = 40
_LAPLACE_ORDERS = (16, 32, 64, 128, 256, 512, 1024)
_LAPLACE_TOLERANCE = 1e-12


# -- batch geometry -------------------------------------------------------------------------------


def check_batch_size(batch_size) -> float:
    """``B`` as an int ``>= 2`` or ``math.inf`` (a batch of one has no variance)."""
    return check_width("--batch-size", batch_size)


def fixed_point_correlation(batch_size) -> float:
    """``c* = -1/(B - 1)``: the off-diagonal of the fixed point Gram (0 for ``B = inf``)."""
    batch = check_batch_size(batch_size)
    return 0.0 if math.isinf(batch) else -1.0 / (batch - 1.0)


def centring_matrix(batch_size: int) -> np.ndarray:
    """``G = I - 11^T/B``."""
    batch = int(check_batch_size(batch_size))
    return np.eye(batch) - 1.0 / batch


def fixed_point_gram(batch_size: int) -> np.ndarray:
    """``Sigma* = B/(B - 1) G``: unit lengths, off-diagonal ``c* = -1/(B - 1)`` (any activation).

    Example: ``fixed_point_gram(3)`` is ``[[1, -.5, -.5], [-.5, 1, -.5], [-.5, -.5, 1]]``.
    """
    batch = int(check_batch_size(batch_size))
    return batch / (batch - 1.0) * centring_matrix(batch)


# -- pair moments on the batch sphere -------------------------------------------------------------


class SphereMoments(NamedTuple):
    """Moments of one pair ``(h_a, h_b)`` of the BN output at the fixed point (module docstring).

    ``error`` estimates the absolute quadrature error of the rates computed from them (0 for
    the closed-form path of homogeneous activations, exact to rounding).
    """

    u0: float
    v0: float
    u2: float
    v20: float
    v11: float
    m0: float
    p0: float
    m2: float
    p2: float
    error: float = 0.0


def _pair_moments(phi, dphi, a, b, weights, radius2=None):
    """The nine moments from values at points ``(a, b)`` with ``weights`` (sum 1).

    ``radius2``: for the homogeneous path, ``(E r^2, E r^4)`` multiply the degree-2/4 moments of
    points on the unit circle; ``None`` when ``(a, b)`` already carry the radius."""
    f, g, fd, gd = phi(a), phi(b), dphi(a), dphi(b)
    r2, r4 = radius2 if radius2 is not None else (1.0, 1.0)
    mean = lambda values: float(np.sum(weights * values))  # noqa: E731
    return SphereMoments(
        u0=r2 * mean(f * f), v0=r2 * mean(f * g), u2=r4 * mean(f * f * a * a),
        v20=r4 * mean(f * g * a * a), v11=r4 * mean(f * g * a * b),
        m0=mean(fd * fd), p0=mean(fd * gd), m2=r2 * mean(fd * fd * a * a),
        p2=r2 * mean(fd * gd * a * b))


def _pair_angle(batch) -> float:
    """``t0 = arccos c*``: ``(h_a, h_b) = r (cos t, cos(t - t0))``."""
    return math.acos(fixed_point_correlation(batch))


def _homogeneous_moments(activation: Activation, batch) -> SphereMoments:
    """Closed form for degree-1 positively homogeneous ``phi`` (kinks only where ``h_a = 0`` or
    ``h_b = 0``): radial moments times arc integrals of trig polynomials."""
    k = batch - 1.0
    t0 = _pair_angle(batch)
    kinks = np.sort(np.mod([math.pi / 2, 3 * math.pi / 2, t0 + math.pi / 2, t0 + 3 * math.pi / 2],
                           2 * math.pi))
    edges = np.unique(np.concatenate([[0.0], kinks, [2 * math.pi]]))
    x, w = np.polynomial.legendre.leggauss(_ARC_ORDER)
    half = np.diff(edges)[:, None] / 2
    angles = (edges[:-1, None] + half * (x + 1)).ravel()
    weights = (half * w).ravel() / (2 * math.pi)
    radial4 = 8.0 if math.isinf(batch) else 8.0 * k / (k + 2.0)
    return _pair_moments(activation.function, activation.derivative, np.cos(angles),
                         np.cos(angles - t0), weights, radius2=(2.0, radial4))


def _gauss_rule(diag, off):
    """Gauss nodes and weights (sum 1) of the orthogonal polynomials with recurrence
    coefficients ``diag`` (``a_j``) and ``off`` (``b_j``): nodes are the eigenvalues of the
    Jacobi matrix (Golub-Welsch), weights the Christoffel numbers ``1/sum_j p_j(x)^2`` of the
    orthonormal polynomials, ``b_(j+1) p_(j+1) = (x - a_j) p_j - b_j p_(j-1)``, rescaled on the
    way (they grow like ``x^j`` at large nodes). No eigenvectors: a threaded LAPACK ``eigh``
    took 0.6 s for order 128 on a loaded 2-core machine, ``eigvalsh`` 0.5 ms."""
    nodes = np.linalg.eigvalsh(np.diag(diag) + np.diag(off, 1) + np.diag(off, -1))
    previous, current = np.zeros_like(nodes), np.ones_like(nodes)
    total, log_scale = np.ones_like(nodes), np.zeros_like(nodes)
    for j in range(len(diag) - 1):
        following = ((nodes - diag[j]) * current - (off[j - 1] if j else 0.0) * previous) / off[j]
        previous, current = current, following
        total += current * current
        scale = np.maximum(np.abs(current), 1.0)  # keep p_j, p_(j-1) and the sum O(1)
        previous, current, total = previous / scale, current / scale, total / scale**2
        log_scale += np.log(scale)
    weights = np.exp(-np.log(total) - 2.0 * log_scale)
    return nodes, weights / weights.sum()


@lru_cache(maxsize=16)
def _laguerre(order: int):
    """Gauss-Laguerre nodes and weights (weight ``e^{-E}``)."""
    i = np.arange(1.0, order)
    return _gauss_rule(2.0 * np.arange(order) + 1.0, i)


@lru_cache(maxsize=32)
def _beta_nodes(order: int, beta: float):
    """Gauss-Jacobi nodes ``tau`` in [0, 1] and weights (sum 1) for ``tau ~ Beta(1, beta)``
    (weight ``(1 - tau)^(beta - 1)``), from the Jacobi recurrence written for ``tau``."""
    a = beta - 1.0
    m = np.arange(1.0, order)
    diag = np.concatenate([[1.0 / (a + 2.0)],
                           (2 * m * m + 2 * m * a + 2 * m + a) / ((2 * m + a) * (2 * m + a + 2))])
    off = np.sqrt(m * m * (m + a) ** 2 / ((2 * m + a) ** 2 * (2 * m + a + 1) * (2 * m + a - 1)))
    nodes, weights = _gauss_rule(diag, off)
    return np.clip(nodes, 0.0, 1.0), weights


#: Up to this many batch dimensions ``k`` the radial rule is Gauss-Jacobi in ``tau`` (its
#: singularities, e.g. tanh's poles at ``r^2 <= -pi^2/4``, stay O(1) away from [0, 1]); above,
#: Gauss-Laguerre in ``E`` (they stay O(1) away from [0, inf)).
_JACOBI_MAX_K = 64


def _radial_rule(batch, order: int):
    """Nodes ``r^2`` and weights of the pair's squared radius (module docstring)."""
    if batch == 3:  # the pair is the whole batch vector: r^2 = 2 exactly
        return np.array([2.0]), np.array([1.0])
    if math.isinf(batch):
        nodes, weights = _laguerre(order)
        return 2.0 * nodes, weights
    k = batch - 1.0
    beta = (k - 2.0) / 2.0
    if k <= _JACOBI_MAX_K:
        tau, weights = _beta_nodes(order, beta)
        return k * tau, weights
    nodes, weights = _laguerre(order)
    return -k * np.expm1(-nodes / beta), weights


def _quadrature_moments(activation: Activation, batch, radial: int, angular: int):
    t0 = _pair_angle(batch)
    angles = 2 * math.pi * np.arange(angular) / angular
    radius2, radial_weights = _radial_rule(batch, radial)
    radius = np.sqrt(radius2)
    a = radius[:, None] * np.cos(angles)[None, :]
    b = radius[:, None] * np.cos(angles - t0)[None, :]
    weights = radial_weights[:, None] * np.full(angular, 1.0 / angular)[None, :]
    return _pair_moments(activation.function, activation.derivative, a, b, weights)


def sphere_moments(activation="relu", batch_size=8) -> SphereMoments:
    """The pair moments of :class:`SphereMoments` for ``B >= 3`` (or ``inf``).

    Homogeneous activations in closed form; others by the doubled product quadrature of the
    module docstring, stopping when the derived rates move by less than
    :data:`QUADRATURE_TOLERANCE` (a :class:`RuntimeError` if they never do).
    """
    activation = get_activation(activation)
    batch = check_batch_size(batch_size)
    if batch < 3:
        raise KernelnormInputError("--batch-size", "pair moments need B >= 3 (B = 2 is exact: "
                                   "h' = +-(1, -1))")
    return _cached_moments(activation, batch)


@lru_cache(maxsize=64)
def _cached_moments(activation: Activation, batch) -> SphereMoments:
    if activation.homogeneous:
        return _homogeneous_moments(activation, batch)
    previous = None
    for radial, angular in zip(_RADIAL_ORDERS, _ANGULAR_ORDERS):
        moments = _quadrature_moments(activation, batch, radial, angular)
        rates = np.array([v for v in _rates(moments, batch).values()
                          if v is not None and math.isfinite(v)])
        if previous is not None:
            change = float(np.max(np.abs(rates - previous[1])))
            if change <= QUADRATURE_TOLERANCE * max(1.0, float(np.max(np.abs(rates)))):
                return moments._replace(error=change)
        previous = (moments, rates)
    raise RuntimeError(f"the batch-sphere quadrature of {activation.name} at B = {batch} did not "
                       f"converge to {QUADRATURE_TOLERANCE:g} (change {change:.3g})")


# -- rates from the moments -----------------------------------------------------------------------


def _rates(m: SphereMoments, batch) -> dict:
    """``alpha``, ``chi_1``, ``lambda`` and the two forward eigenvalues (module docstring)."""
    alpha = m.u0 - m.v0
    if not alpha > 1e-14 * max(m.u0, 1e-300):
        raise KernelnormInputError("--activation", "phi(h) does not vary across the batch "
                                   "(alpha = 0): batch norm divides by zero")
    if math.isinf(batch):
        return {"alpha": alpha, "chi_1": m.m0 / alpha, "gradient_growth": m.m0 / alpha,
                "rate_lengths": ((m.u2 - m.u0) - 2 * (m.v20 - m.v0)) / (2 * alpha),
                "rate_correlations": m.v11 / alpha}
    lengths = ((batch - 2) * (m.u2 - m.u0) - 2 * (batch - 1) * (m.v20 - m.v0)) / (
        2 * alpha * (batch - 2))
    if batch == 3:
        return {"alpha": alpha, "chi_1": math.inf, "gradient_growth": math.inf,
                "rate_lengths": lengths, "rate_correlations": None}
    correlations = (batch - 1) * (m.u2 + (batch - 1) * m.v11 - alpha - 2 * alpha * lengths) / (
        alpha * batch * (batch - 3))
    return {"alpha": alpha,
            "chi_1": (batch - 2) * m.m0 / (alpha * (batch - 3)),
            "gradient_growth": ((batch - 1) * m.m0 - m.m2 + m.p0 + m.p2) / (alpha * (batch - 3)),
            "rate_lengths": lengths, "rate_correlations": correlations}


@dataclass(frozen=True)
class MiniBatchTheory:
    """Infinite-width theory of a BN block normalising mini-batches of ``batch_size`` inputs.

    Attributes:
        batch_size: ``B`` (``math.inf``: MimicNorm's full-batch limit).
        activation: name of ``phi``.
        q_star, c_star: the symmetric fixed point of the Gram, ``1`` and ``-1/(B - 1)``.
        alpha: per-unit variance of ``phi(h)`` across the batch at the fixed point.
        chi_1: mean squared singular value of one layer's Jacobian on the batch (white probe),
            the limit of ``montecarlo.GradientStatistics.chi``.
        gradient_growth: ``lambda(B)``, the per-layer growth of ``||dL/dh||^2`` below the top
            layer, the limit of ratios of consecutive ``GradientStatistics.backprop`` entries.
        rate_lengths, rate_correlations: eigenvalues of the linearised Gram map on the two
            irreducible parts (``None`` where a part does not exist: ``B <= 3``).
        forward_rate: their maximum, the per-layer contraction towards the fixed point (0 at
            ``B = 2``, where the fixed point is reached in one layer).
        stable: ``forward_rate < 1``.
        quadrature_error: estimated absolute error of the rates (0: closed form).
    """

    batch_size: float
    activation: str
    q_star: float
    c_star: float
    alpha: float
    chi_1: float
    gradient_growth: float
    rate_lengths: float | None
    rate_correlations: float | None
    forward_rate: float
    stable: bool
    quadrature_error: float

    def as_dict(self) -> dict:
        return asdict(self)


def minibatch_theory(activation="relu", batch_size=8) -> MiniBatchTheory:
    """:class:`MiniBatchTheory` of ``phi`` at batch size ``B`` (``>= 2`` or ``inf``).

    Example: ``minibatch_theory("relu", 8).chi_1`` is ``6 / (5 (1 - 2 phi_hat(-1/7)))`` =
    1.6003; ``gradient_growth`` 1.7882; ``batch_size=math.inf`` gives ``pi/(pi - 1)`` for both.
    """
    activation = get_activation(activation)
    batch = check_batch_size(batch_size)
    c_star = fixed_point_correlation(batch)
    if batch == 2:
        phi_plus, phi_minus = (float(activation.function(np.float64(s))) for s in (1.0, -1.0))
        alpha = 0.5 * (phi_plus - phi_minus) ** 2
        return MiniBatchTheory(2, activation.name, 1.0, c_star, alpha, 0.0, 0.0, None, None,
                               0.0, True, 0.0)
    moments = sphere_moments(activation, batch)
    rates = _rates(moments, batch)
    forward = max(r for r in (rates["rate_lengths"], rates["rate_correlations"]) if r is not None)
    return MiniBatchTheory(batch, activation.name, 1.0, c_star, rates["alpha"], rates["chi_1"],
                           rates["gradient_growth"], rates["rate_lengths"],
                           rates["rate_correlations"], forward, forward < 1.0, moments.error)


# -- the Gram map away from the fixed point (Laplace reduction) -----------------------------------


@lru_cache(maxsize=16)
def _jacobi(order: int, beta: float):
    """Nodes ``v`` in [0, 1] and weights for ``int_0^1 v^beta g(v) dv`` (Gauss-Jacobi)."""
    from scipy.special import roots_jacobi

    x, w = roots_jacobi(order, 0.0, beta)
    return (1.0 + x) / 2.0, w / 2.0 ** (beta + 1.0)


def _check_covariance(cov) -> np.ndarray:
    cov = np.asarray(cov, dtype=np.float64)
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1] or cov.shape[0] < 2:
        raise KernelnormInputError("--gram", f"expected a square B x B matrix with B >= 2, got "
                                   f"shape {cov.shape}")
    if not np.all(np.isfinite(cov)) or not np.allclose(cov, cov.T, rtol=1e-12, atol=1e-14):
        raise KernelnormInputError("--gram", "must be a finite symmetric matrix")
    return (cov + cov.T) / 2


def _laplace_kernel(cov, dual) -> np.ndarray:
    """``E[phi(h')phi(h')^T]`` for ``h' = BN(z)``, ``z ~ N(0, cov)``, ``phi`` with Gaussian
    ``dual(q1, q2, c)`` homogeneous of degree 1 (module docstring, Laplace reduction)."""
    cov = _check_covariance(cov)
    batch = cov.shape[0]
    centre = centring_matrix(batch)
    eigenvalues, vectors = np.linalg.eigh(centre @ cov @ centre)
    if eigenvalues[-1] <= 0 or eigenvalues[0] < -1e-10 * eigenvalues[-1]:
        raise KernelnormInputError("--gram", "must be positive semi-definite with inputs that "
                                   "differ (a batch of equal inputs has no variance)")
    keep = eigenvalues > 1e-12 * eigenvalues[-1]
    lam, vectors = eigenvalues[keep], vectors[:, keep]
    k = lam.size
    scale = lam.mean()
    ratio = lam / scale
    previous = None
    for order in _LAPLACE_ORDERS:
        v, w = _jacobi(order, k / 2.0 - 1.0)
        total = np.zeros((batch, batch))
        for node, weight in zip(v, w):
            spread = node + ratio * (1.0 - node)
            tilde = (vectors * (lam / spread)) @ vectors.T
            diag = np.diag(tilde)
            kernel = dual(diag[:, None], diag[None, :], tilde)
            total += weight * np.prod(spread ** -0.5) * kernel
        total *= batch / (2.0 * scale)
        if previous is not None and np.max(np.abs(total - previous)) <= _LAPLACE_TOLERANCE * np.max(
                np.abs(total)):
            return total
        previous = total
    raise RuntimeError("the Laplace integral of the BN Gram map did not converge (inputs nearly "
                       "collinear within the batch?)")


def bn_output_gram(cov) -> np.ndarray:
    """``Sigma = E[h' h'^T]`` of ``h' = BN(z)``, ``z ~ N(0, cov)`` per unit: ``B E[y y^T/||y||^2]``,
    ``y ~ N(0, G cov G)`` (the Gram the Monte-Carlo engine measures; scale of ``cov`` drops out).

    Example: ``bn_output_gram(np.eye(4))`` is :func:`fixed_point_gram` ``(4)``.
    """
    return _laplace_kernel(cov, lambda q1, q2, c: c + 0.0 * (q1 + q2))


def minibatch_kernel_map(activation, cov) -> np.ndarray:
    """``E[phi(h') phi(h')^T]``, ``h' = BN(z)``, ``z ~ N(0, cov)``: the next layer's ``K`` up to
    ``sigma_w^2`` (which BN removes), for a degree-1 positively homogeneous ``phi`` (ReLU,
    identity) by the Laplace reduction. Other activations have no such reduction: refused."""
    activation = get_activation(activation)
    if not activation.homogeneous:
        raise KernelnormInputError(
            "--activation", f"the Gram map away from the fixed point is reduced to 1-D integrals "
            f"for positively homogeneous activations (relu, identity) only, not "
            f"{activation.name}; its fixed point and rates are exact for every activation")
    return _laplace_kernel(cov, activation.dual)


def minibatch_grams(activation, k0, depth: int) -> np.ndarray:
    """Per-layer Grams ``Sigma_l = E[h_l h_l^T]`` (``(depth, B, B)``) of a BN network on one
    mini-batch with input kernel ``k0 = x x^T/n0`` (``B x B``), as in
    :mod:`kernelnorm.montecarlo`: layer 1 is the plain dense map (``Sigma_1 = k0``), layer 2
    normalises ``z ~ N(0, E_{N(0, k0)}[phi phi^T])`` (Gaussian duals), later layers iterate
    :func:`minibatch_kernel_map`. ``depth > 2`` needs a homogeneous activation.
    """
    activation = get_activation(activation)
    k0 = _check_covariance(k0)
    diag = np.diag(k0)
    cov = activation.dual(diag[:, None], diag[None, :], k0)
    grams = [k0]
    for layer in range(1, int(depth)):
        grams.append(bn_output_gram(cov))
        if layer + 1 < depth:
            cov = minibatch_kernel_map(activation, cov)
    return np.stack(grams)


# -- glue for the transition-operator API (kernelnorm._transition dispatches here) ----------------


def finite_batch(block) -> bool:
    """Whether ``block`` is batch norm over finite mini-batches (the theory of this module);
    mean-only BN at a finite batch has none here (a one-line error)."""
    batch = getattr(block, "batch_size", None)
    if batch is None or math.isinf(batch) or not block.scheme.batch_coupled:
        return False
    if block.scheme.normaliser != "batch":
        raise KernelnormInputError(
            "--batch-size", f"the finite-batch theory covers bn (centre and scale); "
            f"{block.name} at a finite batch is not implemented (the Monte-Carlo engine runs it)")
    return True


def block_theory(block) -> MiniBatchTheory:
    """:func:`minibatch_theory` of a finite-batch BN :class:`kernelnorm.DenseBlock`."""
    return minibatch_theory(block.activation_step, block.batch_size)


def refuse_correlation_map(block) -> None:
    """One-line error if ``block`` is finite-batch BN: it has no scalar correlation map."""
    if finite_batch(block):
        raise KernelnormInputError(
            "--batch-size", "mini-batch BN has no scalar correlation map: it acts on the whole "
            "B x B Gram matrix (kernelnorm.minibatch_kernel_map); see chi1 and fixed-points")


def minibatch_fixed_points(block) -> list:
    """The symmetric fixed point as a :class:`kernelnorm.FixedPoint`: ``rho = c*``, ``slope`` =
    the forward rate (spectral radius of the linearised Gram map)."""
    from kernelnorm._transition import FixedPoint

    theory = block_theory(block)
    return [FixedPoint(theory.c_star, theory.forward_rate, theory.stable, False)]


def minibatch_summary(block):
    """:class:`kernelnorm.TransitionSummary` of a finite-batch BN block: ``q* = 1``, ``chi_1(B)``,
    the fixed point ``c*`` with slope = forward rate; ``xi_c`` from the forward rate, ``xi_q``
    from the length eigenvalue."""
    from kernelnorm._transition import TransitionSummary, correlation_depth_scale, phase

    theory = block_theory(block)
    lengths = 0.0 if theory.rate_lengths is None else theory.rate_lengths
    return TransitionSummary(
        scheme=block.name, activation=theory.activation, sigma_w2=float(block.sigma_w2),
        sigma_b2=float(block.sigma_b2), q_star=theory.q_star, chi_1=theory.chi_1,
        phase=phase(theory.chi_1), fixed_points=tuple(minibatch_fixed_points(block)),
        rho_star=theory.c_star, slope_star=theory.forward_rate,
        xi_c=correlation_depth_scale(theory.forward_rate),
        xi_q=correlation_depth_scale(lengths))
