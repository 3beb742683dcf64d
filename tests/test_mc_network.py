"""Finite random networks built from the scheme objects agree with the analytic kernel maps,
with errors shrinking at the central-limit rate width^(-1/2)."""


import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kernelnorm._errors import KernelnormInputError
from kernelnorm import BatchNorm, LayerNorm, MiniBatchNorm, Plain, WeightMean
from kernelnorm._transition import with_stable_init
from kernelnorm.montecarlo import (
    independent_pairs,
    log_rms_error,
    loglog_slope,
    mean_ci,
    predicted_statistics,
    reduce_layer_input,
    sample_statistics,
)

SCHEMES = [
    Plain("relu", 2.0, 0.1),
    WeightMean("relu", 3.0, 0.0, width=64),
    BatchNorm("relu"),
    LayerNorm("tanh", 1.5, 0.05),
    MiniBatchNorm("relu", batch_size=5),
]


@pytest.mark.parametrize("scheme", SCHEMES, ids=lambda s: s.name)
def test_reduced_layer_input_reproduces_the_layer_exactly(scheme):
    """x @ W = R @ W' with W' = H Q^T W (the identity behind the reduced engine), to rounding."""
    rng = np.random.default_rng(0)
    batch, n, m = 10, 64, 32
    x = jnp.asarray(np.abs(rng.standard_normal((batch, n))))
    w, b = jnp.asarray(rng.standard_normal((n, m))), jnp.asarray(rng.standard_normal(m))
    reduced = reduce_layer_input(x, jitter=0.0)
    k = batch + 1
    augmented = jnp.concatenate([jnp.full((1, n), n**-0.5), x])
    rows = jax.scipy.linalg.solve_triangular(
        jnp.linalg.cholesky(augmented @ augmented.T), augmented, lower=True)
    v = jnp.zeros(k).at[0].set(1.0) - k**-0.5
    householder = jnp.eye(k) - 2.0 * jnp.outer(v, v) / (v @ v)
    w_reduced = householder @ rows @ w
    np.testing.assert_allclose(rows @ rows.T, np.eye(k), atol=1e-12)
    full = scheme.apply({"w": w, "b": b}, x, activate=False)
    small = scheme.apply({"w": w_reduced, "b": b}, reduced, activate=False)
    np.testing.assert_allclose(small, full, atol=1e-12)


def _inputs():
    return independent_pairs(np.linspace(-0.9, 0.9, 8), 64, seed=1)


@pytest.mark.parametrize("scheme", [
    Plain("relu"), with_stable_init(WeightMean("relu", width=256)), LayerNorm("relu"),
], ids=lambda s: s.name)
def test_empirical_correlations_match_the_kernel_map_within_ci(scheme):
    """Mean over 32 seeds of every pair's correlation at every layer lies within 4.5 standard
    errors of the analytic iterate (24 comparisons; bias O(1/n) = 0.004 << 4.5 SE ~ 0.02)."""
    inputs, depth = _inputs(), 3
    stats = sample_statistics(scheme, inputs.x, inputs.pairs, seed=5, seeds=32, width=256,
                              depth=depth)
    predicted = predicted_statistics(scheme, inputs.x, inputs.pairs, depth)[2]
    assert np.abs(mean_ci(stats.correlations).z_score(predicted)).max() <= 4.5


def test_reduced_and_weights_engines_have_the_same_law():
    """Same mean correlation within 4.5 combined standard errors over 24 pair-layers."""
    inputs, scheme = _inputs(), with_stable_init(WeightMean("relu", width=128))
    runs = [mean_ci(sample_statistics(scheme, inputs.x, inputs.pairs, seed=s, seeds=32,
                                      width=128, depth=3, engine=e).correlations)
            for s, e in ((11, "reduced"), (12, "weights"))]
    se = np.hypot(runs[0].standard_error, runs[1].standard_error)
    assert np.abs(runs[0].mean - runs[1].mean).max() <= 4.5 * se.max()


@pytest.mark.slow
def test_correlation_error_shrinks_at_the_clt_rate():
    """RMS error of empirical correlations vs the analytic map ~ width^(-1/2) (CLT).

    The slope of log RMS on log width is fitted by weighted least squares; the standard error of
    each log RMS comes from the spread of the 48 per-seed mean squares (delta method), giving the
    slope's standard error. Accept |slope + 1/2| <= 4 SE + 0.05, the 0.05 covering the O(1/n)
    bias term, whose share of the squared error at n >= 64 shifts the local slope by < 0.05.
    """
    inputs, depth, scheme = _inputs(), 3, Plain("relu")
    predicted = predicted_statistics(scheme, inputs.x, inputs.pairs, depth)[2]
    widths, rms, se = [64, 128, 256, 512, 1024], [], []
    for width in widths:
        stats = sample_statistics(scheme, inputs.x, inputs.pairs, seed=width, seeds=48,
                                  width=width, depth=depth)
        r, s = log_rms_error(stats.correlations - predicted)
        rms.append(r)
        se.append(s)
    slope = loglog_slope(widths, rms, se)
    assert abs(slope.slope + 0.5) <= 4.0 * slope.standard_error + 0.05, slope


def test_bad_network_arguments_name_the_argument():
    inputs = _inputs()
    with pytest.raises(KernelnormInputError, match="--depth"):
        sample_statistics(Plain(), inputs.x, inputs.pairs, seed=0, seeds=2, width=8, depth=0)
    with pytest.raises(KernelnormInputError, match="--engine"):
        sample_statistics(Plain(), inputs.x, inputs.pairs, seed=0, seeds=2, width=8, depth=1,
                          engine="magic")
    with pytest.raises(KernelnormInputError, match="--batch-size"):
        sample_statistics(MiniBatchNorm(batch_size=3), inputs.x, inputs.pairs, seed=0,
                          seeds=1, width=8, depth=2)


def test_fitted_empirical_transition_map_matches_the_correlation_map():
    """Chebyshev fits (degree 7) of measured (rho_1, rho_2) from 60 anchored pairs, one fit per
    seed (8 seeds, width 512), vs ``correlation_map``. Pairs sharing an anchor are correlated,
    so the error bar is taken across seeds: the mean fit must lie within 4 standard errors
    (std over seeds / sqrt(8)) plus the O(1/n) bias 2/n at every grid point."""
    from kernelnorm._transition import correlation_map
    from kernelnorm.montecarlo import anchored_pairs, conditional_correlation_map, fit_transition_map

    width = 512
    scheme = with_stable_init(WeightMean("relu", width=width))
    inputs = anchored_pairs(np.linspace(-0.95, 0.95, 60), 128, seed=2)
    stats = sample_statistics(scheme, inputs.x, inputs.pairs, seed=9, seeds=8, width=width, depth=2)
    rho_in, rho_out = stats.correlations[:, 0], stats.correlations[:, 1]
    grid = np.linspace(-0.8, 0.8, 33)
    fits = mean_ci(np.stack([fit_transition_map(a, b, degree=7)(grid)
                             for a, b in zip(rho_in, rho_out)]))
    error = np.abs(fits.mean - correlation_map(scheme, grid))
    assert np.all(error <= 4.0 * fits.standard_error + 2.0 / width)
    # one layer alone: the analytic map at the measured kernel below leaves unbiased residuals
    lengths = stats.lengths[:, 0]
    conditional = conditional_correlation_map(
        scheme, lengths[:, inputs.pairs[:, 0]], lengths[:, inputs.pairs[:, 1]],
        stats.covariances[:, 0])
    per_seed = mean_ci((rho_out - conditional).mean(axis=1))
    assert abs(per_seed.mean) <= 4.0 * per_seed.standard_error + 2.0 / width


def test_layer_norm_kernel_is_the_plain_kernel_at_unit_length():
    """LN after a plain ReLU block with sigma_w2 = 2 at c = 0: q_plain = 2 * 1/2 = 1 and
    c_plain = 2 phi_hat(0) = 1/pi, so the normalised kernel is (1, 1, 1/pi); with sigma_w2 = 4
    the plain lengths double and LN divides them out again."""
    for sigma_w2 in (2.0, 4.0):
        q1, q2, c = LayerNorm("relu", sigma_w2=sigma_w2).kernel_map(1.0, 1.0, 0.0)
        np.testing.assert_allclose([q1, q2, c], [1.0, 1.0, 1.0 / np.pi], rtol=1e-14)
