"""Proxy-normalised activation (PN Eq. 7) and Theorem 3 of Proxy Normalization."""

import math

import numpy as np
import pytest
from scipy.stats import norm

from kernelnorm._errors import KernelnormInputError
from kernelnorm._proxy import gaussian_quantiles, proxy_moments, proxy_normalise


def relu_moments(gamma, beta):
    """Closed forms for ``u = beta + gamma Z``: ``E relu(u) = beta Phi(t) + gamma phi(t)``,
    ``E relu(u)^2 = (beta^2 + gamma^2) Phi(t) + beta gamma phi(t)``, ``t = beta/gamma``."""
    t = beta / gamma
    mean = beta * norm.cdf(t) + gamma * norm.pdf(t)
    second = (beta**2 + gamma**2) * norm.cdf(t) + beta * gamma * norm.pdf(t)
    return mean, second - mean**2


def test_proxy_moments_at_the_reference_point():
    """docs/theory.md §6: ReLU, beta = 0, gamma = 1: E = 1/sqrt(2 pi), Var = 1/2 - 1/(2 pi)."""
    mean, var = proxy_moments(np.ones(1), np.zeros(1), n_quantiles=20_000)
    # quantile-rule error ~ 1/n (next test), 20000 quantiles: well below 1e-4
    assert abs(mean[0] - 0.398942280401) < 1e-4
    assert abs(var[0] - 0.340845057) < 1e-3 * 0.34


def test_quantile_rule_converges_at_rate_one_over_n():
    """Declared rate: error of the midpoint-quantile rule ~ n^-1 (ReLU's kink sits on a cell
    edge; the end cells carry the Gaussian tails, giving at most a log factor). Regression over
    n = 50..6400 must find slope -1 +- 0.15 for both moments."""
    gamma, beta = np.array([1.3]), np.array([0.4])
    exact_mean, exact_var = relu_moments(1.3, 0.4)
    ns = np.array([50, 100, 200, 400, 800, 1600, 3200, 6400])
    errors = np.array([[abs(m[0] - exact_mean), abs(v[0] - exact_var)]
                       for m, v in (proxy_moments(gamma, beta, n_quantiles=n) for n in ns)])
    for column in errors.T:
        slope = np.polyfit(np.log(ns), np.log(column), 1)[0]
        assert abs(slope + 1.0) < 0.15


def test_extra_parameters_shift_and_scale_the_proxy():
    """Y ~ N(beta~, (1 + gamma~)^2) is the same as gamma' = gamma (1 + gamma~),
    beta' = beta + gamma beta~ with a standard proxy."""
    gamma, beta = np.array([0.8, 1.2]), np.array([0.1, -0.3])
    gt, bt = np.array([0.2, -0.1]), np.array([0.5, 0.25])
    with_extra = proxy_moments(gamma, beta, gamma_tilde=gt, beta_tilde=bt)
    folded = proxy_moments(gamma * (1 + gt), beta + gamma * bt)
    np.testing.assert_allclose(with_extra, folded, rtol=1e-13)


def test_theorem3_proxy_normalised_output_is_channel_normalised_for_gaussian_input():
    """PN Theorem 3: y_c ~ N(0, 1), beta~ = gamma~ = 0 -> z has mean 0 and variance V/(V + eps).

    n = 2e5 samples per channel; tolerance 5 sd/sqrt(n) (Monte Carlo) + the quantile-rule error
    of the moments at 200 quantiles measured against the closed forms (no value from the code
    under test)."""
    n, channels = 200_000, 4
    rng = np.random.default_rng(0)
    gamma = 1.0 + 0.2 * rng.standard_normal(channels)
    beta = 0.2 * rng.standard_normal(channels)
    y = rng.standard_normal((n, channels))
    z = proxy_normalise(y, gamma, beta, "relu")
    exact_mean, exact_var = relu_moments(gamma, beta)
    quant_mean, quant_var = proxy_moments(gamma, beta)
    scale = (quant_var + 0.03) ** -0.5
    mean_tol = 5 / math.sqrt(n) + np.abs(quant_mean - exact_mean) * scale
    np.testing.assert_array_less(np.abs(z.mean(axis=0)), mean_tol)
    target_var = exact_var / (quant_var + 0.03)
    # sd of a sample variance = sqrt(kurtosis - 1) var / sqrt(n); a ReLU of a Gaussian has
    # kurtosis 5.4 at beta = 0 and below 10 for these |beta| < gamma: 5 sd <= 15 var / sqrt(n)
    var_tol = 15 * target_var / math.sqrt(n) + np.abs(quant_var - exact_var) * scale**2
    np.testing.assert_array_less(np.abs(z.var(axis=0) - target_var), var_tol)
    # eps -> 0: exactly channel-normalised up to the same tolerances
    z0 = proxy_normalise(y, gamma, beta, "relu", eps=0.0, n_quantiles=20_000)
    np.testing.assert_array_less(np.abs(z0.var(axis=0) - 1.0), 15 / math.sqrt(n) + 1e-3)


def test_proxy_normalise_agrees_on_numpy_and_jax_under_jit():
    import jax
    import jax.numpy as jnp

    rng = np.random.default_rng(1)
    y = rng.standard_normal((3, 4, 4, 5))
    gamma, beta = 1 + 0.2 * rng.standard_normal(5), 0.2 * rng.standard_normal(5)
    expected = proxy_normalise(y, gamma, beta, "gelu", beta_tilde=beta, gamma_tilde=beta)
    fn = jax.jit(lambda y, g, b: proxy_normalise(y, g, b, "gelu", beta_tilde=b, gamma_tilde=b))
    got = fn(jnp.asarray(y), jnp.asarray(gamma), jnp.asarray(beta))
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-12)


def test_gaussian_quantiles_are_symmetric_and_reject_bad_counts():
    z = gaussian_quantiles(7)
    np.testing.assert_allclose(z, -z[::-1], atol=1e-15)
    assert z[3] == 0.0
    with pytest.raises(KernelnormInputError, match="n_quantiles"):
        gaussian_quantiles(1)
