"""Finite-width spread of pair correlations through depth: the linearised noise propagation.

At width ``n`` the correlation of a pair of inputs at layer ``l`` is a random variable around the
infinite-width trajectory ``rho_l = T^(l-1)(rho_1)``. Two sources of noise enter every layer,
each of order ``1/sqrt(n)`` (delta method over the ``n`` iid units of a layer):

* the *weights*: given the layer input, the ``n`` output units are iid Gaussian pairs with
  correlation ``r`` (the normalised kernel of the layer input), so the measured correlation is
  ``c = r + eps``, ``Var eps = (1 - r^2)^2 / n`` (the sample correlation of a bivariate normal);
* the *activations*: ``r_l`` is a smooth function ``F`` of the unit averages of
  ``phi(u), phi(v), phi(u)^2, phi(v)^2, phi(u) phi(v)`` over the ``n`` units of layer ``l``,
  whose pre-activations are iid with correlation ``r_(l-1)``; ``Var r_l = T'(r_(l-1))^2 Var
  r_(l-1) + g(r_(l-1))/n`` with ``g = grad F^T Cov grad F`` (moments by Gauss-Hermite
  quadrature). ``F`` is the correlation of ``sigma_w^2 phi phi + sigma_b^2`` for plain layers and
  of the unit-centred ``phi`` for weight mean (the identity ``W_bar phi = W (phi - mean phi)``)
  and for the idealised batch norm (Theorem 2: the same operator).

So ``Var c_l = Var r_(l-1) + (1 - r_(l-1)^2)^2 / n`` with ``Var r_0 = 0``, ``r_0 = rho_0`` the
input correlation. At the stable fixed point ``rho* = 0`` of weight mean (``g(0) = 1``, slope
``s = T'(0)``) the stationary value is ``(2 - s^2) / (n (1 - s^2))``: ``std = 1.78/sqrt(n)``
for ReLU, the floor of MimicNorm Appendix B.1's "[-0.2, 0.2]" (docs/montecarlo.md).
The mean gets its ``O(1/n)`` bias from the second-order terms (curvature of ``T`` times the
variance, the Hessian of ``F`` against the moment covariance, the bias of a sample
correlation); terms of order ``1/n^2`` are dropped, so the prediction degrades once ``L/n`` is
not small. Lengths sit at the stable init ``q = 1``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from kernelnorm._errors import KernelnormInputError

#: Gauss-Hermite order per dimension of the fourth-moment quadrature (ReLU's kink limits the
#: accuracy to ~1e-4 relative at this order; the spread needs far less).
ORDER = 96
#: Grid of correlations on which ``g`` is tabulated and interpolated.
GRID = np.linspace(-1.0, 1.0, 401)


def _centres(block) -> bool:
    scheme = block.scheme
    if scheme.weights == "mean" or scheme.normaliser == "batch":
        return True
    if scheme.weights == "plain" and scheme.normaliser is None and not scheme.proxy:
        return False
    raise KernelnormInputError("--norm", f"the finite-width spread is derived for plain, weight "
                               f"mean and (idealised) batch-norm blocks, not {scheme.name}")


def activation_noise(block) -> np.ndarray:
    """``g(rho)`` on :data:`GRID`: ``n`` times the variance of the layer-input correlation ``r``
    computed from ``n`` iid unit pairs of correlation ``rho`` (delta method)."""
    return _activation_terms(block)[0]


def activation_bias(block) -> np.ndarray:
    """``b(rho)`` on :data:`GRID`: ``n`` times the bias ``E r - T(rho)`` of the layer-input
    correlation (second-order delta method, ``tr(H Cov)/2`` with ``H`` the Hessian of ``F``)."""
    return _activation_terms(block)[1]


@lru_cache(maxsize=16)
def _activation_terms(block) -> tuple[np.ndarray, np.ndarray]:
    from kernelnorm._activations import gauss_hermite

    centred = _centres(block)
    z, w = gauss_hermite(ORDER)
    z1, z2 = z[:, None], z[None, :]
    weights = (w[:, None] * w[None, :])[None]
    rho = GRID[:, None, None]
    a = block.activation_step(np.broadcast_to(z1, (1, ORDER, ORDER)))
    b = block.activation_step(rho * z1 + np.sqrt(np.clip(1.0 - rho * rho, 0.0, None)) * z2)
    a = np.broadcast_to(a, b.shape)
    moments = [a, b, a * a, b * b, a * b]
    mean = np.stack([(m * weights).sum(axis=(-2, -1)) for m in moments])  # (5, grid)
    cov = np.empty((5, 5, len(GRID)))
    for i in range(5):
        for j in range(i, 5):
            second = (moments[i] * moments[j] * weights).sum(axis=(-2, -1))
            cov[i, j] = cov[j, i] = second - mean[i] * mean[j]
    sigma_b2 = 0.0 if centred else block.sigma_b2
    gradient = _gradient(mean, centred, block.sigma_w2, sigma_b2)
    hessian = _hessian(mean, centred, block.sigma_w2, sigma_b2)
    noise = np.maximum(np.einsum("ig,ijg,jg->g", gradient, cov, gradient), 0.0)
    bias = 0.5 * np.einsum("ijg,ijg->g", hessian, cov)
    edge = np.isclose(np.abs(GRID), 1.0)  # F = +-1 identically: no noise, no bias
    noise[edge], bias[edge] = 0.0, 0.0
    return noise, bias


def _next_kernel(m, centred: bool, sigma_w2: float, sigma_b2: float):
    """``(k_aa, k_bb, k_ab)`` of the next pre-activations from the five unit averages
    ``(phi_a, phi_b, phi_a^2, phi_b^2, phi_a phi_b)`` (centred across units for weight mean)."""
    ma, mb, maa, mbb, mab = m
    if centred:
        kaa, kbb, kab = maa - ma * ma, mbb - mb * mb, mab - ma * mb
    else:
        kaa, kbb, kab = maa, mbb, mab
    return tuple(sigma_w2 * k + sigma_b2 for k in (kaa, kbb, kab))


def _layer_correlation(m, centred: bool, sigma_w2: float, sigma_b2: float):
    """``F``: the correlation of the next pre-activations from the five unit averages."""
    kaa, kbb, kab = _next_kernel(m, centred, sigma_w2, sigma_b2)
    return kab / np.sqrt(kaa * kbb)


def _hessian(m, centred: bool, sigma_w2: float, sigma_b2: float, step: float = 1e-4):
    """Central-difference Hessian of ``F`` in the five averages, ``(5, 5, grid)``."""
    scale = np.maximum(np.abs(m), 1e-3) * step
    f = lambda v: _layer_correlation(v, centred, sigma_w2, sigma_b2)  # noqa: E731
    out = np.empty((5, 5, m.shape[1]))
    for i in range(5):
        for j in range(i, 5):
            total = 0.0
            for si, sj in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                v = m.copy()
                v[i] += si * scale[i]
                v[j] += sj * scale[j]
                total = total + si * sj * f(v)
            out[i, j] = out[j, i] = total / (4.0 * scale[i] * scale[j])
    return out


def _gradient(m, centred: bool, sigma_w2: float, sigma_b2: float) -> np.ndarray:
    """``grad F`` with respect to the five unit averages ``(phi_a, phi_b, phi_a^2, phi_b^2,
    phi_a phi_b)``, ``F = k_ab / sqrt(k_aa k_bb)``, ``k = sigma_w2 * (centred) moment + b2``."""
    ma, mb = m[0], m[1]
    kaa, kbb, kab = _next_kernel(m, centred, sigma_w2, sigma_b2)
    f = kab / np.sqrt(kaa * kbb)
    d_kab, d_kaa, d_kbb = sigma_w2 / np.sqrt(kaa * kbb), -0.5 * f / kaa * sigma_w2, \
        -0.5 * f / kbb * sigma_w2
    zero = np.zeros_like(f)
    if not centred:
        return np.stack([zero, zero, d_kaa, d_kbb, d_kab])
    # k_aa = m_aa - m_a^2, k_ab = m_ab - m_a m_b: chain rule through the centring
    return np.stack([-2 * ma * d_kaa - mb * d_kab, -2 * mb * d_kbb - ma * d_kab,
                     d_kaa, d_kbb, d_kab])


def correlation_spread(block, rho0, *, width: int, depth: int,
                       second_order: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Infinite-width trajectory and finite-width standard deviation of pair correlations.

    Args:
        block: a plain, weight-mean or batch-norm :class:`kernelnorm.DenseBlock` at its stable
            init (the first layer is the plain map on the inputs, as in the Monte-Carlo nets).
        rho0: input correlations ``x.x'/d`` of unit-length inputs, any shape.
        width: ``n``; depth: ``L``.

        second_order: add the ``O(1/n)`` bias of the mean (second-order delta method: the
            curvature ``T''`` times ``Var r``, the activation term ``b(r)/n`` of
            :func:`activation_bias` and the sample-correlation bias ``-r(1 - r^2)/(2n)``);
            ``False``: the infinite-width trajectory ``T^(l-1)``.

    Returns:
        ``(mean, std)``, each of shape ``(L,) + shape(rho0)``: the mean and the linearised
        ``sqrt(Var c_l)`` of the measured correlation at layers ``1..L``.

    Example: weight mean, ``rho0 = 0``, deep: ``std -> sqrt((2 - s^2)/(n (1 - s^2)))``.
    """
    from kernelnorm._transition import correlation_map, correlation_map_slope

    if int(width) != width or width < 2:
        raise KernelnormInputError("--width", f"must be an integer >= 2, got {width!r}")
    if int(depth) != depth or depth < 1:
        raise KernelnormInputError("--depth", f"must be an integer >= 1, got {depth!r}")
    noise, bias = _activation_terms(block)
    rho0 = np.clip(np.asarray(rho0, dtype=np.float64), -1.0, 1.0)
    r = block.input_kernel(rho0) / block.input_kernel(1.0)  # the first, plain layer
    var_r = np.zeros_like(r)
    means, stds = [], []
    for _ in range(int(depth)):
        # the sample correlation of n Gaussian pairs: bias -r (1 - r^2) / (2n)
        means.append(r - r * (1.0 - r * r) / (2.0 * width) if second_order else r)
        stds.append(np.sqrt(var_r + (1.0 - r * r) ** 2 / width))
        slope = correlation_map_slope(block, r)
        next_r = correlation_map(block, r)
        if second_order:
            curvature = _map_curvature(block, r)
            next_r = next_r + 0.5 * curvature * var_r + np.interp(r, GRID, bias) / width
        var_r = slope**2 * var_r + np.interp(r, GRID, noise) / width
        r = np.clip(next_r, -1.0, 1.0)
    return np.stack(means), np.stack(stds)


def _map_curvature(block, r, step: float = 1e-4):
    """``T''(r)`` by central differences of the slope (one-sided at the ends of [-1, 1])."""
    from kernelnorm._transition import correlation_map_slope

    low, high = np.clip(r - step, -1.0, 1.0), np.clip(r + step, -1.0, 1.0)
    return (correlation_map_slope(block, high) - correlation_map_slope(block, low)) / \
        np.maximum(high - low, 1e-300)
