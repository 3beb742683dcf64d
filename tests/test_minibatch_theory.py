"""Mini-batch BN at infinite width (kernelnorm._minibatch): the reductions against hand
derivations, brute-force sampling of the batch sphere, the exact Gram map, and the limits.

Sampling tolerances are 5 standard errors of the sample mean (the moments are bounded or have
all moments finite), so a failing test is a wrong formula, not bad luck.
"""

import math

import numpy as np
import pytest

from kernelnorm import (
    BatchNorm,
    KernelnormInputError,
    MiniBatchNorm,
    bn_output_gram,
    chi_1,
    correlation_map_slope,
    fixed_point_gram,
    fixed_points,
    get_activation,
    minibatch_grams,
    minibatch_kernel_map,
    minibatch_theory,
    relu_derivative_dual,
    relu_dual,
    sphere_moments,
    summarise,
)

LIMIT = math.pi / (math.pi - 1.0)
# the identity as a plain callable: no closed form, so it runs the quadrature path
IDENTITY_BY_QUADRATURE = get_activation(lambda x: x + 0.0, derivative=lambda x: 0.0 * x + 1.0)


def _sphere(batch, count, seed):
    """``count`` draws of ``h = sqrt(B) u``, ``u`` uniform on the unit sphere of ``1^perp``."""
    z = np.random.default_rng(seed).standard_normal((count, batch))
    z -= z.mean(axis=1, keepdims=True)
    return math.sqrt(batch) * z / np.linalg.norm(z, axis=1, keepdims=True)


@pytest.mark.parametrize("batch", [4, 5, 8, 32, 128, 1000])
@pytest.mark.parametrize("activation", ["identity", IDENTITY_BY_QUADRATURE])
def test_identity_matches_the_hand_derivation(batch, activation):
    """Linear BN network. At the fixed point ``h' = sqrt(B) u`` with ``u`` uniform on the unit
    sphere of ``1^perp``; ``alpha = 1 - c* = B/(B-1)``. Backward: ``E[P G P] = E[P] = (B-2)/(B-1)
    G`` and ``E[1/chi^2_{B-1}] = 1/(B-3)``, so ``lambda = B (B-2)/(alpha (B-3)(B-1)) =
    (B-2)/(B-3)``; a white probe loses its ``1/B`` share along ``1`` first: ``chi_1 = (B-1)/B
    lambda``. Forward: the map is ``Sigma -> B E[y y^T/||y||^2]``, whose derivative at an
    isotropic ``C`` is ``(E - tr(E)/k I)/(k + 2)`` (``k = B - 1``: expand ``y = u + E u/2``),
    so both eigenvalues are ``B/(alpha (B + 1)) = (B-1)/(B+1)``."""
    theory = minibatch_theory(activation, batch)
    assert theory.c_star == pytest.approx(-1.0 / (batch - 1), rel=1e-15)
    assert theory.gradient_growth == pytest.approx((batch - 2) / (batch - 3), rel=1e-11)
    assert theory.chi_1 == pytest.approx((batch - 1) * (batch - 2) / (batch * (batch - 3)), rel=1e-11)
    for rate in (theory.rate_lengths, theory.rate_correlations):
        assert rate == pytest.approx((batch - 1) / (batch + 1), rel=1e-10)
    assert theory.quadrature_error <= 1e-11


@pytest.mark.parametrize("batch", [4, 6, 8, 32, 128, 4096])
def test_relu_reduces_to_arc_cosine_kernels(batch):
    """ReLU: ``phi' phi'`` is degree 0 and ``phi phi``, ``phi'^2 h^2`` degree 2, whose spherical
    expectations equal the Gaussian ones at ``Sigma*``: ``m0 = m2 = 1/2``, ``p0 = phi_hat'(c*)``,
    ``p2 = phi_hat(c*)``, ``alpha = 1/2 - phi_hat(c*)``."""
    c = -1.0 / (batch - 1)
    alpha = 0.5 - relu_dual(c)
    theory = minibatch_theory("relu", batch)
    assert theory.alpha == pytest.approx(alpha, rel=1e-13)
    assert theory.chi_1 == pytest.approx((batch - 2) / (2 * alpha * (batch - 3)), rel=1e-12)
    growth = ((batch - 2) / 2 + relu_derivative_dual(c) + relu_dual(c)) / (alpha * (batch - 3))
    assert theory.gradient_growth == pytest.approx(growth, rel=1e-12)
    assert chi_1(MiniBatchNorm("relu", batch)) == theory.chi_1


@pytest.mark.parametrize("activation,batch", [("relu", 4), ("relu", 8), ("tanh", 4), ("tanh", 8),
                                              ("gelu", 32), ("erf", 6)])
def test_pair_moments_match_sampling_of_the_batch_sphere(activation, batch):
    phi = get_activation(activation)
    h = _sphere(batch, 400_000, seed=batch)
    a, b = h[:, 0], h[:, 1]
    f, g, fd, gd = phi(a), phi(b), phi.derivative(a), phi.derivative(b)
    samples = {"u0": f * f, "v0": f * g, "u2": f * f * a * a, "v20": f * g * a * a,
               "v11": f * g * a * b, "m0": fd * fd, "p0": fd * gd, "m2": fd * fd * a * a,
               "p2": fd * gd * a * b}
    moments = sphere_moments(activation, batch)
    for name, values in samples.items():
        se = values.std() / math.sqrt(len(values))
        assert abs(getattr(moments, name) - values.mean()) <= 5 * se + 1e-12, name


@pytest.mark.parametrize("activation,batch", [("relu", 8), ("tanh", 6), ("identity", 5)])
def test_gradient_growth_is_the_backward_operator_at_g(activation, batch):
    """Direct infinite-width simulation of ``lambda = B/(alpha (B-3)) tr E[P D G D P]/(B-1)``
    (no pair reduction): checks the trace expansion into the four pair moments."""
    phi = get_activation(activation)
    h = _sphere(batch, 400_000, seed=7)
    u = h / math.sqrt(batch)
    d = phi.derivative(h)
    trace_dgdg = (d * d).sum(1) * (1 - 2 / batch) + d.sum(1) ** 2 / batch**2
    projected = (d * d * u * u).sum(1) - (d * u).sum(1) ** 2 / batch
    samples = trace_dgdg - projected
    theory = minibatch_theory(activation, batch)
    factor = batch / (theory.alpha * (batch - 3) * (batch - 1))
    se = factor * samples.std() / math.sqrt(len(samples))
    assert abs(factor * samples.mean() - theory.gradient_growth) <= 5 * se + 1e-12


@pytest.mark.parametrize("batch", [10**9, math.inf])
def test_full_batch_limit_is_theorem2(batch):
    """``B -> inf`` recovers MimicNorm Theorem 2: ``chi_1 = lambda = pi/(pi-1)`` to 1e-8, the
    correlation eigenvalue tends to ``T_bar'(0)``."""
    theory = minibatch_theory("relu", batch)
    assert abs(theory.chi_1 - LIMIT) <= 1e-8 and abs(theory.gradient_growth - LIMIT) <= 1e-8
    assert theory.rate_correlations == pytest.approx(
        float(correlation_map_slope(BatchNorm("relu"), 0.0)), abs=1e-8)


def _gaussian_mean(f):
    """``E f(g)``, ``g ~ N(0, 1)``, by adaptive quadrature (an independent 1-D reference)."""
    from scipy.integrate import quad

    density = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    return quad(lambda x: f(x) * density(x), -12, 12, epsabs=1e-14, epsrel=1e-13, limit=400)[0]


@pytest.mark.parametrize("activation", ["tanh", "erf", "gelu", "silu"])
def test_full_batch_limit_of_smooth_activations_is_the_idealised_bn(activation):
    """At ``B = inf`` the pair law is Gaussian and independent: ``chi_1 = lambda = E phi'^2 /
    Var phi`` (the idealised operator's ``chi_1``) and the correlation eigenvalue is ``(E
    phi')^2 / Var phi = T_bar'(0)`` (Stein: ``E phi(g) g = E phi'(g)``)."""
    phi = get_activation(activation)
    f = lambda x: float(phi(np.float64(x)))  # noqa: E731
    df = lambda x: float(phi.derivative(np.float64(x)))  # noqa: E731
    variance = _gaussian_mean(lambda x: f(x) ** 2) - _gaussian_mean(f) ** 2
    theory = minibatch_theory(activation, math.inf)
    assert theory.chi_1 == pytest.approx(_gaussian_mean(lambda x: df(x) ** 2) / variance, abs=1e-10)
    assert theory.gradient_growth == theory.chi_1
    assert theory.rate_correlations == pytest.approx(_gaussian_mean(df) ** 2 / variance, abs=1e-10)
    assert theory.quadrature_error <= 1e-11


@pytest.mark.parametrize("activation", ["tanh", "erf", "gelu", "silu"])
@pytest.mark.parametrize("batch", [3, 4, 5, 64, 65, 1000])
def test_quadrature_converges_for_smooth_activations(activation, batch):
    """The radial rule switches from Gauss-Jacobi to Gauss-Laguerre above ``k = 64``; both are
    converged (their reported change is tiny) and agree across the switch within O(1/B^2)
    of a smooth dependence on ``B``."""
    theory = minibatch_theory(activation, batch)
    assert theory.quadrature_error <= 1e-11
    if batch in (64, 65):
        other = minibatch_theory(activation, 129 - batch)
        mid = minibatch_theory(activation, 66 if batch == 65 else 63)
        # second difference over B = 63, 64, 65 (or 64, 65, 66) is O(B^-3): smooth across the switch
        assert abs(other.chi_1 - 2 * theory.chi_1 + mid.chi_1) <= 1e-5


def test_edge_batches_are_exact():
    """``B = 2``: ``h' = +-(1, -1)``, the Jacobian vanishes. ``B = 3``: ``E[1/chi^2_2] = inf``."""
    two = minibatch_theory("relu", 2)
    assert two.chi_1 == two.gradient_growth == 0.0 and two.c_star == -1.0
    assert two.alpha == 0.5  # (phi(1) - phi(-1))^2 / 2
    three = minibatch_theory("tanh", 3)
    assert math.isinf(three.chi_1) and math.isinf(three.gradient_growth)
    assert three.rate_correlations is None and 0 < three.rate_lengths < 1
    assert math.isinf(chi_1(MiniBatchNorm("relu", 3)))
    with pytest.raises(KernelnormInputError, match="--batch-size"):
        minibatch_theory("relu", 1)
    with pytest.raises(KernelnormInputError, match="--activation"):
        minibatch_theory(lambda x: 0.0 * x + 1.0, 8)  # constant phi: BN divides by zero


def test_fixed_point_gram_and_one_step_from_exchangeable_inputs():
    for batch in (2, 3, 7):
        sigma = fixed_point_gram(batch)
        assert np.allclose(np.diag(sigma), 1.0)
        assert np.allclose(sigma[~np.eye(batch, dtype=bool)], -1.0 / (batch - 1))
    # any exchangeable covariance a I + b 11^T lands on the fixed point in one BN layer
    cov = 0.7 * np.eye(6) + 0.4
    assert np.allclose(bn_output_gram(cov), fixed_point_gram(6), atol=1e-13)
    assert np.allclose(minibatch_grams("relu", cov, 3)[1:], fixed_point_gram(6), atol=1e-12)


@pytest.mark.parametrize("activation", ["relu", "identity"])
def test_gram_map_matches_sampling(activation):
    """The Laplace reduction ``B int det(I+2sC)^-1/2 dual(C_s) ds`` against direct sampling of
    ``phi(BN(z))``, ``z ~ N(0, cov)``, at a generic covariance."""
    rng = np.random.default_rng(3)
    batch = 6
    a = rng.standard_normal((batch, batch))
    cov = a @ a.T / batch + 0.2 * np.eye(batch)
    z = rng.standard_normal((400_000, batch)) @ np.linalg.cholesky(cov).T
    y = z - z.mean(axis=1, keepdims=True)
    h = math.sqrt(batch) * y / np.linalg.norm(y, axis=1, keepdims=True)
    phi = get_activation(activation)(h)
    for predicted, values in ((minibatch_kernel_map(activation, cov), phi[:, :, None] * phi[:, None, :]),
                              (bn_output_gram(cov), h[:, :, None] * h[:, None, :])):
        se = values.std(axis=0) / math.sqrt(len(values))
        assert np.all(np.abs(predicted - values.mean(axis=0)) <= 5 * se + 1e-12)


@pytest.mark.parametrize("activation", ["relu", "identity"])
def test_iterated_gram_map_converges_at_the_predicted_rate(activation):
    """Found, not assumed: from a generic covariance the exact Gram map converges to
    ``Sigma*``, and the fitted decay rate of ``||Sigma_l - Sigma*||`` is the leading forward
    eigenvalue (declared rate; measured by regression over the late layers)."""
    rng = np.random.default_rng(0)
    batch = 6
    a = rng.standard_normal((batch, batch))
    cov = a @ a.T / batch + 0.3 * np.eye(batch)
    grams = minibatch_grams(activation, cov, 45)
    distance = np.abs(grams - fixed_point_gram(batch)).max(axis=(1, 2))
    late = np.arange(25, 45)
    slope = np.polyfit(late, np.log(distance[late]), 1)[0]
    theory = minibatch_theory(activation, batch)
    assert distance[-1] < 1e-5
    assert math.exp(slope) == pytest.approx(theory.forward_rate, rel=1e-4)


def test_correlation_eigenvalue_governs_pair_perturbations():
    """A perturbation with zero diagonal and zero row sums (the (B-2, 2) part) decays at the
    correlation eigenvalue, linearly (relu, exact map)."""
    batch = 8
    e = np.zeros((batch, batch))
    e[0, 2] = e[2, 0] = e[1, 3] = e[3, 1] = 1.0
    e[0, 3] = e[3, 0] = e[1, 2] = e[2, 1] = -1.0
    eps = 1e-5
    cov = minibatch_kernel_map("relu", np.eye(batch) + eps * e)  # a perturbed layer input
    before = bn_output_gram(np.eye(batch) + eps * e) - fixed_point_gram(batch)
    after = bn_output_gram(cov) - fixed_point_gram(batch)
    ratio = (after * e).sum() / (before * e).sum()
    assert ratio == pytest.approx(minibatch_theory("relu", batch).rate_correlations, rel=1e-4)


def test_transition_api_answers_with_the_finite_batch_theory():
    block = MiniBatchNorm("relu", 8)
    theory = minibatch_theory("relu", 8)
    (point,) = fixed_points(block)
    assert point.rho == pytest.approx(-1 / 7) and point.stable
    assert point.slope == theory.forward_rate
    summary = summarise(block)
    assert summary.chi_1 == theory.chi_1 and summary.rho_star == point.rho
    with pytest.raises(KernelnormInputError, match="--batch-size"):
        correlation_map_slope(block, 0.0)
    with pytest.raises(KernelnormInputError, match="--batch-size"):
        chi_1(MiniBatchNorm("relu", 8).__class__("mean-bn", "relu", batch_size=8))
    # the full-batch limit is the idealised operator (Theorem 2)
    assert chi_1(MiniBatchNorm("relu", math.inf)) == pytest.approx(LIMIT, rel=1e-14)


@pytest.mark.parametrize("activation", ["tanh", "gelu"])
def test_forward_eigenvalues_match_finite_differences_of_the_sampled_map(activation):
    """Any activation: the derivative of ``C -> G E[phi(h') phi(h')^T] G`` (``h' = BN(z)``,
    ``z ~ N(0, G + eps E)``) along a direction ``E`` of each irreducible part, by central
    differences with common random numbers, divided by ``alpha ||E||^2``: the two forward
    eigenvalues (independent of the Stein-identity formulas). 5 standard errors over 8
    independent repetitions, plus ``2e-3`` for the ``O(eps^2)`` difference error."""
    batch, eps = 6, 0.02
    phi = get_activation(activation)
    centre = np.eye(batch) - 1.0 / batch
    lengths = centre @ np.diag([1.0, -1.0, 0, 0, 0, 0]) @ centre
    pairs = np.zeros((batch, batch))
    pairs[0, 2] = pairs[2, 0] = pairs[1, 3] = pairs[3, 1] = 1.0
    pairs[0, 3] = pairs[3, 0] = pairs[1, 2] = pairs[2, 1] = -1.0
    rng = np.random.default_rng(11)
    estimates = {"rate_lengths": [], "rate_correlations": []}
    for _ in range(8):
        u = rng.standard_normal((25_000, batch))
        for name, direction in (("rate_lengths", lengths), ("rate_correlations", pairs)):
            kernels = []
            for sign in (1.0, -1.0):
                values, vectors = np.linalg.eigh(centre + sign * eps * direction)
                root = vectors @ np.diag(np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
                y = u @ root
                y -= y.mean(axis=1, keepdims=True)
                f = phi(math.sqrt(batch) * y / np.linalg.norm(y, axis=1, keepdims=True))
                f -= f.mean(axis=1, keepdims=True)
                kernels.append(f.T @ f / len(f))
            alpha = np.trace(kernels[0] + kernels[1]) / (2 * (batch - 1))
            slope = ((kernels[0] - kernels[1]) / (2 * eps) * direction).sum()
            estimates[name].append(slope / (alpha * (direction * direction).sum()))
    theory = minibatch_theory(activation, batch)
    for name, values in estimates.items():
        values = np.asarray(values)
        se = values.std(ddof=1) / math.sqrt(len(values))
        assert abs(values.mean() - getattr(theory, name)) <= 5 * se + 2e-3, name  # + O(eps^2)
