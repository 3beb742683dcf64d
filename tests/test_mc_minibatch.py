"""Mini-batch BN: finite random networks against the infinite-width theory (docs/minibatch.md).

Like is compared with like: ``measure_gradient_growth`` averages ``GradientStatistics.chi`` of
layers 3..L (limit ``chi_1(B)``) and the ``backprop`` ratios below the top step and above layer 1
(limit ``lambda(B)``), on orthogonal inputs whose mini-batches sit at the fixed point.

Tolerances: ``4`` standard errors over independent seeds, plus the declared finite-width bias.
The bias is ``O(1/n)`` with several terms of that order: the BN input's sample covariance over
``n`` units spreads its eigenvalues, which raises ``E[1/||G z||^2]`` by ``2 (k - 1)/((k + 2) n)``
(relative; identity activation, ``k = B - 1``; second order in ``int det(I + 2sC)^(-1/2) ds``),
and the weights shared by the forward and backward pass lower it by ``2/n``
(``E[||W_j||^2/||y_j||^2]`` is ``(n - 2)/n`` of its gradient-independence value). The
allowance is ``5/n`` relative; measured: ``<= 3.5/n`` (identity at ``B = 32``, the largest),
and the rate ``-0.97 +- 0.05`` by regression in
``test_finite_width_bias_is_order_one_over_width``. At ``B = 4`` the per-unit factor
``1/chi^2_3`` has infinite variance and :func:`heavy_tail_tolerance` applies.
"""

import math

import numpy as np
import pytest

from kernelnorm import MiniBatchNorm, minibatch_grams, minibatch_theory
from kernelnorm.montecarlo import (
    heavy_tail_tolerance,
    independent_pairs,
    loglog_slope,
    mean_ci,
    measure_gradient_growth,
    sample_statistics,
    tail_constants,
)

WIDTH, DEPTH, SEEDS, INPUTS = 512, 6, 8, 128
BIAS = 5.0  # relative finite-width bias allowance, times 1/width (measured: <= 3.5)
LIMIT = {"relu": math.pi / (math.pi - 1.0)}


def _check(estimate, value, width, *, full_batch=None):
    tolerance = 4.0 * float(estimate.standard_error) + BIAS * abs(value) / width
    assert abs(float(estimate.mean) - value) <= tolerance, (float(estimate.mean), value, tolerance)
    if full_batch is not None and abs(value - full_batch) > 2 * tolerance:
        # the measurement also rules out MimicNorm's full-batch value
        assert abs(float(estimate.mean) - full_batch) > tolerance


@pytest.mark.parametrize("activation,batch", [
    ("relu", 8),
    pytest.param("relu", 32, marks=pytest.mark.slow),
    pytest.param("relu", 128, marks=pytest.mark.slow),
    ("identity", 8),
    pytest.param("identity", 32, marks=pytest.mark.slow),
    ("tanh", 8),
    pytest.param("tanh", 32, marks=pytest.mark.slow),
])
def test_gradient_growth_matches_the_finite_batch_theory(activation, batch):
    theory = minibatch_theory(activation, batch)
    limit = minibatch_theory(activation, math.inf).chi_1
    measured = measure_gradient_growth(activation, batch, batches=INPUTS // batch, width=WIDTH,
                                       depth=DEPTH, seeds=SEEDS, seed=batch)
    _check(measured.chi, theory.chi_1, WIDTH, full_batch=limit)
    _check(measured.growth, theory.gradient_growth, WIDTH, full_batch=limit)


@pytest.mark.slow
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_gradient_growth_at_batch_four_with_its_heavy_tail(activation):
    """``B = 4``: per unit ``1/chi^2_3``, ``P(Y > t) <= C t^(-3/2)``, infinite variance. The
    bounds of :func:`heavy_tail_tolerance` (failure probability 1e-3; ``C`` from the
    infinite-width law, :func:`tail_constants`) replace the t interval: tight below (the mean of
    nonnegative samples cannot fall far), loose above (one unit with a tiny batch variance can
    lift it). 1.3 M unit samples."""
    theory = minibatch_theory(activation, 4)
    measured = measure_gradient_growth(activation, 4, batches=INPUTS // 4, width=WIDTH,
                                       depth=8, seeds=16, seed=4)
    c_chi, c_growth = tail_constants(activation, 4)
    for estimate, value, constant in ((measured.chi, theory.chi_1, c_chi),
                                      (measured.growth, theory.gradient_growth, c_growth)):
        below, above = heavy_tail_tolerance(constant, measured.units)
        bias = BIAS * value / WIDTH
        assert value - below - bias <= float(estimate.mean) <= value + above + bias
        assert below < 0.1 * value  # the lower side is a sharp test
    # the lower bound alone separates the gradient growth from the white-probe chi_1
    below, _ = heavy_tail_tolerance(c_growth, measured.units)
    assert theory.gradient_growth - below - BIAS * theory.gradient_growth / WIDTH > theory.chi_1


def _pair_correlations(activation, batch, *, width, depth, seeds, seed=1):
    rhos = np.resize((0.9, 0.5, 0.0, -0.5), 32)
    inputs = independent_pairs(rhos, 64, seed=0)
    stats = sample_statistics(MiniBatchNorm(activation, batch), inputs.x, inputs.pairs,
                              seed=seed, seeds=seeds, width=width, depth=depth)
    return inputs, mean_ci(stats.correlations.mean(axis=2))  # per layer, mean over the pairs


@pytest.mark.parametrize("activation", ["relu", "identity"])
def test_pair_correlations_follow_the_exact_gram_map_to_the_fixed_point(activation):
    """Correlated pairs (0.9, 0.5, 0, -0.5) in mini-batches of 8: the measured mean pair
    correlation follows the exact Gram-map trajectory layer by layer and settles at ``c* =
    -1/7``; allowance ``4 SE + 2/n`` (correlation estimators have an ``O(1/n)`` bias, measured
    ``~1/n``)."""
    width, depth, batch = 256, 20, 8
    inputs, measured = _pair_correlations(activation, batch, width=width, depth=depth, seeds=16)
    gram = inputs.x @ inputs.x.T / inputs.x.shape[1]
    grams = minibatch_grams(activation, gram[:batch, :batch], depth)  # every batch alike
    pairs = [(0, 1), (2, 3), (4, 5), (6, 7)]
    predicted = np.mean([grams[:, a, b] / np.sqrt(grams[:, a, a] * grams[:, b, b])
                         for a, b in pairs], axis=0)
    tolerance = 4.0 * measured.standard_error + 2.0 / width
    assert np.all(np.abs(measured.mean - predicted) <= tolerance)
    c_star = minibatch_theory(activation, batch).c_star
    assert abs(predicted[-1] - c_star) < 0.01
    assert abs(measured.mean[-1] - c_star) <= 0.01 + tolerance[-1]


def test_tanh_pairs_settle_at_the_fixed_point():
    """tanh has no exact Gram map away from the fixed point, but the fixed point is
    ``c* = -1/(B - 1)`` for every activation; after 30 layers (forward rate 0.84 at B = 8,
    ``0.84^30 < 0.01``) the pair correlations sit there."""
    width, batch = 256, 8
    _, measured = _pair_correlations("tanh", batch, width=width, depth=30, seeds=8)
    theory = minibatch_theory("tanh", batch)
    assert theory.forward_rate**28 < 0.01
    tolerance = 4.0 * float(measured.standard_error[-1]) + 2.0 / width + 0.01 * 1.4
    assert abs(float(measured.mean[-1]) - theory.c_star) <= tolerance


@pytest.mark.slow
def test_finite_width_bias_is_order_one_over_width():
    """Declared rate: the bias of ``chi`` is ``O(1/n)``. Identity at ``B = 32``, where it is
    largest relative to the noise (``~3.3/n``): the log-log slope of the measured bias against
    the width is ``-1`` within 4 standard errors (delta-method errors of each bias)."""
    batch, widths, seeds = 32, [32, 64, 128, 256], 32
    theory = minibatch_theory("identity", batch)
    bias, log_se = [], []
    for width in widths:
        measured = measure_gradient_growth("identity", batch, batches=INPUTS // batch,
                                           width=width, depth=DEPTH, seeds=seeds, seed=width)
        bias.append(float(measured.chi.mean) - theory.chi_1)
        log_se.append(float(measured.chi.standard_error) / bias[-1])
    assert min(bias) > 0
    slope = loglog_slope(widths, bias, log_se)
    assert abs(slope.slope + 1.0) <= 4.0 * slope.standard_error + 0.1, slope
    assert max(b * w for b, w in zip(bias, widths)) <= BIAS * theory.chi_1
