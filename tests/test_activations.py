"""Dual activations (docs/theory.md §1): closed forms, the adaptive rule and its error estimates,
Monte-Carlo. The mpmath reference over the whole range is in tests/test_kernel_accuracy.py."""

import math

import numpy as np
import pytest

from kernelnorm import ACTIVATIONS, get_activation, relu_derivative_dual, relu_dual
from kernelnorm._activations import ERF, GELU, KERNEL_ATOL, KERNEL_RTOL, RELU, Activation

RHO = np.linspace(-1.0, 1.0, 41)
#: correlations spanning [-1, 1] with the ulp-neighbourhoods of +-1
EDGE_RHO = np.array([-1.0, -1 + 1e-15, -1 + 1e-9, -0.99, -0.5, 0.0, 0.3, 0.9, 1 - 1e-12, 1.0])


def as_quadrature(activation):
    """The same nonlinearity with its closed forms removed, so the quadrature rule is used."""
    return Activation(activation.name + "-quadrature", activation.function, activation.derivative)


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


@pytest.mark.parametrize("activation", [ERF, GELU], ids=lambda a: a.name)
def test_quadrature_matches_closed_forms_over_the_whole_range(activation):
    """The adaptive rule against the closed forms of erf and GELU (entire functions whose
    features sit at |x| ~ 1, like tanh's and SiLU's): q1, q2 from 1e-6 to 1e4, rho = +-1 and
    its ulp-neighbourhood included. Both are accurate far below the stated 1e-10, so the
    difference must be too (mpmath checks the closed forms: tests/test_kernel_accuracy.py)."""
    quadrature = as_quadrature(activation)
    q = np.array([1e-6, 1e-2, 1.0, 50.0, 1e4])
    q1, q2, rho = (a.ravel() for a in np.meshgrid(q, q, EDGE_RHO, indexing="ij"))
    c = rho * np.sqrt(q1 * q2)
    for kind in ("dual", "derivative_dual"):
        exact, exact_error = getattr(activation, kind + "_with_error")(q1, q2, c)
        value, error = getattr(quadrature, kind + "_with_error")(q1, q2, c)
        kernel = getattr(activation, kind)
        scale = np.sqrt(kernel(q1, q1, q1) * kernel(q2, q2, q2))
        assert np.all(np.abs(value - exact) <= KERNEL_RTOL * np.abs(exact) + KERNEL_ATOL * scale)
        # the rule's own error estimate covers its error (plus the closed form's rounding)
        assert np.all(np.abs(value - exact) <= error + exact_error + 4e-16 * scale), kind
        assert np.all(error <= KERNEL_RTOL * np.abs(exact) + KERNEL_ATOL * scale), kind


@pytest.mark.parametrize("q", [1e-3, 1.0, 100.0])
def test_quadrature_error_estimate_is_honest_at_a_kink(q):
    """A user callable with a kink (ReLU) defeats the geometric convergence (the trapezoid
    rule converges as h^2 there); the rule then reports an error estimate that covers its
    error instead of claiming 1e-10."""
    kinked = get_activation(RELU.function, derivative=RELU.derivative)
    rho = np.linspace(-0.95, 0.95, 9)
    value, error = kinked.dual_with_error(q, q, q * rho)
    assert np.all(np.abs(value - q * relu_dual(rho)) <= error)
    assert np.max(error) > 1e-9 * q  # it does not pretend


def test_smooth_user_callable_reaches_the_stated_accuracy():
    """softplus' derivative is the logistic sigmoid, and sigmoid(x) - 1/2 is odd: at c = 0,
    E[sigmoid(u) sigmoid(v)] = 1/4 exactly. The five-point difference and the rule keep the
    derivative kernel within 1e-11."""
    softplus = get_activation(lambda x: np.logaddexp(0.0, x))
    value, error = softplus.derivative_dual_with_error(1.0, 1.0, 0.0)
    assert float(value) == pytest.approx(0.25, abs=1e-11)
    assert float(error) <= 1e-11


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
