"""MimicNorm Theorem 2 at finite width: the empirical chi_1 of a BN network concentrates at
pi/(pi-1) as the width grows (convergence in probability), its spread shrinking like n^(-1/2).

Each network gives ``depth - 1`` per-layer estimates ``||J_l^T u||^2/||u||^2`` (fresh probes and
weights per layer, so the estimates are independent); with ``N`` of them the standard error of
``log std`` is ``1/sqrt(2(N-1))`` (Gaussian approximation), which sets the slope's standard error.
"""

import math

import numpy as np
import pytest

from kernelnorm import BatchNorm, Plain
from kernelnorm._transition import chi_1
from kernelnorm.montecarlo import independent_pairs, loglog_slope, sample_gradient_statistics

BATCH = 64
LIMIT = math.pi / (math.pi - 1.0)


def _chi_samples(scheme, width, *, seeds=12, depth=5, seed=0):
    inputs = independent_pairs(np.zeros(BATCH // 2), BATCH, seed=seed)
    return sample_gradient_statistics(scheme, inputs.x, seed=seed + width, seeds=seeds,
                                      width=width, depth=depth).chi.ravel()


@pytest.mark.slow
def test_theorem2_bn_chi1_spread_shrinks_like_inverse_sqrt_width():
    widths = [64, 128, 256, 512]
    samples = [_chi_samples(BatchNorm("relu"), n) for n in widths]
    spreads = [s.std(ddof=1) for s in samples]
    log_se = [1.0 / math.sqrt(2.0 * (len(s) - 1)) for s in samples]
    slope = loglog_slope(widths, spreads, log_se)
    assert abs(slope.slope + 0.5) <= 4.0 * slope.standard_error, slope
    # the mean converges to pi/(pi-1); a batch of B adds an O(1/B) bias, allowed as 2/B * limit
    # (two batch directions, mean and scale, are projected out of each unit's gradient)
    widest = samples[-1]
    allowance = 4.0 * widest.std(ddof=1) / math.sqrt(len(widest)) + 2.0 / BATCH * LIMIT
    assert abs(widest.mean() - LIMIT) <= allowance
    assert chi_1(BatchNorm("relu")) == pytest.approx(LIMIT, rel=1e-12)


def test_plain_relu_chi1_is_one_at_the_critical_init():
    """Plain ReLU at (sigma_w2, sigma_b2) = (2, 0): chi_1 = sigma_w2/2 = 1 (Proposition 1)."""
    samples = _chi_samples(Plain("relu"), 256, seeds=8)
    assert abs(samples.mean() - 1.0) <= 4.0 * samples.std(ddof=1) / math.sqrt(len(samples))
