"""Dual activations (docs/theory.md §1): closed forms, quadrature accuracy and rates, Monte-Carlo."""

import math

import numpy as np
import pytest

from kernelnorm import ACTIVATIONS, get_activation, relu_derivative_dual, relu_dual
from kernelnorm._activations import ERF, QUADRATURE_TOLERANCE, RELU, Activation

RHO = np.linspace(-1.0, 1.0, 41)


def as_quadrature(activation, order=None):
    """The same nonlinearity with its closed forms removed, so quadrature is used."""
    return Activation(
        activation.name + "-quadrature", activation.function, activation.derivative,
        quadrature_order=order or activation.quadrature_order,
    )


def test_relu_dual_reference_values():
    assert relu_dual(1.0) == pytest.approx(0.5, abs=1e-15)
    assert relu_dual(0.0) == pytest.approx(1 / (2 * math.pi), abs=1e-15)
    assert relu_dual(-1.0) == pytest.approx(0.0, abs=1e-15)
    assert relu_derivative_dual(1.0) == pytest.approx(0.5, abs=1e-15)
    assert relu_derivative_dual(0.0) == pytest.approx(0.25, abs=1e-15)
    assert relu_derivative_dual(-1.0) == pytest.approx(0.0, abs=1e-15)


def test_relu_mean_is_sqrt_q_over_2pi():
    q = np.array([0.25, 1.0, 4.0])
    np.testing.assert_allclose(RELU.mean(q), np.sqrt(q / (2 * np.pi)), rtol=1e-15)


def test_duals_exact_and_finite_at_the_edges():
    """No NaN at rho = +-1, including correlations that round just past 1."""
    q1, q2 = 2.0, 3.0
    edge = math.sqrt(q1 * q2) * (1 + 1e-15)
    for activation in ACTIVATIONS.values():
        values = activation.dual(q1, q2, np.array([-edge, edge]))
        slopes = activation.derivative_dual(q1, q2, np.array([-0.999999 * edge, edge * 0.999999]))
        assert np.all(np.isfinite(values)), activation.name
        assert np.all(np.isfinite(slopes)), activation.name
    # homogeneous ReLU: E[relu(u) relu(v)] = sqrt(q1 q2) phi_hat(rho)
    assert RELU.dual(q1, q2, edge) == pytest.approx(math.sqrt(q1 * q2) / 2, rel=1e-14)
    assert RELU.dual(q1, q2, -edge) == pytest.approx(0.0, abs=1e-14)


def test_erf_quadrature_matches_arcsine_closed_form():
    quadrature = as_quadrature(ERF)
    for q1 in (0.05, 0.5, 2.0):
        for q2 in (0.05, 0.5, 2.0):
            c = math.sqrt(q1 * q2) * RHO
            np.testing.assert_allclose(quadrature.dual(q1, q2, c), ERF.dual(q1, q2, c),
                                       atol=QUADRATURE_TOLERANCE)
            inner = 0.99 * c  # the derivative kernel is singular only at |rho| = 1 and q -> inf
            np.testing.assert_allclose(quadrature.derivative_dual(q1, q2, inner),
                                       ERF.derivative_dual(q1, q2, inner), atol=1e-8)


def _log_log_slope(orders, errors):
    return np.polyfit(np.log(orders), np.log(errors), 1)[0]


def test_relu_quadrature_converges_at_the_kink_rates():
    """Gauss-Hermite nodes near 0 are spaced ~ N^(-1/2). A kink (ReLU) then costs O(h^2) = O(1/N),
    a jump (its derivative, the step) O(h) = O(N^(-1/2)). Measured by regression over N."""
    orders = np.array([32, 64, 128, 256])
    dual_err, deriv_err = [], []
    for order in orders:
        quadrature = as_quadrature(RELU, order)
        dual_err.append(np.max(np.abs(quadrature.dual(1.0, 1.0, RHO) - relu_dual(RHO))))
        deriv_err.append(np.max(np.abs(quadrature.derivative_dual(1.0, 1.0, RHO)
                                       - relu_derivative_dual(RHO))))
    assert _log_log_slope(orders, dual_err) == pytest.approx(-1.0, abs=0.15)
    assert _log_log_slope(orders, deriv_err) == pytest.approx(-0.5, abs=0.15)


def _sample_pairs(rng, q1, q2, c, n):
    cov = np.array([[q1, c], [c, q2]])
    return rng.multivariate_normal(np.zeros(2), cov, size=n).T


@pytest.mark.parametrize("name", ["relu", "erf", "tanh", "gelu", "silu"])
def test_duals_agree_with_monte_carlo(name):
    """Sample means of phi(u)phi(v), phi'(u)phi'(v), phi(u) within 5 standard errors
    (std / sqrt(n), n = 200k samples): a false alarm has probability < 1e-6 per check."""
    activation = get_activation(name)
    rng = np.random.default_rng(1234)
    n = 200_000
    for q1, q2, rho in [(1.0, 1.0, 0.3), (0.5, 2.0, -0.7), (1.5, 0.8, 0.95)]:
        c = rho * math.sqrt(q1 * q2)
        u, v = _sample_pairs(rng, q1, q2, c, n)
        for samples, predicted in [
            (activation.function(u) * activation.function(v), activation.dual(q1, q2, c)),
            (activation.derivative(u) * activation.derivative(v),
             activation.derivative_dual(q1, q2, c)),
            (activation.function(u), activation.mean(q1)),
        ]:
            stderr = samples.std() / math.sqrt(n)
            assert abs(samples.mean() - predicted) < 5 * stderr + 1e-12, (name, q1, q2, rho)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_dual_kernel_matrices_are_positive_semidefinite(name):
    """A dual kernel is a covariance: on Gaussian inputs of any PSD covariance it is PSD."""
    activation = get_activation(name)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((12, 5))
    cov = x @ x.T / 5
    q = np.diag(cov)
    gram = activation.dual(q[:, None], q[None, :], cov)
    assert np.linalg.eigvalsh(gram).min() > -1e-10 * np.abs(gram).max()


def test_user_callable_uses_quadrature_and_numeric_derivative():
    softplus = get_activation(lambda x: np.log1p(np.exp(x)))
    rng = np.random.default_rng(3)
    u, v = _sample_pairs(rng, 1.0, 1.0, 0.5, 200_000)
    sigmoid = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    samples = sigmoid(u) * sigmoid(v)
    stderr = samples.std() / math.sqrt(len(u))
    assert abs(softplus.derivative_dual(1.0, 1.0, 0.5) - samples.mean()) < 5 * stderr


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

variances = st.floats(min_value=1e-3, max_value=2.0)
correlations = st.floats(min_value=-1.0, max_value=1.0)


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(sorted(ACTIVATIONS)), q1=variances, q2=variances, rho=correlations)
def test_dual_obeys_cauchy_schwarz(name, q1, q2, rho):
    """|E[phi(u)phi(v)]| <= sqrt(E[phi(u)^2] E[phi(v)^2]) for every covariance."""
    activation = get_activation(name)
    c = rho * math.sqrt(q1 * q2)
    bound = math.sqrt(activation.second_moment(q1) * activation.second_moment(q2))
    assert abs(float(activation.dual(q1, q2, c))) <= bound * (1 + 1e-9) + 1e-12


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(["relu", "erf", "tanh"]), q1=variances, q2=variances)
def test_centred_dual_at_zero_correlation_vanishes(name, q1, q2):
    """Independent u, v: E[phi(u)phi(v)] = E[phi(u)] E[phi(v)], so the centred kernel is 0 at c = 0."""
    assert float(get_activation(name).centred_dual(q1, q2, 0.0)) == pytest.approx(0.0, abs=1e-13)
