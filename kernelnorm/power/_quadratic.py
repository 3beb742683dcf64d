"""Square roots of Gaussian quadratic forms: the instance std ``sigma_{x,c}`` at infinite width.

In a channel of an infinitely wide net, the normalised pre-activations ``y(x, a)`` of an input
``x`` are a centred Gaussian vector over positions with covariance ``K_x`` (the kernel block of
``(x, x)``), so the squared instance std is a quadratic form

    Q_x = sigma_{x,c}^2 = (1/P) sum_a (y(a) - mean_a y)^2 = u^T u,   u = C y / sqrt(P)

(``C`` the centring matrix), ``u ~ N(0, M_x)``, ``M_x = C K_x C / P`` with eigenvalues
``lambda_k``. Its mean is ``sum_k lambda_k``; ``E[sigma_x] = E[sqrt(Q_x)]`` is *not*
``sqrt(E Q_x)`` (Jensen). Both moments come from the Laplace transform
``E[exp(-s Q)] = det(I + 2 s M)^(-1/2) = prod_k (1 + 2 s lambda_k)^(-1/2)`` and the Gamma-integral

    sqrt(q) = 1/(2 sqrt(pi)) int_0^inf (1 - exp(-s q)) s^(-3/2) ds:

* :func:`sqrt_mean`: ``E[sqrt Q] = 1/(2 sqrt pi) int_0^inf (1 - L(s)) s^(-3/2) ds``;
* :func:`sqrt_covariance`: for two inputs with joint covariance of ``(u_x, u_x')``,
  ``Cov(sqrt Q_x, sqrt Q_x') = 1/(4 pi) int int (L(s, t) - L_x(s) L_x'(t)) s^(-3/2) t^(-3/2)
  ds dt``, ``L(s, t) = E[exp(-s Q_x - t Q_x')] = det(I + 2 s M_x + 2 t M_x')^(-1/2)`` in the
  joint space. In polar form ``s = rho c``, ``t = rho (1 - c)``, the ``rho`` integral of
  ``L(rho c, rho (1 - c))`` needs only the eigenvalues of ``H(c) = [[c Lambda_x, sqrt(c(1-c))
  G], [sqrt(c(1-c)) G^T, (1 - c) Lambda_x']]`` (``G`` the cross-covariance in the two
  eigenbases), one symmetric eigenproblem per node of ``c``.

Quadrature: in ``v = log s`` both integrands are analytic in a strip of width ``pi`` and decay
exponentially, so the trapezoidal rule (step ``h``) converges like ``exp(-pi^2 / h)``; the outer
``c = sin^2 phi`` integral is smooth in ``phi`` (Gauss-Legendre). Tested against
``E sqrt(lambda chi^2_r) = sqrt(2 lambda) Gamma((r+1)/2) / Gamma(r/2)`` and Monte-Carlo.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

#: Trapezoid step in ``log s`` (measured error 1e-15 relative, tests/test_power_theory.py).
STEP = 0.25
#: Half-width of the ``log s`` range around ``-log(2 lambda_max)`` (tails ~ exp(-HALF/2)).
HALF_RANGE = 80.0
#: Gauss-Legendre nodes of the outer angle of :func:`sqrt_covariance` (relative error <= 4e-6
#: on digits nets, 1e-5 for identical forms, the worst case; 12 nodes: 2e-10).
ANGLE_NODES = 6


def centred_spectrum(blocks):
    """Eigenvalues and eigenvectors of ``M_x = C K_x C / P`` for same-input blocks
    ``(B, *S, *S)``: ``(lambda (B, P), U (B, P, P))``, eigenvalues descending, clipped at 0."""
    blocks = np.asarray(blocks, dtype=np.float64)
    count = int(round(math.sqrt(blocks[0].size)))
    k = blocks.reshape(len(blocks), count, count)
    k = k - k.mean(axis=1, keepdims=True)
    k = k - k.mean(axis=2, keepdims=True)
    values, vectors = np.linalg.eigh((k + np.swapaxes(k, 1, 2)) / (2.0 * count))
    return np.clip(values[:, ::-1], 0.0, None), vectors[:, :, ::-1]


def centred_cross(blocks):
    """``C K_xx' C / P`` of cross blocks ``(B, *S, *S)`` as ``(B, P, P)``."""
    blocks = np.asarray(blocks, dtype=np.float64)
    count = int(round(math.sqrt(blocks[0].size)))
    k = blocks.reshape(len(blocks), count, count)
    k = k - k.mean(axis=1, keepdims=True)
    return (k - k.mean(axis=2, keepdims=True)) / count


def _log_grid(scale):
    """Nodes ``v`` of ``log s`` around ``-log(2 scale)`` (``scale``: ``(B,)`` largest eigenvalue)."""
    steps = np.arange(-HALF_RANGE, HALF_RANGE + STEP / 2, STEP)
    return -np.log(2.0 * np.maximum(scale, 1e-300))[:, None] + steps[None, :]


def _log_laplace(eigenvalues, s):
    """``log prod_k (1 + 2 s lambda_k)^(-1/2)`` for ``eigenvalues (B, r)``, ``s (B, V)`` (kept
    as a logarithm: ``1 - L = -expm1(log L)`` has full relative precision for small ``s``)."""
    return -0.5 * np.log1p(2.0 * s[:, :, None] * eigenvalues[:, None, :]).sum(-1)


def sqrt_mean(eigenvalues) -> np.ndarray:
    """``E[sqrt(Q)]`` for ``Q = sum_k lambda_k z_k^2`` (``eigenvalues (B, r)``, ``>= 0``).

    Example: one eigenvalue ``1`` gives ``sqrt(2/pi) = 0.797885``."""
    lam = np.atleast_2d(np.asarray(eigenvalues, dtype=np.float64))
    top = lam.max(axis=1)
    v = _log_grid(top)
    s = np.exp(v)
    integrand = np.exp(-0.5 * v) * -np.expm1(_log_laplace(lam, s))
    out = integrand.sum(axis=1) * STEP / (2.0 * math.sqrt(math.pi))
    return np.where(top > 0, out, 0.0)


@lru_cache(maxsize=4)
def _angles(count: int):
    x, w = np.polynomial.legendre.leggauss(count)
    phi = (x + 1.0) * math.pi / 4.0
    return np.sin(phi) ** 2, w * math.pi / 4.0 * 2.0 / (np.sin(phi) * np.cos(phi)) ** 2


def sqrt_covariance(lam_a, lam_b, cross, *, angle_nodes: int = ANGLE_NODES) -> np.ndarray:
    """``Cov(sqrt Q_a, sqrt Q_b)`` for a batch of pairs (module docstring).

    Args:
        lam_a, lam_b: ``(B, r)`` eigenvalues of ``M_a``, ``M_b``.
        cross: ``(B, r, r)`` cross-covariance ``G = U_a^T Cov(u_a, u_b) U_b`` in the eigenbases.
    """
    lam_a, lam_b, cross = (np.asarray(a, dtype=np.float64) for a in (lam_a, lam_b, cross))
    cs, weights = _angles(angle_nodes)
    top = np.maximum(lam_a.max(1), lam_b.max(1))
    v = _log_grid(top)
    rho = np.exp(v)
    r_a, r_b = lam_a.shape[1], lam_b.shape[1]
    total = np.zeros(len(lam_a))
    for c, weight in zip(cs, weights):
        d = 1.0 - c
        joint = np.zeros((len(lam_a), r_a + r_b, r_a + r_b))
        joint[:, :r_a, :r_a] = c * _diag(lam_a)
        joint[:, r_a:, r_a:] = d * _diag(lam_b)
        off = math.sqrt(c * d) * cross
        joint[:, :r_a, r_a:] = off
        joint[:, r_a:, :r_a] = np.swapaxes(off, 1, 2)
        nu = np.clip(np.linalg.eigvalsh(joint), 0.0, None)
        apart = _log_laplace(c * lam_a, rho) + _log_laplace(d * lam_b, rho)
        difference = np.exp(apart) * np.expm1(_log_laplace(nu, rho) - apart)
        inner = (np.exp(-v) * difference).sum(axis=1) * STEP
        total += weight * inner
    return total / (4.0 * math.pi)


def _diag(values):
    out = np.zeros(values.shape + values.shape[-1:])
    index = np.arange(values.shape[-1])
    out[:, index, index] = values
    return out
