"""Proxy-normalised activation (Proxy Normalization, Labatie et al. 2021, Eq. 7; docs/theory.md §6).

Array-agnostic: the same code runs on numpy arrays (analytic tests, float64) and on JAX arrays
under ``jit`` (random nets in ``kernelnorm.power``, trainable LN+PN / GN+PN layers). Only numpy
is imported here; ``jax.numpy`` is used when the inputs are JAX arrays.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from kernelnorm._activations import _namespace, get_activation
from kernelnorm._errors import KernelnormInputError

#: Numerical stability constant of PN (their §A.1: smaller values trained worse).
DEFAULT_PROXY_EPS = 0.03
#: Number of Gaussian quantiles of the reference implementation (their Appendix B).
DEFAULT_N_QUANTILES = 200

__all__ = [
    "DEFAULT_N_QUANTILES",
    "DEFAULT_PROXY_EPS",
    "gaussian_quantiles",
    "proxy_activation",
    "proxy_moments",
    "proxy_normalise",
]


@lru_cache(maxsize=16)
def _quantiles(n_quantiles: int) -> np.ndarray:
    from scipy.special import ndtri

    probabilities = (np.arange(n_quantiles, dtype=np.float64) + 0.5) / n_quantiles
    values = ndtri(probabilities)
    values.setflags(write=False)
    return values


def gaussian_quantiles(n_quantiles: int = DEFAULT_N_QUANTILES) -> np.ndarray:
    """Standard-normal quantiles ``z_i = Phi^{-1}((i + 1/2) / n)``, ``i = 0..n-1``.

    "Samples uniformly sampled in probability" of the proxy distribution (PN Appendix B):
    ``E[f(Z)] ~ mean_i f(z_i)`` for ``Z ~ N(0, 1)``. The rule is exact for odd ``f``; for
    ReLU its error is ``O(sqrt(log n) / n)`` (the end cells carry the Gaussian tails).
    Example: ``gaussian_quantiles(2) = [-0.6745, 0.6745]``.
    """
    if isinstance(n_quantiles, bool) or int(n_quantiles) != n_quantiles or n_quantiles < 2:
        raise KernelnormInputError("n_quantiles", f"must be an integer >= 2, got {n_quantiles!r}")
    return _quantiles(int(n_quantiles))


def _as_channel_row(value, xp, ndim: int):
    """A per-channel vector reshaped to broadcast against a channel-last ``ndim`` array."""
    value = xp.asarray(value)
    return value.reshape((1,) * (ndim - 1) + (-1,))


def proxy_moments(gamma, beta, activation="relu", *, beta_tilde=None, gamma_tilde=None,
                  n_quantiles: int = DEFAULT_N_QUANTILES):
    """Per-channel mean and variance of ``phi(gamma Y + beta)`` for the Gaussian proxy ``Y``.

    Formula (PN Eq. 7): ``Y_c ~ N(beta~_c, (1 + gamma~_c)^2)`` (``Y_c ~ N(0, 1)`` when the
    extra parameters are omitted), ``E_c = E[phi(gamma_c Y_c + beta_c)]``,
    ``V_c = Var[phi(gamma_c Y_c + beta_c)]``, both over ``n_quantiles`` Gaussian quantiles.

    Args:
        gamma, beta: shape ``(C,)``, the channel-wise affine parameters of the activation step.
        activation: name or callable (``kernelnorm.get_activation``).
        beta_tilde, gamma_tilde: optional ``(C,)`` extra PN parameters (``None`` = 0).
        n_quantiles: number of proxy samples.

    Returns:
        ``(mean, variance)``, each of shape ``(C,)``, numpy or JAX like ``gamma``.

    Example: ReLU, ``gamma = 1``, ``beta = 0``: ``mean -> 1/sqrt(2 pi) = 0.398942``,
    ``variance -> 1/2 - 1/(2 pi) = 0.340845`` as ``n_quantiles`` grows.
    """
    phi = get_activation(activation).function
    xp = _namespace(gamma)
    gamma = xp.asarray(gamma)
    if not xp.issubdtype(gamma.dtype, xp.floating):
        gamma = gamma.astype(float)
    beta = xp.asarray(beta, dtype=gamma.dtype)
    # quantiles in the parameters' precision (a float64 constant would promote float32 nets)
    z = xp.asarray(gaussian_quantiles(n_quantiles), dtype=gamma.dtype)[:, None]  # (n, 1)
    proxy = z if gamma_tilde is None else z * (1.0 + xp.asarray(gamma_tilde)[None, :])
    if beta_tilde is not None:
        proxy = proxy + xp.asarray(beta_tilde)[None, :]
    values = phi(gamma[None, :] * proxy + beta[None, :])  # (n, C)
    mean = values.mean(axis=0)
    centred = values - mean[None, :]
    return mean, (centred * centred).mean(axis=0)


def proxy_normalise(y, gamma, beta, activation="relu", *, beta_tilde=None, gamma_tilde=None,
                    eps: float = DEFAULT_PROXY_EPS, n_quantiles: int = DEFAULT_N_QUANTILES):
    """Proxy-normalised activation step (PN Eq. 7), channel axis last (NHWC or ``(N, C)``).

    Formula::

        z = (phi(gamma y + beta) - E[phi(gamma Y + beta)]) / sqrt(Var[phi(gamma Y + beta)] + eps)

    with ``Y ~ N(beta~, (1 + gamma~)^2)`` per channel (``N(0, 1)`` without extra parameters),
    expectations from :func:`proxy_moments`. Theorem 3 of the paper: if ``y`` is channel-wise
    standard Gaussian and ``beta~ = gamma~ = 0``, ``z`` has zero mean and variance
    ``V / (V + eps)`` in every channel (exactly 0 and 1 as ``eps -> 0``).

    Args:
        y: normalised pre-activations, shape ``(..., C)``.
        gamma, beta: ``(C,)`` affine parameters of the activation step.
        activation: name or callable.
        beta_tilde, gamma_tilde: optional ``(C,)`` extra proxy parameters.
        eps: stability constant (default 0.03, as in the paper).
        n_quantiles: number of Gaussian quantiles for the expectations (default 200).

    Returns:
        ``z``, same shape as ``y``.

    Example::

        >>> z = proxy_normalise(np.zeros((1, 1)), np.ones(1), np.zeros(1))
        >>> round(float(z[0, 0]), 4)  # 200 quantiles (exact: -0.39894/sqrt(0.37085) = -0.6551)
        -0.6568
    """
    phi = get_activation(activation).function
    xp = _namespace(y)
    mean, variance = proxy_moments(gamma, beta, activation, beta_tilde=beta_tilde,
                                   gamma_tilde=gamma_tilde, n_quantiles=n_quantiles)
    row = lambda v: _as_channel_row(v, xp, y.ndim)  # noqa: E731
    post = phi(row(gamma) * y + row(beta))
    return (post - row(mean)) * row((variance + eps) ** -0.5)


@lru_cache(maxsize=32)
def proxy_activation(activation="relu", *, eps: float = DEFAULT_PROXY_EPS,
                     n_quantiles: int = DEFAULT_N_QUANTILES):
    """The proxy-normalised activation step at ``gamma = 1``, ``beta = 0`` as an
    :class:`kernelnorm.Activation` with its infinite-width kernels (PN Eq. 7).

    ``a(x) = (phi(x) - m) / s`` with ``m, s^2 - eps`` the proxy mean and variance of
    :func:`proxy_moments` (``Y ~ N(0, 1)`` over ``n_quantiles`` quantiles), so, for a centred
    Gaussian pair ``(u, v)`` of covariance ``[[q1, c], [c, q2]]``::

        E[a(u) a(v)]   = (E[phi(u)phi(v)] - m (E phi(u) + E phi(v)) + m^2) / s^2
        E[a'(u) a'(v)] = E[phi'(u) phi'(v)] / s^2,     E[a(u)] = (E phi(u) - m) / s

    The kernels of ``phi`` are reused (closed forms stay closed forms). Dense blocks of the
    ``ln+pn`` and ``gn+pn`` schemes use this as their activation step; at ``q = 1`` and
    ``eps -> 0``, ``n_quantiles -> inf`` the step has mean 0 and variance 1 (PN Theorem 3).

    Example: ``proxy_activation("relu").mean(1.0)`` is about ``0``.
    """
    from kernelnorm._activations import Activation, get_activation

    phi = get_activation(activation)
    mean, variance = proxy_moments(np.ones(1), np.zeros(1), phi, n_quantiles=n_quantiles)
    m, s = float(mean[0]), float(np.sqrt(variance[0] + eps))

    def dual(q1, q2, c):
        return (phi.dual(q1, q2, c) - m * (phi.mean(q1) + phi.mean(q2)) + m * m) / (s * s)

    def derivative_dual(q1, q2, c):
        return phi.derivative_dual(q1, q2, c) / (s * s)

    def mean_fn(q):
        return (phi.mean(q) - m) / s

    closed = phi.closed_form
    return Activation(
        f"pn({phi.name})", lambda x: (phi.function(x) - m) / s, lambda x: phi.derivative(x) / s,
        homogeneous=False, quadrature_order=phi.quadrature_order,
        _dual=dual if closed else None, _derivative_dual=derivative_dual if closed else None,
        _mean=mean_fn if closed else None)
