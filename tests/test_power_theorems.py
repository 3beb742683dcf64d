"""Proxy Norm's statements on random conv nets (Proposition 1, Theorems 1-3), and the new
schemes (weight mean, CZM filters). float64 throughout; small nets, shared inputs."""

import math

import numpy as np
import pytest

from kernelnorm._errors import KernelnormInputError
from kernelnorm.power import (
    NetConfig,
    log_rate,
    make_inputs,
    power_profile,
    power_scheme,
    run_realisation,
    theorem1_rate,
)

F64 = dict(dtype="float64")
DIGITS = make_inputs("digits", 12, 8, seed=0)
GAUSSIAN = make_inputs("gaussian", 8, 4, seed=0)


@pytest.fixture(autouse=True)
def eager_jax():
    """Run the nets op by op: each primitive then compiles once for all schemes, where a jitted
    net compiles per scheme (~10 s each on 2 cores). ``test_jit_and_eager_nets_agree`` covers
    the compiled path."""
    import jax

    with jax.disable_jit():
        yield


def compiled():
    """Re-enable jit inside ``eager_jax``: long nets (many layers x realisations) run faster
    compiled once than op by op."""
    import jax

    return jax.disable_jit(False)


def _net(norm, **kw):
    config = dict(depth=6, width=16, **F64)
    config.update(kw)
    return NetConfig(power_scheme(norm, groups=4), **config)


@pytest.mark.parametrize("norm", ["bn", "ln", "in", "gn", "ln+pn", "gn+pn", "ln+ws"])
def test_proposition1_power_is_one_after_every_normalisation(norm):
    """Proxy Norm Proposition 1: mean_c P_c = 1 after BN/LN/IN/GN (eps = 0), at every layer,
    whatever the activation step (PN included); the four terms sum to P_c exactly."""
    import jax

    terms, power, _ = run_realisation(_net(norm), DIGITS, jax.random.PRNGKey(1))
    np.testing.assert_allclose(power.mean(axis=-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(terms.sum(axis=1), power, rtol=1e-12)


def test_theorem2_instance_norm_removes_all_instance_variability():
    """Theorem 2: with IN, mu_{x,c} = 0 and sigma_{x,c} = 1 for every input and channel, so
    the terms are exactly (0, 0, 1, 0) in every channel of every layer."""
    import jax

    terms, _, _ = run_realisation(_net("in"), DIGITS, jax.random.PRNGKey(2))
    expected = np.zeros_like(terms)
    expected[:, 2, :] = 1.0
    np.testing.assert_allclose(terms, expected, atol=1e-12)


def test_czm_filters_zero_every_instance_mean_exactly():
    """New: a CZM filter (zero spatial mean per (in, out) slice) with periodic boundaries maps
    every channel's spatial mean to 0, so mu_c^2 = sigma_c(mu_xc)^2 = 0 exactly from layer 2 on
    (no channel-wise collapse, but, like IN, no instance-mean variability)."""
    import jax

    terms, power, _ = run_realisation(_net("czmig"), DIGITS, jax.random.PRNGKey(3))
    assert np.all(terms[0, 0] / power[0] > 1e-3)  # layer 1 (plain conv on digits) is not centred
    np.testing.assert_allclose(terms[1:, :2] / power[1:, None], 0.0, atol=1e-12)


def test_batch_norm_has_no_channel_mean():
    """BN over the whole input set: mu_c = 0 exactly, so the mu_c^2 share is 0 at every depth."""
    import jax

    terms, _, _ = run_realisation(_net("bn"), DIGITS, jax.random.PRNGKey(4))
    np.testing.assert_allclose(terms[:, 0], 0.0, atol=1e-12)


def test_theorem1_rate_is_exact_for_identity_activation():
    """Theorem 1 with phi = identity (their §D.4: equality): rho = 1 - mu_c^2 share decays by
    r = 1/(1 + nu_beta^2/nu_gamma^2) per layer. beta_std = 0.5 makes r = 0.806 (log r = -0.215).

    Tolerance: the channel-mean power is a chi^2_C quadratic form of the random kernel, so log rho
    random-walks with step sd sqrt(2/C); the least-squares slope over L layers then has sd
    ~ sqrt(2/C) sqrt(1.2/L) / sqrt(R) = 0.018 (C = 128, L = 15, R = 4): we allow 3 sd = 0.055.
    """
    with compiled():
        profile = power_profile("ln", depth=15, width=128, realisations=4, inputs=GAUSSIAN,
                                activation="identity", beta_std=0.5, **F64)
    rho = 1.0 - profile.shares[..., 0]
    measured = log_rate(np.exp(np.log(rho).mean(axis=0)))
    assert abs(measured - math.log(theorem1_rate(beta_std=0.5))) < 0.055


@pytest.fixture(scope="module")
def relu_profiles():
    """Default random nets (their §A.1 parameters), ReLU, 30 layers, width 64, 3 realisations."""
    inputs = make_inputs("gaussian", 8, 4, seed=1)
    with compiled():
        return {norm: power_profile(norm, depth=30, width=64, realisations=3, inputs=inputs,
                                    groups=8, seed=5, **F64)
                for norm in ("ln", "ln+pn", "weight-mean")}


def test_theorem1_bound_layer_norm_collapses_at_least_geometrically(relu_profiles):
    """Theorem 1 (ReLU, upper bound): rho^(l) <~ rho^(1) r^(l-1), r = 0.963 at the defaults.

    Slack 1.5x on the bound covers the random walk of log rho (sd sqrt(2 l / C) <= 0.97 at
    l = 30, C = 64, averaged over 3 realisations: 0.56) in probability; the fitted rate must be
    at least as fast as log r."""
    rho = (1.0 - relu_profiles["ln"].shares[..., 0]).mean(axis=0)
    bound = rho[0] * theorem1_rate() ** np.arange(len(rho))
    np.testing.assert_array_less(rho, 1.5 * bound + 1e-12)
    assert log_rate(rho) < math.log(theorem1_rate())
    assert relu_profiles["ln"].shares[:, -1, 0].mean() > 0.8  # rises toward 1


def test_layer_norm_share_grows_while_bn_and_proxy_norm_stay_bounded(relu_profiles):
    """Theorem 1's direction: LN's mu_c^2 share grows with depth (positive fitted log-rate of
    the share over layers 1..30) while LN+PN's shrinks (negative rate) and never exceeds its
    layer-1 value (set by the input); BN's is exactly 0
    (``test_batch_norm_has_no_channel_mean``)."""
    share = {k: p.shares[..., 0].mean(axis=0) for k, p in relu_profiles.items()}
    assert log_rate(share["ln"]) > 0.01
    assert log_rate(share["ln+pn"] + 1e-12) < 0.0
    assert np.max(share["ln+pn"]) <= share["ln+pn"][0] + 0.02


def test_weight_mean_bounds_the_channel_mean_share(relu_profiles):
    """New: weight mean removes the across-channel common mean of every layer input (docs/theory.md §2)
    but not the per-channel means that beta injects. Linearising the activation step at the
    defaults, the mean share contracts by ~0.73 per layer towards a fixed point below 0.2
    (derivation in docs/power.md), far below LN's collapse."""
    share = relu_profiles["weight-mean"].shares[..., 0].mean(axis=0)
    assert np.max(share[10:]) < 0.2
    assert share[-1] < 0.5 * relu_profiles["ln"].shares[:, -1, 0].mean()


def test_bad_groups_and_unknown_norms_are_input_errors():
    with pytest.raises(KernelnormInputError, match="--groups.*divide --width 16"):
        power_profile("gn", depth=2, width=16, realisations=1, inputs=DIGITS, groups=3)
    with pytest.raises(KernelnormInputError, match="--norm.*unknown"):
        power_profile("xn", depth=2, width=16, realisations=1, inputs=DIGITS)


def test_same_seed_same_numbers():
    a = power_profile("ln+pn", depth=3, width=16, realisations=2, inputs=DIGITS, seed=7, **F64)
    b = power_profile("ln+pn", depth=3, width=16, realisations=2, inputs=DIGITS, seed=7, **F64)
    np.testing.assert_array_equal(a.shares, b.shares)


def test_jit_and_eager_nets_agree():
    import jax

    from kernelnorm.power._nets import _compiled

    config = _net("gn+pn", depth=4)
    eager = run_realisation(config, DIGITS, jax.random.PRNGKey(9))
    _compiled.cache_clear()
    with compiled():
        jitted = run_realisation(config, DIGITS, jax.random.PRNGKey(9))
    _compiled.cache_clear()
    for a, b in zip(eager, jitted):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("spatial", [1, 2])
def test_periodic_conv_is_circular_cross_correlation(spatial):
    """out[n, h, d] = sum_{i, c} x[n, (h + i - 1) mod R, c] w[i, c, d], from the definition."""
    import itertools

    import jax.numpy as jnp

    from kernelnorm.power._nets import conv_periodic

    rng = np.random.default_rng(spatial)
    x = rng.standard_normal((2,) + (5,) * spatial + (3,))
    w = rng.standard_normal((3,) * spatial + (3, 4))
    expected = np.zeros(x.shape[:-1] + (4,))
    for h in itertools.product(range(5), repeat=spatial):
        for i in itertools.product(range(3), repeat=spatial):
            src = tuple((a + b - 1) % 5 for a, b in zip(h, i))
            expected[(slice(None),) + h] += x[(slice(None),) + src] @ w[i]
    np.testing.assert_allclose(np.asarray(conv_periodic(jnp.asarray(x), jnp.asarray(w))),
                               expected, rtol=1e-12, atol=1e-12)
