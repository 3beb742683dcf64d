"""The empirical NTK of finite networks (JAX Jacobians of the batch output) converges to the
infinite-width NTK of MimicNorm Eq. 5-7 (Theta_{l+1} = K_{l+1} + T_dot(K_l) Theta_l).

The reference recursion is written out privately here from the scheme's ``kernel_map`` and
``derivative_kernel`` so the test does not depend on the NTK package it cross-checks.
"""

import numpy as np
import pytest

from kernelnorm import Plain, WeightMean, input_kernel
from kernelnorm._transition import with_stable_init
from kernelnorm.data import load_digits, normalise_rows
from kernelnorm.montecarlo import empirical_ntk, mean_ci, seed_keys


def _ntk_recursion(scheme, x, depth):
    gram = x @ x.T / x.shape[1]
    k = input_kernel(scheme, gram)
    theta = k.copy()
    for _ in range(depth - 1):
        q = np.diag(k)
        q1, q2 = q[:, None] * np.ones_like(k), q[None, :] * np.ones_like(k)
        t_dot = scheme.derivative_kernel(q1, q2, k)
        k = np.asarray(scheme.kernel_map(q1, q2, k)[2])
        theta = k + t_dot * theta
    return theta


@pytest.mark.parametrize("scheme", [Plain("relu", 1.8, 0.1),
                                    with_stable_init(WeightMean("relu", width=256))],
                         ids=lambda s: s.name)
def test_empirical_ntk_mean_matches_the_infinite_width_ntk(scheme):
    """Entry-wise mean over 8 networks of width 256 within 4.5 standard errors (+ O(1/n) bias
    allowance 2/n relative) of Theta_L, for the 21 distinct entries of a 6 x 6 Gram."""
    x = normalise_rows(load_digits().x)[:6]
    depth, width = 3, 256
    grams = np.stack([np.asarray(empirical_ntk(scheme, x, key=k, width=width, depth=depth))
                      for k in seed_keys(7, 8)])
    estimate = mean_ci(grams)
    theta = _ntk_recursion(scheme, x, depth)
    upper = np.triu_indices(6)
    gap = np.abs(estimate.mean - theta)[upper]
    allowed = (4.5 * estimate.standard_error + 2.0 / width * np.abs(theta))[upper]
    assert np.all(gap <= allowed)
