"""Appendix B.1 at finite width: weight mean drives correlations to rho* = 0, but a width-n net
keeps a stationary spread std = sqrt((2 - s^2) / (n (1 - s^2))), s = T'(0) (two fresh 1/n
sampling errors per layer, the activations' one partly carried by the map; see
docs/montecarlo.md). Plain critical ReLU nets instead push correlations towards 1.

Tolerance: with N last-layer correlations the sample std has relative standard error
1/sqrt(2(N-1)); we accept 4 of those plus 2/n for O(1/n) corrections.
"""

import math

import numpy as np
import pytest

from kernelnorm import Plain, WeightMean
from kernelnorm._transition import correlation_map_slope, with_stable_init
from kernelnorm.montecarlo import independent_pairs, sample_statistics


@pytest.mark.slow
def test_weight_mean_spread_is_the_finite_width_clt_floor():
    width, depth = 256, 12
    scheme = with_stable_init(WeightMean("relu", width=width))
    inputs = independent_pairs(np.zeros(16), 64, seed=3)  # start at rho* = 0: stationary by l ~ 5
    stats = sample_statistics(scheme, inputs.x, inputs.pairs, seed=21, seeds=12, width=width,
                              depth=depth)
    last = stats.correlations[:, -1].ravel()
    s = float(correlation_map_slope(scheme, 0.0))
    predicted = math.sqrt((2.0 - s * s) / (width * (1.0 - s * s)))
    tolerance = 4.0 / math.sqrt(2.0 * (last.size - 1)) + 2.0 / width
    assert abs(last.std(ddof=1) / predicted - 1.0) <= tolerance
    assert abs(last.mean()) <= 4.0 * last.std(ddof=1) / math.sqrt(last.size)


def test_plain_relu_correlations_move_towards_one():
    """At the critical plain init rho = 1 is the only (marginally) stable fixed point:
    every pair's mean correlation grows layer by layer (beyond 4 standard errors overall)."""
    inputs = independent_pairs(np.array([-0.5, 0.0, 0.5]), 64, seed=4)
    stats = sample_statistics(Plain("relu"), inputs.x, inputs.pairs, seed=22, seeds=8,
                              width=256, depth=8)
    change = stats.correlations[:, -1] - stats.correlations[:, 0]
    assert np.all(change.mean(axis=0) > 4.0 * change.std(axis=0, ddof=1) / math.sqrt(8))
