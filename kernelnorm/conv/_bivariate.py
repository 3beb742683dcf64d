"""ReLU moments of a *shifted* Gaussian pair, in closed form (JAX): the proxy step's kernel.

For a centred Gaussian pair ``(u, v)`` with ``Var u = q1``, ``Var v = q2``, ``Cov = c``
(``s_i = sqrt(q_i)``, ``rho = c/(s1 s2)``, ``sigma = sqrt(1 - rho^2)``) and a common shift ``t``:

    N2(t) = E[relu(u + t) relu(v + t)]
          = (t^2 + c) L + t s1 phi(A) Phi(k1) + t s2 phi(B) Phi(k2) + sigma s1 s2 phi(A) phi(k1)
    L(t)  = P(u + t > 0, v + t > 0) = Phi2(A, B; rho)
    N1(t) = E[relu(u + t)] = t Phi(A) + s1 phi(A)

with ``A = t/s1``, ``B = t/s2``, ``k1 = (B - rho A)/sigma``, ``k2 = (A - rho B)/sigma``.
Derivation (``docs/conv.md``): Stein's lemma on ``E[(A + Z1)(B + Z2); Z1 > -A, Z2 > -B]``
(Rosenbaum 1961 for the truncated bivariate normal). At ``t = 0`` it is the arc-cosine kernel
of Cho & Saul. ``Phi2`` comes from Owen's T function (Owen 1956): for ``A, B`` of the same
sign (always the case here),

    Phi2(A, B; rho) = (Phi(A) + Phi(B))/2 - T(A, a_A) - T(B, a_B),
    a_A = (s1/s2 - rho)/sigma,  a_B = (s2/s1 - rho)/sigma

(``a_A = (B/A - rho)/sigma`` does not depend on ``t``: the formula is continuous at ``t = 0``).
``jax.scipy.special.owens_t`` is accurate to ``1e-16`` absolute. Perfectly correlated pairs
(``sigma = 0``) and zero variances are the limits of the same formulas; tests check all edges
against scipy.
"""

from __future__ import annotations

_TINY = 1e-300
_HUGE = 1e300


def _ndtr(x):
    from jax.scipy.special import ndtr

    return ndtr(x)


def _pdf(x):
    import jax.numpy as jnp

    return jnp.exp(-0.5 * x * x) / jnp.sqrt(2 * jnp.pi)


def _geometry(q1, q2, c):
    """``s1, s2, rho, sigma, sqrt((1 - rho)/(1 + rho))`` with zero variances floored at 1e-300."""
    import jax.numpy as jnp

    s1, s2 = jnp.sqrt(jnp.maximum(q1, _TINY)), jnp.sqrt(jnp.maximum(q2, _TINY))
    rho = jnp.clip(c / (s1 * s2), -1.0, 1.0)
    sigma = jnp.sqrt(jnp.maximum((1.0 - rho) * (1.0 + rho), 0.0))
    half = jnp.sqrt((1.0 - rho) / jnp.maximum(1.0 + rho, _TINY))
    return s1, s2, rho, sigma, half


def _ratio(numerator, sigma):
    """``numerator / sigma`` where ``sigma = 0`` gives ``+-1e300`` (or 0 for a zero numerator)."""
    import jax.numpy as jnp

    safe = jnp.where(sigma > 0, sigma, 1.0)
    limit = jnp.sign(numerator) * _HUGE
    return jnp.clip(jnp.where(sigma > 0, numerator / safe, limit), -_HUGE, _HUGE)


def bivariate_normal_cdf(t, q1, q2, c):
    """``L(t) = P(u + t > 0, v + t > 0) = Phi2(t/s1, t/s2; rho)`` (Owen's T representation)."""
    from jax.scipy.special import owens_t

    import jax

    s1, s2, rho, sigma, half = _geometry(q1, q2, c)
    a, b = t / s1, t / s2
    a_a = _ratio((s1 - s2) / s2, sigma) + half
    a_b = _ratio((s2 - s1) / s1, sigma) + half
    with jax.numpy_rank_promotion("allow"):  # owens_t broadcasts internally against (13,)
        return 0.5 * (_ndtr(a) + _ndtr(b)) - owens_t(a, a_a) - owens_t(b, a_b)


def relu_shifted_mean(t, q):
    """``N1(t; q) = E[relu(u + t)] = t Phi(t/s) + s phi(t/s)``, ``u ~ N(0, q)``."""
    import jax.numpy as jnp

    s = jnp.sqrt(jnp.maximum(q, _TINY))
    return t * _ndtr(t / s) + s * _pdf(t / s)


def relu_shifted_moments(t, q1, q2, c):
    """``(N2(t), L(t))``: ``E[relu(u + t) relu(v + t)]`` and ``P(u + t > 0, v + t > 0)`` (module
    docstring). Broadcasts over ``q1, q2, c``; ``t`` is a scalar or broadcasts too."""
    s1, s2, rho, sigma, half = _geometry(q1, q2, c)
    a, b = t / s1, t / s2
    # k1 = (B - rho A)/sigma = t (s1 - rho s2)/(s1 s2 sigma), written stably as rho -> 1
    k1 = t * (_ratio(s1 - s2, sigma) + s2 * half) / (s1 * s2)
    k2 = t * (_ratio(s2 - s1, sigma) + s1 * half) / (s1 * s2)
    orthant = bivariate_normal_cdf(t, q1, q2, c)
    second = ((t * t + c) * orthant + t * s1 * _pdf(a) * _ndtr(k1) + t * s2 * _pdf(b) * _ndtr(k2)
              + sigma * s1 * s2 * _pdf(a) * _pdf(k1))
    return second, orthant
