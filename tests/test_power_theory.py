"""The power decomposition predicted at infinite width (kernelnorm.power.power_theory):
square-root moments of Gaussian quadratic forms against closed forms and Monte-Carlo, the
decomposition identity, Theorem 1's equality case, agreement with the measured random nets,
and the refusals. float64."""

import math

import numpy as np
import pytest
from scipy.special import gammaln

from kernelnorm import KernelnormInputError
from kernelnorm.power import (
    agreement,
    layer_terms,
    make_inputs,
    power_profile,
    power_theory,
    sqrt_covariance,
    sqrt_mean,
    theorem1_from_kernel,
    theorem1_rate,
    theory_gap,
)

INPUTS = make_inputs("digits", 5, 8, seed=1)


@pytest.mark.parametrize("rank", [1, 2, 5, 40])
def test_sqrt_mean_matches_the_chi_distribution(rank):
    """E sqrt(lambda chi^2_r) = sqrt(2 lambda) Gamma((r+1)/2) / Gamma(r/2): the Laplace/Gamma
    representation with the trapezoidal rule in log s, to 1e-13 (not sqrt(E Q) = sqrt(r lambda))."""
    lam = 2.7
    exact = math.sqrt(2 * lam) * math.exp(gammaln((rank + 1) / 2) - gammaln(rank / 2))
    value = float(sqrt_mean(np.full((1, rank), lam))[0])
    assert abs(value / exact - 1) <= 1e-13
    assert value < math.sqrt(rank * lam)


def test_sqrt_covariance_matches_monte_carlo_and_its_limits():
    """Cov(sqrt Q_a, sqrt Q_b) of two correlated forms against 10^6 Gaussian samples (5 SE of
    25 batch estimates);
    independent forms give 0 (to rounding); identical forms give Var sqrt Q = E Q - (E sqrt Q)^2."""
    rng = np.random.default_rng(0)
    r = 5
    a = rng.standard_normal((2 * r, 2 * r))
    joint = a @ a.T / (2 * r) + 0.05 * np.eye(2 * r)
    lam_a, u_a = np.linalg.eigh(joint[:r, :r])
    lam_b, u_b = np.linalg.eigh(joint[r:, r:])
    cross = u_a.T @ joint[:r, r:] @ u_b
    value = float(sqrt_covariance(lam_a[None], lam_b[None], cross[None])[0])
    z = rng.standard_normal((1_000_000, 2 * r)) @ np.linalg.cholesky(joint).T
    sa, sb = np.linalg.norm(z[:, :r], axis=1), np.linalg.norm(z[:, r:], axis=1)
    batches = np.array([np.cov(sa[i::25], sb[i::25])[0, 1] for i in range(25)])
    assert abs(value - batches.mean()) <= 5 * batches.std(ddof=1) / 5
    assert abs(float(sqrt_covariance(lam_a[None], lam_b[None], np.zeros((1, r, r)))[0])) <= 1e-13
    same = float(sqrt_covariance(lam_a[None], lam_a[None], np.diag(lam_a)[None])[0])
    variance = lam_a.sum() - float(sqrt_mean(lam_a[None])[0]) ** 2
    # perfectly correlated forms are the angle rule's worst case: 6 nodes, 1e-5 relative
    assert abs(same / variance - 1) <= 2e-5


def test_terms_sum_to_the_power_and_the_cross_methods_agree():
    """Eq. 5 is an identity: the four predicted terms sum to the predicted power at every layer.
    The sampled cross-input correction is exact when every pair is sampled; the matched
    approximation changes mu_c(sigma_xc)^2 by < 1e-3 of it (its stated accuracy)."""
    from kernelnorm.conv import random_net

    layers = list(random_net("weight-mean", 3).layer_kernels(INPUTS))
    for index, (_, (rows, cols), blocks) in enumerate(layers):
        exact = layer_terms(rows, cols, blocks, cross="exact")
        sampled = layer_terms(rows, cols, blocks, cross="sampled", exact_pairs=16, seed=index)
        matched = layer_terms(rows, cols, blocks, cross="matched")
        assert abs(exact["terms"].sum() / exact["power"] - 1) <= 1e-12
        np.testing.assert_allclose(sampled["terms"], exact["terms"], rtol=1e-13)
        assert sampled["cross_se"] == 0.0
        assert abs(matched["terms"][2] / exact["terms"][2] - 1) <= 1e-3


def test_sampled_input_pairs_estimate_the_terms_within_their_stated_error():
    """off_pairs: every same-input pair plus a uniform sample of the others; the sums over pairs
    become sample means times the pair count. On 8 inputs (28 other pairs, 10 sampled) every
    share is within 4 stated standard errors of the all-pairs value, and the errors are > 0."""
    x = make_inputs("digits", 8, 8, seed=2)
    full = power_theory("weight-mean", depth=3, inputs=x, cross="matched")
    sampled = power_theory("weight-mean", depth=3, inputs=x, cross="matched", off_pairs=10, seed=3)
    assert np.all(sampled.share_se[:, [0, 2]] > 0) and np.all(full.share_se == 0)
    assert np.all(np.abs(sampled.shares - full.shares) <= 4 * sampled.share_se + 1e-12)


def test_theorem1_equality_case_is_exact_in_the_kernel():
    """Proxy Norm Theorem 1 for phi = identity (their §D.4): under LN, rho = 1 - mu_c^2 share
    decays by exactly r = 1/(1 + nu_beta^2/nu_gamma^2) per layer. In the kernel: the affine
    step maps K to E[gamma^2] K + beta_std^2, a periodic conv keeps both the total and the
    diagonal mean, LN divides by the diagonal mean -- so the ratio is r to rounding."""
    theory = power_theory("ln", depth=6, inputs=INPUTS, activation="identity", cross="matched")
    verdict = theorem1_from_kernel(theory)
    rho = np.asarray(verdict["rho"])
    np.testing.assert_allclose(rho[1:] / rho[:-1], theorem1_rate(), rtol=1e-12)
    assert verdict["bound_holds"]


def test_theorem1_bound_holds_for_relu_and_the_nets_follow_the_kernel():
    """ReLU: the predicted rho stays below rho^(1) r^(l-1) (Theorem 1's bound; the ReLU's mean
    shift only speeds up the collapse), and the measured LN nets lie in the finite-width band of
    the prediction for every term at every layer."""
    theory = power_theory("ln", depth=5, inputs=INPUTS)
    verdict = theorem1_from_kernel(theory)
    assert verdict["bound_holds"] and verdict["monotone"]
    assert verdict["fitted_log_rate"] < verdict["log_rate"]
    profile = power_profile("ln", depth=5, width=64, realisations=4, inputs=INPUTS,
                            dtype="float64")
    assert agreement(profile, theory)["fraction"] == 1.0


@pytest.mark.slow
@pytest.mark.parametrize("norm", ["plain", "weight-mean", "czmig", "ln+pn"])
def test_measured_power_decomposition_lies_in_the_band_of_the_prediction(norm):
    """Width 64, 4 nets, 5 digits: at least 90% of the (layer, term) predictions lie in the
    measured nets' 99% band (layer 1 draws truncated-normal weights at fan-in 9, whose fourth
    moments move sigma_c(sigma_xc)^2 by 4% from the Gaussian limit)."""
    theory = power_theory(norm, depth=4, inputs=INPUTS)
    profile = power_profile(norm, depth=4, width=64, realisations=4, inputs=INPUTS,
                            dtype="float64")
    assert agreement(profile, theory)["fraction"] >= 0.9
    np.testing.assert_allclose(theory.terms.sum(axis=1), theory.power, rtol=1e-12)


@pytest.mark.parametrize("norm, reason", [("bn", "batch statistics"), ("in", "Theorem 2"),
                                          ("gn", "tends to LN")])
def test_schemes_without_a_limit_are_refused_with_the_reason(norm, reason):
    assert reason in theory_gap(norm)
    with pytest.raises(KernelnormInputError, match=reason):
        power_theory(norm, depth=2, inputs=INPUTS)
