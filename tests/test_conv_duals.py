"""Activation steps of the conv kernel engine: JAX kernels, the random affine integrated out,
shifted-Gaussian ReLU moments (proxy norm). float64; references are closed forms, scipy and
Monte-Carlo with tolerances of 5 standard errors."""

import math

import numpy as np
import pytest

from kernelnorm import get_activation, proxy_moments
from kernelnorm.conv import (
    AffineStep,
    ProxyStep,
    bivariate_normal_cdf,
    jax_kernels,
    relu_shifted_mean,
    relu_shifted_moments,
)

EPS = np.finfo(np.float64).eps


def _pairs(seed=0, count=400):
    rng = np.random.default_rng(seed)
    q1, q2 = rng.uniform(0.05, 4.0, (2, count))
    rho = np.concatenate([rng.uniform(-1, 1, count // 2), 1 - 10 ** rng.uniform(-15, -1, count // 2)])
    rho[:4] = [1.0, -1.0, 0.0, 1.0 - EPS]
    return q1, q2, rho * np.sqrt(q1 * q2)


def test_fast_arccos_is_accurate_to_two_ulp_everywhere():
    """The series arccos (module docstring) against numpy on a fine grid and near the ends,
    where ``1 - |rho|`` is exact and the angle must keep its relative precision."""
    from kernelnorm.conv._duals import arccos

    rho = np.concatenate([np.linspace(-1, 1, 200001), 1 - np.logspace(-17, -1, 400),
                          -1 + np.logspace(-17, -1, 400)])
    ours, ref = np.asarray(arccos(rho)), np.arccos(rho)
    assert np.max(np.abs(ours - ref)) <= 4 * EPS
    small = (ref < 1e-3) & (ref > 0)
    assert np.max(np.abs(ours - ref)[small] / ref[small]) <= 4 * EPS


@pytest.mark.parametrize("name", ["relu", "erf", "identity", "tanh"])
def test_jax_kernels_equal_the_activation_kernels(name):
    """JAX twins (relu, erf, identity) and host callbacks (tanh) give kernelnorm.Activation's
    numbers: dual, derivative dual, mean."""
    activation = get_activation(name)
    dual, derivative, mean, both = jax_kernels(activation)
    q1, q2, c = _pairs()
    tolerance = 1e-13 if name != "tanh" else 1e-15
    np.testing.assert_allclose(dual(q1, q2, c), activation.dual(q1, q2, c), rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(derivative(q1, q2, c), activation.derivative_dual(q1, q2, c),
                               rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(mean(q1), activation.mean(q1), rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(both(q1, q2, c)[0], dual(q1, q2, c), rtol=0, atol=0)


def _affine_samples(rng, q1, q2, c, gamma_std, beta_std, count):
    gamma = 1.0 + gamma_std * rng.standard_normal(count)
    beta = beta_std * rng.standard_normal(count)
    chol = np.linalg.cholesky(np.array([[q1, c], [c, q2]]))
    u, v = chol @ rng.standard_normal((2, count))
    return gamma, beta, u, v


def _within(samples, value, k=5.0):
    mean, se = samples.mean(), samples.std(ddof=1) / math.sqrt(len(samples))
    assert abs(mean - value) <= k * se, (mean, value, se)


@pytest.mark.parametrize("q1, q2, rho", [(1.0, 1.0, 0.3), (0.4, 2.5, -0.6), (1.3, 0.9, 0.97)])
def test_affine_step_matches_monte_carlo_over_gamma_beta_and_the_pair(q1, q2, rho):
    """``E[relu(gamma u + beta) relu(gamma v + beta)]``, ``E[gamma^2 step(.) step(.)]`` and the
    mean, with gamma ~ N(1, 0.2^2), beta ~ N(0, 0.2^2) per channel (Proxy Norm Definition 1)."""
    rng = np.random.default_rng(1)
    c = rho * math.sqrt(q1 * q2)
    step = AffineStep("relu", 0.2, 0.2)
    g, b, u, v = _affine_samples(rng, q1, q2, c, 0.2, 0.2, 400_000)
    a, b_ = np.maximum(g * u + b, 0), np.maximum(g * v + b, 0)
    _within(a * b_, float(step.dual(q1, q2, c)))
    _within(g * g * (g * u + b > 0) * (g * v + b > 0), float(step.derivative_dual(q1, q2, c)))
    _within(a, float(step.mean(q1)))


def test_affine_step_gamma_quadrature_error_is_as_stated():
    """Eight Gauss-Hermite nodes in gamma are exact to 4e-9 sqrt(q1 q2) against 48 nodes (the
    stated accuracy), and beta is exact (absorbed in the covariance)."""
    q1, q2, c = _pairs(seed=2)
    coarse = np.asarray(AffineStep("relu", 0.2, 0.2, gamma_nodes=8).dual(q1, q2, c))
    fine = np.asarray(AffineStep("relu", 0.2, 0.2, gamma_nodes=48).dual(q1, q2, c))
    assert np.max(np.abs(coarse - fine) / np.sqrt(q1 * q2)) <= 4e-9


def test_shifted_relu_moments_match_scipy():
    """Closed forms of E[relu(u + t) relu(v + t)] and P(u + t > 0, v + t > 0) against scipy's
    bivariate normal CDF and a 1-D adaptive quadrature of the conditional moment."""
    from scipy import integrate
    from scipy.stats import multivariate_normal, norm

    rng = np.random.default_rng(3)
    for _ in range(12):
        q1, q2 = rng.uniform(0.2, 2.0, 2)
        rho = rng.uniform(-0.98, 0.999)
        c, t = rho * math.sqrt(q1 * q2), rng.normal(0, 0.8)
        second, orthant = relu_shifted_moments(t, q1, q2, c)
        reference = multivariate_normal(cov=[[q1, c], [c, q2]]).cdf([t, t])
        s1, s = math.sqrt(q1), math.sqrt(q2 - c * c / q1)

        def inner(z):
            mu = t + c / q1 * s1 * z
            return norm.pdf(z) * (s1 * z + t) * (mu * norm.cdf(mu / s) + s * norm.pdf(mu / s))

        moment = integrate.quad(inner, -t / s1, 14, epsabs=1e-14, epsrel=1e-13, limit=200)[0]
        assert abs(float(orthant) - reference) <= 1e-9  # scipy's CDF is accurate to ~1e-10
        assert abs(float(second) - moment) <= 1e-13
    # edges: the arc-cosine kernel at t = 0, a perfectly correlated pair, a zero variance
    np.testing.assert_allclose(relu_shifted_moments(0.0, 1.0, 1.0, 0.3)[0],
                               get_activation("relu").dual(1.0, 1.0, 0.3), rtol=1e-15)
    a = 0.3
    exact = (a * a + 1) * norm.cdf(a) + a * norm.pdf(a)  # E[(a + Z)_+^2]
    assert abs(float(relu_shifted_moments(a, 1.0, 1.0, 1.0)[0]) - exact) <= 1e-15
    assert abs(float(bivariate_normal_cdf(a, 1.0, 1.0, 1.0)) - norm.cdf(a)) <= 1e-15
    np.testing.assert_allclose(relu_shifted_moments(a, 0.0, 2.0, 0.0)[0],
                               a * relu_shifted_mean(a, 2.0), rtol=1e-14)


def test_proxy_step_matches_monte_carlo():
    """The proxy-normalised step (Proxy Norm Eq. 7) with random (gamma, beta), ReLU: kernel,
    derivative kernel and mean against sampling gamma, beta and the pair, with the proxy
    moments of kernelnorm.proxy_moments (200 quantiles, eps = 0.03)."""
    rng = np.random.default_rng(4)
    q1, q2, rho = 0.8, 1.3, 0.55
    c = rho * math.sqrt(q1 * q2)
    step = ProxyStep("relu", 0.2, 0.2, eps=0.03)
    g, b, u, v = _affine_samples(rng, q1, q2, c, 0.2, 0.2, 200_000)
    m, var = proxy_moments(g, b, "relu")
    scale = 1.0 / np.sqrt(var + 0.03)
    za, zb = (np.maximum(g * u + b, 0) - m) * scale, (np.maximum(g * v + b, 0) - m) * scale
    _within(za * zb, float(step.dual(q1, q2, c)))
    _within(za, float(step.mean(q1)))
    _within(scale**2 * g * g * (g * u + b > 0) * (g * v + b > 0), float(step.derivative_dual(q1, q2, c)))


def _proxy_reference(q1, q2, c, gamma_nodes=300, beta_nodes=60):
    """The proxy kernel by a fine rule: Gauss-Legendre over |gamma| in [0, 3] (folded normal
    density) x Gauss-Hermite over beta, closed-form shifted moments at every node."""
    from scipy.stats import norm

    x, w = np.polynomial.legendre.leggauss(gamma_nodes)
    g = (x + 1) * 1.5
    wg = w * 1.5 * (norm.pdf(g, 1, 0.2) + norm.pdf(-g, 1, 0.2))
    z, wb = np.polynomial.hermite_e.hermegauss(beta_nodes)
    g, b = np.meshgrid(g, 0.2 * z, indexing="ij")
    weight = wg[:, None] * (wb / wb.sum())[None, :]
    m, v = proxy_moments(g.ravel(), b.ravel(), "relu")
    m, a2 = m.reshape(g.shape), 1.0 / (v.reshape(g.shape) + 0.03)
    t = b / g
    second = np.asarray(relu_shifted_moments(t, q1, q2, c)[0])
    first = np.asarray(relu_shifted_mean(t, q1) + relu_shifted_mean(t, q2))
    return float((weight * a2 * (g * g * second - m * g * first + m * m)).sum())


def test_proxy_step_quadrature_error_is_as_stated():
    """The (6, 8)-node product rule over (gamma, beta) is exact to 1e-5 against a 300 x 60
    rule (the proxy moments' kinks in beta/gamma limit both rules' convergence; the two fine
    rules 300 x 60 and 400 x 80 differ by < 1e-7)."""
    step = ProxyStep("relu", 0.2, 0.2)
    rng = np.random.default_rng(5)
    for rho in (0.55, -0.7, 0.999, 0.2):
        q1, q2 = rng.uniform(0.2, 2.5, 2)
        c = rho * math.sqrt(q1 * q2)
        assert abs(float(step.dual(q1, q2, c)) - _proxy_reference(q1, q2, c)) <= 1e-5


def test_proxy_step_refuses_other_activations():
    from kernelnorm import KernelnormInputError

    with pytest.raises(KernelnormInputError, match="relu only"):
        ProxyStep("tanh")
